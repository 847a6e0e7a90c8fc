// Failure rates, the analytic run estimate and its Monte Carlo twin (the model is in
// reliability.h).
//
// The Monte Carlo draws its own uniforms and exponentials from the raw output of
// std::mt19937_64 (whose sequence the C++ standard fixes), because the algorithms behind
// std::uniform_real_distribution and std::exponential_distribution are implementation-defined:
//     u = (x >> 11) 2^-53 in [0, 1),      X = -log(1 - u) / rate = -log1p(-u) / rate.
// Time to the next failure is drawn in segment time and carried across segments (the exponential
// is memoryless, so this is the same process as a fresh draw per segment, with fewer draws).
#include "reliability/reliability.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cancel.h"
#include "data/embedded.h"
#include "error.h"
#include "random.h"

namespace fmsim {

namespace {

constexpr double kSecondsPerMinute = 60.0;
constexpr double kSecondsPerHour = 3600.0;
constexpr double kSecondsPerDay = 86400.0;

// Above this lambda s a segment expects e^30 ~ 1e13 failures: the run never finishes, and
// e^{lambda s} would soon overflow.
constexpr double kMaxFailureExposure = 30.0;
// A Monte Carlo trial walks every segment, failure and planned interruption; beyond this many
// expected events per trial the run is not a plan worth simulating (about 1e6 x 5 ns per trial).
constexpr double kMaxEventsPerTrial = 1e6;

constexpr char kIntervalPointer[] = "/workload/checkpoint/every_minutes";
constexpr char kReliabilityPointer[] = "/cluster/reliability";

void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(std::string("reliability: ") + message);
}

bool non_negative(double x) { return std::isfinite(x) && x >= 0.0; }

std::string hours(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g h", seconds / kSecondsPerHour);
  return text;
}

std::string count(double n) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", n);
  return text;
}

std::string minutes(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g min", seconds / kSecondsPerMinute);
  return text;
}

FailureScope parse_scope(const std::string& name) {
  for (FailureScope scope :
       {FailureScope::kGpu, FailureScope::kNode, FailureScope::kLink, FailureScope::kJob}) {
    if (to_string(scope) == name) return scope;
  }
  throw std::logic_error("reliability.json: unknown scope '" + name + "'");
}

double units_of(FailureScope scope, const ClusterCounts& counts) {
  switch (scope) {
    case FailureScope::kGpu:
      return counts.gpus;
    case FailureScope::kNode:
      return counts.nodes;
    case FailureScope::kLink:
      return counts.links;
    case FailureScope::kJob:
      return 1.0;
  }
  return 0.0;
}

// ---------------------------------------------------------------------------------------------
// Segments

// The run as n segments of `full_work_s` of work and, when W is not a multiple of tau, one last
// segment of `last_work_s`; each is followed by the checkpoint stall.
struct SegmentPlan {
  double full_count = 0.0;
  double full_work_s = 0.0;
  double last_work_s = 0.0;  // 0: no remainder segment

  double count() const { return full_count + (last_work_s > 0.0 ? 1.0 : 0.0); }
  double longest_work_s() const { return full_count > 0.0 ? full_work_s : last_work_s; }
};

SegmentPlan plan_segments(double useful_s, double interval_s) {
  SegmentPlan plan;
  plan.full_work_s = interval_s;
  plan.full_count = std::floor(useful_s / interval_s);
  const double remainder_s = useful_s - plan.full_count * interval_s;
  // A remainder of a rounding error (W an exact multiple of tau up to the last bit) is not a
  // segment of its own.
  if (remainder_s > 1e-9 * interval_s) plan.last_work_s = remainder_s;
  return plan;
}

