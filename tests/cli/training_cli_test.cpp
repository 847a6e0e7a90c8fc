// The `fmsim` command line on the training stages: a scenario that cannot run exits 3
// (ExitCode::kInfeasible) with one "fmsim: infeasible: ..." line on stderr, and the reports asked
// for are still written, with an "infeasible" field saying why. Each test runs the built binary
// (FMSIM_EXE) in a fresh temporary folder; the scenarios stop before any step is simulated, or
// simulate a 2-layer model, so the file runs in about a second under the sanitizers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/fmsim_process.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing_support;

// A pretrain scenario on `nodes` p5.48xlarge nodes (8 H100s each).
json pretrain(const json& model, int nodes, const json& parallelism, int seq_len,
              int global_batch) {
  return {{"name", "training-cli-test"},
          {"cluster", {{"instance", "p5.48xlarge"}, {"nodes", nodes}}},
          {"model", model},
          {"workload",
           {{"stage", "pretrain"},
            {"steps", 10},
            {"seq_len", seq_len},
            {"global_batch", global_batch},
            {"parallelism", parallelism}}}};
}

class TrainingCli : public FmsimProcessTest {
 protected:
  std::string write(const std::string& name, const json& document) const {
    return write_text(name, document.dump(2));
  }
};

TEST_F(TrainingCli, ScenarioThatDoesNotFitExitsThreeAndStillWritesTheJsonReport) {
  // Llama 3 405B on one p5 node: 405 G parameters x 2 B of weights alone (810 GB) exceed the
  // node's 8 x 80 GiB, so no step runs. The JSON report is written anyway: "infeasible" says why,
  // the memory section says it does not fit and lists what would come closest.
  const std::string scenario =
      write("s.json", pretrain("llama3-405b", 1, {{"tp", 8}, {"pp", 1}, {"zero", 1}}, 8192, 8));
  const Outcome outcome = run({scenario, "--json", "out.json"});
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "fmsim: infeasible: ")) << outcome.err;
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;

  ASSERT_TRUE(fs::exists(dir() / "out.json"));
  const json report = json::parse(read_file(dir() / "out.json"));
  ASSERT_TRUE(report.contains("infeasible")) << report.dump(2);
  EXPECT_TRUE(contains(report["infeasible"].get<std::string>(), "memory")) << report["infeasible"];
  EXPECT_EQ(report.value("stage", ""), "pretrain");
  ASSERT_TRUE(report.contains("training"));
  const json& memory = report["training"]["memory"];
  EXPECT_FALSE(memory["fits"].get<bool>());
  EXPECT_GT(memory["per_gpu_gib"].get<double>(), memory["capacity_gib"].get<double>());
  EXPECT_FALSE(memory["suggestions"].empty());
}

TEST_F(TrainingCli, LayoutThatCannotRunExitsThreeNamingThePointer) {
  // 12 attention heads cannot be split over tp = 8 GPUs (Megatron shards whole heads).
  const json model = {
      {"preset", "llama3-8b"}, {"name", "twelve-heads"}, {"layers", 2},       {"hidden", 1536},
      {"heads", 12},           {"kv_heads", 12},         {"ffn_hidden", 4096}};
  const std::string scenario = write("s.json", pretrain(model, 1, {{"tp", 8}}, 2048, 8));
  const Outcome outcome = run({scenario, "--json", "out.json"});
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "/workload/parallelism/tp")) << outcome.err;
  ASSERT_TRUE(fs::exists(dir() / "out.json"));
  const json report = json::parse(read_file(dir() / "out.json"));
  ASSERT_TRUE(report.contains("infeasible")) << report.dump(2);
  EXPECT_TRUE(contains(report["infeasible"].get<std::string>(), "/workload/parallelism/tp"));
}

TEST_F(TrainingCli, GlobalBatchThatDoesNotSplitOverReplicasExitsThree) {
  // dp = 8 replicas x 1 sequence per micro-batch cannot share 12 sequences.
  const std::string scenario =
      write("s.json", pretrain({{"preset", "llama3-8b"}, {"layers", 2}}, 1, {{"tp", 1}}, 2048, 12));
  const Outcome outcome = run({scenario});
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "/workload/global_batch")) << outcome.err;
}

TEST_F(TrainingCli, UnknownModelExitsTwo) {
  const std::string scenario = write("s.json", pretrain("llama3-8", 1, {{"tp", 1}}, 2048, 8));
  const Outcome outcome = run({scenario});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "/model")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "llama3-8b")) << outcome.err;
}

TEST_F(TrainingCli, FeasibleScenarioExitsZeroWithAStepInTheReport) {
  // A 2-layer Llama 3 8B shape on one node, dp = 8 with ZeRO-1: it fits and runs.
  const std::string scenario = write("s.json", pretrain({{"preset", "llama3-8b"}, {"layers", 2}}, 1,
                                                        {{"tp", 1}, {"zero", 1}}, 2048, 8));
  const Outcome outcome = run({scenario, "--json", "out.json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const json report = json::parse(read_file(dir() / "out.json"));
  EXPECT_FALSE(report.contains("infeasible"));
  EXPECT_GT(report["training"]["step"]["time_s"].get<double>(), 0.0);
  EXPECT_TRUE(report["training"]["memory"]["fits"].get<bool>());
}

}  // namespace
}  // namespace fmsim
