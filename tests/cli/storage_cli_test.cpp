// The `fmsim` command line on storage tiers, data loading, checkpoints, failures and pricing
// (issue 5): bad input exits 2 with one stderr line naming the JSON pointer; a dataset that does
// not fit its cache exits 3 and still writes the report; the data-bound example scenarios stall
// where a hand estimate says they must, and stop stalling when the tier is fast enough; the
// Monte-Carlo run length is a function of the seed. Each test runs the built binary (FMSIM_EXE)
// in a fresh temporary folder, on the example scenarios of scenarios/ edited with --set.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/fmsim_process.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing_support;

// Llama 3 8B on 8 x p5.48xlarge, no /cluster/storage: S3 is its only remote tier.
constexpr const char* kNoFsxScenario = "llama3-8b-pretrain-p5-8node.json";
// 64 x p5.48xlarge reading 100 MB shards from a 12 TiB PERSISTENT_2 FSx at 125 MB/s per TiB.
constexpr const char* kFsxShards = "vlm-8b-pretrain-p5-64node-fsx-shards.json";
// 16 x p5.48xlarge reading one 50 KB S3 object per sample, without and with an NVMe cache.
constexpr const char* kS3SmallFiles = "vlm-8b-pretrain-p5-16node-s3-smallfiles.json";
constexpr const char* kNvmeCache = "vlm-8b-pretrain-p5-16node-nvme-cache.json";

class StorageCli : public FmsimProcessTest {
 protected:
  static std::string scenario(const std::string& file) {
    return (fs::path(FMSIM_SOURCE_DIR) / "scenarios" / file).string();
  }

  // Runs fmsim on an example scenario with `sets` (each a --set assignment) and checks the
  // bad-input contract: exit code 2, one line on stderr that contains `names`.
  Outcome expect_bad_input(const std::string& file, const std::vector<std::string>& sets,
                           const std::string& names) const {
    std::vector<std::string> args = {scenario(file)};
    for (const auto& set : sets) {
      args.push_back("--set");
      args.push_back(set);
    }
    return FmsimProcessTest::expect_bad_input(args, names);
  }

  // Runs an example scenario with `sets` to completion (exit 0) and returns its JSON report.
  json report_of(const std::string& file, const std::vector<std::string>& sets = {}) const {
    std::vector<std::string> args = {scenario(file), "--json", "report.json", "--force"};
    for (const auto& set : sets) {
      args.push_back("--set");
      args.push_back(set);
    }
    const Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    if (!fs::exists(dir() / "report.json")) {
      ADD_FAILURE() << "no report written:\n" << outcome.err;
      return json::object();
    }
    return json::parse(read_file(dir() / "report.json"));
  }
};

// Seconds of one step that are not waiting for data: the simulated step without its data stall.
double step_compute_s(const json& report) {
  const json& step = report["training"]["step"];
  return step["time_s"].get<double>() - step["data_stall_s"].get<double>();
}

// --- Bad input: exit code 2 and one line naming the pointer -----------------------------------

TEST_F(StorageCli, UnknownDataTierNamesThePointerAndListsTheTiers) {
  const Outcome outcome =
      expect_bad_input(kFsxShards, {"/workload/data/tier=lustre"}, "/workload/data/tier");
  EXPECT_TRUE(contains(outcome.err, "fsx_lustre")) << outcome.err;
}

TEST_F(StorageCli, DataTierTheClusterLacksNamesThePointer) {
  // The 8B scenario has no /cluster/storage/fsx_lustre: there is no file system to read from.
  expect_bad_input(kNoFsxScenario, {"/workload/data/tier=fsx_lustre"}, "/workload/data/tier");
}

TEST_F(StorageCli, UnknownStorageKeySuggestsFsxLustre) {
  // "fsx" is a prefix of the only file-system key, "fsx_lustre": the suggestion must be that key
  // (the JsonReader contract: unknown fields get the nearest known name), not "s3".
  const Outcome outcome = expect_bad_input(
      kNoFsxScenario, {"/cluster/storage/fsx={\"capacity_tib\":12}"}, "/cluster/storage/fsx");
  EXPECT_TRUE(contains(outcome.err, "did you mean \"fsx_lustre\"")) << outcome.err;
}

