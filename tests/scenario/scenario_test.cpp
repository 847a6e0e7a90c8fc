// Tests of the scenario layer (sim/scenario): defaults, strict validation with the JSON pointer of
// each problem, `--set` overrides, JSON file reading, the resolved scenario; and the nccl-tests
// size sweep of the collective stage (sim/workload/run.h), worked by hand.
#include "scenario/scenario.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.h"
#include "workload/run.h"

namespace fmsim {
namespace {

using nlohmann::json;

// The smallest valid scenario: 2 x p5.48xlarge (8 GPUs each, 16 in all), collective stage.
json minimal_document() {
  return json::parse(R"({"cluster": {"instance": "p5.48xlarge", "nodes": 2},
                         "workload": {"stage": "collective"}})");
}

Scenario parse(const json& document) { return parse_scenario(document, Catalog::builtin()); }

// Runs `action`, which must throw fmsim::Error, and returns that error.
Error error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected fmsim::Error";
  return Error(ExitCode::kOk, "", "");
}

// The error parse_scenario raises for `document` after setting `pointer` to `value`.
Error parse_error_with(const std::string& pointer, const json& value) {
  json document = minimal_document();
  document[json::json_pointer(pointer)] = value;
  return error_of([&] { parse(document); });
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Every JSON pointer to a leaf (or an empty object/array) of `node`.
void collect_leaves(const json& node, const std::string& pointer, std::set<std::string>& out) {
  if (node.is_object() && !node.empty()) {
    for (const auto& [key, child] : node.items()) collect_leaves(child, pointer + "/" + key, out);
    return;
  }
  out.insert(pointer);
}

// --- Defaults -----------------------------------------------------------------------------------

TEST(ScenarioDefaults, MinimalDocumentGetsTheDocumentedDefaults) {
  // Only the instance is required: one node, and the collective stage's nccl-tests defaults
  // (all_reduce_perf -b 8 -e 8G -f 2 -d float -o sum), 8 GiB = 8 * 2^30 = 8589934592 bytes.
  const Scenario s = parse(json::parse(R"({"cluster": {"instance": "p5.48xlarge"},
                                           "workload": {}})"));
  EXPECT_EQ(s.name, "unnamed");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.cluster.instance, "p5.48xlarge");
  EXPECT_EQ(s.cluster.nodes, 1);
  EXPECT_EQ(s.cluster.network.topology, "rail-fat-tree");
  EXPECT_EQ(s.cluster.network.oversubscription, 1.0);
  EXPECT_EQ(s.cluster.network.nodes_per_leaf, 0);
  EXPECT_EQ(s.cluster.network.spines, 0);
  EXPECT_EQ(s.cluster.pricing_model, "on-demand");
  EXPECT_FALSE(s.cluster.price_usd_per_hour.has_value());
  EXPECT_TRUE(s.model_value.is_null());
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.calibration, "");
  EXPECT_TRUE(s.expect.empty());

  EXPECT_EQ(s.workload.stage, "collective");
  const CollectiveWorkload& c = s.workload.collective;
  EXPECT_EQ(c.op, CollectiveOp::kAllReduce);
  EXPECT_EQ(c.min_bytes, 8.0);
  EXPECT_EQ(c.max_bytes, 8.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(c.step_factor, 2.0);
  EXPECT_EQ(c.step_bytes, 0.0);
  EXPECT_EQ(c.dtype, "float");
  EXPECT_EQ(c.redop, "sum");
  EXPECT_EQ(c.ranks, 0);  // every GPU of the cluster
  EXPECT_TRUE(c.options.algorithms.empty());
  EXPECT_TRUE(c.options.protocols.empty());
  EXPECT_EQ(c.options.channels, 0);
}