void validate(const RunInputs& in) {
  require(non_negative(in.useful_s), "useful_s must be finite and >= 0");
  require(std::isfinite(in.interval_s) && in.interval_s > 0.0, "interval_s must be finite and > 0");
  require(non_negative(in.checkpoint_stall_s), "checkpoint_stall_s must be finite and >= 0");
  require(non_negative(in.failures.per_s), "failures.per_s must be finite and >= 0");
  require(non_negative(in.failures.replace_fraction) && in.failures.replace_fraction <= 1.0,
          "failures.replace_fraction must be in [0, 1]");
  require(non_negative(in.planned_per_s), "planned_per_s must be finite and >= 0");
  require(non_negative(in.durability_lag_s), "durability_lag_s must be finite and >= 0");
  const RecoveryTimes& r = in.recovery;
  for (double t :
       {r.detect_s, r.restart_s, r.reload_s, r.replace_with_spare_s, r.provision_s, r.repair_s}) {
    require(non_negative(t), "recovery times must be finite and >= 0");
  }
  require(r.spare_nodes >= 0, "recovery.spare_nodes must be >= 0");
}

// Throws when the run cannot finish (see expected_run in the header).
void check_feasible(const RunInputs& in, const SegmentPlan& plan) {
  const double lambda = in.failures.per_s;
  const double segment_s = plan.longest_work_s() + in.checkpoint_stall_s;
  if (plan.count() > 0.0 && lambda * segment_s > kMaxFailureExposure) {
    const double suggested_s = young_daly_interval_s(in.checkpoint_stall_s, 1.0 / lambda);
    char exposure[32];
    std::snprintf(exposure, sizeof exposure, "%.3g", lambda * segment_s);
    throw Error(ExitCode::kInfeasible, kIntervalPointer,
                "a checkpoint every " + hours(plan.longest_work_s()) + " (plus a " +
                    minutes(in.checkpoint_stall_s) + " stall) against a job MTBF of " +
                    hours(1.0 / lambda) + ": each segment would restart about e^" + exposure +
                    " times and the run never finishes; checkpoint more often (the Young/Daly "
                    "interval for this MTBF is " +
                    hours(suggested_s) + ")");
  }
  const double planned_cost_s = in.recovery.restart_s + in.recovery.reload_s;
  if (in.planned_per_s * planned_cost_s >= 1.0) {
    throw Error(ExitCode::kInfeasible, kReliabilityPointer,
                "a planned interruption every " + hours(1.0 / in.planned_per_s) + " that costs " +
                    hours(planned_cost_s) +
                    " of restart and reload leaves no time for training; planned "
                    "interruptions must be rarer than their cost");
  }
}

// Expected failures and lost work of one segment of s seconds: e^{lambda s} - 1 and
// (e^{lambda s} - 1)/lambda - s = s (expm1(x)/x - 1), x = lambda s, by its series for small x
// where the subtraction would cancel.
struct SegmentLoss {
  double failures = 0.0;
  double rework_s = 0.0;
};

SegmentLoss segment_loss(double lambda, double segment_s) {
  const double x = lambda * segment_s;
  if (x == 0.0) return {};
  const double failures = std::expm1(x);
  if (x < 1e-3) {
    return {failures, segment_s * x * (1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x / 120)))};
  }
  return {failures, failures / lambda - segment_s};
}

// Mean replacement time of one unexpected failure, with an unlimited spare pool if any.
double mean_replace_s(const RunInputs& in) {
  const RecoveryTimes& r = in.recovery;
  return in.failures.replace_fraction *
         (r.spare_nodes > 0 ? r.replace_with_spare_s : r.provision_s);
}

// ---------------------------------------------------------------------------------------------
// Monte Carlo

// The job's spare nodes and the failed nodes out for repair.
class SparePool {
 public:
  explicit SparePool(const RecoveryTimes& recovery)
      : recovery_(recovery), available_(recovery.spare_nodes) {}

  // Time to get a working node in place of one that failed at `now_s`; the failed node goes to
  // repair. With the pool empty, wait for the earliest repair and swap it in, or provision a new
  // node, whichever is sooner.
  double replace(double now_s) {
    const RecoveryTimes& r = recovery_;
    if (r.spare_nodes == 0) return r.provision_s;
    return_repaired(now_s);
    double wait_s = r.provision_s;
    if (available_ > 0) {
      --available_;
      wait_s = r.replace_with_spare_s;
    } else if (!in_repair_.empty() &&
               in_repair_.top() - now_s + r.replace_with_spare_s < r.provision_s) {
      wait_s = in_repair_.top() - now_s + r.replace_with_spare_s;
      in_repair_.pop();  // straight from repair into the job
    }
    in_repair_.push(now_s + r.repair_s);
    return wait_s;
  }

