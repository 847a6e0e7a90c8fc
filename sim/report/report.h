// What a simulation produced, and its renderings: the JSON report (DESIGN.md section 5), the text
// report, CSV rows and a Chrome trace that Perfetto opens. Units inside are SI (seconds, bytes,
// bytes/s); the renderers convert to us, GB/s (1e9 bytes/s, as nccl-tests prints) and so on.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace fmsim {

// One row of the collective stage, as nccl-tests prints it plus fmsim's explanation.
struct CollectiveRow {
  double bytes = 0.0;
  long long count = 0;  // elements of `type`
  std::string type;
  std::string redop;
  double time_s = 0.0;
  double algbw_bytes_per_s = 0.0;
  double busbw_bytes_per_s = 0.0;
  std::string algorithm;
  std::string protocol;
  int channels = 0;
  std::string limited_by;         // link kind and name, or the protocol cap
  double predicted_time_s = 0.0;  // what the NCCL-like tuner expected when it chose
};

struct CollectiveResult {
  std::string op;
  int ranks = 0;
  int nodes = 0;
  int nvlink_domains = 0;
  std::vector<CollectiveRow> rows;
  double avg_busbw_bytes_per_s = 0.0;  // nccl-tests' "Avg bus bandwidth"
};

// Data loading of a training step (storage/storage.h).
struct DataReport {
  std::string tier;             // where reads come from (the cache when one is staged)
  std::string source_tier;      // where the dataset lives
  double bytes_per_step = 0.0;  // all readers together
  int reading_nodes = 0;
  double bytes_per_node = 0.0;
  double request_bytes = 0.0;
  double read_s = 0.0;  // one step's read on the busiest node, alone
  double first_batch_s = 0.0;
  std::string limited_by;
  double staging_s = 0.0;  // copying the dataset to the cache before training
  std::string staging_limited_by;
};

struct CheckpointReport {
  bool enabled = false;
  std::string tier, upload_to, mode;
  double bytes = 0.0, bytes_per_node = 0.0;
  double fixed_s = 0.0, snapshot_s = 0.0, write_s = 0.0, upload_s = 0.0, stall_s = 0.0,
         restore_s = 0.0;
  double interval_s = 0.0;      // training time between checkpoints
  std::string interval_source;  // "scenario", "Young/Daly" or "durability (write + upload)"
  double count = 0.0;           // checkpoints in the run
  std::string write_limited_by, restore_limited_by;
};

// How long the run really takes (reliability/reliability.h), seconds unless named otherwise.
struct RunReport {
  bool failures_modelled = false;
  double failures_per_day = 0.0, mtbf_s = 0.0, replace_fraction = 0.0, planned_per_day = 0.0;
  std::map<std::string, double> failures_per_day_by_class;
  int spare_nodes = 0;
  double detect_s = 0.0, restart_s = 0.0, replace_s = 0.0, provision_s = 0.0;
  double useful_s = 0.0, wall_s = 0.0;
  double goodput = 1.0, checkpoint_overhead = 0.0;
  double expected_failures = 0.0, expected_planned = 0.0;
  std::map<std::string, double> lost_s;  // by cause
  // Monte-Carlo distribution of the wall time (trials 0: not run)
  int trials = 0;
  unsigned long long seed = 0;
  double mc_mean_s = 0.0, mc_stdev_s = 0.0, mc_p50_s = 0.0, mc_p90_s = 0.0, mc_p99_s = 0.0;
};

struct CostReport {
  double compute = 0.0, spares = 0.0, fsx_lustre = 0.0, s3_storage = 0.0, s3_requests = 0.0;
  double total() const { return compute + spares + fsx_lustre + s3_storage + s3_requests; }
};

// The training stages (pretrain, sft): one simulated step and what it implies for the run.
struct TrainingReport {
  // layout
  int tp = 1, pp = 1, cp = 1, ep = 1, dp = 1, vpp = 1, microbatches = 1, gpus = 0;
  std::vector<int> layers_per_stage;
  std::string simulation_mode;  // "symmetric" or "full"
  int simulated_ranks = 0;
  std::size_t tasks = 0;
  // step (seconds)
  double step_s = 0, compute_s = 0, bubble_s = 0, data_stall_s = 0, optimizer_s = 0;
  std::map<std::string, double> exposed_comm_s;  // by kind
  // throughput
  double tokens_per_step = 0, tokens_per_s = 0, tokens_per_s_per_gpu = 0;
  double tflops_per_gpu = 0, mfu = 0, hfu = 0;
  // memory (bytes)
  double weights = 0, grads = 0, optimizer = 0, activations = 0, other = 0, capacity = 0;
  bool fits = true;
  std::vector<std::string> memory_suggestions;
  double step_compute_s = 0;  // the simulated step without the data stall
  bool estimated = false;     // throughput, data, checkpoint, run and cost were computed
  DataReport data;
  CheckpointReport checkpoint;
  // run
  double steps = 0, days = 0, gpu_hours = 0;
  RunReport run;
  // cost
  double usd_per_hour = 0, usd = 0, usd_per_million_tokens = 0;
  std::string price_source;
  CostReport cost;

  double exposed_comm_total() const;
  double memory_total() const { return weights + grads + optimizer + activations + other; }
};