TEST_F(StorageCli, NegativeFsxCapacityNamesThePointer) {
  const Outcome outcome =
      expect_bad_input(kFsxShards, {"/cluster/storage/fsx_lustre/capacity_tib=-5"},
                       "/cluster/storage/fsx_lustre/capacity_tib");
  EXPECT_TRUE(contains(outcome.err, "-5")) << outcome.err;
}

TEST_F(StorageCli, ThroughputPerTibOutsideTheDeploymentsTiersListsTheTiers) {
  // FSx for Lustre PERSISTENT_2 is sold at 125, 250, 500 or 1000 MB/s per TiB; 300 is none.
  const Outcome outcome =
      expect_bad_input(kFsxShards, {"/cluster/storage/fsx_lustre/throughput_per_tib_mbps=300"},
                       "/cluster/storage/fsx_lustre/throughput_per_tib_mbps");
  EXPECT_TRUE(contains(outcome.err, "125, 250, 500, 1000")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "PERSISTENT_2")) << outcome.err;
}

TEST_F(StorageCli, CheckpointToATierTheClusterLacksNamesThePointer) {
  const Outcome outcome = expect_bad_input(kNoFsxScenario, {"/workload/checkpoint/tier=fsx_lustre"},
                                           "/workload/checkpoint/tier");
  EXPECT_TRUE(contains(outcome.err, "fsx_lustre")) << outcome.err;
}

TEST_F(StorageCli, CheckpointOnlyOnNvmeNeedsADurableUploadTier) {
  // A checkpoint kept only on a node's NVMe is lost with that node.
  expect_bad_input(kNoFsxScenario, {"/workload/checkpoint/tier=nvme"},
                   "/workload/checkpoint/upload_to");
}

TEST_F(StorageCli, NegativeCheckpointIntervalNamesThePointer) {
  expect_bad_input(kNoFsxScenario, {"/workload/checkpoint/every_minutes=-3"},
                   "/workload/checkpoint/every_minutes");
}

TEST_F(StorageCli, CheckpointIntervalThatIsNeitherMinutesNorAutoNamesThePointer) {
  const Outcome outcome =
      expect_bad_input(kNoFsxScenario, {"/workload/checkpoint/every_minutes=sometimes"},
                       "/workload/checkpoint/every_minutes");
  EXPECT_TRUE(contains(outcome.err, "\"sometimes\"")) << outcome.err;
}

TEST_F(StorageCli, UnknownFailureClassSuggestsTheNearestClass) {
  // The failure classes are gpu, host, network and software (sim/data/reliability.json); "gpus"
  // is one letter from "gpu".
  const Outcome outcome =
      expect_bad_input(kNoFsxScenario, {"/cluster/reliability/rates_per_day/gpus=1e-4"},
                       "/cluster/reliability/rates_per_day/gpus");
  EXPECT_TRUE(contains(outcome.err, "did you mean \"gpu\"")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "host")) << "the known classes are not listed:\n"
                                             << outcome.err;
}

TEST_F(StorageCli, NegativeFailureRateNamesThePointer) {
  expect_bad_input(kNoFsxScenario, {"/cluster/reliability/rates_per_day/gpu=-1"},
                   "/cluster/reliability/rates_per_day/gpu");
}

TEST_F(StorageCli, CapacityBlockWithoutAPriceNamesThePricePointer) {
  // The catalog holds on-demand prices only; a capacity block's price must come from the user.
  expect_bad_input(kNoFsxScenario, {"/cluster/pricing/model=capacity-block"},
                   "/cluster/pricing/usd_per_hour");
}

// --- Infeasible: exit code 3, and the report is still written ---------------------------------

TEST_F(StorageCli, DatasetLargerThanTheNvmeCacheExitsThreeAndStillWritesTheReport) {
  // 1e13 tokens x 300 B per token = 3e15 B, split over 16 nodes = 187.5 TB per node, six times
  // a p5.48xlarge's 30.4 TB of instance NVMe: the cache cannot hold the dataset.
  const Outcome outcome = run(
      {scenario(kNvmeCache), "--set", "/workload/data/dataset_tokens=1e13", "--json", "out.json"});
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_TRUE(IsOneLine(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "fmsim: infeasible: ")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "/workload/data/cache")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "187.5 TB")) << outcome.err;

  ASSERT_TRUE(fs::exists(dir() / "out.json"));
  const json report = json::parse(read_file(dir() / "out.json"));
  ASSERT_TRUE(report.contains("infeasible")) << report.dump(2);
  EXPECT_TRUE(contains(report["infeasible"].get<std::string>(), "/workload/data/cache"))
      << report["infeasible"];
  EXPECT_EQ(report.value("stage", ""), "pretrain");
}

