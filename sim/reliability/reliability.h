// Failures, checkpoints and restarts of a long training run: how much wall time a run of W
// seconds of useful work takes on a cluster that fails.
//
// Failure rate. Each failure class c (sim/data/reliability.json, from the Llama 3 405B run:
// Grattafiori et al. 2024, arXiv:2407.21783, section 3.3.4 and Table 5) has a rate per unit per
// day, derived from the published counts as
//     r_c = interruptions_c / (units_c(reference cluster) x reference days),
// where units are GPUs, nodes, network links or 1 (the job) by the class's scope. A synchronous
// job stops when any unit fails, so its failure rate adds up over classes and units:
//     lambda = sum_c r_c x units_c(cluster) / 86,400 s       (per second, linear in cluster size)
// and the share of lambda from classes that need a node replaced is replace_fraction.
// Example: the reference cluster itself (16,384 GPUs, 2,048 nodes, 16,384 links) gets back
// 419 / 54 = 7.759 interruptions per day, an MTBF of 3.09 h; 356 / 419 of them need a new node.
//
// Run. W seconds of work are cut into segments of tau seconds of work, each followed by a
// checkpoint stall delta; a segment lasts s = tau + delta (the last one r + delta, r = W - n tau,
// n = floor(W / tau)). Failures are Poisson(lambda) in segment time; a failure loses the elapsed
// part of its segment (rework) and costs a recovery
//     R = detect + restart + reload + replace,
//     replace = 0 without replacement, else (spares > 0 ? replace_with_spare : provision),
// after which the segment starts again from its checkpoint. The number of failures before a
// segment gets through is geometric with success probability e^{-lambda s}, so it averages
// e^{lambda s} - 1, and each loses E[X | X < s] = 1/lambda - s / (e^{lambda s} - 1) of work; the
// expected time to finish one segment is then exactly
//     E[s] = (e^{lambda s} - 1) (1/lambda + E[R])        (-> s as lambda -> 0).
// Daly (2006), "A higher order estimate of the optimum checkpoint interval for restart dumps",
// FGCS 22(3):303-312, derives M e^{R/M} (e^{s/M} - 1) per segment (M = 1/lambda): the same form,
// with R in the exponent because he lets failures strike during a restart. The run's failure
// time T_fail is the sum of E[s] over all segments.
// Planned interruptions (maintenance, 47 in the 54 days of the reference) arrive at mu per second
// of wall time, wait for the next checkpoint boundary (no rework) and cost restart + reload each:
//     T = T_fail / (1 - mu (restart + reload)),      expected planned = mu T.
// Worked example (tests/reliability): lambda = 1/h, tau = 1 h, delta = 0, R = 0:
//     E[s] = (e - 1) h = 1.718 h per segment, 1.718 failures each.
//
// Checkpoint interval. Young (1974), "A first order approximation to the optimum checkpoint
// interval", CACM 17(9), and Daly (2006) to first order: tau_opt = sqrt(2 delta M), M = 1/lambda.
// Llama 3's MTBF of 3.09 h and a 5-minute stall give tau_opt = sqrt(2 x 300 x 11,135) = 2,585 s.
//
// Assumptions and where they stop being accurate:
//   - Failures are memoryless (exponential) with rates measured on one cluster in one period (no
//     infant mortality, ageing or correlated failures); rates scale linearly with unit counts.
//   - Failures during a recovery or a planned interruption are not modelled: accurate while the
//     recovery is short against the MTBF (lambda R << 1).
//   - A failure during the checkpoint stall loses the whole segment (the checkpoint is not valid
//     until written); asynchronous checkpointing is modelled by the caller as a smaller delta.
//   - The analytic mean assumes a spare is always available when spares > 0; monte_carlo_run
//     simulates the finite pool and the repair time.
//   - Recovery times are fmsim assumptions (reliability.json says why); reload_s comes from the
//     caller's storage model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fmsim {

// What a failure class is counted per; a class's rate scales with the cluster's count of it.
enum class FailureScope { kGpu, kNode, kLink, kJob };
std::string to_string(FailureScope scope);  // "gpu", "node", "link", "job"

struct FailureClass {
  std::string name;
  FailureScope scope = FailureScope::kGpu;
  double per_unit_per_day = 0.0;   // interruptions per unit of `scope` per day
  bool needs_replacement = false;  // the node at fault leaves the job (else a restart fixes it)
  std::string source;              // citation, for reports
};

// Costs of one interruption, in seconds.
struct RecoveryTimes {
  double detect_s = 0.0;              // fault -> job torn down
  double restart_s = 0.0;             // relaunch, rendezvous, NCCL init
  double reload_s = 0.0;              // read the last checkpoint back (the storage model's time)
  double replace_with_spare_s = 0.0;  // swap in a node from the spare pool
  double provision_s = 0.0;           // get a new node when no spare is at hand
  double repair_s = 0.0;              // a failed node returns to the spare pool after this
  int spare_nodes = 0;                // size of the job's spare pool (0: always provision)
};

