// Specifications of the storage model (sim/storage/storage.h): every expected time is worked out
// by hand in the comment above its check from the model's formulas (max-min shares of the tiers,
// the thread bound T q / (L + q/b)) and the constants of sim/data/storage.json, read through
// StorageDefaults::builtin() or straight from the file, never pasted from the program's output.
#include "storage/storage.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/simulator.h"
#include "error.h"
#include "hardware/catalog.h"

namespace fmsim {
namespace {

constexpr double kMB = 1e6;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kRel = 1e-9;  // relative tolerance of the fluid engine's float arithmetic

const StorageDefaults& defaults() { return StorageDefaults::builtin(); }
const InstanceSpec& p5() { return Catalog::builtin().instance("p5.48xlarge", ""); }
const GpuSpec& h100() { return Catalog::builtin().gpu_of(p5()); }

// The data file itself, to check that builtin() maps it faithfully.
const nlohmann::json& storage_json() {
  static const nlohmann::json doc = [] {
    std::ifstream in(std::string(FMSIM_SOURCE_DIR) + "/sim/data/storage.json");
    return nlohmann::json::parse(in);
  }();
  return doc;
}
const nlohmann::json& persistent2() {
  return storage_json().at("fsx_lustre").at("deployments").at("PERSISTENT_2");
}

StorageConfig fsx(double capacity_tib, double per_tib_mbps, bool burst = false) {
  StorageConfig config;
  config.fsx.present = true;
  config.fsx.deployment = "PERSISTENT_2";
  config.fsx.capacity_tib = capacity_tib;
  config.fsx.throughput_per_tib_mbps = per_tib_mbps;
  config.fsx.burst = burst;
  return config;
}

StorageConfig s3(int prefixes) {
  StorageConfig config;
  config.s3.present = true;
  config.s3.prefixes = prefixes;
  return config;
}

ReadPattern pattern(double bytes, double request_bytes, double file_bytes, int threads) {
  ReadPattern p;
  p.bytes = bytes;
  p.request_bytes = request_bytes;
  p.file_bytes = file_bytes;
  p.threads = threads;
  return p;
}

// One read of `copies` identical nodes, alone on a fresh engine.
struct TimedRead {
  double time_s = 0.0;
  ResourceId bottleneck = kNoResource;
  std::string limited_by;  // describe(bottleneck), empty when the activity's own bound limits it
};

TimedRead time_read(const StorageConfig& config, Tier tier, const ReadPattern& p, int copies,
                    const StorageDefaults& d = defaults()) {
  Simulator sim;
  StorageSystem system(config, d, p5(), h100(), sim);
  const ActivityId id = sim.start(system.read(tier, p, copies));
  sim.step();  // the solve at time 0 sets the rate and its bottleneck
  TimedRead out;
  out.bottleneck = sim.bottleneck(id);
  if (out.bottleneck != kNoResource) out.limited_by = system.describe(out.bottleneck);
  sim.run();
  out.time_s = sim.now();
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// S3 thread bound T q / (L + q/b) with the builtin first-byte latency and connection rate.
double s3_threads_bound(int threads, double request_bytes) {
  return threads * request_bytes /
         (defaults().s3_first_byte_latency_s +
          request_bytes / defaults().s3_connection_bw_bytes_per_s);
}

// --- tiers and constants -----------------------------------------------------------------------

TEST(StorageTier, NamesRoundTrip) {
  for (Tier tier : {Tier::kNvme, Tier::kFsxLustre, Tier::kS3, Tier::kHostMemory}) {
    ASSERT_TRUE(parse_tier(to_string(tier)).has_value()) << to_string(tier);
    EXPECT_EQ(*parse_tier(to_string(tier)), tier);
  }
  EXPECT_EQ(to_string(Tier::kFsxLustre), "fsx_lustre");
  EXPECT_EQ(tier_names().size(), 4u);
  EXPECT_FALSE(parse_tier("tape").has_value());
  EXPECT_FALSE(parse_tier("FSX_LUSTRE").has_value());
}

TEST(StorageTier, OnlyFsxAndS3AreDurable) {
  EXPECT_TRUE(durable(Tier::kFsxLustre));
  EXPECT_TRUE(durable(Tier::kS3));
  EXPECT_FALSE(durable(Tier::kNvme));
  EXPECT_FALSE(durable(Tier::kHostMemory));
}

TEST(StorageConfig, NvmeAndHostMemoryComeWithEveryInstance) {
  StorageConfig none;
  EXPECT_TRUE(none.has(Tier::kNvme));
  EXPECT_TRUE(none.has(Tier::kHostMemory));
  EXPECT_FALSE(none.has(Tier::kFsxLustre));
  EXPECT_FALSE(none.has(Tier::kS3));
  EXPECT_TRUE(fsx(480, 250).has(Tier::kFsxLustre));
  EXPECT_FALSE(fsx(480, 250).has(Tier::kS3));
  EXPECT_TRUE(s3(1).has(Tier::kS3));
  EXPECT_FALSE(s3(1).has(Tier::kFsxLustre));
}

TEST(StorageDefaults, FsxPriceIsTheDataFilesValueAndZeroWhenUnknown) {
  // storage.json: PERSISTENT_2 price_usd_per_gb_month {"125": 0.145, ...}.
  const double price_125 = persistent2().at("price_usd_per_gb_month").at("value").at("125");
  EXPECT_DOUBLE_EQ(defaults().fsx_usd_per_gb_month("PERSISTENT_2", 125), price_125);
  EXPECT_DOUBLE_EQ(defaults().fsx_usd_per_gb_month("PERSISTENT_2", 333), 0.0);
  EXPECT_DOUBLE_EQ(defaults().fsx_usd_per_gb_month("PERSISTENT_9", 125), 0.0);
}

TEST(StorageDefaults, FrontEndIsOneHundredGigabitPerSecond) {
  // ENA: 100 Gbit/s (storage.json frontend.default_gbps, no p5 override) = 100e9 / 8 bytes/s.
  const double gbps = storage_json().at("frontend").at("default_gbps").at("value");
  EXPECT_DOUBLE_EQ(gbps, 100.0);
  EXPECT_DOUBLE_EQ(defaults().frontend_bw_bytes_per_s("p5.48xlarge"), 12.5e9);
  EXPECT_DOUBLE_EQ(defaults().frontend_bw_bytes_per_s("no-such-instance"), 12.5e9);
}

// --- FSx -----------------------------------------------------------------------------------

TEST(FsxThroughput, AggregateIsCapacityTimesThroughputPerTib) {
  // C_fsx = 480 TiB x 250 MB/s/TiB = 120,000 MB/s = 120e9 bytes/s.
  Simulator sim;
  const StorageConfig config = fsx(480, 250);
  StorageSystem system(config, defaults(), p5(), h100(), sim);
  EXPECT_DOUBLE_EQ(system.fsx_baseline_bytes_per_s(), 120e9);
}

TEST(FsxThroughput, NoFsxMeansNoThroughputAndNoReads) {
  Simulator sim;
  const StorageConfig config = s3(1);
  StorageSystem system(config, defaults(), p5(), h100(), sim);
  EXPECT_DOUBLE_EQ(system.fsx_baseline_bytes_per_s(), 0.0);
  EXPECT_THROW(system.read(Tier::kFsxLustre, pattern(1e9, 1e8, 1e9, 8), 1), std::invalid_argument);
}

TEST(FsxBurst, Persistent2LowTiersBurstTo500MBPerTib) {
  // storage.json PERSISTENT_2 burst_per_tib_mbps: 125 -> 500, 250 -> 500, 1000 -> 1000 (none).
  const auto& burst = persistent2().at("burst_per_tib_mbps").at("value");
  const double burst_125 = burst.at("125");
  EXPECT_DOUBLE_EQ(burst_125, 500.0);
  EXPECT_DOUBLE_EQ(defaults().fsx_burst_per_tib_mbps("PERSISTENT_2", 125), burst_125);
  EXPECT_DOUBLE_EQ(defaults().fsx_burst_per_tib_mbps("PERSISTENT_2", 250),
                   burst.at("250").get<double>());
  EXPECT_DOUBLE_EQ(defaults().fsx_burst_per_tib_mbps("PERSISTENT_2", 1000), 1000.0);
  // Unknown deployment or tier: the tier itself (no burst).
  EXPECT_DOUBLE_EQ(defaults().fsx_burst_per_tib_mbps("PERSISTENT_9", 125), 125.0);
  EXPECT_DOUBLE_EQ(defaults().fsx_burst_per_tib_mbps("PERSISTENT_2", 333), 333.0);

  // A 480 TiB, 125 MB/s/TiB file system: baseline 480 x 125e6 = 60e9 B/s, burst 480 x 500e6 =
  // 240e9 B/s.
  Simulator sim;
  const StorageConfig config = fsx(480, 125, true);
  StorageSystem system(config, defaults(), p5(), h100(), sim);
  EXPECT_DOUBLE_EQ(system.fsx_baseline_bytes_per_s(), 60e9);
  EXPECT_DOUBLE_EQ(system.fsx_burst_bytes_per_s(), 480 * burst_125 * kMB);
}

TEST(FsxThroughput, NReadersShareTheAggregate) {
  // C = 120e9 B/s; n = 32 nodes each read B = 7.5e9 bytes in 100 MB requests of 1 GB files with
  // 8 threads. Bounds per node:
  //   FSx share        C / n = 120e9 / 32 = 3.75e9 B/s      <- binding
  //   thread bound     8 x 1e8 / (0.5 ms + 1e8 / 1.2e9) = 8e8 / 0.083833 = 9.54e9 B/s
  //   front end        12.5e9 B/s
  //   metadata         192,000 ops/s / (32 x 2 ops / 1e9 B) = 3e12 B/s
  // Time B / (C/n) = 7.5e9 / 3.75e9 = 2 s; with n = 64, C/n = 1.875e9 (still binding): 4 s.
  const StorageConfig config = fsx(480, 250);
  const ReadPattern p = pattern(7.5e9, 1e8, 1e9, 8);
  const double threads =
      p.threads * p.request_bytes /
      (defaults().fsx_latency_s + p.request_bytes / defaults().fsx_stream_bw_bytes_per_s);
  ASSERT_GT(threads, 120e9 / 32);

  const TimedRead n32 = time_read(config, Tier::kFsxLustre, p, 32);
  EXPECT_NEAR(n32.time_s, 2.0, 2.0 * kRel);
  EXPECT_TRUE(contains(n32.limited_by, "FSx for Lustre throughput")) << n32.limited_by;

  const TimedRead n64 = time_read(config, Tier::kFsxLustre, p, 64);
  EXPECT_NEAR(n64.time_s, 4.0, 4.0 * kRel);
  EXPECT_NEAR(n64.time_s, 2 * n32.time_s, 4.0 * kRel);
}

TEST(FsxThroughput, OneNodeIsBoundByItsFrontEnd) {
  // n = 1, 64 threads of 1 GB requests: FSx share 120e9, thread bound
  // 64 x 1e9 / (0.5 ms + 0.8333 s) = 76.8e9, front end 12.5e9 B/s binds: 25e9 B take 2 s.
  const TimedRead read = time_read(fsx(480, 250), Tier::kFsxLustre, pattern(25e9, 1e9, 1e9, 64), 1);
  EXPECT_NEAR(read.time_s, 2.0, 2.0 * kRel);
  EXPECT_TRUE(contains(read.limited_by, "front-end")) << read.limited_by;
}

TEST(FsxThroughput, SmallFilesAreBoundByTheMetadataRate) {
  // Explicit metadata rate M = 1,000 ops/s; n = 10 nodes read 1 MB files, 2 ops per file
  // (storage.json metadata_ops_per_file): per node 1,000 / (10 x 2 / 1e6 B) = 50e6 B/s.
  // Other bounds: FSx share 12e9, threads 8 x 1e6 / (0.5 ms + 1e6 / 1.2e9) = 6e9, front end
  // 12.5e9. 100e6 bytes take 100e6 / 50e6 = 2 s.
  ASSERT_DOUBLE_EQ(defaults().fsx_metadata_ops_per_file, 2.0);
  StorageConfig config = fsx(480, 250);
  config.fsx.metadata_ops_per_s = 1000;
  const TimedRead read = time_read(config, Tier::kFsxLustre, pattern(100e6, 1e6, 1e6, 8), 10);
  EXPECT_NEAR(read.time_s, 2.0, 2.0 * kRel);
  EXPECT_TRUE(contains(read.limited_by, "metadata")) << read.limited_by;
}

// --- S3 ------------------------------------------------------------------------------------

TEST(S3RequestRate, ManyNodesOfSmallObjectsAreBoundByGetsPerPrefix) {
  // n = 100 nodes each GET 1,100 objects of q = 1 MB (1.1e9 bytes), 8 threads.
  //   GET share, 1 prefix   5,500 x 1e6 / 100 = 55e6 B/s       <- binding
  //   GET share, 2 prefixes 110e6 B/s                          <- binding
  //   thread bound          8 x 1e6 / (30 ms + 1e6 / 90e6) = 194.6e6 B/s
  //   front end             12.5e9 B/s
  // Time = total requests / (5,500 x prefixes) = 110,000 / 5,500 = 20 s; 2 prefixes: 10 s.
  const ReadPattern p = pattern(1.1e9, 1e6, 1e6, 8);
  ASSERT_GT(s3_threads_bound(8, 1e6), 2 * defaults().s3_get_per_s_per_prefix * 1e6 / 100);
  const double requests = 100 * 1100.0;

  const TimedRead one = time_read(s3(1), Tier::kS3, p, 100);
  EXPECT_NEAR(one.time_s, requests / (defaults().s3_get_per_s_per_prefix * 1), 20.0 * kRel);
  EXPECT_TRUE(contains(one.limited_by, "S3 GET")) << one.limited_by;

  const TimedRead two = time_read(s3(2), Tier::kS3, p, 100);
  EXPECT_NEAR(two.time_s, requests / (defaults().s3_get_per_s_per_prefix * 2), 10.0 * kRel);
  EXPECT_NEAR(two.time_s, one.time_s / 2, 10.0 * kRel);
}

TEST(S3Latency, OneNodeOfSmallObjectsIsBoundByItsThreads) {
  // One node, T = 8 threads, q = 1 MB objects: each thread waits L = 30 ms then streams q at
  // b = 90 MB/s, so rate = T q / (L + q/b) = 8e6 / (0.03 + 0.01111) = 194.6e6 B/s, far under the
  // GET rate (5,500 x 1e6 = 5.5e9 B/s) and the front end (12.5e9). 1e9 bytes take
  // 1e9 x 0.041111 / 8e6 = 5.139 s, and the activity's own bound is what limits it.
  const double latency = defaults().s3_first_byte_latency_s;
  const double stream = defaults().s3_connection_bw_bytes_per_s;
  const double expected = 1e9 * (latency + 1e6 / stream) / (8 * 1e6);
  const TimedRead read = time_read(s3(1), Tier::kS3, pattern(1e9, 1e6, 1e6, 8), 1);
  EXPECT_NEAR(read.time_s, expected, expected * kRel);
  EXPECT_EQ(read.bottleneck, kNoResource);

  // Twice the threads, twice the rate (still under every resource): half the time.
  const TimedRead sixteen = time_read(s3(1), Tier::kS3, pattern(1e9, 1e6, 1e6, 16), 1);
  EXPECT_NEAR(sixteen.time_s, expected / 2, expected * kRel);
}

TEST(S3Latency, HandBuiltDefaultsGiveRoundNumbers) {
  // L = 50 ms, b = 100 MB/s, q = 5 MB: one request takes 0.05 + 0.05 = 0.1 s; 4 threads give
  // 4 x 5e6 / 0.1 = 200e6 B/s, so 1e9 bytes take 5 s.
  StorageDefaults d = defaults();
  d.s3_first_byte_latency_s = 0.05;
  d.s3_connection_bw_bytes_per_s = 100e6;
  const TimedRead read = time_read(s3(1), Tier::kS3, pattern(1e9, 5e6, 5e6, 4), 1, d);
  EXPECT_NEAR(read.time_s, 5.0, 5.0 * kRel);
  EXPECT_EQ(read.bottleneck, kNoResource);
}

// --- NVMe ----------------------------------------------------------------------------------

TEST(NvmeRead, IsDrivesTimesPerDriveRate) {
  // p5.48xlarge: 8 drives x 2.5e9 B/s (storage.json) = 20e9 B/s; the thread bound
  // 8 x 1e8 / 0.1 ms = 8e12 B/s does not bind, so 40e9 bytes take 40e9 / 20e9 = 2 s.
  ASSERT_EQ(p5().nvme_drives, 8);
  const double nvme = p5().nvme_drives * defaults().nvme_read_bw_per_drive_bytes_per_s;
  const TimedRead read = time_read(StorageConfig{}, Tier::kNvme, pattern(40e9, 1e8, 1e9, 8), 1);
  EXPECT_NEAR(read.time_s, 40e9 / nvme, 40e9 / nvme * kRel);
  EXPECT_TRUE(contains(read.limited_by, "NVMe")) << read.limited_by;
  // Local: `copies` nodes each read their own drives, so 32 copies take the same time.
  const TimedRead many = time_read(StorageConfig{}, Tier::kNvme, pattern(40e9, 1e8, 1e9, 8), 32);
  EXPECT_NEAR(many.time_s, read.time_s, read.time_s * kRel);
}

// --- data loading ----------------------------------------------------------------------------

DataConfig loader(Tier tier) {
  DataConfig data;
  data.tier = tier;
  data.file_bytes = 1e9;
  data.reader_threads = defaults().reader_threads;  // 8
  data.prefetch_depth = 2;
  return data;
}

DataDemand demand_of(int nodes, double bytes_per_node, double request_bytes) {
  DataDemand demand;
  demand.reading_nodes = nodes;
  demand.bytes_per_node = bytes_per_node;
  demand.bytes_per_step = bytes_per_node * nodes;
  demand.request_bytes = request_bytes;
  return demand;
}

TEST(DataLoading, SteadyStallIsReadTimeMinusStepWhenFsxIsSlower) {
  // FSx 120e9 B/s (no burst), 32 nodes, 5.625e9 bytes per node and step in 100 MB requests:
  // FSx share 3.75e9 B/s binds (threads 9.54e9, front end 12.5e9), read_s = 5.625e9 / 3.75e9
  // = 1.5 s. Step 1 s (read = 1.5 x step): steady stall = 1.5 - 1 = 0.5 s.
  // Step 3 s (read = 0.5 x step): the loader keeps ahead, stall 0.
  // Either way the first batch waits one whole read: 1.5 s.
  const DataDemand demand = demand_of(32, 5.625e9, 1e8);
  for (const double step_s : {1.0, 3.0}) {
    SCOPED_TRACE(step_s);
    const DataLoadResult r = simulate_data_loading(fsx(480, 250, false), defaults(), p5(), h100(),
                                                   loader(Tier::kFsxLustre), demand, step_s);
    EXPECT_EQ(r.tier, Tier::kFsxLustre);
    EXPECT_NEAR(r.read_s, 1.5, 1.5 * kRel);
    EXPECT_NEAR(r.stall_s, std::max(0.0, 1.5 - step_s), 1e-9);
    EXPECT_NEAR(r.first_batch_s, r.read_s, 1e-9);
    EXPECT_TRUE(contains(r.limited_by, "FSx")) << r.limited_by;
    EXPECT_DOUBLE_EQ(r.staging_s, 0.0);
  }
}

TEST(DataLoading, S3GetRateBoundLoaderThatKeepsUpDoesNotStall) {
  // 100 nodes GET 110 objects of 1 MB each per step: 11,000 GETs / 5,500 GET/s = 2 s (GET share
  // 55e6 B/s per node under the 194.6e6 thread bound). Step 4 s: stall 0, first batch 2 s.
  DataConfig data = loader(Tier::kS3);
  data.file_bytes = 1e6;
  const DataLoadResult r =
      simulate_data_loading(s3(1), defaults(), p5(), h100(), data, demand_of(100, 1.1e8, 1e6), 4.0);
  const double read_s = 100 * 110 / defaults().s3_get_per_s_per_prefix;
  EXPECT_NEAR(r.read_s, read_s, read_s * kRel);
  EXPECT_NEAR(r.stall_s, 0.0, 1e-9);
  EXPECT_NEAR(r.first_batch_s, read_s, read_s * kRel);
  EXPECT_TRUE(contains(r.limited_by, "S3")) << r.limited_by;
}

TEST(DataLoading, LatencyBoundLoaderNamesItsThreads) {
  // One node, 1 MB objects from S3: the thread bound (194.6e6 B/s) limits, not a resource.
  DataConfig data = loader(Tier::kS3);
  data.file_bytes = 1e6;
  const DataLoadResult r =
      simulate_data_loading(s3(1), defaults(), p5(), h100(), data, demand_of(1, 1e8, 1e6), 10.0);
  const double read_s = 1e8 / s3_threads_bound(defaults().reader_threads, 1e6);
  EXPECT_NEAR(r.read_s, read_s, read_s * kRel);
  EXPECT_TRUE(contains(r.limited_by, "reader threads")) << r.limited_by;
}

TEST(DataLoading, RejectsBadArguments) {
  EXPECT_THROW(simulate_data_loading(s3(1), defaults(), p5(), h100(), loader(Tier::kS3),
                                     demand_of(1, 1e8, 1e6), 0.0),
               std::invalid_argument);
  DataConfig no_prefetch = loader(Tier::kS3);
  no_prefetch.prefetch_depth = 0;
  EXPECT_THROW(simulate_data_loading(s3(1), defaults(), p5(), h100(), no_prefetch,
                                     demand_of(1, 1e8, 1e6), 1.0),
               std::invalid_argument);
}

// FSx 480 TiB x 125 MB/s/TiB: baseline 60e9 B/s, burst 480 x 500 MB/s/TiB = 240e9 B/s. 32 nodes
// read 7.5e9 bytes per step in 100 MB requests: per node burst share 7.5e9 B/s (under the thread
// bound 9.54e9 and the front end 12.5e9), baseline share 1.875e9 B/s. Alone: 1 s at burst, 4 s at
// baseline.
const DataDemand kBurstDemand = demand_of(32, 7.5e9, 1e8);

TEST(FsxBurst, DemandUnderTheBaselineReadsAtTheBurstRate) {
  // Step 8 s: the loader needs 32 x 7.5e9 / 8 = 30e9 B/s <= 60e9, credits refill between steps:
  // read_s = 7.5e9 / (240e9 / 32) = 1 s, no stall.
  const DataLoadResult r = simulate_data_loading(fsx(480, 125, true), defaults(), p5(), h100(),
                                                 loader(Tier::kFsxLustre), kBurstDemand, 8.0);
  EXPECT_NEAR(r.read_s, 1.0, kRel);
  EXPECT_NEAR(r.stall_s, 0.0, 1e-9);
  EXPECT_TRUE(contains(r.limited_by, "burst")) << r.limited_by;
}

TEST(FsxBurst, DemandAboveTheBaselineReadsAtTheBaseline) {
  // Step 2 s: the loader needs 32 x 7.5e9 / 2 = 120e9 B/s > 60e9 (at the burst rate, too: a 1 s
  // read beside a 2 s step still asks 120e9 B/s), so the credits run out and reads run at the
  // baseline: read_s = 7.5e9 / (60e9 / 32) = 4 s, steady stall 4 - 2 = 2 s.
  // (A first version measured the demand over step + stall at the baseline, which the stall
  // stretches until it equals the baseline: the burst was granted whatever the load.)
  const DataLoadResult r = simulate_data_loading(fsx(480, 125, true), defaults(), p5(), h100(),
                                                 loader(Tier::kFsxLustre), kBurstDemand, 2.0);
  EXPECT_NEAR(r.read_s, 4.0, 4.0 * kRel);
  EXPECT_NEAR(r.stall_s, 2.0, 1e-9);
  EXPECT_TRUE(contains(r.limited_by, "baseline")) << r.limited_by;
}

TEST(FsxBurst, DisabledBurstAlwaysReadsAtTheBaseline) {
  // As the 8 s step above (demand 30e9 <= 60e9) but burst = false: read_s = 4 s, stall 0.
  const DataLoadResult r = simulate_data_loading(fsx(480, 125, false), defaults(), p5(), h100(),
                                                 loader(Tier::kFsxLustre), kBurstDemand, 8.0);
  EXPECT_NEAR(r.read_s, 4.0, 4.0 * kRel);
  EXPECT_NEAR(r.stall_s, 0.0, 1e-9);
  EXPECT_TRUE(contains(r.limited_by, "baseline")) << r.limited_by;
}

// --- dataset cache ---------------------------------------------------------------------------

TEST(DataLoading, DatasetLargerThanTheNodesNvmeIsInfeasible) {
  DataConfig data = loader(Tier::kS3);
  data.cache = Tier::kNvme;
  DataDemand demand = demand_of(8, 1e9, 1e8);
  demand.dataset_bytes_per_node = 2 * p5().nvme_bytes;
  try {
    simulate_data_loading(s3(1), defaults(), p5(), h100(), data, demand, 1.0);
    FAIL() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/data/cache");
  }
}

TEST(DataLoading, DatasetLargerThanTheHostMemoryShareIsInfeasible) {
  // The host-memory cache may take host_memory x cache_fraction (storage.json).
  DataConfig data = loader(Tier::kS3);
  data.cache = Tier::kHostMemory;
  DataDemand demand = demand_of(8, 1e9, 1e8);
  demand.dataset_bytes_per_node = 1.01 * p5().host_memory_bytes * defaults().host_cache_fraction;
  try {
    simulate_data_loading(s3(1), defaults(), p5(), h100(), data, demand, 1.0);
    FAIL() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/data/cache");
  }
}

TEST(DataLoading, StagingToNvmeFromS3IsBoundByTheGetRate) {
  // 200 nodes each stage 1,100 files of 1 MiB from S3 (one prefix) to NVMe, 64 copy threads,
  // requests of min(1 MiB, 16 MiB part) = 1 MiB. Per node:
  //   GET share   5,500 x 1 MiB / 200 = 28.8e6 B/s             <- binding
  //   threads     64 x 1 MiB / (30 ms + 1 MiB / 90e6) = 1.61e9 B/s
  //   front end   12.5e9, NVMe write 8 x 1.5e9 = 12e9 B/s
  // staging_s = dataset per node x nodes / file bytes / (5,500 x prefixes)
  //           = 1,100 x 200 / 5,500 = 40 s.
  // Steps then read from NVMe: 1e9 bytes at 8 x 2.5e9 = 20e9 B/s = 0.05 s.
  const double file = 1 * kMiB;
  DataConfig data = loader(Tier::kS3);
  data.file_bytes = file;
  data.cache = Tier::kNvme;
  DataDemand demand = demand_of(200, 1e9, 1e8);
  demand.dataset_bytes_per_node = 1100 * file;
  const DataLoadResult r = simulate_data_loading(s3(1), defaults(), p5(), h100(), data, demand, 1);
  const double staging_s =
      demand.dataset_bytes_per_node * 200 / file / (defaults().s3_get_per_s_per_prefix * 1);
  EXPECT_GT(r.staging_s, 0.0);
  EXPECT_NEAR(r.staging_s, staging_s, staging_s * kRel);
  EXPECT_TRUE(contains(r.staging_limited_by, "S3 GET")) << r.staging_limited_by;
  EXPECT_EQ(r.tier, Tier::kNvme);
  const double nvme = p5().nvme_drives * defaults().nvme_read_bw_per_drive_bytes_per_s;
  EXPECT_NEAR(r.read_s, 1e9 / nvme, 1e9 / nvme * kRel);
  EXPECT_NEAR(r.stall_s, 0.0, 1e-9);
}

// --- checkpoints -----------------------------------------------------------------------------

// A cluster of 32 p5 nodes with FSx at 120e9 B/s (per node share 3.75e9) and S3 (one prefix).
constexpr int kNodes = 32;
StorageConfig fsx_and_s3() {
  StorageConfig config = fsx(480, 250, false);
  config.s3.present = true;
  config.s3.prefixes = 1;
  return config;
}

// The data loader reads 1e9 bytes per step from the node's own NVMe (0.05 s of a 1 s step), so it
// shares nothing with checkpoint traffic on FSx or S3.
DataConfig nvme_data() { return loader(Tier::kNvme); }
const DataDemand kNvmeDemand = demand_of(kNodes, 1e9, 1e8);

CheckpointConfig checkpoint_to(Tier tier, bool async) {
  CheckpointConfig c;
  c.tier = tier;
  c.async = async;
  return c;
}

double pcie_bytes_per_s() {
  return p5().gpus_per_node * h100().pcie_bw_bytes_per_s * defaults().pcie_copy_efficiency;
}

TEST(Checkpoint, SyncSaveToFsxStallsForFixedTimePlusTheWrite) {
  // 240e9 bytes over 32 nodes: 7.5e9 per node. Write per node: FSx share 120e9 / 32 = 3.75e9
  // binds (front end out 12.5e9, threads 64 x 1.2e9 = 76.8e9): 7.5e9 x 32 / 120e9 = 2 s.
  // stall = save_fixed_s + 2 s. Restore: all nodes read back at the same FSx share
  // (64 threads of 64 MiB: 76e9 B/s, front end 12.5e9): 2 s.
  const CheckpointResult r = simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), kNodes,
                                                 checkpoint_to(Tier::kFsxLustre, false), 240e9,
                                                 nvme_data(), kNvmeDemand, 1.0);
  const double fixed = defaults().checkpoint_save_fixed_s;
  EXPECT_DOUBLE_EQ(r.bytes, 240e9);
  EXPECT_DOUBLE_EQ(r.bytes_per_node, 7.5e9);
  EXPECT_DOUBLE_EQ(r.fixed_s, fixed);
  EXPECT_NEAR(r.write_s, 2.0, 1e-9);
  EXPECT_NEAR(r.stall_s, fixed + 7.5e9 * kNodes / 120e9, 1e-9);
  EXPECT_DOUBLE_EQ(r.snapshot_s, 0.0);
  EXPECT_DOUBLE_EQ(r.upload_s, 0.0);
  EXPECT_TRUE(contains(r.write_limited_by, "FSx")) << r.write_limited_by;
  EXPECT_NEAR(r.restore_s, 7.5e9 * kNodes / 120e9, 1e-9);
  EXPECT_TRUE(contains(r.restore_limited_by, "FSx")) << r.restore_limited_by;
}

TEST(Checkpoint, AsyncSaveStallsOnlyForTheSnapshotWhenTheLoaderUsesAnotherTier) {
  // 960e9 bytes over 32 nodes: 30e9 per node (under half of p5's 2 TiB host memory). Snapshot
  // over 8 GPUs x 64e9 B/s PCIe x 0.825 = 422.4e9 B/s: 30e9 / 422.4e9 = 0.071 s. The FSx write
  // then runs beside the steps; the loader reads NVMe, so nothing is slowed:
  // stall = save_fixed_s + 0.071 s; write_s = 30e9 x 32 / 120e9 = 8 s.
  const CheckpointResult r = simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), kNodes,
                                                 checkpoint_to(Tier::kFsxLustre, true), 960e9,
                                                 nvme_data(), kNvmeDemand, 1.0);
  const double snapshot = 30e9 / pcie_bytes_per_s();
  EXPECT_NEAR(r.snapshot_s, snapshot, 1e-9);
  EXPECT_NEAR(r.stall_s, defaults().checkpoint_save_fixed_s + snapshot, 1e-9);
  EXPECT_NEAR(r.write_s, 30e9 * kNodes / 120e9, 1e-9);
  EXPECT_NEAR(r.restore_s, 30e9 * kNodes / 120e9, 1e-9);
}

