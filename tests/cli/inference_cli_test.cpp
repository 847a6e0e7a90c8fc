// The `fmsim` command line on the inference stage: bad input exits 2 naming the field (or the
// trace file and line), a request the KV cache cannot hold exits 3 with the report written, a
// trace file drives the arrivals, and the serving example meets its own SLOs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/fmsim_process.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing_support;

constexpr const char* kServe8b = "llama3-8b-serve-p5-1node.json";

class InferenceCli : public FmsimProcessTest {
 protected:
  static std::string scenario(const std::string& file) {
    return (fs::path(FMSIM_SOURCE_DIR) / "scenarios" / file).string();
  }
  Outcome run_with(const std::vector<std::string>& sets, const std::string& file = kServe8b,
                   bool json_out = false) const {
    std::vector<std::string> args = {scenario(file)};
    if (json_out) args.insert(args.end(), {"--json", "report.json", "--force"});
    for (const auto& set : sets) args.insert(args.end(), {"--set", set});
    return run(args);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir() / name) << text;
  }
};

TEST_F(InferenceCli, TensorParallelismThatDoesNotDivideTheHeadsIsBadInput) {
  // Llama 3 8B has 32 heads and 8 KV heads: tp 3 divides neither.
  const Outcome o = run_with({"/workload/parallelism/tp=3", "/workload/replicas=1"});
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(IsOneLine(o.err));
  EXPECT_TRUE(contains(o.err, "/workload/parallelism/tp")) << o.err;
}

TEST_F(InferenceCli, ARateThatIsNeitherANumberNorInfIsBadInput) {
  const Outcome o = run_with({"/workload/requests/rate_per_s=\"fast\""});
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(contains(o.err, "/workload/requests/rate_per_s")) << o.err;
}

TEST_F(InferenceCli, ATraceWithANegativeLengthNamesTheFileAndLine) {
  write("trace.csv", "arrival_s,input_tokens,output_tokens\n0.0,512,128\n0.5,-3,128\n");
  const std::string trace = (dir() / "trace.csv").string();
  const Outcome o = run_with({"/workload/requests/trace=\"" + trace + "\""});
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(IsOneLine(o.err));
  EXPECT_TRUE(contains(o.err, trace + ":3")) << o.err;
  EXPECT_TRUE(contains(o.err, "input_tokens")) << o.err;
}

TEST_F(InferenceCli, ARequestTheKvCacheCannotHoldIsInfeasibleAndTheReportIsWritten) {
  // 2M prompt tokens x 131,072 B = 262 GB of KV cache for one request; an H100 has 80 GB.
  const Outcome o = run_with({"/workload/requests/input_tokens=2000000"}, kServe8b, true);
  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_TRUE(contains(o.err, "/workload/requests")) << o.err;
  const json report = json::parse(read_file(dir() / "report.json"));
  EXPECT_TRUE(report.contains("infeasible"));
}

TEST_F(InferenceCli, ATraceFileDrivesTheArrivalsAndLengths) {
  // Three requests from a JSON Lines trace: the report counts exactly their tokens.
  write("trace.jsonl",
        "{\"arrival_s\": 0.0, \"input_tokens\": 100, \"output_tokens\": 10}\n"
        "{\"arrival_s\": 0.2, \"input_tokens\": 200, \"output_tokens\": 20}\n"
        "{\"arrival_s\": 0.4, \"input_tokens\": 300, \"output_tokens\": 30}\n");
  const Outcome o = run_with(
      {"/workload/requests/trace=\"" + (dir() / "trace.jsonl").string() + "\""}, kServe8b, true);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json r = json::parse(read_file(dir() / "report.json"))["inference"];
  EXPECT_EQ(r["prompts"].get<int>(), 3);
  EXPECT_DOUBLE_EQ(r["input_tokens"].get<double>(), 600.0);
  EXPECT_DOUBLE_EQ(r["output_tokens"].get<double>(), 60.0);
}

TEST_F(InferenceCli, TheServingExampleMeetsItsSlosAndReportsDollars) {
  const Outcome o = run_with({}, kServe8b, true);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json r = json::parse(read_file(dir() / "report.json"))["inference"];
  EXPECT_EQ(r["gpus"].get<int>(), 8);
  EXPECT_GT(r["output_tokens_per_s"].get<double>(), 0.0);
  // Dollars: the node's $55.04 per hour over the run's duration, per million output tokens.
  const double usd = 55.04 * r["duration_s"].get<double>() / 3600.0;
  EXPECT_NEAR(r["cost"]["usd"].get<double>(), usd, 1e-9);
  EXPECT_NEAR(r["usd_per_million_tokens"].get<double>(),
              usd / (r["output_tokens"].get<double>() / 1e6), 1e-9);
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

constexpr const char* kGrpoColocated = "grpo-llama3-8b-p5-4node-colocated.json";

TEST_F(InferenceCli, RlAsyncNeedsDisaggregatedPools) {
  const Outcome o = run_with({"/workload/async=true"}, kGrpoColocated);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(contains(o.err, "/workload/async")) << o.err;
}

TEST_F(InferenceCli, RlRolloutCountIsSetByTheLoop) {
  const Outcome o = run_with({"/workload/rollout/requests/count=10"}, kGrpoColocated);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(contains(o.err, "/workload/rollout/requests/count")) << o.err;
}

TEST_F(InferenceCli, RlIterationBreakdownAddsUp) {
  const Outcome o = run_with({}, kGrpoColocated, true);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json rl = json::parse(read_file(dir() / "report.json"))["rl"];
  double sum = 0.0;
  for (const auto& [phase, seconds] : rl["breakdown"].items()) sum += seconds.get<double>();
  EXPECT_NEAR(rl["iteration_s"].get<double>(), sum, 1e-9);
  EXPECT_EQ(rl["samples"].get<int>(), 128 * 8);
}

}  // namespace
}  // namespace fmsim