 private:
  // Repaired nodes rejoin the pool; a pool refilled by provisioning stays at spare_nodes (the
  // extra node is released).
  void return_repaired(double now_s) {
    while (!in_repair_.empty() && in_repair_.top() <= now_s) {
      in_repair_.pop();
      available_ = std::min(available_ + 1, recovery_.spare_nodes);
    }
  }

  const RecoveryTimes& recovery_;
  int available_;
  std::priority_queue<double, std::vector<double>, std::greater<>> in_repair_;  // done at
};

// One simulated run; the counts land in expected_failures and expected_planned.
RunEstimate simulate_run(const RunInputs& in, const SegmentPlan& plan, SeededRandom& random) {
  const RecoveryTimes& r = in.recovery;
  const double lambda = in.failures.per_s;
  const double planned_cost_s = r.restart_s + r.reload_s;
  SparePool spares(r);
  RunEstimate run;
  run.useful_s = in.useful_s;
  double now_s = 0.0;
  double to_failure_s = random.exponential(lambda);  // segment time left before the next failure
  double next_planned_s = random.exponential(in.planned_per_s);  // wall-clock arrival

  const auto run_segment = [&](double work_s) {
    const double segment_s = work_s + in.checkpoint_stall_s;
    while (to_failure_s < segment_s) {
      now_s += to_failure_s + in.durability_lag_s;
      run.rework_s += to_failure_s + in.durability_lag_s;
      run.expected_failures += 1.0;
      now_s += r.detect_s;
      run.detect_s += r.detect_s;
      if (random.uniform() < in.failures.replace_fraction) {
        const double wait_s = spares.replace(now_s);
        now_s += wait_s;
        run.replace_s += wait_s;
      }
      now_s += r.restart_s + r.reload_s;
      run.restart_s += r.restart_s;
      run.reload_s += r.reload_s;
      to_failure_s = random.exponential(lambda);
    }
    to_failure_s -= segment_s;
    now_s += segment_s;
    run.checkpoint_s += in.checkpoint_stall_s;
    // Planned interruptions that arrived meanwhile are taken at this checkpoint boundary, also
    // those arriving while an earlier one is being taken (as mu T in the analytic mean).
    while (next_planned_s <= now_s) {
      now_s += planned_cost_s;
      run.planned_s += planned_cost_s;
      run.expected_planned += 1.0;
      next_planned_s += random.exponential(in.planned_per_s);
    }
  };

  const auto full_segments = static_cast<std::int64_t>(plan.full_count);
  for (std::int64_t i = 0; i < full_segments; ++i) run_segment(plan.full_work_s);
  if (plan.last_work_s > 0.0) run_segment(plan.last_work_s);
  run.wall_s = now_s;
  return run;
}

void accumulate(RunEstimate& sum, const RunEstimate& run) {
  sum.useful_s += run.useful_s;
  sum.wall_s += run.wall_s;
  sum.expected_failures += run.expected_failures;
  sum.expected_planned += run.expected_planned;
  sum.checkpoint_s += run.checkpoint_s;
  sum.rework_s += run.rework_s;
  sum.detect_s += run.detect_s;
  sum.replace_s += run.replace_s;
  sum.restart_s += run.restart_s;
  sum.reload_s += run.reload_s;
  sum.planned_s += run.planned_s;
}

RunEstimate divided(RunEstimate sum, double n) {
  for (double* field : {&sum.useful_s, &sum.wall_s, &sum.expected_failures, &sum.expected_planned,
                        &sum.checkpoint_s, &sum.rework_s, &sum.detect_s, &sum.replace_s,
                        &sum.restart_s, &sum.reload_s, &sum.planned_s}) {
    *field /= n;
  }
  return sum;
}

}  // namespace