TEST(Checkpoint, AsyncUploadToTheLoadersFsxSlowsTheSteps) {
  // As above, but the loader reads 3.375e9 bytes per node and step from the same FSx: alone
  // 3.375e9 / 3.75e9 = 0.9 s < 1 s step (no steady stall). Beside the 30e9-byte write both get
  // half the node's share (1.875e9 B/s): a batch takes 1.8 s, the two prefetched batches run out
  // after a few steps and training stalls, so the stall exceeds fixed + snapshot and the NVMe-fed
  // case above.
  const DataDemand fsx_demand = demand_of(kNodes, 3.375e9, 1e8);
  const CheckpointResult contended = simulate_checkpoint(
      fsx_and_s3(), defaults(), p5(), h100(), kNodes, checkpoint_to(Tier::kFsxLustre, true), 960e9,
      loader(Tier::kFsxLustre), fsx_demand, 1.0);
  const CheckpointResult alone = simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), kNodes,
                                                     checkpoint_to(Tier::kFsxLustre, true), 960e9,
                                                     nvme_data(), kNvmeDemand, 1.0);
  const double snapshot = 30e9 / pcie_bytes_per_s();
  EXPECT_GT(contended.stall_s, defaults().checkpoint_save_fixed_s + snapshot + 0.1);
  EXPECT_GT(contended.stall_s, alone.stall_s + 0.1);
  // The write shares FSx with the loader, so it also takes longer than 8 s alone.
  EXPECT_GT(contended.write_s, alone.write_s);
}

