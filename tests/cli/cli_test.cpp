// End-to-end tests of the `fmsim` command line (sim/cli/main.cpp), the contract of DESIGN.md
// section 6: each test runs the built binary (FMSIM_EXE) in a fresh temporary folder and checks
// its exit code (0 ok, 1 expectation failed, 2 bad input), what it printed, and the files it
// wrote. Bad input must give exit code 2 and ONE line on stderr naming the JSON pointer or path.
// Sweeps are kept small (1 KiB to 1 MiB) so the file runs in seconds under the sanitizers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/fmsim_process.h"
#include "version.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing_support;

// 2 x p5.48xlarge = 16 H100s; all_reduce from 1 KiB to 1 MiB by factor 2: 2^10 .. 2^20, which is
// 11 sizes, each a whole number of 4-byte floats.
constexpr const char* kSmallScenario = R"({
  "name": "cli-test",
  "cluster": {"instance": "p5.48xlarge", "nodes": 2},
  "workload": {"stage": "collective", "op": "all_reduce", "min_bytes": 1024,
               "max_bytes": 1048576, "step_factor": 2, "dtype": "float"}
})";
constexpr int kSmallScenarioRows = 11;
constexpr int kSmallScenarioRanks = 16;

class Cli : public FmsimProcessTest {
 protected:
  std::string write(const std::string& name, const std::string& text) const {
    return write_text(name, text);
  }

  // The small scenario with one field replaced (JSON pointer -> value).
  std::string write_scenario_with(const std::string& name, const std::string& pointer,
                                  const json& value) const {
    json document = json::parse(kSmallScenario);
    document[json::json_pointer(pointer)] = value;
    return write(name, document.dump(2));
  }
};

// --- Bad input: exit code 2 and one line naming the pointer or path ---------------------------

TEST_F(Cli, MalformedJsonNamesTheFileTheLineAndTheColumn) {
  // Line 2 is `  "name": @`: the stray '@' is in column 11 (2 spaces, 7 characters of `"name":`,
  // a space).
  const std::string path = write("bad.json", "{\n  \"name\": @\n}\n");
  const Outcome outcome = expect_bad_input({path}, path);
  EXPECT_TRUE(contains(outcome.err, "line 2, column 11")) << outcome.err;
}

TEST_F(Cli, UnknownFieldSuggestsTheNearestName) {
  json document = json::parse(kSmallScenario);
  document["cluster"].erase("nodes");
  document["cluster"]["nodez"] = 2;
  const std::string path = write("s.json", document.dump());
  const Outcome outcome = expect_bad_input({path}, "/cluster/nodez");
  EXPECT_TRUE(contains(outcome.err, "did you mean \"nodes\"")) << outcome.err;
}

TEST_F(Cli, WrongTypeNamesThePointer) {
  const Outcome outcome =
      expect_bad_input({write_scenario_with("s.json", "/cluster/nodes", "two")}, "/cluster/nodes");
  EXPECT_TRUE(contains(outcome.err, "\"two\"")) << outcome.err;
}

TEST_F(Cli, UnknownInstanceSuggestsTheNearestName) {
  const Outcome outcome = expect_bad_input(
      {write_scenario_with("s.json", "/cluster/instance", "p5.48xlarg")}, "/cluster/instance");
  EXPECT_TRUE(contains(outcome.err, "did you mean \"p5.48xlarge\"")) << outcome.err;
}

TEST_F(Cli, ZeroNodesAreBadInput) {
  expect_bad_input({write_scenario_with("s.json", "/cluster/nodes", 0)}, "/cluster/nodes");
}

TEST_F(Cli, NegativeNodesAreBadInput) {
  expect_bad_input({write_scenario_with("s.json", "/cluster/nodes", -1)}, "/cluster/nodes");
}

TEST_F(Cli, MoreRanksThanTheClusterHasGpusIsBadInput) {
  // 2 x p5.48xlarge = 16 GPUs; 17 ranks do not fit.
  const Outcome outcome =
      expect_bad_input({write_scenario_with("s.json", "/workload/ranks", 17)}, "/workload/ranks");
  EXPECT_TRUE(contains(outcome.err, "16")) << outcome.err;
}