std::string to_string(FailureScope scope) {
  switch (scope) {
    case FailureScope::kGpu:
      return "gpu";
    case FailureScope::kNode:
      return "node";
    case FailureScope::kLink:
      return "link";
    case FailureScope::kJob:
      return "job";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Defaults

const ReliabilityDefaults& ReliabilityDefaults::builtin() {
  static const ReliabilityDefaults defaults = [] {
    const auto doc = nlohmann::json::parse(embedded_file("reliability.json"));
    const auto& sources = doc.at("sources");
    const auto source_of = [&](const nlohmann::json& entry) {
      const auto id = entry.at("source").get<std::string>();
      if (!sources.contains(id)) {
        throw std::logic_error("reliability.json: unknown source '" + id + "'");
      }
      return id;
    };

    ReliabilityDefaults d;
    const auto& ref = doc.at("reference");
    source_of(ref);
    d.reference.name = ref.at("name").get<std::string>();
    d.reference.gpus = ref.at("gpus").get<double>();
    d.reference.nodes = ref.at("nodes").get<double>();
    d.reference.links = ref.at("network_links").get<double>();
    d.reference.days = ref.at("days").get<double>();
    d.reference.unexpected = ref.at("unexpected").get<double>();
    d.reference.planned = ref.at("planned").get<double>();
    const ClusterCounts reference_counts{d.reference.gpus, d.reference.nodes, d.reference.links};

    double interruptions_total = 0.0;
    for (const auto& entry : doc.at("classes")) {
      const double interruptions = entry.at("interruptions").get<double>();
      interruptions_total += interruptions;
      FailureClass c;
      c.name = entry.at("name").get<std::string>();
      c.scope = parse_scope(entry.at("scope").get<std::string>());
      c.per_unit_per_day = interruptions / (units_of(c.scope, reference_counts) * d.reference.days);
      c.needs_replacement = entry.at("needs_replacement").get<bool>();
      c.source = sources.at(source_of(entry)).at("url").get<std::string>() + ", " +
                 entry.at("location").get<std::string>();
      d.classes.push_back(std::move(c));
    }
    if (interruptions_total != d.reference.unexpected) {
      throw std::logic_error(
          "reliability.json: the classes' interruptions do not sum to "
          "reference.unexpected");
    }

    source_of(doc.at("planned"));
    d.planned_per_node_day = d.reference.planned / (d.reference.nodes * d.reference.days);

    const auto& recovery = doc.at("recovery");
    const auto value = [&](const char* key) {
      source_of(recovery.at(key));
      return recovery.at(key).at("value").get<double>();
    };
    d.recovery.detect_s = value("detect_minutes") * kSecondsPerMinute;
    d.recovery.restart_s = value("restart_minutes") * kSecondsPerMinute;
    d.recovery.replace_with_spare_s = value("replace_with_spare_minutes") * kSecondsPerMinute;
    d.recovery.provision_s = value("provision_minutes") * kSecondsPerMinute;
    d.recovery.repair_s = value("repair_hours") * kSecondsPerHour;
    return d;
  }();
  return defaults;
}

// ---------------------------------------------------------------------------------------------
// Failure rate

double FailureRate::mtbf_s() const {
  return per_s > 0.0 ? 1.0 / per_s : std::numeric_limits<double>::infinity();
}

FailureRate job_failure_rate(const std::vector<FailureClass>& classes,
                             const ClusterCounts& counts) {
  require(non_negative(counts.gpus) && non_negative(counts.nodes) && non_negative(counts.links),
          "cluster counts must be finite and >= 0");
  FailureRate rate;
  double replace_per_s = 0.0;
  for (const FailureClass& c : classes) {
    require(non_negative(c.per_unit_per_day), "failure rates must be finite and >= 0");
    const double per_s = c.per_unit_per_day * units_of(c.scope, counts) / kSecondsPerDay;
    rate.per_s += per_s;
    rate.per_s_by_class[c.name] += per_s;
    if (c.needs_replacement) replace_per_s += per_s;
  }
  rate.replace_fraction = rate.per_s > 0.0 ? replace_per_s / rate.per_s : 0.0;
  return rate;
}

double young_daly_interval_s(double checkpoint_cost_s, double mtbf_s) {
  require(!std::isnan(checkpoint_cost_s) && checkpoint_cost_s >= 0.0,
          "checkpoint_cost_s must be >= 0");
  require(!std::isnan(mtbf_s) && mtbf_s >= 0.0, "mtbf_s must be >= 0");
  if (checkpoint_cost_s == 0.0) return 0.0;  // free checkpoints: as often as possible (0 x inf)
  return std::sqrt(2.0 * checkpoint_cost_s * mtbf_s);
}

// ---------------------------------------------------------------------------------------------
// Analytic mean

double RunEstimate::goodput() const { return wall_s > 0.0 ? useful_s / wall_s : 1.0; }

RunEstimate expected_run(const RunInputs& in) {
  validate(in);
  const SegmentPlan plan = plan_segments(in.useful_s, in.interval_s);
  check_feasible(in, plan);
  const double lambda = in.failures.per_s;
  const double stall_s = in.checkpoint_stall_s;

  RunEstimate run;
  run.useful_s = in.useful_s;
  const SegmentLoss full = segment_loss(lambda, plan.full_work_s + stall_s);
  run.expected_failures = plan.full_count * full.failures;
  run.rework_s = plan.full_count * full.rework_s;
  if (plan.last_work_s > 0.0) {
    const SegmentLoss last = segment_loss(lambda, plan.last_work_s + stall_s);
    run.expected_failures += last.failures;
    run.rework_s += last.rework_s;
  }
  run.checkpoint_s = plan.count() * stall_s;
  run.rework_s += run.expected_failures * in.durability_lag_s;
  run.detect_s = run.expected_failures * in.recovery.detect_s;
  run.replace_s = run.expected_failures * mean_replace_s(in);
  run.restart_s = run.expected_failures * in.recovery.restart_s;
  run.reload_s = run.expected_failures * in.recovery.reload_s;
  const double failure_wall_s = run.useful_s + run.checkpoint_s + run.rework_s + run.detect_s +
                                run.replace_s + run.restart_s + run.reload_s;

  // T = T_fail / (1 - mu c): the planned share is T_fail mu c / (1 - mu c).
  const double planned_load = in.planned_per_s * (in.recovery.restart_s + in.recovery.reload_s);
  run.planned_s = failure_wall_s * planned_load / (1.0 - planned_load);
  run.wall_s = failure_wall_s + run.planned_s;
  run.expected_planned = in.planned_per_s * run.wall_s;
  return run;
}

// ---------------------------------------------------------------------------------------------
// Monte Carlo

MonteCarloResult monte_carlo_run(const RunInputs& in, int trials, std::uint64_t seed) {
  require(trials >= 1, "trials must be >= 1");
  const RunEstimate analytic = expected_run(in);  // validates and checks feasibility
  const SegmentPlan plan = plan_segments(in.useful_s, in.interval_s);
  const double events = plan.count() + analytic.expected_failures + analytic.expected_planned;
  if (events > kMaxEventsPerTrial) {
    throw Error(ExitCode::kInfeasible, kIntervalPointer,
                "the run has " + count(plan.count()) + " checkpoints, " +
                    count(analytic.expected_failures) + " expected failures and " +
                    count(analytic.expected_planned) +
                    " planned interruptions: more than the Monte Carlo simulates per trial (1e6); "
                    "checkpoint less often or make failures rarer");
  }

  SeededRandom random(seed);
  std::vector<double> walls_s;
  walls_s.reserve(static_cast<std::size_t>(trials));
  RunEstimate sum;
  for (int trial = 0; trial < trials; ++trial) {
    const RunEstimate run = simulate_run(in, plan, random);
    walls_s.push_back(run.wall_s);
    accumulate(sum, run);
    report_progress(trial + 1, trials);
  }

  MonteCarloResult result;
  result.trials = trials;
  result.seed = seed;
  result.mean = divided(sum, trials);
  result.mean_wall_s = result.mean.wall_s;
  result.mean_failures = result.mean.expected_failures;
  double squares = 0.0;
  for (double wall_s : walls_s)
    squares += (wall_s - result.mean_wall_s) * (wall_s - result.mean_wall_s);
  result.stdev_wall_s = trials > 1 ? std::sqrt(squares / (trials - 1)) : 0.0;
  std::sort(walls_s.begin(), walls_s.end());
  result.p50_wall_s = nearest_rank(walls_s, 50);
  result.p90_wall_s = nearest_rank(walls_s, 90);
  result.p99_wall_s = nearest_rank(walls_s, 99);
  return result;
}

}  // namespace fmsim