TEST(Checkpoint, TieredRestoreIsTheSlowerOfLocalNvmeAndOneNodesS3Read) {
  // Sync save of 7.5e9 bytes per node to NVMe (8 x 1.5e9 = 12e9 B/s: 0.625 s), then uploaded
  // to S3. Upload: 32 nodes x 7.5e9 bytes in 16 MiB parts at 3,500 PUT/s (one prefix):
  // 240e9 / 16 MiB / 3,500 = 4.087 s (per node PUT share 1.835e9 B/s, under the upload
  // threads 64 x 16 MiB / (30 ms + 16 MiB / 45e6) = 2.67e9 and the front end).
  // Restore: survivors read their NVMe copy, 7.5e9 / 20e9 = 0.375 s; the replacement node reads
  // from S3 alone: 64 threads of 16 MiB, 64 q / (L + q/b) = 4.96e9 B/s (GET 5,500 x 16 MiB =
  // 92e9, front end 12.5e9): 7.5e9 / 4.96e9 = 1.51 s. restore_s = max(0.375, 1.51) = 1.51 s.
  CheckpointConfig c = checkpoint_to(Tier::kNvme, false);
  c.upload_to = Tier::kS3;
  const CheckpointResult r = simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), kNodes, c,
                                                 240e9, nvme_data(), kNvmeDemand, 1.0);
  const double bytes = 7.5e9;
  const double nvme_write = p5().nvme_drives * defaults().nvme_write_bw_per_drive_bytes_per_s;
  EXPECT_NEAR(r.write_s, bytes / nvme_write, 1e-9);
  EXPECT_NEAR(r.stall_s, defaults().checkpoint_save_fixed_s + bytes / nvme_write, 1e-9);
  const double part = defaults().s3_part_bytes;
  const double upload_s = bytes * kNodes / part / defaults().s3_put_per_s_per_prefix;
  EXPECT_NEAR(r.upload_s, upload_s, upload_s * 1e-9);

  const double local_s = bytes / (p5().nvme_drives * defaults().nvme_read_bw_per_drive_bytes_per_s);
  const double remote_s = bytes / s3_threads_bound(defaults().upload_threads, part);
  ASSERT_GT(remote_s, local_s);
  EXPECT_NEAR(r.restore_s, std::max(local_s, remote_s), remote_s * 1e-9);
  EXPECT_TRUE(contains(r.restore_limited_by, "replacement node")) << r.restore_limited_by;
}

TEST(Checkpoint, AsyncSnapshotLargerThanTheHostMemoryShareIsInfeasible) {
  // An async snapshot may take host_memory x snapshot_fraction per node (storage.json); 1.5 x that
  // per node does not fit. A sync save of the same bytes needs no host memory and runs.
  const int nodes = 2;
  const double too_big = nodes * 1.5 * p5().host_memory_bytes * defaults().host_snapshot_fraction;
  try {
    simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), nodes,
                        checkpoint_to(Tier::kFsxLustre, true), too_big, nvme_data(),
                        demand_of(nodes, 1e9, 1e8), 1.0);
    FAIL() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/checkpoint/mode");
  }
  EXPECT_NO_THROW(simulate_checkpoint(fsx_and_s3(), defaults(), p5(), h100(), nodes,
                                      checkpoint_to(Tier::kFsxLustre, false), too_big, nvme_data(),
                                      demand_of(nodes, 1e9, 1e8), 1.0));
}

}  // namespace
}  // namespace fmsim
