// Training-stage fields of a scenario: what the parser refuses rather than silently ignores.
#include <gtest/gtest.h>

#include "error.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim {
namespace {

using nlohmann::json;

json training(const std::string& instance, const json& workload_extra) {
  json doc = {{"cluster", {{"instance", instance}, {"nodes", 1}}},
              {"model", "llama3-8b"},
              {"workload",
               {{"stage", "pretrain"},
                {"seq_len", 4096},
                {"global_batch", 8},
                {"parallelism", {{"tp", 8}}}}}};
  for (const auto& [key, value] : workload_extra.items()) doc["workload"][key] = value;
  return doc;
}

Error error_of(const json& doc) {
  try {
    parse_scenario(doc, Catalog::builtin());
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << doc.dump();
  return Error(ExitCode::kOk, "", "");
}

TEST(TrainingScenario, Fp8OnAGpuWithoutFp8IsRefused) {
  // A100 has no FP8 tensor cores (hardware-facts.md): asking for FP8 must not fall back quietly.
  const Error e = error_of(training("p4d.24xlarge", {{"precision", "fp8"}}));
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/precision");
}

TEST(TrainingScenario, Fp8OnH100IsAccepted) {
  EXPECT_NO_THROW(
      parse_scenario(training("p5.48xlarge", {{"precision", "fp8"}}), Catalog::builtin()));
}

TEST(TrainingScenario, BothPricesAreRefused) {
  json doc = training("p5.48xlarge", json::object());
  doc["cluster"]["pricing"] = {{"usd_per_hour", 50}, {"usd_per_gpu_hour", 6}};
  const Error e = error_of(doc);
  EXPECT_EQ(e.where(), "/cluster/pricing/usd_per_gpu_hour");
}

TEST(TrainingScenario, LoraSettingsWithAFullFineTuneAreRefused) {
  json doc =
      training("p5.48xlarge", {{"stage", "sft"}, {"method", "full"}, {"lora", {{"rank", 8}}}});
  const Error e = error_of(doc);
  EXPECT_EQ(e.where(), "/workload/lora");
}

TEST(TrainingScenario, FeasibilityCheckNamesTheLayoutProblem) {
  // tp 3 on 8 GPUs: 8 is not a multiple of 3, infeasible (exit 3) before any simulation.
  json doc = training("p5.48xlarge", json::object());
  doc["workload"]["parallelism"]["tp"] = 3;
  const Scenario s = parse_scenario(doc, Catalog::builtin());
  try {
    check_feasible(s, Catalog::builtin());
    ADD_FAILURE() << "tp 3 on 8 GPUs was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
  }
}

TEST(TrainingScenario, FeasibilityCheckReportsMemoryThatDoesNotFit) {
  // Llama 3 405B on one node: its weights alone (405.9e9 x 2 B / 8 GPUs = 101 GB) exceed 80 GiB.
  json doc = training("p5.48xlarge", json::object());
  doc["model"] = "llama3-405b";
  const Scenario s = parse_scenario(doc, Catalog::builtin());
  try {
    check_feasible(s, Catalog::builtin());
    ADD_FAILURE() << "llama3-405b on one p5 node was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fmsim