// --- Data loading: the stall and the tier that causes it --------------------------------------

TEST_F(StorageCli, FsxShardsScenarioIsDataBoundOnFsxThroughput) {
  // Hand estimate. Bytes per step: global batch 1024 x 4096 tokens x 300 B per token
  // = 1,258,291,200 B, all of it read from FSx (every one of the 64 nodes holds data-parallel
  // ranks, each reading its own share). FSx baseline: 12 TiB x 125 MB/s per TiB = 1.5e9 B/s,
  // shared by the 64 nodes. Reading one step therefore takes 1.258e9 / 1.5e9 = 0.839 s, however
  // the nodes share it; the GPUs compute a step in less (about 0.65 s), so each step waits at
  // least 0.839 s - step compute for its data. The demand, 1.258e9 B per ~0.65 s = 1.9 GB/s, stays
  // above the baseline, so burst credits never accrue and cannot help.
  constexpr double kBytesPerStep = 1024.0 * 4096 * 300;
  constexpr double kFsxBytesPerS = 12 * 125e6;

  const json report = report_of(kFsxShards);
  ASSERT_TRUE(report.contains("training")) << report.dump(2);
  const json& data = report["training"]["data"];
  EXPECT_DOUBLE_EQ(data["bytes_per_step"].get<double>(), kBytesPerStep);
  EXPECT_EQ(data["tier"], "fsx_lustre");
  EXPECT_TRUE(contains(data["limited_by"].get<std::string>(), "FSx")) << data["limited_by"];

  const double stall_s = report["training"]["step"]["data_stall_s"].get<double>();
  const double compute_s = step_compute_s(report);
  const double read_s = kBytesPerStep / kFsxBytesPerS;
  ASSERT_GT(read_s, compute_s) << "the hand estimate no longer predicts a stall";
  EXPECT_GT(stall_s, 0.0);
  EXPECT_GE(stall_s, 0.9 * (read_s - compute_s))
      << "read " << read_s << " s per step (hand), compute " << compute_s << " s";
}

TEST_F(StorageCli, RaisingFsxThroughputPerTibRemovesTheStall) {
  // At 250 MB/s per TiB the file system gives 12 x 250e6 = 3.0e9 B/s and one step's
  // 1,258,291,200 B take 0.42 s; at 1000 MB/s per TiB, 12e9 B/s and 0.105 s. Both are shorter
  // than the step's compute, so the prefetching loader always has the next batch ready.
  constexpr double kBytesPerStep = 1024.0 * 4096 * 300;
  const double compute_s = step_compute_s(report_of(kFsxShards));
  for (const double per_tib_mbps : {250.0, 1000.0}) {
    const double read_s = kBytesPerStep / (12 * per_tib_mbps * 1e6);
    ASSERT_LT(read_s, compute_s) << per_tib_mbps << " MB/s per TiB no longer covers the demand";
    const json report =
        report_of(kFsxShards, {"/cluster/storage/fsx_lustre/throughput_per_tib_mbps=" +
                               std::to_string(static_cast<int>(per_tib_mbps))});
    ASSERT_TRUE(report.contains("training")) << report.dump(2);
    EXPECT_EQ(report["training"]["step"]["data_stall_s"].get<double>(), 0.0)
        << per_tib_mbps << " MB/s per TiB";
  }
}