TEST(ScenarioDefaults, ExplicitValuesAreKept) {
  const Scenario s = parse(json::parse(R"({
    "name": "mine", "description": "two nodes", "seed": 7, "calibration": "",
    "model": "llama3-70b",
    "cluster": {"instance": "p4d.24xlarge", "nodes": 3,
                "network": {"topology": "rail-fat-tree", "oversubscription": 2.5,
                            "nodes_per_leaf": 16, "spines": 4},
                "pricing": {"model": "on-demand", "usd_per_hour": 12.5}},
    "workload": {"stage": "collective", "op": "all_gather", "min_bytes": 1024,
                 "max_bytes": 4096, "step_factor": 4, "step_bytes": 0, "dtype": "bfloat16",
                 "redop": "max", "ranks": 24, "algorithms": ["ring", "tree"],
                 "protocols": ["Simple"], "channels": 16},
    "expect": {"busbw_gbps_min": 100, "latency_us_max": 50}})"));
  EXPECT_EQ(s.name, "mine");
  EXPECT_EQ(s.description, "two nodes");
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.calibration, "");
  EXPECT_EQ(s.model_value, "llama3-70b");
  EXPECT_EQ(s.cluster.instance, "p4d.24xlarge");
  EXPECT_EQ(s.cluster.nodes, 3);
  EXPECT_EQ(s.cluster.network.oversubscription, 2.5);
  EXPECT_EQ(s.cluster.network.nodes_per_leaf, 16);
  EXPECT_EQ(s.cluster.network.spines, 4);
  ASSERT_TRUE(s.cluster.price_usd_per_hour.has_value());
  EXPECT_EQ(*s.cluster.price_usd_per_hour, 12.5);
  const CollectiveWorkload& c = s.workload.collective;
  EXPECT_EQ(c.op, CollectiveOp::kAllGather);
  EXPECT_EQ(c.min_bytes, 1024.0);
  EXPECT_EQ(c.max_bytes, 4096.0);
  EXPECT_EQ(c.step_factor, 4.0);
  EXPECT_EQ(c.dtype, "bfloat16");
  EXPECT_EQ(c.redop, "max");
  EXPECT_EQ(c.ranks, 24);  // 3 x p4d = 24 GPUs: the whole cluster, allowed
  EXPECT_EQ(c.options.algorithms, (std::vector<Algorithm>{Algorithm::kRing, Algorithm::kTree}));
  EXPECT_EQ(c.options.protocols, (std::vector<Protocol>{Protocol::kSimple}));
  EXPECT_EQ(c.options.channels, 16);
  ASSERT_EQ(s.expect.size(), 2u);
  // Expectations come in the fixed order of the metric list, not the document's.
  EXPECT_EQ(s.expect[0].name, "busbw_gbps_min");
  EXPECT_EQ(s.expect[0].limit, 100.0);
  EXPECT_EQ(s.expect[1].name, "latency_us_max");
  EXPECT_EQ(s.expect[1].limit, 50.0);
}

TEST(ScenarioDefaults, StepFactorOneWithStepBytesStepsLinearly) {
  // nccl-tests -f 1 -i 1024: accepted when step_bytes > 0.
  json document = minimal_document();
  document["workload"]["step_factor"] = 1;
  document["workload"]["step_bytes"] = 1024;
  document["workload"]["max_bytes"] = 1048576;  // 1 MiB / 1 KiB = 1024 sizes
  const Scenario s = parse(document);
  EXPECT_EQ(s.workload.collective.step_factor, 1.0);
  EXPECT_EQ(s.workload.collective.step_bytes, 1024.0);
}

TEST(ScenarioErrors, SweepOfMoreThanTenThousandSizesIsRefused) {
  // 8 B .. 8 GiB in steps of 1 KiB would be 8,388,608 sizes: a typo, not a benchmark plan.
  json document = minimal_document();
  document["workload"]["step_factor"] = 1;
  document["workload"]["step_bytes"] = 1024;
  document["workload"]["max_bytes"] = 8589934592.0;
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/step_bytes");
}

TEST(ScenarioErrors, MisspeltTopLevelFieldIsReportedAsATypo) {
  // "clusters" must be caught as an unknown field near "cluster", not as a missing "cluster".
  json document = minimal_document();
  document["clusters"] = document["cluster"];
  document.erase("cluster");
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.where(), "/clusters");
  EXPECT_NE(e.message().find("did you mean \"cluster\""), std::string::npos) << e.what();
}

TEST(ScenarioDefaults, IntegralFloatIsAcceptedWhereAnIntegerIsExpected) {
  // JSON has one number type: 2.0 is the integer 2 (and --set /cluster/nodes=2e0 works).
  json document = minimal_document();
  document["cluster"]["nodes"] = 2.0;
  EXPECT_EQ(parse(document).cluster.nodes, 2);
}

