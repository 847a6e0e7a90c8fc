// Cost of the capacity planner (sim/plan/) on the Llama 3 70B example plan,
// scenarios/plans/llama3-70b-pretrain-15t-60days.json: 1,152 points (3 instances x 128..1024 nodes
// x TP x PP x CP x micro-batch x recompute), 60 days at most for 15T tokens. Results and the
// command that produced them: docs/performance.md, section "Planner".
//
//   PlanPoints70B/k: evaluate_point on every k-th point of the space (k = 23: 51 points, points 0,
//     23, ..., 1150), one after the other on one thread: what `fmsim plan -j 1` pays per point,
//     pruned points included. Issue: at least 1,000 configurations per minute per core for
//     70B-class training scenarios.
//   PlanSimulatedPoint70B/n: only the points of that sample that get simulated (run_scenario), with
//     n nodes (0: any size), to show what one simulation costs and how it grows with the cluster.
//   PlanThreads/j: evaluate_points and summarize_plan over the same sample with PlanOptions.jobs =
//     j, in wall time, to show how the planner scales with threads.
//
// Counters (totals over every iteration, so they do not depend on how many ran):
//   configs_per_min_per_core: points per minute of CPU time (the figure);
//   simulated_share: the share of the points that were simulated (the rest were pruned before,
//     as invalid, a layout that does not divide the cluster, memory, or the lower bound);
//   s_per_simulated / s_per_unsimulated: mean CPU seconds of a simulated / unsimulated point;
//   simulated_time_share: the share of the CPU time that went to simulated points;
//   PlanThreads only: configs_per_min (per minute of wall time), configs_per_min_per_core (per
//     minute of CPU time summed over its threads) and cores_busy (CPU time / wall time).
#include <chrono>
#include <ctime>
#include <filesystem>
#include <vector>

#include <benchmark/benchmark.h>

#include "hardware/catalog.h"
#include "plan/plan.h"
#include "scenario/scenario.h"

namespace {

constexpr std::size_t kSampleStride = 23;

const fmsim::PlanSpec& plan_70b() {
  static const fmsim::PlanSpec spec = [] {
    const std::filesystem::path path = std::filesystem::path(FMSIM_SOURCE_DIR) /
                                       "scenarios/plans/llama3-70b-pretrain-15t-60days.json";
    return fmsim::parse_plan(fmsim::read_json_file(path.string()), fmsim::Catalog::builtin(),
                             path.parent_path().string());
  }();
  return spec;
}

// Every `stride`-th point of the space, from point 0.
std::vector<std::size_t> every_kth(std::size_t stride) {
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < plan_70b().size(); i += stride) indices.push_back(i);
  return indices;
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The outcome of each point of the default sample, kept by the first run of PlanPoints70B (or
// computed here) so that PlanSimulatedPoint70B can pick the simulated points without paying for
// the classification twice.
std::vector<fmsim::PlanPoint>& sample_outcomes() {
  static std::vector<fmsim::PlanPoint> points;
  return points;
}

const std::vector<fmsim::PlanPoint>& classified_sample() {
  std::vector<fmsim::PlanPoint>& points = sample_outcomes();
  if (points.empty()) {
    for (std::size_t index : every_kth(kSampleStride)) {
      points.push_back(fmsim::evaluate_point(plan_70b(), fmsim::Catalog::builtin(), index));
    }
  }
  return points;
}

// Evaluates `indices` one after the other on this thread, every iteration, and reports the
// counters described at the top of this file.
void evaluate_serially(benchmark::State& state, const std::vector<std::size_t>& indices,
                       bool keep_outcomes) {
  const fmsim::PlanSpec& spec = plan_70b();
  const fmsim::Catalog& catalog = fmsim::Catalog::builtin();
  double points = 0, simulated = 0, simulated_s = 0, unsimulated_s = 0;
  for (auto _ : state) {
    std::vector<fmsim::PlanPoint> outcomes;
    outcomes.reserve(indices.size());
    for (std::size_t index : indices) {
      const double start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      fmsim::PlanPoint point = fmsim::evaluate_point(spec, catalog, index);
      const double spent = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
      points += 1;
      if (point.simulated) {
        simulated += 1;
        simulated_s += spent;
      } else {
        unsimulated_s += spent;
      }
      benchmark::DoNotOptimize(point.metrics.step_s);
      outcomes.push_back(std::move(point));
    }
    if (keep_outcomes && sample_outcomes().empty()) sample_outcomes() = std::move(outcomes);
  }
  const double total_s = simulated_s + unsimulated_s;
  state.SetItemsProcessed(static_cast<int64_t>(points));
  state.counters["points"] = static_cast<double>(indices.size());
  state.counters["configs_per_min_per_core"] = total_s > 0 ? 60.0 * points / total_s : 0.0;
  state.counters["simulated_share"] = points > 0 ? simulated / points : 0.0;
  state.counters["s_per_simulated"] = simulated > 0 ? simulated_s / simulated : 0.0;
  state.counters["s_per_unsimulated"] =
      points > simulated ? unsimulated_s / (points - simulated) : 0.0;
  state.counters["simulated_time_share"] = total_s > 0 ? simulated_s / total_s : 0.0;
}

void BM_PlanPoints70B(benchmark::State& state) {
  const auto stride = static_cast<std::size_t>(state.range(0));
  evaluate_serially(state, every_kth(stride), stride == kSampleStride);
}
// /769: points 0 (pruned: does not fit in memory) and 769 (p6-b200, 128 nodes, simulated): the
// smoke test's two cheap points.
BENCHMARK(BM_PlanPoints70B)->Arg(kSampleStride)->Arg(769)->Unit(benchmark::kMillisecond);

void BM_PlanSimulatedPoint70B(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  std::vector<std::size_t> indices;
  for (const fmsim::PlanPoint& p : classified_sample()) {
    if (p.simulated && (nodes == 0 || p.metrics.nodes == nodes)) indices.push_back(p.index);
  }
  if (indices.empty()) {
    state.SkipWithError("no simulated point of that size in the sample");
    return;
  }
  evaluate_serially(state, indices, false);
}
BENCHMARK(BM_PlanSimulatedPoint70B)
    ->Arg(0)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);

void BM_PlanThreads(benchmark::State& state) {
  const fmsim::PlanSpec& spec = plan_70b();
  const std::vector<std::size_t> indices = every_kth(kSampleStride);
  fmsim::PlanOptions options;
  options.jobs = static_cast<int>(state.range(0));
  double points = 0, cpu_s = 0, wall_s = 0;
  for (auto _ : state) {
    const double cpu_start = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    const auto wall_start = std::chrono::steady_clock::now();
    const fmsim::PlanResult result = fmsim::summarize_plan(
        spec, fmsim::evaluate_points(spec, fmsim::Catalog::builtin(), indices, options));
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    cpu_s += cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    points += static_cast<double>(result.points.size());
    benchmark::DoNotOptimize(result.best.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(points));
  state.counters["points"] = static_cast<double>(indices.size());
  // Points per minute of wall time; per minute of CPU time summed over the threads; and how many
  // cores were busy on average (CPU time over wall time: at most min(j, cores)).
  state.counters["configs_per_min"] = wall_s > 0 ? 60.0 * points / wall_s : 0.0;
  state.counters["configs_per_min_per_core"] = cpu_s > 0 ? 60.0 * points / cpu_s : 0.0;
  state.counters["cores_busy"] = wall_s > 0 ? cpu_s / wall_s : 0.0;
}
BENCHMARK(BM_PlanThreads)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