// A timeline for Perfetto: spans on (process, thread) tracks and counter samples.
struct TraceSpan {
  std::string name;
  std::string category;
  int pid = 0;
  int tid = 0;
  double start_s = 0.0;
  double duration_s = 0.0;
  nlohmann::json args;
};
struct TraceCounter {
  std::string name;  // one counter track per name
  int pid = 0;
  double time_s = 0.0;
  double value = 0.0;
};
struct Trace {
  std::vector<std::pair<int, std::string>> process_names;
  std::vector<std::tuple<int, int, std::string>> thread_names;
  std::vector<TraceSpan> spans;
  std::vector<TraceCounter> counters;
};

// p50 and p99 (nearest rank) and the mean of a sample.
struct Percentiles {
  double p50 = 0.0, p99 = 0.0, mean = 0.0;
};

// The inference stage (workload/inference.h).
struct InferenceResult {
  int replicas = 0, tp = 1, ep = 1, pp = 1, gpus_per_replica = 1, gpus = 0;
  double weights_bytes_per_gpu = 0.0, kv_bytes_per_gpu = 0.0, kv_bytes_per_token_per_gpu = 0.0;
  double kv_tokens_per_replica = 0.0;
  long long kv_blocks_per_replica = 0;
  int prompts = 0, sequences = 0;
  double input_tokens = 0.0, output_tokens = 0.0;
  double duration_s = 0.0;  // first arrival to last completion
  double output_tokens_per_s = 0.0, input_tokens_per_s = 0.0, requests_per_s = 0.0;
  Percentiles ttft_s, tpot_s, e2e_s;
  double kv_cache_peak_fraction = 0.0;
  double mean_batch = 0.0;          // sequences per iteration, over all replicas' iterations
  double mean_in_system = 0.0;      // time-average prompts in the system (Little's L)
  double arrival_rate_per_s = 0.0;  // prompts / (last arrival - first arrival) (Little's lambda)
  long long iterations = 0, preemptions = 0;
  double busy_fraction = 0.0;  // share of replica time spent in iterations
  int prefill_replicas = 0;    // disaggregated serving (0: every replica does both)
  long long kv_transfers = 0;
  double kv_transfer_s_mean = 0.0;
  // sizing for the scenario's SLOs (slo_probes 0: no ttft/tpot expectation or no finite rate)
  double slo_ttft_p99_s = 0.0, slo_tpot_p99_s = 0.0, slo_target_rate_per_s = 0.0;
  double slo_rate_per_replica = 0.0;
  int slo_replicas = 0, slo_gpus = 0, slo_probes = 0;
  // cost
  double usd_per_hour = 0.0, usd = 0.0, usd_per_million_output_tokens = 0.0,
         usd_per_million_tokens = 0.0, usd_per_prompt = 0.0;
  std::string price_source;
  Trace trace;  // with --trace: batch and KV-cache counters per replica
};

// The RL stage (workload/rl.h): one iteration of the loop.
struct RlResult {
  std::string algorithm, placement;
  int trainer_gpus = 0, rollout_gpus = 0;
  int prompts = 0, samples = 0;
  double generated_tokens = 0.0, sequence_tokens = 0.0;  // per iteration
  double rollout_s = 0.0, scoring_s = 0.0, train_s = 0.0, sync_s = 0.0, iteration_s = 0.0;
  double weight_bytes = 0.0;
  double trainer_idle_fraction = 0.0, rollout_idle_fraction = 0.0;
  double rollout_busy_fraction = 0.0;  // of the rollout phase itself
  double train_mfu = 0.0;
  double samples_per_s = 0.0, generated_tokens_per_s = 0.0;
  double iterations = 0.0, days = 0.0;
  double usd_per_hour = 0.0, usd_per_iteration = 0.0, usd = 0.0;
  std::string price_source;
};

struct ExpectationResult {
  std::string name;
  double limit = 0.0;
  double value = 0.0;
  bool ok = true;
};

struct Report {
  std::string stage;
  std::string scenario_name;
  std::string scenario_origin;  // file path, or "embedded default (...)"
  nlohmann::json scenario;      // the resolved scenario
  std::string cluster_summary;  // one line: nodes, instance, GPUs, links
  std::optional<CollectiveResult> collective;
  std::optional<TrainingReport> training;
  std::optional<InferenceResult> inference;
  std::optional<RlResult> rl;
  std::string infeasible;  // non-empty: why the scenario cannot run (exit code 3)
  std::vector<ExpectationResult> expectations;
  std::vector<std::string> notes;
  Trace trace;
  // The calibration profile the run used ("" for the catalog defaults), what of it was applied
  // and what not (calibration/profile.h).
  std::string calibration;
  std::vector<std::string> calibration_applied, calibration_skipped;

  bool expectations_met() const;
};

nlohmann::json to_json(const Report& report);
// `text` with <, >, & and " escaped, for SVG and XML output.
std::string xml_escape(const std::string& text);
std::string render_text(const Report& report);
// CSV of the stage's rows (the collective table), with a header line.
std::string render_csv(const Report& report);
// Chrome trace event format (JSON object with traceEvents), times in microseconds.
nlohmann::json render_trace(const Report& report);

}  // namespace fmsim