// The cluster and period the built-in counts were observed on (Llama 3 405B).
struct ReliabilityReference {
  std::string name;
  double gpus = 0.0, nodes = 0.0, links = 0.0, days = 0.0;
  double unexpected = 0.0, planned = 0.0;  // interruptions in `days`
};

// Built-in failure classes, planned-interruption rate and recovery times
// (sim/data/reliability.json). recovery.reload_s is 0 and spare_nodes 0: the caller sets them.
struct ReliabilityDefaults {
  std::vector<FailureClass> classes;
  double planned_per_node_day = 0.0;  // planned interruptions per node-day
  RecoveryTimes recovery;
  ReliabilityReference reference;
  static const ReliabilityDefaults& builtin();
};

// Units a cluster has of each scope (doubles: they multiply rates).
struct ClusterCounts {
  double gpus = 0.0, nodes = 0.0, links = 0.0;
};

struct FailureRate {
  double per_s = 0.0;             // lambda, unexpected interruptions of the job per second
  double replace_fraction = 0.0;  // share of lambda that needs a node replaced, in [0, 1]
  std::map<std::string, double> per_s_by_class;
  double mtbf_s() const;  // 1 / lambda; +infinity when lambda = 0
};

// lambda of a job on `counts` (the header's first formula). Throws std::invalid_argument on
// negative or NaN counts or rates.
FailureRate job_failure_rate(const std::vector<FailureClass>& classes, const ClusterCounts& counts);

// Young/Daly first-order optimum work between checkpoints, sqrt(2 delta M): +infinity when M is
// (and delta > 0), 0 when delta is.
double young_daly_interval_s(double checkpoint_cost_s, double mtbf_s);

struct RunInputs {
  double useful_s = 0.0;            // W: the run's work with no failures and no checkpoints
  double interval_s = 0.0;          // tau: work between checkpoints
  double checkpoint_stall_s = 0.0;  // delta: training stalled per checkpoint
  FailureRate failures;
  double planned_per_s = 0.0;  // mu: planned interruptions per second of wall time
  RecoveryTimes recovery;
  // L: time from the end of a checkpoint's stall until a durable copy exists (an asynchronous
  // write, an upload from NVMe). A failure in that window falls back to the checkpoint before,
  // losing one more segment; with failures spread evenly over a segment of s that happens with
  // probability L / s and costs s, so each failure adds L of rework on average (first order;
  // L <= tau is the caller's duty: a checkpoint must be durable before the next one).
  double durability_lag_s = 0.0;
};

// Where the wall time goes. wall_s = useful_s + checkpoint_s + rework_s + detect_s + replace_s
// + restart_s + reload_s + planned_s; restart_s and reload_s count unexpected failures only,
// planned_s the planned interruptions' restarts and reloads.
struct RunEstimate {
  double useful_s = 0.0, wall_s = 0.0;
  double expected_failures = 0.0, expected_planned = 0.0;
  double checkpoint_s = 0.0, rework_s = 0.0, detect_s = 0.0, replace_s = 0.0, restart_s = 0.0,
         reload_s = 0.0, planned_s = 0.0;
  double goodput() const;  // useful_s / wall_s (1 for an empty run)
};

// The analytic mean of the header's model. Throws fmsim::Error(kInfeasible) when a segment is
// hopeless (lambda s > 30, at /workload/checkpoint/every_minutes) or planned interruptions never
// let the run finish (mu (restart + reload) >= 1, at /cluster/reliability); std::invalid_argument
// on negative, NaN or infinite inputs, a zero interval or a replace_fraction outside [0, 1].
RunEstimate expected_run(const RunInputs& in);

struct MonteCarloResult {
  int trials = 0;
  std::uint64_t seed = 0;
  double mean_wall_s = 0.0, stdev_wall_s = 0.0;                 // stdev: sample (n - 1) over trials
  double p50_wall_s = 0.0, p90_wall_s = 0.0, p99_wall_s = 0.0;  // nearest-rank percentiles
  double mean_failures = 0.0;
  RunEstimate mean;  // each field averaged over the trials
};

// Simulates the run `trials` times with a finite spare pool: a replaced node goes to repair and
// returns to the pool after repair_s; with the pool empty the job waits for the earliest repair
// (plus the swap) or provisions, whichever is sooner. Bit-identical for a seed on every standard
// library (mt19937_64 with fmsim's own uniform and exponential transforms; only std::log1p
// comes from the C library). Planned interruptions that arrive during the last segment are
// still taken, as in the analytic mean mu T. Same errors as expected_run, plus kInfeasible when a
// trial would walk more than 1e6 segments, failures and planned interruptions;
// std::invalid_argument if trials < 1.
MonteCarloResult monte_carlo_run(const RunInputs& in, int trials, std::uint64_t seed);

}  // namespace fmsim