// --- The resolved scenario (to_json) ----------------------------------------------------------

TEST(ScenarioResolved, HasEveryFieldWithDefaultsFilledIn) {
  const json resolved = to_json(parse(minimal_document()));
  std::set<std::string> leaves;
  collect_leaves(resolved, "", leaves);
  const std::set<std::string> expected = {"/name",
                                          "/description",
                                          "/seed",
                                          "/calibration",
                                          "/expect",
                                          "/cluster/instance",
                                          "/cluster/nodes",
                                          "/cluster/network/topology",
                                          "/cluster/network/oversubscription",
                                          "/cluster/network/nodes_per_leaf",
                                          "/cluster/network/spines",
                                          "/cluster/pricing/model",
                                          "/cluster/storage/s3/prefixes",
                                          "/cluster/reliability/enabled",
                                          "/cluster/reliability/rate_scale",
                                          "/cluster/reliability/spare_nodes",
                                          "/cluster/reliability/mode",
                                          "/cluster/reliability/trials",
                                          "/workload/stage",
                                          "/workload/op",
                                          "/workload/min_bytes",
                                          "/workload/max_bytes",
                                          "/workload/step_factor",
                                          "/workload/step_bytes",
                                          "/workload/dtype",
                                          "/workload/redop",
                                          "/workload/ranks",
                                          "/workload/algorithms",
                                          "/workload/protocols",
                                          "/workload/channels"};
  EXPECT_EQ(leaves, expected);
  EXPECT_EQ(resolved["workload"]["op"], "all_reduce");
  EXPECT_EQ(resolved["workload"]["max_bytes"], 8589934592.0);
  EXPECT_EQ(resolved["cluster"]["nodes"], 2);
}

TEST(ScenarioResolved, OptionalFieldsAppearOnlyWhenGiven) {
  json document = minimal_document();
  document["model"] = "llama3-70b";
  document["cluster"]["pricing"] = {{"usd_per_hour", 98.32}};
  document["expect"] = {{"algbw_gbps_min", 10}};
  const json resolved = to_json(parse(document));
  EXPECT_EQ(resolved["model"], "llama3-70b");
  EXPECT_EQ(resolved["cluster"]["pricing"]["usd_per_hour"], 98.32);
  EXPECT_EQ(resolved["expect"], json({{"algbw_gbps_min", 10.0}}));
}

TEST(ScenarioResolved, ParsesBackToTheSameResolvedScenario) {
  // The resolved scenario a report embeds is itself a valid scenario that means the same thing.
  json document = minimal_document();
  document["workload"]["algorithms"] = {"nvls", "ring"};
  document["workload"]["protocols"] = {"LL128"};
  document["expect"] = {{"busbw_gbps_min", 1}};
  const json once = to_json(parse(document));
  const json twice = to_json(parse(once));
  EXPECT_EQ(twice, once);
}

// --- Errors: each names the JSON pointer at fault, exit code 2 -------------------------------

