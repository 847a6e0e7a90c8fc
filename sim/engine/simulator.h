// The discrete-event, flow-level engine at the bottom of fmsim.
//
// Model. A Resource j has a capacity C_j (units per second: bytes/s, FLOP/s, ...). An Activity a
// first waits a fixed latency L_a, then performs W_a units of work at a rate r_a that the engine
// sets. While it works it consumes w_aj * r_a of every resource j it uses (w_aj is its weight on
// j: a ring all-reduce that pushes 1.75 bytes over a link per byte of progress has w = 1.75).
// Rates are the weighted max-min fair allocation (progressive filling):
//
//   r_a = s_a * lambda_a, where s_a is the activity's share (fairness weight), subject to
//   sum_a w_aj r_a <= C_j for every resource and r_a <= B_a (the activity's own bound);
//   lambda rises for all unfrozen activities together; when a resource saturates, every activity
//   on it is frozen at its current rate; an activity that reaches its bound is frozen there.
//
// Worked example (SimGrid's maxmin documentation uses the same shape): links L1 (C=10) and
// L2 (C=4); flow x uses L1 only, flow y uses L1 and L2, flow z uses L2 only, all weights and
// shares 1. L2 saturates first at lambda = 2 (y = z = 2); then L1 has 10 - 2 = 8 left for x,
// so x = 8. Rates (8, 2, 2).
//
// The allocation is re-solved only for the connected component (resources linked through shared
// activities) around activities that started or finished, after all events of one timestamp are
// applied. Completion times sit in one priority queue keyed by (time, sequence number); entries
// made stale by a rate change are skipped by version number. Same inputs, same event order.
//
// One timestamp, in order: (1) every event due at `now` is applied in insertion order (latency
// ends put activities into their work phase, completions take them out, timers fire); (2) the
// handler is called once per event, in the same order; events it schedules for `now` (a timer at
// now(), an activity with no latency and no work) are applied and reported the same way before
// going on; (3) the touched components are re-solved once, so activities the handler started at
// `now` share the resources from `now` on. rate() and bottleneck() are therefore up to date
// after step()/run() return, not inside a callback. An activity whose remaining work falls below
// 1e-12 * max(1, work) at a re-solve is finished then (floating-point dust, not a real event).
//
// Accuracy: the engine is fluid. It has no packets, no slow start and no queueing delay; those
// effects belong in an activity's latency or in its weights.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace fmsim {

using ResourceId = std::uint32_t;
using ActivityId = std::uint32_t;
inline constexpr ResourceId kNoResource = std::numeric_limits<ResourceId>::max();
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();

// One resource an activity consumes: `weight` units of the resource per unit of work progress.
struct Use {
  ResourceId resource = kNoResource;
  double weight = 1.0;
};

struct ActivitySpec {
  double latency_s = 0.0;     // fixed delay before the work starts
  double work = 0.0;          // units of work (bytes, FLOP, ...); 0 means latency only
  std::vector<Use> uses;      // resources consumed while working; may be empty if bound is finite
  double bound = kUnbounded;  // the activity's own rate cap (work units per second)
  double share = 1.0;         // fairness weight: contended rates are proportional to share
  std::uint64_t tag = 0;      // caller's cookie, handed back on completion
};

// Receives completions. The engine calls it from run()/step(); the handler may start activities
// and schedule timers from inside the callback.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void on_activity_done(ActivityId id, std::uint64_t tag) = 0;
  virtual void on_timer(std::uint64_t /*tag*/) {}
};

struct ResourceState {
  std::string name;
  double capacity = 0.0;   // units per second
  double load = 0.0;       // sum of w_aj * r_a of the activities now working on it
  double work_done = 0.0;  // integral of load over time: units carried so far
  double busy_s = 0.0;     // time with load > 0
};

// What happened in the engine: counters for benchmarks and sanity checks.
struct EngineStats {
  std::uint64_t events = 0;               // latency ends, completions and timers processed
  std::uint64_t solves = 0;               // incremental re-solves
  std::uint64_t activities_resolved = 0;  // activities visited by all solves together
};

// A resource-utilisation change, recorded only when tracing is on (for Perfetto link tracks).
struct LoadSample {
  double time_s;
  ResourceId resource;
  double utilization;  // load / capacity after the change
};

class Simulator {
 public:
  Simulator();
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Adds a resource with capacity in units per second (finite, > 0). Ids are dense, starting at 0.
  // Throws std::invalid_argument otherwise.
  ResourceId add_resource(std::string name, double capacity);

  // Starts an activity now. Ids are dense and never reused within one Simulator.
  // Throws std::invalid_argument if work < 0, latency < 0, a weight < 0,
  // a resource id is unknown, share <= 0, or work > 0 with no resource and no finite bound;
  // also if bound <= 0, or a number is NaN or (latency, work, share, weight) infinite. A use of
  // weight 0 consumes nothing and is ignored, so it does not count as a resource for that rule.
  ActivityId start(const ActivitySpec& spec);

  // Calls handler.on_timer(tag) at absolute time `at_s` (finite, >= now); throws
  // std::invalid_argument otherwise.
  void schedule_timer(double at_s, std::uint64_t tag);

  void set_handler(EventHandler* handler);

  // Processes every event at the next timestamp; returns false when nothing is left.
  // Events already due at now() (a timer scheduled for now(), an activity started with no latency
  // and no work) count as the next timestamp. Throws std::logic_error from inside a callback.
  bool step();
  // Runs until no event is left or the next event lies beyond until_s (time then stops at until_s).
  // Events at exactly until_s are processed. When the queue empties first, now() stays at the
  // last event's time. Throws std::logic_error from inside a callback, std::invalid_argument for
  // a NaN until_s.
  void run(double until_s = kUnbounded);

  double now() const;
  bool idle() const;  // no activity and no timer pending

  // Current rate of a working activity (0 while in its latency phase or after it finished).
  double rate(ActivityId id) const;
  // The resource that froze the activity's rate in the last solve, or kNoResource when its own
  // bound (or nothing) limited it.
  ResourceId bottleneck(ActivityId id) const;
  bool finished(ActivityId id) const;

  // The resource's state with load, work_done and busy_s brought up to now().
  // Accessors taking an id throw std::out_of_range for an id that was never handed out.
  const ResourceState& resource(ResourceId id) const;
  std::size_t resource_count() const;
  const EngineStats& stats() const;

  void set_load_tracing(bool on);
  const std::vector<LoadSample>& load_samples() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fmsim