TEST_F(Cli, SetPointerWithoutLeadingSlashIsBadInput) {
  expect_bad_input({write("s.json", kSmallScenario), "--set", "cluster/nodes=2"},
                   "cluster/nodes=2");
}

TEST_F(Cli, SetThroughANumberIsBadInput) {
  // /cluster/nodes is the number 2: it has no field "x".
  expect_bad_input({write("s.json", kSmallScenario), "--set", "/cluster/nodes/x=1"},
                   "/cluster/nodes/x");
}

TEST_F(Cli, SetValueIsValidatedAtItsPointer) {
  expect_bad_input({write("s.json", kSmallScenario), "--set", "/cluster/nodes=0"},
                   "/cluster/nodes");
}

TEST_F(Cli, SetArrayIndexTooLargeForAnIntegerIsBadInput) {
  expect_bad_input({write("s.json", kSmallScenario), "--set", "/workload/algorithms=[\"ring\"]",
                    "--set", "/workload/algorithms/99999999999999999999=tree"},
                   "/workload/algorithms/99999999999999999999");
}

TEST_F(Cli, MissingScenarioFileIsBadInput) {
  const std::string path = (dir() / "does-not-exist.json").string();
  expect_bad_input({path}, path);
}

TEST_F(Cli, UnknownOptionIsBadInput) { expect_bad_input({"--bogus"}, "--bogus"); }

TEST_F(Cli, ExistingOutputIsNotOverwrittenWithoutForce) {
  const std::string scenario = write("s.json", kSmallScenario);
  const std::string output = write("report.json", "keep me\n");
  const Outcome outcome = expect_bad_input({scenario, "--json", output}, output);
  EXPECT_TRUE(contains(outcome.err, "--force")) << outcome.err;
  EXPECT_EQ(read_file(output), "keep me\n");
}

