// Cost of the run-length estimate and of the storage simulation that feeds it:
//  * Monte-Carlo run length: a 16,384-GPU job at Llama 3's failure rates, 100 days of work, per
//    trial (each trial walks every segment, failure and planned interruption);
//  * data loading: the engine simulation of the loader and the steps, per simulated step;
//  * one checkpoint save of Llama 3 405B beside the loader (2,048 nodes, FSx then S3).
#include <benchmark/benchmark.h>

#include "hardware/catalog.h"
#include "reliability/reliability.h"
#include "storage/storage.h"

namespace {

fmsim::RunInputs llama3_run(int spare_nodes) {
  const auto& defaults = fmsim::ReliabilityDefaults::builtin();
  fmsim::RunInputs in;
  in.useful_s = 100 * 86400.0;
  in.checkpoint_stall_s = 6.3;
  in.failures = fmsim::job_failure_rate(defaults.classes, {16384, 2048, 16384});
  in.interval_s = fmsim::young_daly_interval_s(in.checkpoint_stall_s, in.failures.mtbf_s());
  in.planned_per_s = defaults.planned_per_node_day * 2048 / 86400.0;
  in.recovery = defaults.recovery;
  in.recovery.reload_s = 60;
  in.recovery.spare_nodes = spare_nodes;
  return in;
}

void BM_MonteCarloTrial(benchmark::State& state) {
  const fmsim::RunInputs in = llama3_run(static_cast<int>(state.range(0)));
  const int trials = 100;
  for (auto _ : state) {
    const auto result = fmsim::monte_carlo_run(in, trials, 1);
    benchmark::DoNotOptimize(result.mean_wall_s);
  }
  // Per trial: divide the iteration time by the trials.
  state.SetItemsProcessed(state.iterations() * trials);
  const fmsim::RunEstimate mean = fmsim::expected_run(in);
  state.counters["failures_per_trial"] = mean.expected_failures;
  state.counters["segments_per_trial"] = in.useful_s / in.interval_s;
}
BENCHMARK(BM_MonteCarloTrial)->Arg(0)->Arg(64)->Unit(benchmark::kMillisecond);

void BM_AnalyticRun(benchmark::State& state) {
  const fmsim::RunInputs in = llama3_run(0);
  for (auto _ : state) benchmark::DoNotOptimize(fmsim::expected_run(in).wall_s);
}
BENCHMARK(BM_AnalyticRun);

struct StorageCase {
  fmsim::StorageConfig storage;
  fmsim::DataConfig data;
  fmsim::DataDemand demand;
};

// 64 p5 nodes reading 100 MB shards from a 12 TiB FSx (scenarios/vlm-8b-...-fsx-shards.json).
StorageCase fsx_case() {
  StorageCase c;
  c.storage.fsx.present = true;
  c.storage.fsx.capacity_tib = 12;
  c.storage.fsx.throughput_per_tib_mbps = 125;
  c.storage.s3.present = true;
  c.data.tier = fmsim::Tier::kFsxLustre;
  c.data.raw = true;
  c.data.bytes_per_token = 300;
  c.data.file_bytes = 1e8;
  c.data.reader_threads = 8;
  c.data.prefetch_depth = static_cast<int>(2);
  c.demand.reading_nodes = 64;
  c.demand.bytes_per_node = 19.66e6;
  c.demand.bytes_per_step = c.demand.bytes_per_node * 64;
  c.demand.request_bytes = 1e8;
  return c;
}

void BM_DataLoading(benchmark::State& state) {
  const auto& catalog = fmsim::Catalog::builtin();
  const auto& instance = catalog.instance("p5.48xlarge", "");
  StorageCase c = fsx_case();
  c.data.prefetch_depth = static_cast<int>(state.range(0));
  for (auto _ : state) {
    const auto r =
        fmsim::simulate_data_loading(c.storage, fmsim::StorageDefaults::builtin(), instance,
                                     catalog.gpu_of(instance), c.data, c.demand, 0.65);
    benchmark::DoNotOptimize(r.stall_s);
  }
}
BENCHMARK(BM_DataLoading)->Arg(2)->Arg(32)->Unit(benchmark::kMicrosecond);

void BM_CheckpointSave(benchmark::State& state) {
  const auto& catalog = fmsim::Catalog::builtin();
  const auto& instance = catalog.instance("p5.48xlarge", "");
  StorageCase c = fsx_case();
  c.storage.fsx.capacity_tib = 480;
  c.storage.fsx.throughput_per_tib_mbps = 250;
  c.demand.reading_nodes = 256;
  fmsim::CheckpointConfig checkpoint;
  checkpoint.tier = fmsim::Tier::kFsxLustre;
  checkpoint.upload_to = fmsim::Tier::kS3;
  const double step_s = state.range(0) / 1000.0;
  double steps = 0;
  for (auto _ : state) {
    const auto r = fmsim::simulate_checkpoint(c.storage, fmsim::StorageDefaults::builtin(),
                                              instance, catalog.gpu_of(instance), 2048, checkpoint,
                                              405e9 * 14, c.data, c.demand, step_s);
    steps = (r.write_s + r.upload_s) / step_s;
    benchmark::DoNotOptimize(r.stall_s);
  }
  state.counters["steps_simulated"] = steps;
}
// Step times of 8.9 s (Llama 3 405B) and 0.1 s (many steps beside one upload).
BENCHMARK(BM_CheckpointSave)->Arg(8861)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace
