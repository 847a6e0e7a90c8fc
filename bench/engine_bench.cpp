// Cost of the flow-level engine per event, with N = 1,000 / 10,000 / 100,000 activities in flight.
// Results and the command that produced them: docs/performance.md, section "Engine".
//
//   Disjoint: N activities, each on its own link and on one of 64 shared NICs (a collective's
//     channels: one link per peer, the NIC shared by every channel of the rank). The NICs are the
//     bottleneck, so every completion re-solves the NIC's component: N/64 activities. Each
//     completion starts a replacement on the same link and NIC, so N stay in flight.
//   Churn: N activities, each alone on its own link, replaced as they complete: the solve is
//     trivial and the cost is the event queue (N live entries) and the bookkeeping.
//   CollectiveBurst: the Disjoint layout started all at once with equal work, as one collective
//     is, run until all have finished (they finish together: one timestamp).
//
// Items processed = events (latency ends, completions, timers); ns_per_event = time / events.
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "engine/simulator.h"

namespace fmsim {
namespace {

constexpr int kNics = 64;
constexpr double kLinkBytesPerS = 50e9;

// Deterministic work sizes in [1, 2) MB: a fixed-seed linear congruential generator.
class WorkSizes {
 public:
  double next_bytes() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return 1e6 * (1.0 + static_cast<double>(state_ >> 11) / static_cast<double>(1ULL << 53));
  }

 private:
  std::uint64_t state_ = 42;
};

// Starts a replacement on the same resources whenever an activity completes. The activity's tag
// is the index of its slot in `specs`.
class Replacer : public EventHandler {
 public:
  Replacer(Simulator& sim, std::vector<ActivitySpec> specs) : sim_(sim), specs_(std::move(specs)) {
    sim.set_handler(this);
    for (ActivitySpec& spec : specs_) {
      spec.work = sizes_.next_bytes();
      sim.start(spec);
    }
  }
  void on_activity_done(ActivityId, std::uint64_t tag) override {
    ActivitySpec& spec = specs_[tag];
    spec.work = sizes_.next_bytes();
    sim_.start(spec);
  }

 private:
  Simulator& sim_;
  std::vector<ActivitySpec> specs_;
  WorkSizes sizes_;
};

// Activity i uses link i and NIC i % 64; each NIC is sized at half of what its links could carry,
// so the NICs bind. With `with_nics` false, activity i uses only link i.
std::vector<ActivitySpec> build_layout(Simulator& sim, int activities, bool with_nics) {
  const int per_nic = (activities + kNics - 1) / kNics;
  std::vector<ResourceId> nics;
  if (with_nics) {
    for (int n = 0; n < kNics; ++n) {
      nics.push_back(sim.add_resource("nic" + std::to_string(n), 0.5 * per_nic * kLinkBytesPerS));
    }
  }
  std::vector<ActivitySpec> specs(static_cast<std::size_t>(activities));
  for (int i = 0; i < activities; ++i) {
    ActivitySpec& spec = specs[static_cast<std::size_t>(i)];
    spec.uses.push_back({sim.add_resource("link" + std::to_string(i), kLinkBytesPerS), 1.0});
    if (with_nics) spec.uses.push_back({nics[static_cast<std::size_t>(i % kNics)], 1.0});
    spec.tag = static_cast<std::uint64_t>(i);
  }
  return specs;
}

void report_events(benchmark::State& state, std::uint64_t events) {
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  // A rate of events / 1e9 per second, inverted: nanoseconds per event.
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(events) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One iteration = one step(): the next completion, its replacement and the re-solve.
void run_steady_state(benchmark::State& state, bool with_nics) {
  Simulator sim;
  const int activities = static_cast<int>(state.range(0));
  Replacer replacer(sim, build_layout(sim, activities, with_nics));
  sim.run(0.0);  // the initial solve of all N is setup, not steady state
  const std::uint64_t events_before = sim.stats().events;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sim.step());
  }
  report_events(state, sim.stats().events - events_before);
  state.counters["activities_per_solve"] = static_cast<double>(sim.stats().activities_resolved) /
                                           static_cast<double>(sim.stats().solves);
}

void BM_EngineDisjoint(benchmark::State& state) { run_steady_state(state, true); }

void BM_EngineChurn(benchmark::State& state) { run_steady_state(state, false); }

// One iteration = start N equal activities at once and run until all are done. Building the
// resources is setup (timing paused).
void BM_EngineCollectiveBurst(benchmark::State& state) {
  const int activities = static_cast<int>(state.range(0));
  std::uint64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      Simulator sim;
      std::vector<ActivitySpec> specs = build_layout(sim, activities, true);
      state.ResumeTiming();
      for (ActivitySpec& spec : specs) {
        spec.work = 1e6;
        sim.start(spec);
      }
      sim.run();
      events += sim.stats().events;
      state.PauseTiming();
    }  // destroying the simulator is not part of the measurement either
    state.ResumeTiming();
  }
  report_events(state, events);
}

// Names end in the argument (BM_EngineChurn/1000): the CTest smoke run selects /1000$.
BENCHMARK(BM_EngineDisjoint)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_EngineChurn)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_EngineCollectiveBurst)->Arg(1000)->Arg(10000)->Arg(100000);

}  // namespace
}  // namespace fmsim