TEST_F(Cli, ForceOverwritesAnExistingOutput) {
  const std::string scenario = write("s.json", kSmallScenario);
  const std::string output = write("report.json", "old\n");
  const Outcome outcome = run({scenario, "--json", output, "--force"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const json report = json::parse(read_file(output));
  EXPECT_EQ(report["stage"], "collective");
}

TEST_F(Cli, ScenarioFileIsNeverOverwrittenEvenWithForce) {
  const std::string scenario = write("s.json", kSmallScenario);
  expect_bad_input({scenario, "--json", scenario, "--force"}, scenario);
  EXPECT_EQ(read_file(scenario), kSmallScenario);
  // Nor under another spelling of the same path.
  expect_bad_input({"s.json", "--csv", "./s.json", "--force"}, "./s.json");
  EXPECT_EQ(read_file(scenario), kSmallScenario);
}

TEST_F(Cli, OutputInAMissingFolderIsBadInput) {
  const std::string output = (dir() / "no-such-folder" / "report.json").string();
  expect_bad_input({write("s.json", kSmallScenario), "--json", output}, output);
}

TEST_F(Cli, BadSetOnTheEmbeddedDefaultIsOneLine) {
  expect_bad_input({"--set", "/cluster/nodes=0"}, "/cluster/nodes");
}

TEST_F(Cli, UnknownOpIsBadInput) {
  const Outcome outcome = expect_bad_input(
      {write_scenario_with("s.json", "/workload/op", "all_reduc")}, "/workload/op");
  EXPECT_TRUE(contains(outcome.err, "did you mean \"all_reduce\"")) << outcome.err;
}

TEST_F(Cli, MaxBytesBelowMinBytesIsBadInput) {
  // min_bytes is 1024 in the small scenario.
  expect_bad_input({write_scenario_with("s.json", "/workload/max_bytes", 512)},
                   "/workload/max_bytes");
}

TEST_F(Cli, StageThatNeedsAModelWithoutOneIsBadInput) {
  // The small scenario is a collective one, without a model: the rl stage needs one.
  const Outcome outcome =
      expect_bad_input({write_scenario_with("s.json", "/workload/stage", "rl")}, "/model");
  EXPECT_TRUE(contains(outcome.err, "missing")) << outcome.err;
}

TEST_F(Cli, ValidateReportsBadInputTheSameWay) {
  expect_bad_input({"validate", write_scenario_with("s.json", "/cluster/nodes", 0)},
                   "/cluster/nodes");
}

// --- Information commands ---------------------------------------------------------------------

TEST_F(Cli, VersionPrintsTheVersionAndExitsZero) {
  const Outcome outcome = run({"--version"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, std::string("fmsim ") + kVersion)) << outcome.out;
}

TEST_F(Cli, HelpExitsZeroAndMentionsTheSubcommands) {
  const Outcome outcome = run({"--help"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "validate")) << outcome.out;
  EXPECT_TRUE(contains(outcome.out, "catalog")) << outcome.out;
}

TEST_F(Cli, CatalogListsTheP5Instance) {
  const Outcome outcome = run({"catalog"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "p5.48xlarge")) << outcome.out;
}

TEST_F(Cli, CatalogJsonIsValidJsonWithGpusAndInstances) {
  const Outcome outcome = run({"catalog", "--json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  ASSERT_TRUE(json::accept(outcome.out)) << outcome.out;
  const json catalog = json::parse(outcome.out);
  ASSERT_TRUE(catalog.contains("gpus"));
  ASSERT_TRUE(catalog.contains("instances"));
  EXPECT_TRUE(contains(catalog["instances"].dump(), "\"p5.48xlarge\""));
}

// --- Running scenarios ------------------------------------------------------------------------

TEST_F(Cli, NoScenarioRunsTheEmbeddedDefaultAndSaysSo) {
  // The default is Llama 3 70B pre-training on 64 p5 nodes; a small global batch keeps it quick.
  const Outcome outcome = run({"--set", "/workload/global_batch=64"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "embedded default")) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "embedded default")) << outcome.out;
  EXPECT_TRUE(contains(outcome.out, "llama3-70b")) << outcome.out;
  EXPECT_TRUE(contains(outcome.out, "MFU")) << outcome.out;
}

TEST_F(Cli, ValidateAcceptsEveryExampleScenario) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(FMSIM_SOURCE_DIR) / "scenarios")) {
    if (entry.path().extension() != ".json") continue;
    const Outcome outcome = run({"validate", entry.path().string()});
    EXPECT_EQ(outcome.exit_code, 0) << entry.path() << ": " << outcome.err;
    EXPECT_TRUE(json::accept(outcome.out)) << entry.path();
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(Cli, ValidatePrintsTheResolvedScenarioWithOverrides) {
  const Outcome outcome =
      run({"validate", write("s.json", kSmallScenario), "--set", "/cluster/nodes=4"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const json resolved = json::parse(outcome.out);
  EXPECT_EQ(resolved["cluster"]["nodes"], 4);
  EXPECT_EQ(resolved["workload"]["redop"], "sum");  // a default, filled in
}

TEST_F(Cli, SetChangesTheNodesInTheReport) {
  // 4 x p5.48xlarge: 4 nodes, 4 x 8 = 32 ranks.
  const Outcome outcome =
      run({write("s.json", kSmallScenario), "--set", "/cluster/nodes=4", "--json", "-"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const json report = json::parse(outcome.out);
  EXPECT_EQ(report["scenario"]["cluster"]["nodes"], 4);
  EXPECT_EQ(report["collective"]["nodes"], 4);
  EXPECT_EQ(report["collective"]["ranks"], 32);
}

TEST_F(Cli, JsonOnStdoutFollowsTheReportContract) {
  const Outcome outcome = run({write("s.json", kSmallScenario), "--json", "-"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  // stdout holds nothing but the JSON report; the text report moves to stderr.
  ASSERT_TRUE(json::accept(outcome.out)) << outcome.out;
  EXPECT_TRUE(contains(outcome.err, "Avg bus bandwidth")) << outcome.err;
  const json report = json::parse(outcome.out);
  EXPECT_EQ(report["fmsim_version"], kVersion);
  EXPECT_EQ(report["stage"], "collective");
  EXPECT_EQ(report["scenario"]["name"], "cli-test");
  EXPECT_EQ(report["scenario"]["workload"]["redop"], "sum");  // resolved: defaults filled in
  EXPECT_EQ(report["collective"]["ranks"], kSmallScenarioRanks);
  const json& rows = report["collective"]["rows"];
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kSmallScenarioRows));
  double bytes = 1024;
  for (const auto& row : rows) {
    for (const char* key : {"bytes", "time_us", "algbw_gbps", "busbw_gbps"}) {
      ASSERT_TRUE(row.contains(key) && row[key].is_number()) << key << " in " << row;
    }
    for (const char* key : {"algorithm", "protocol"}) {
      ASSERT_TRUE(row.contains(key) && row[key].is_string()) << key << " in " << row;
      EXPECT_FALSE(row[key].get<std::string>().empty()) << key << " in " << row;
    }
    EXPECT_EQ(row["bytes"], bytes);
    bytes *= 2;
    // GB/s = 1e9 bytes/s: algbw = bytes / time; all_reduce busbw = algbw * 2(n-1)/n, n = 16.
    const double time_s = row["time_us"].get<double>() * 1e-6;
    const double algbw = row["algbw_gbps"].get<double>();
    EXPECT_GT(time_s, 0.0);
    EXPECT_NEAR(algbw, row["bytes"].get<double>() / time_s / 1e9, 1e-9 * algbw);
    EXPECT_NEAR(row["busbw_gbps"].get<double>(), algbw * 2.0 * 15 / 16, 1e-9 * algbw);
  }
}

TEST_F(Cli, CsvHasAHeaderAndOneLinePerRow) {
  const std::string csv = (dir() / "rows.csv").string();
  const Outcome outcome = run({write("s.json", kSmallScenario), "--csv", csv});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const std::vector<std::string> lines = lines_of(read_file(csv));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(1 + kSmallScenarioRows));
  EXPECT_TRUE(lines[0].starts_with("size_bytes,")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "busbw_gbps")) << lines[0];
  const auto columns = std::count(lines[0].begin(), lines[0].end(), ',');
  long long bytes = 1024;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(lines[i].starts_with(std::to_string(bytes) + ",")) << lines[i];
    EXPECT_EQ(std::count(lines[i].begin(), lines[i].end(), ','), columns) << lines[i];
    bytes *= 2;
  }
}

TEST_F(Cli, TraceIsChromeTraceJsonWithRankSpansAndLinkCounters) {
  const std::string trace_path = (dir() / "trace.json").string();
  const Outcome outcome = run({write("s.json", kSmallScenario), "--trace", trace_path});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const json trace = json::parse(read_file(trace_path));
  ASSERT_TRUE(trace.contains("traceEvents") && trace["traceEvents"].is_array());
  std::set<int> ranks_with_spans;
  int spans = 0, counters = 0;
  for (const auto& event : trace["traceEvents"]) {
    ASSERT_TRUE(event.contains("ph")) << event;
    if (event["ph"] == "X") {
      ++spans;
      EXPECT_TRUE(event["ts"].is_number() && event["dur"].is_number()) << event;
      EXPECT_GE(event["dur"].get<double>(), 0.0) << event;
      ranks_with_spans.insert(event["tid"].get<int>());
    }
    if (event["ph"] == "C") {
      ++counters;
      EXPECT_TRUE(event["ts"].is_number()) << event;
      EXPECT_TRUE(event["args"].is_object() && !event["args"].empty()) << event;
    }
  }
  // One span per rank per size: 16 ranks x 11 sizes, on one thread (stream) per rank.
  EXPECT_EQ(spans, kSmallScenarioRanks * kSmallScenarioRows);
  EXPECT_EQ(ranks_with_spans.size(), static_cast<std::size_t>(kSmallScenarioRanks));
  EXPECT_GT(counters, 0);
}

TEST_F(Cli, FailedExpectationExitsOneAndStillWritesTheReport) {
  // No link carries 1e9 GB/s.
  const std::string report_path = (dir() / "report.json").string();
  const Outcome outcome = run({write("s.json", kSmallScenario), "--set",
                               "/expect/busbw_gbps_min=1e9", "--json", report_path});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "busbw_gbps_min")) << outcome.err;
  ASSERT_TRUE(fs::exists(report_path));
  const json report = json::parse(read_file(report_path));
  ASSERT_EQ(report["expectations"].size(), 1u);
  EXPECT_EQ(report["expectations"][0]["name"], "busbw_gbps_min");
  EXPECT_EQ(report["expectations"][0]["ok"], false);
}

TEST_F(Cli, MetExpectationExitsZero) {
  const Outcome outcome =
      run({write("s.json", kSmallScenario), "--set", "/expect/busbw_gbps_min=0"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
}

}  // namespace
}  // namespace fmsim