TEST(ScenarioErrors, RootThatIsNotAnObjectIsNamedSlash) {
  const Error e = error_of([] { parse(json::array()); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/");
}

TEST(ScenarioErrors, MissingClusterIsNamed) {
  json document = minimal_document();
  document.erase("cluster");
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster");
}

TEST(ScenarioErrors, ClusterThatIsNotAnObjectIsNamed) {
  const Error e = parse_error_with("/cluster", 2);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster");
}

TEST(ScenarioErrors, MissingInstanceIsNamed) {
  json document = minimal_document();
  document["cluster"].erase("instance");
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/instance");
}

TEST(ScenarioErrors, MissingWorkloadIsNamed) {
  json document = minimal_document();
  document.erase("workload");
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload");
}

TEST(ScenarioErrors, UnknownFieldSuggestsTheNearestName) {
  // "nodez" is one substitution away from "nodes".
  const Error e = parse_error_with("/cluster/nodez", 2);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/nodez");
  EXPECT_NE(e.message().find("did you mean \"nodes\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownTopLevelFieldSuggestsTheNearestName) {
  // "nmae" is "name" with two letters swapped: edit distance 2, within the typo threshold.
  const Error e = parse_error_with("/nmae", "x");
  EXPECT_EQ(e.where(), "/nmae");
  EXPECT_NE(e.message().find("did you mean \"name\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownNestedFieldIsNamedWithItsFullPointer) {
  const Error e = parse_error_with("/cluster/network/topolgy", "rail-fat-tree");
  EXPECT_EQ(e.where(), "/cluster/network/topolgy");
  EXPECT_NE(e.message().find("did you mean \"topology\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownWorkloadFieldIsNamed) {
  const Error e = parse_error_with("/workload/max_byte", 1024);
  EXPECT_EQ(e.where(), "/workload/max_byte");
  EXPECT_NE(e.message().find("did you mean \"max_bytes\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownExpectKeyIsNamed) {
  const Error e = parse_error_with("/expect/busbw_gbps_max", 1);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/expect/busbw_gbps_max");
}

TEST(ScenarioErrors, WrongTypeNamesThePointerAndTheValue) {
  const Error e = parse_error_with("/cluster/nodes", "two");
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/nodes");
  EXPECT_NE(e.message().find("integer"), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("\"two\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, FractionalNodesAreRefused) {
  const Error e = parse_error_with("/cluster/nodes", 2.5);
  EXPECT_EQ(e.where(), "/cluster/nodes");
}

TEST(ScenarioErrors, ZeroNodesAreRefused) {
  const Error e = parse_error_with("/cluster/nodes", 0);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/nodes");
}

TEST(ScenarioErrors, NegativeNodesAreRefused) {
  const Error e = parse_error_with("/cluster/nodes", -1);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/nodes");
}

TEST(ScenarioErrors, UnknownInstanceSuggestsTheNearestName) {
  const Error e = parse_error_with("/cluster/instance", "p5.48xlarg");
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/instance");
  EXPECT_NE(e.message().find("did you mean \"p5.48xlarge\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, InstanceThatIsNotAStringIsNamed) {
  const Error e = parse_error_with("/cluster/instance", 5);
  EXPECT_EQ(e.where(), "/cluster/instance");
}

TEST(ScenarioErrors, OversubscriptionBelowOneIsRefused) {
  // Oversubscription is downlink:uplink capacity, 1 (non-blocking) or more.
  const Error e = parse_error_with("/cluster/network/oversubscription", 0.5);
  EXPECT_EQ(e.where(), "/cluster/network/oversubscription");
}

TEST(ScenarioErrors, UnknownTopologyIsNamed) {
  const Error e = parse_error_with("/cluster/network/topology", "torus");
  EXPECT_EQ(e.where(), "/cluster/network/topology");
}

TEST(ScenarioErrors, NegativePriceIsRefused) {
  const Error e = parse_error_with("/cluster/pricing/usd_per_hour", -1);
  EXPECT_EQ(e.where(), "/cluster/pricing/usd_per_hour");
}

TEST(ScenarioErrors, ModelOfTheWrongTypeIsNamed) {
  const Error e = parse_error_with("/model", 70);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/model");
}

TEST(ScenarioErrors, MoreRanksThanGpusNamesRanksAndTheGpuCount) {
  // 2 x p5.48xlarge = 2 x 8 = 16 GPUs; 17 ranks cannot be placed.
  const Error e = parse_error_with("/workload/ranks", 17);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/ranks");
  EXPECT_NE(e.message().find("16"), std::string::npos) << e.what();
}

TEST(ScenarioErrors, RanksEqualToTheGpusOfTheClusterAreAccepted) {
  json document = minimal_document();
  document["workload"]["ranks"] = 16;
  EXPECT_EQ(parse(document).workload.collective.ranks, 16);
}

TEST(ScenarioErrors, NegativeRanksAreRefused) {
  const Error e = parse_error_with("/workload/ranks", -8);
  EXPECT_EQ(e.where(), "/workload/ranks");
}

TEST(ScenarioErrors, UnknownOpSuggestsTheNearestName) {
  const Error e = parse_error_with("/workload/op", "all_reduc");
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/op");
  EXPECT_NE(e.message().find("did you mean \"all_reduce\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, MaxBytesBelowMinBytesNamesMaxBytes) {
  json document = minimal_document();
  document["workload"]["min_bytes"] = 1024;
  document["workload"]["max_bytes"] = 512;
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/max_bytes");
}

TEST(ScenarioErrors, ZeroMinBytesIsRefused) {
  const Error e = parse_error_with("/workload/min_bytes", 0);
  EXPECT_EQ(e.where(), "/workload/min_bytes");
}

TEST(ScenarioErrors, StepFactorOneWithoutStepBytesIsRefused) {
  // -f 1 with no -i would visit min_bytes forever.
  const Error e = parse_error_with("/workload/step_factor", 1);
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/step_factor");
}

TEST(ScenarioErrors, StepFactorBelowOneIsRefused) {
  const Error e = parse_error_with("/workload/step_factor", 0.5);
  EXPECT_EQ(e.where(), "/workload/step_factor");
}

TEST(ScenarioErrors, UnknownDtypeIsNamed) {
  const Error e = parse_error_with("/workload/dtype", "fp32");
  EXPECT_EQ(e.where(), "/workload/dtype");
}

TEST(ScenarioErrors, UnknownRedopIsNamed) {
  const Error e = parse_error_with("/workload/redop", "xor");
  EXPECT_EQ(e.where(), "/workload/redop");
}

TEST(ScenarioErrors, AlgorithmsThatAreNotAnArrayAreNamed) {
  const Error e = parse_error_with("/workload/algorithms", "ring");
  EXPECT_EQ(e.where(), "/workload/algorithms");
}

TEST(ScenarioErrors, UnknownAlgorithmIsNamedByItsIndex) {
  const Error e = parse_error_with("/workload/algorithms", json::array({"ring", "trees"}));
  EXPECT_EQ(e.where(), "/workload/algorithms/1");
  EXPECT_NE(e.message().find("did you mean \"tree\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownProtocolIsNamedByItsIndex) {
  const Error e = parse_error_with("/workload/protocols", json::array({"LL256"}));
  EXPECT_EQ(e.where(), "/workload/protocols/0");
}

TEST(ScenarioErrors, TooManyChannelsAreRefused) {
  // The documented range is 0 (the tuning default) to 64.
  const Error e = parse_error_with("/workload/channels", 65);
  EXPECT_EQ(e.where(), "/workload/channels");
}

TEST(ScenarioErrors, CalibrationProfileIsRefusedUntilItCanBeRead) {
  // A profile the user names must never be silently ignored.
  const Error e = parse_error_with("/calibration", "profile.json");
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/calibration");
}

TEST(ScenarioErrors, ServingPipelineLongerThanTheModelIsNamed) {
  // Llama 3 8B has 32 layers: 64 pipeline stages would leave some without a layer.
  json document = minimal_document();
  document["model"] = "llama3-8b";
  document["workload"] = {{"stage", "inference"}, {"parallelism", {{"pp", 64}}}};
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/parallelism/pp");
  EXPECT_NE(e.message().find("32 layers"), std::string::npos) << e.what();
}

TEST(ScenarioErrors, UnknownStageSuggestsTheNearestName) {
  const Error e = parse_error_with("/workload/stage", "colective");
  EXPECT_EQ(e.where(), "/workload/stage");
  EXPECT_NE(e.message().find("did you mean \"collective\""), std::string::npos) << e.what();
}

TEST(ScenarioErrors, ExpectationThatIsNotANumberIsNamed) {
  const Error e = parse_error_with("/expect/busbw_gbps_min", "fast");
  EXPECT_EQ(e.where(), "/expect/busbw_gbps_min");
}

TEST(ScenarioErrors, WhatIsThePointerThenTheMessage) {
  // The CLI prints what() as its one line: "<pointer>: <message>".
  const Error e = parse_error_with("/cluster/nodes", 0);
  EXPECT_EQ(std::string(e.what()), e.where() + ": " + e.message());
}

// --- read_json_file ---------------------------------------------------------------------------

TEST(ScenarioReadJsonFile, ReadsAValidFile) {
  const std::string path = write_temp_file("scenario_read_valid.json", R"({"a": [1, 2]})");
  EXPECT_EQ(read_json_file(path), json::parse(R"({"a": [1, 2]})"));
}

TEST(ScenarioReadJsonFile, MissingFileIsNamedByItsPath) {
  const std::string path = testing::TempDir() + "scenario_read_does_not_exist.json";
  const Error e = error_of([&] { read_json_file(path); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), path);
}

TEST(ScenarioReadJsonFile, SyntaxErrorNamesTheLineAndColumn) {
  // Line 1 "{", line 2 `  "name": @`: two spaces, `"name":` in columns 3-9, a space in column
  // 10, the stray '@' in column 11.
  const std::string path = write_temp_file("scenario_read_syntax.json", "{\n  \"name\": @\n}\n");
  const Error e = error_of([&] { read_json_file(path); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), path);
  EXPECT_NE(e.message().find("line 2, column 11"), std::string::npos) << e.what();
}

TEST(ScenarioReadJsonFile, SyntaxErrorOnTheFirstLineCountsColumnsFromOne) {
  // `{"a" 1}`: the 1 where a colon should be is the 6th character.
  const std::string path = write_temp_file("scenario_read_colon.json", "{\"a\" 1}");
  const Error e = error_of([&] { read_json_file(path); });
  EXPECT_NE(e.message().find("line 1, column 6"), std::string::npos) << e.what();
}

TEST(ScenarioReadJsonFile, EmptyFileIsASyntaxError) {
  const std::string path = write_temp_file("scenario_read_empty.json", "");
  const Error e = error_of([&] { read_json_file(path); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), path);
}

TEST(ScenarioReadJsonFile, SyntaxErrorMessageSaysWhatWasWrong) {
  // The reason after the position must keep nlohmann's explanation ("invalid literal"), not just
  // the last-read text.
  const std::string path = write_temp_file("scenario_read_reason.json", "{\n  \"name\": @\n}\n");
  const Error e = error_of([&] { read_json_file(path); });
  EXPECT_NE(e.message().find("invalid literal"), std::string::npos) << e.what();
}

// --- apply_set (--set /pointer=VALUE) ---------------------------------------------------------

TEST(ScenarioApplySet, JsonNumberBecomesANumber) {
  json document = minimal_document();
  apply_set(document, "/cluster/nodes=4");
  EXPECT_TRUE(document["cluster"]["nodes"].is_number_integer());
  EXPECT_EQ(document["cluster"]["nodes"], 4);
}

TEST(ScenarioApplySet, TextThatIsNotJsonBecomesAString) {
  json document = minimal_document();
  apply_set(document, "/cluster/instance=p4d.24xlarge");
  EXPECT_TRUE(document["cluster"]["instance"].is_string());
  EXPECT_EQ(document["cluster"]["instance"], "p4d.24xlarge");
}

TEST(ScenarioApplySet, QuotedJsonStringStaysAString) {
  // "4" in quotes is the JSON string "4", not the number 4.
  json document = minimal_document();
  apply_set(document, "/name=\"4\"");
  EXPECT_EQ(document["name"], "4");
}

TEST(ScenarioApplySet, JsonArrayBecomesAnArray) {
  json document = minimal_document();
  apply_set(document, "/workload/algorithms=[\"ring\"]");
  EXPECT_EQ(document["workload"]["algorithms"], json::array({"ring"}));
}

TEST(ScenarioApplySet, JsonBooleanAndObjectKeepTheirTypes) {
  json document = minimal_document();
  apply_set(document, "/flag=true");
  apply_set(document, "/cluster/network={\"oversubscription\": 2}");
  EXPECT_EQ(document["flag"], true);
  EXPECT_EQ(document["cluster"]["network"], json({{"oversubscription", 2}}));
}

TEST(ScenarioApplySet, ValueMayContainEqualsSigns) {
  // Only the first '=' separates pointer and value.
  json document = minimal_document();
  apply_set(document, "/description=a=b");
  EXPECT_EQ(document["description"], "a=b");
}

TEST(ScenarioApplySet, EmptyValueIsTheEmptyString) {
  json document = minimal_document();
  apply_set(document, "/description=");
  EXPECT_EQ(document["description"], "");
}

TEST(ScenarioApplySet, CreatesMissingIntermediateObjects) {
  json document = minimal_document();
  apply_set(document, "/cluster/pricing/usd_per_hour=98.32");
  apply_set(document, "/expect/busbw_gbps_min=100");
  EXPECT_EQ(document["cluster"]["pricing"]["usd_per_hour"], 98.32);
  EXPECT_EQ(document["expect"]["busbw_gbps_min"], 100);
  EXPECT_EQ(document["cluster"]["instance"], "p5.48xlarge");  // siblings untouched
}

TEST(ScenarioApplySet, ReplacesAnExistingArrayElement) {
  json document = minimal_document();
  document["workload"]["algorithms"] = {"ring", "tree"};
  apply_set(document, "/workload/algorithms/1=nvls");
  EXPECT_EQ(document["workload"]["algorithms"], json::array({"ring", "nvls"}));
}

TEST(ScenarioApplySet, UnescapesRfc6901Tokens) {
  // ~1 is '/', ~0 is '~'.
  json document = json::object();
  apply_set(document, "/a~1b/c~0d=1");
  EXPECT_EQ(document["a/b"]["c~d"], 1);
}

TEST(ScenarioApplySet, OverriddenValueIsValidatedAtItsPointer) {
  json document = minimal_document();
  apply_set(document, "/cluster/nodes=two");
  const Error e = error_of([&] { parse(document); });
  EXPECT_EQ(e.where(), "/cluster/nodes");
}

TEST(ScenarioApplySet, PointerWithoutLeadingSlashIsRefused) {
  json document = minimal_document();
  const Error e = error_of([&] { apply_set(document, "cluster/nodes=2"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "--set cluster/nodes=2");
  EXPECT_EQ(document, minimal_document());
}

TEST(ScenarioApplySet, AssignmentWithoutEqualsIsRefused) {
  json document = minimal_document();
  const Error e = error_of([&] { apply_set(document, "/cluster/nodes"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "--set /cluster/nodes");
}

TEST(ScenarioApplySet, BadEscapeIsRefused) {
  // RFC 6901 allows only ~0 and ~1.
  json document = minimal_document();
  const Error e = error_of([&] { apply_set(document, "/a~2=1"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/a~2");
}

TEST(ScenarioApplySet, RefusesToSetAFieldInsideANumber) {
  json document = minimal_document();
  const Error e = error_of([&] { apply_set(document, "/cluster/nodes/x=1"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/cluster/nodes/x");
  EXPECT_EQ(document["cluster"]["nodes"], 2);
}

TEST(ScenarioApplySet, RefusesToIndexPastTheEndOfAnArray) {
  // ["ring"] has one element, index 0; index 1 would be past its end.
  json document = minimal_document();
  document["workload"]["algorithms"] = {"ring"};
  const Error e = error_of([&] { apply_set(document, "/workload/algorithms/1=tree"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), "/workload/algorithms/1");
  EXPECT_EQ(document["workload"]["algorithms"], json::array({"ring"}));
}

TEST(ScenarioApplySet, RefusesTheAppendTokenDash) {
  json document = minimal_document();
  document["workload"]["algorithms"] = {"ring"};
  const Error e = error_of([&] { apply_set(document, "/workload/algorithms/-=tree"); });
  EXPECT_EQ(e.where(), "/workload/algorithms/-");
}

TEST(ScenarioApplySet, RefusesAnArrayIndexTooLargeForAnInteger) {
  // 20 nines do not fit in 64 bits; that is still "no such array element", a bad input (exit 2),
  // not an internal error.
  json document = minimal_document();
  document["workload"]["algorithms"] = {"ring"};
  const std::string pointer = "/workload/algorithms/99999999999999999999";
  try {
    apply_set(document, pointer + "=tree");
    ADD_FAILURE() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(e.where(), pointer);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw " << typeid(e).name() << " (not fmsim::Error): " << e.what();
  }
}

// --- default_scenario -------------------------------------------------------------------------

TEST(ScenarioDefault, EmbeddedDefaultIsLlama3_70bPretrainingOn64P5Nodes) {
  // Issue 4: the default becomes Llama-3-70B pre-training on 64 p5.48xlarge.
  const Scenario s = parse(default_scenario());
  EXPECT_EQ(s.workload.stage, "pretrain");
  EXPECT_EQ(s.model.name, "llama3-70b");
  EXPECT_EQ(s.cluster.instance, "p5.48xlarge");
  EXPECT_EQ(s.cluster.nodes, 64);
  EXPECT_EQ(default_scenario_file(), "llama3-70b-pretrain-p5-64node.json");
}

// --- sweep_sizes: nccl-tests' -b/-e/-f/-i rule ------------------------------------------------

CollectiveWorkload sweep(CollectiveOp op, double min_bytes, double max_bytes, double factor,
                         double step_bytes = 0.0, const std::string& dtype = "float") {
  CollectiveWorkload w;
  w.op = op;
  w.min_bytes = min_bytes;
  w.max_bytes = max_bytes;
  w.step_factor = factor;
  w.step_bytes = step_bytes;
  w.dtype = dtype;
  return w;
}

TEST(SweepSizes, FactorTwoFromEightToSixtyFourVisitsEveryPowerOfTwo) {
  // -b 8 -e 64 -f 2: 8, 16, 32, 64 (each a whole number of 4-byte floats).
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllReduce, 8, 64, 2), 16),
            (std::vector<double>{8, 16, 32, 64}));
}

TEST(SweepSizes, MaxOffTheGridIsNotVisited) {
  // -b 8 -e 100 -f 2: 8, 16, 32, 64; the next, 128, is past 100.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllReduce, 8, 100, 2), 16),
            (std::vector<double>{8, 16, 32, 64}));
}

TEST(SweepSizes, MinEqualToMaxIsOneSize) {
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllReduce, 1024, 1024, 2), 16),
            (std::vector<double>{1024}));
}

TEST(SweepSizes, FactorOneStepsLinearlyByStepBytes) {
  // -b 1024 -e 4096 -f 1 -i 1024: 1024, 2048, 3072, 4096.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllReduce, 1024, 4096, 1, 1024), 16),
            (std::vector<double>{1024, 2048, 3072, 4096}));
}

TEST(SweepSizes, AllReduceRoundsDownToWholeElements) {
  // float: 4 bytes. -b 10 -e 80 -f 2 visits 10, 20, 40, 80 -> 8, 20, 40, 80.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllReduce, 10, 80, 2), 16),
            (std::vector<double>{8, 20, 40, 80}));
}

TEST(SweepSizes, AllGatherOnSixteenRanksRoundsDownToMultiplesOfSixtyFourBytes) {
  // all_gather splits the buffer over ranks: a whole number of floats per rank, so sizes are
  // multiples of 4 * 16 = 64 bytes (nccl-tests src/all_gather.cu, 2019 form:
  // recvcount = (count/nranks)*nranks; releases for NCCL 2.28 round each rank's share down to
  // 16 bytes instead, which this rule does not follow).
  // -b 100 -e 1000 -f 2 visits 100, 200, 400, 800 -> 64, 192, 384, 768.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllGather, 100, 1000, 2), 16),
            (std::vector<double>{64, 192, 384, 768}));
}

TEST(SweepSizes, ReduceScatterRoundsLikeAllGather) {
  // Same split: multiples of 64 bytes for float on 16 ranks. 1000 -> 960 (15 x 64).
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kReduceScatter, 1000, 1000, 2), 16),
            (std::vector<double>{960}));
}

TEST(SweepSizes, AllGatherWithHalfPrecisionUsesTwoByteElements) {
  // bfloat16 on 16 ranks: multiples of 2 * 16 = 32 bytes. 100 -> 96, 200 -> 192.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllGather, 100, 200, 2, 0, "bfloat16"), 16),
            (std::vector<double>{96, 192}));
}

TEST(SweepSizes, SizesBelowOneElementPerRankBecomeOneElementPerRankOnce) {
  // fmsim runs no zero-byte collective: 8, 16 and 32 bytes hold less than one float per rank on
  // 16 ranks, so they become 64 bytes, listed once; then 64, 128 follow.
  EXPECT_EQ(sweep_sizes(sweep(CollectiveOp::kAllGather, 8, 128, 2), 16),
            (std::vector<double>{64, 128}));
}

TEST(SweepSizes, DefaultSweepVisitsEveryPowerOfTwoFromEightBytesToEightGiB) {
  // -b 8 -e 8G -f 2: 2^3 .. 2^33, 31 sizes for all_reduce (every size whole floats).
  const std::vector<double> sizes = sweep_sizes(CollectiveWorkload{}, 16);
  ASSERT_EQ(sizes.size(), 31u);
  EXPECT_EQ(sizes.front(), 8.0);
  EXPECT_EQ(sizes.back(), 8589934592.0);
}

}  // namespace
}  // namespace fmsim
