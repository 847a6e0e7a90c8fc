// Cost of the serving simulation: one replica of Llama 3 8B on an H100 serving N requests of
// 512 + 256 tokens at 60% of its capacity, and offline (all at once). Reported per iteration of
// the simulated engine and per request.
#include <benchmark/benchmark.h>

#include "hardware/catalog.h"
#include "model/model.h"
#include "workload/inference.h"

namespace {

fmsim::InferenceSetup serving(int requests, bool offline) {
  fmsim::InferenceSetup s;
  s.instance = &fmsim::Catalog::builtin().instance("p5.48xlarge", "");
  s.gpu = &fmsim::Catalog::builtin().gpu_of(*s.instance);
  s.model = fmsim::model_preset("llama3-8b", "");
  s.workload.replicas = 1;
  s.workload.count = requests;
  s.workload.rate_per_s = 20;
  s.workload.all_at_once = offline;
  return s;
}

void run(benchmark::State& state, bool offline) {
  const fmsim::InferenceSetup s = serving(static_cast<int>(state.range(0)), offline);
  long long iterations = 0;
  for (auto _ : state) {
    const fmsim::InferenceResult r = fmsim::simulate_inference(s);
    iterations = r.iterations;
    benchmark::DoNotOptimize(r.output_tokens_per_s);
  }
  state.counters["engine_iterations"] = static_cast<double>(iterations);
  state.counters["per_iteration_us"] =
      benchmark::Counter(static_cast<double>(iterations) * state.iterations(),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ServingPoisson(benchmark::State& state) { run(state, false); }
void BM_ServingOffline(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_ServingPoisson)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ServingOffline)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
