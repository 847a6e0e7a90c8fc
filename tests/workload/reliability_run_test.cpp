// The Llama 3 reliability validation (issue 5 acceptance, docs/validation.md): Llama 3 405B on
// 16,384 H100 in 2,048 Grand Teton servers, with the failure rates of the Llama 3 paper's 54-day
// snapshot (Grattafiori et al. 2024, arXiv:2407.21783, section 3.3.4 and Table 5) as input. The
// paper published 419 unexpected interruptions and 47 planned ones in 54 days, and "more than
// 90%" effective training time; the scenario's rates per unit, multiplied back by the cluster's
// units, must give the published counts, and the goodput must come out of the model near the
// published figure. Each test parses and runs the scenario in-process (about 4 s in Debug:
// the 16-stage pipeline step is simulated once per run).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hardware/catalog.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kValidation = fs::path(FMSIM_SOURCE_DIR) / "scenarios" / "validation";

json llama3_reliability_scenario() {
  return read_json_file((kValidation / "llama3-405b-reliability-16k.json").string());
}

// The built-in catalog with Meta's Grand Teton server (`--catalog` of the validation run).
const Catalog& grand_teton_catalog() {
  static const Catalog catalog = [] {
    Catalog merged = Catalog::builtin();
    merged.merge_file((kValidation / "catalog" / "meta-grand-teton-h100.json").string());
    return merged;
  }();
  return catalog;
}

// training.run of the JSON report of `document`.
json run_section(const json& document) {
  const Catalog& catalog = grand_teton_catalog();
  const Report report = run_scenario(parse_scenario(document, catalog), catalog, RunOptions{});
  const json out = to_json(report);
  EXPECT_FALSE(out.contains("infeasible")) << out.value("infeasible", "");
  return out["training"]["run"];
}

// The published scenario is run once for the tests that read it.
const json& llama3_run() {
  static const json run = run_section(llama3_reliability_scenario());
  return run;
}

TEST(LlamaThreeReliability, InterruptionsPerDayMatchTheFiftyFourDaySnapshot) {
  // 419 unexpected interruptions in 54 days on 16,384 GPUs = 7.759 per day; by class (Table 5):
  // GPU 268 (rate per GPU: 16,384), host 53 (per server: 2,048), network 35 (per NIC link:
  // 16,384), software 63 (per GPU); and 47 planned interruptions = 0.8704 per day. The scenario
  // gives the rates per unit rounded to 5 digits, so the counts come back within rounding, far
  // inside 0.5%.
  const json& failures = llama3_run()["failures"];
  ASSERT_TRUE(failures["modelled"].get<bool>());
  const double unexpected = 419.0 / 54.0;
  EXPECT_NEAR(failures["per_day"].get<double>(), unexpected, 0.005 * unexpected);

  const json& by_class = failures["per_day_by_class"];
  const std::vector<std::pair<std::string, double>> table5 = {
      {"gpu", 268}, {"host", 53}, {"network", 35}, {"software", 63}};
  for (const auto& [name, count] : table5) {
    ASSERT_TRUE(by_class.contains(name)) << by_class.dump();
    const double expected = count / 54.0;
    EXPECT_NEAR(by_class[name].get<double>(), expected, 0.005 * expected) << name;
  }

  const double planned = 47.0 / 54.0;
  EXPECT_NEAR(failures["planned_per_day"].get<double>(), planned, 0.005 * planned);
}

TEST(LlamaThreeReliability, GoodputIsNearThePublishedNinetyPercent) {
  // Published: "more than 90%" effective training time over the snapshot. The model's goodput
  // (useful step time over wall time, with its default recovery times rather than Meta's) must be
  // in the same region: above 80% and below 99% (a run that loses nothing to 7.8 failures a day
  // would be wrong the other way).
  const double goodput = llama3_run()["goodput"].get<double>();
  RecordProperty("model_goodput", std::to_string(goodput));
  RecordProperty("published_goodput", "more than 0.90 (arXiv:2407.21783 section 3.3.4)");
  std::cout << "[ LLAMA 3  ] goodput: model " << goodput
            << ", published more than 0.90 (54-day snapshot, 16,384 H100)\n";
  EXPECT_GT(goodput, 0.80);
  EXPECT_LT(goodput, 0.99);
}

TEST(LlamaThreeReliability, HalfTheNodesHaveHalfTheFailuresPerDay) {
  // Every failure class is a fixed rate per GPU, server or link, so 1,024 servers (8,192 GPUs,
  // 8,192 links; dp 64 instead of 128 with the same tp 8 x pp 16) fail exactly half as often:
  // 7.759 / 2 = 3.880 per day. The planned rate is given per job in the scenario and stays.
  json half = llama3_reliability_scenario();
  half["cluster"]["nodes"] = 1024;
  half["workload"]["parallelism"]["dp"] = 64;
  const json half_run = run_section(half);
  const double full_per_day = llama3_run()["failures"]["per_day"].get<double>();
  const double half_per_day = half_run["failures"]["per_day"].get<double>();
  EXPECT_NEAR(half_per_day, full_per_day / 2, 1e-9 * full_per_day);
  for (const auto& [name, per_day] : llama3_run()["failures"]["per_day_by_class"].items()) {
    EXPECT_NEAR(half_run["failures"]["per_day_by_class"][name].get<double>(),
                per_day.get<double>() / 2, 1e-9 * per_day.get<double>())
        << name;
  }
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

// The dollars of a run add up (cost.breakdown, docs/reliability.md "Cost"): compute is the
// cluster's price per hour x the wall hours the report gives, restarts and waits included; the
// total is the sum of the items; dollars per million tokens divide it by steps x tokens per step.
TEST(RunCostReport, DollarsFollowTheWallClockAndAddUp) {
  const Catalog& catalog = Catalog::builtin();
  const json document = read_json_file(
      (fs::path(FMSIM_SOURCE_DIR) / "scenarios" / "vlm-8b-pretrain-p5-64node-fsx-shards.json")
          .string());
  const json out = to_json(run_scenario(parse_scenario(document, catalog), catalog, RunOptions{}));
  const json& t = out["training"];
  const json& cost = t["cost"];
  const double wall_hours = t["run"]["days"].get<double>() * 24.0;
  // 64 p5 nodes at the catalog's on-demand $55.04 per node-hour.
  EXPECT_NEAR(cost["usd_per_hour"].get<double>(), 64 * 55.04, 1e-9);
  EXPECT_NEAR(cost["breakdown"]["compute"].get<double>(), 64 * 55.04 * wall_hours, 1e-6);
  double items = 0.0;
  for (const auto& [item, usd] : cost["breakdown"].items()) items += usd.get<double>();
  EXPECT_NEAR(cost["usd"].get<double>(), items, 1e-6);
  EXPECT_GT(cost["breakdown"]["fsx_lustre"].get<double>(), 0.0);   // the 12 TiB file system
  EXPECT_GT(cost["breakdown"]["s3_requests"].get<double>(), 0.0);  // checkpoint uploads
  const double tokens =
      t["run"]["steps"].get<double>() * t["throughput"]["tokens_per_step"].get<double>();
  EXPECT_NEAR(cost["usd_per_million_tokens"].get<double>(),
              cost["usd"].get<double>() / (tokens / 1e6), 1e-9);
  // Wall time is useful time plus every lost cause.
  double lost_days = 0.0;
  for (const auto& [cause, days] : t["run"]["lost_days"].items()) lost_days += days.get<double>();
  EXPECT_NEAR(t["run"]["days"].get<double>(), t["run"]["useful_days"].get<double>() + lost_days,
              1e-9);
}

}  // namespace
}  // namespace fmsim