TEST_F(StorageCli, SmallS3ObjectsStallOnReaderThreadsWaitingForFirstBytes) {
  // Hand estimate. Each of the 16 nodes reads 256 x 4096 x 300 B / 16 = 19,660,800 B per step as
  // 50,000 B objects: 393.2 GETs. Each GET costs S3's first-byte latency, 30 ms, plus
  // 50,000 B / 90 MB/s = 0.56 ms of transfer (sim/data/storage.json, the AWS transfer manager's
  // figures): 30.56 ms. Eight reader threads: 393.2 x 30.56 ms / 8 = 1.50 s per step. The S3
  // request rate is not the limit: 16 nodes x 8 threads / 30.56 ms = 4,190 GET/s, under the
  // 5,500 GET/s of one prefix. The GPUs compute a step in about 0.65 s, so the step waits about
  // 0.85 s for data, limited by the reader threads, not by bandwidth.
  const double per_get_s = 0.030 + 50000.0 / 90e6;
  const double read_s = (256.0 * 4096 * 300 / 16) / 50000.0 * per_get_s / 8;
  ASSERT_LT(16 * 8 / per_get_s, 5500.0);

  const json report = report_of(kS3SmallFiles);
  ASSERT_TRUE(report.contains("training")) << report.dump(2);
  const json& data = report["training"]["data"];
  EXPECT_EQ(data["tier"], "s3");
  EXPECT_TRUE(contains(data["limited_by"].get<std::string>(), "reader threads"))
      << data["limited_by"];
  EXPECT_NEAR(data["read_s"].get<double>(), read_s, 0.1 * read_s);
  const double stall_s = report["training"]["step"]["data_stall_s"].get<double>();
  EXPECT_GT(stall_s, 0.0);
  EXPECT_GE(stall_s, 0.9 * (read_s - step_compute_s(report)));
}

TEST_F(StorageCli, NvmeCacheRemovesTheS3StallAndPaysForStagingOnce) {
  // The same dataset copied to every node's NVMe before training: 5e9 tokens x 300 B = 1.5e12 B
  // in 50,000 B objects = 3e7 GETs, at S3's 5,500 GET/s per prefix (one prefix) = 5,455 s of
  // staging. Afterwards a step's 393 reads are NVMe reads (~0.1 ms each), far below the step.
  const double staging_s = 5e9 * 300 / 50000.0 / 5500.0;

  const json report = report_of(kNvmeCache);
  ASSERT_TRUE(report.contains("training")) << report.dump(2);
  const json& data = report["training"]["data"];
  EXPECT_EQ(data["source_tier"], "s3");
  EXPECT_EQ(data["tier"], "nvme");
  EXPECT_EQ(report["training"]["step"]["data_stall_s"].get<double>(), 0.0);
  EXPECT_GT(data["staging_s"].get<double>(), 0.0);
  EXPECT_NEAR(data["staging_s"].get<double>(), staging_s, 0.1 * staging_s);
  EXPECT_TRUE(contains(data["staging_limited_by"].get<std::string>(), "S3"))
      << data["staging_limited_by"];
}

// --- Monte Carlo: a function of the seed ------------------------------------------------------

TEST_F(StorageCli, MonteCarloRunLengthIsAFunctionOfTheSeed) {
  // Llama 3 8B for 1.5e13 tokens on 64 GPUs runs for months and sees several failures, so the
  // trials' run lengths spread; the same seed must give the same distribution bit for bit, and
  // another seed another sample (its median differs).
  const std::vector<std::string> monte_carlo = {"/cluster/reliability/mode=monte-carlo",
                                                "/cluster/reliability/trials=200"};
  auto with_seed = [&](int seed) {
    std::vector<std::string> sets = monte_carlo;
    sets.push_back("/seed=" + std::to_string(seed));
    return report_of(kNoFsxScenario, sets);
  };
  const json first = with_seed(7), again = with_seed(7), other = with_seed(8);
  ASSERT_TRUE(first["training"]["run"].contains("monte_carlo")) << first.dump(2);
  const json& mc = first["training"]["run"]["monte_carlo"];
  EXPECT_EQ(mc["seed"], 7);
  EXPECT_EQ(mc["trials"], 200);
  EXPECT_GT(first["training"]["run"]["expected_failures"].get<double>(), 1.0);
  EXPECT_EQ(mc, again["training"]["run"]["monte_carlo"]);
  ASSERT_TRUE(other["training"]["run"].contains("monte_carlo")) << other.dump(2);
  EXPECT_EQ(other["training"]["run"]["monte_carlo"]["seed"], 8);
  EXPECT_NE(mc["p50_days"].get<double>(),
            other["training"]["run"]["monte_carlo"]["p50_days"].get<double>());
}

}  // namespace
}  // namespace fmsim
