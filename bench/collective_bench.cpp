// Cost of simulating an nccl-tests sweep: building the cluster, choosing algorithms and running
// every size through the engine, for growing p5 clusters. Reported per simulated collective.
#include <benchmark/benchmark.h>

#include "collectives/collectives.h"
#include "hardware/catalog.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace {

// scenarios/nccl-p5-2node-all_reduce.json with N nodes.
fmsim::Scenario sweep_scenario(int nodes) {
  const nlohmann::json doc = {{"name", "bench"},
                              {"cluster", {{"instance", "p5.48xlarge"}, {"nodes", nodes}}},
                              {"workload",
                               {{"stage", "collective"},
                                {"op", "all_reduce"},
                                {"min_bytes", 8},
                                {"max_bytes", 8589934592.0},
                                {"step_factor", 2}}}};
  return fmsim::parse_scenario(doc, fmsim::Catalog::builtin());
}

// The whole `fmsim` run of an 8 B .. 8 GiB all_reduce sweep (31 sizes) on N p5 nodes.
void BM_AllReduceSweep(benchmark::State& state) {
  const fmsim::Scenario scenario = sweep_scenario(static_cast<int>(state.range(0)));
  std::size_t collectives = 0;
  for (auto _ : state) {
    const fmsim::Report report = fmsim::run_scenario(scenario, fmsim::Catalog::builtin(), {});
    collectives += report.collective->rows.size();
    benchmark::DoNotOptimize(report.collective->avg_busbw_bytes_per_s);
  }
  state.SetItemsProcessed(static_cast<int64_t>(collectives));
  state.counters["gpus"] = static_cast<double>(state.range(0) * 8);
  // Seconds of host time per simulated collective (rate, inverted).
  state.counters["s_per_collective"] = benchmark::Counter(
      static_cast<double>(collectives), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AllReduceSweep)->Arg(2)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);

// Building the cluster graph and its resources alone.
void BM_BuildTopology(benchmark::State& state) {
  const auto& catalog = fmsim::Catalog::builtin();
  const auto& instance = catalog.instance("p5.48xlarge", "");
  for (auto _ : state) {
    fmsim::Simulator sim;
    fmsim::Topology topology(instance, catalog.gpu_of(instance), static_cast<int>(state.range(0)),
                             {}, fmsim::network_defaults(), sim);
    benchmark::DoNotOptimize(topology.gpus());
  }
}
BENCHMARK(BM_BuildTopology)->Arg(16)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace
