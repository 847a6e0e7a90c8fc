#include "workload/run.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "cancel.h"
#include "collectives/collectives.h"
#include "cost/cost.h"
#include "engine/simulator.h"
#include "error.h"
#include "execute/compute.h"
#include "reliability/reliability.h"
#include "storage/storage.h"
#include "topology/topology.h"
#include "workload/inference.h"
#include "workload/rl.h"
#include "workload/training.h"

namespace fmsim {
namespace {

constexpr int kLinkTracePid = 1 << 20;  // Perfetto process that holds the link counters

// Records when each collective finished, keyed by the activity tag.
class CompletionLog : public EventHandler {
 public:
  void on_activity_done(ActivityId /*id*/, std::uint64_t tag) override { done_s[tag] = now(); }
  void attach(Simulator& sim) {
    sim_ = &sim;
    sim.set_handler(this);
  }
  double now() const { return sim_->now(); }
  std::map<std::uint64_t, double> done_s;

 private:
  Simulator* sim_ = nullptr;
};

// A report with the scenario's identity filled in.
Report report_for(const Scenario& s, const RunOptions& options) {
  Report report;
  report.stage = s.workload.stage;
  report.scenario_name = s.name;
  report.scenario_origin = options.scenario_origin;
  report.scenario = to_json(s);
  if (s.profile) report.calibration = s.profile->path;
  return report;
}

// The scenario's calibration profile applied to its GPU, or null without a profile.
std::shared_ptr<const CalibratedParameters> calibrated_parameters(const Scenario& s,
                                                                  const GpuSpec& gpu) {
  if (!s.profile) return nullptr;
  return std::make_shared<const CalibratedParameters>(
      apply_profile(s.profile.get(), gpu, ComputeDefaults::builtin(), network_defaults()));
}

void note_calibration(Report& report, const CalibratedParameters* parameters) {
  if (parameters == nullptr) return;
  report.calibration_applied = parameters->applied;
  report.calibration_skipped = parameters->skipped;
}

bool splits_buffer_over_ranks(CollectiveOp op) {
  return op == CollectiveOp::kAllGather || op == CollectiveOp::kReduceScatter ||
         op == CollectiveOp::kAllToAll;
}

std::string cluster_summary(const Scenario& s, const InstanceSpec& instance, const GpuSpec& gpu) {
  char text[512];
  std::snprintf(
      text, sizeof text,
      "%d x %s = %d x %s; NVLink %.1f GB/s per GPU per direction (NCCL effective), "
      "domain %d GPUs; EFA %d x %.0f Gbit/s per node; rail fat tree, oversubscription %.2g",
      s.cluster.nodes, instance.name.c_str(), s.cluster.nodes * instance.gpus_per_node,
      gpu.name.c_str(), gpu.nvlink_links * gpu.nvlink_link_effective_bw_bytes_per_s / 1e9,
      instance.nvlink_domain_gpus, instance.efa_nics, instance.efa_nic_bw_bytes_per_s * 8 / 1e9,
      s.cluster.network.oversubscription);
  return text;
}

// What bounds a collective's time: its fixed latency when that is most of it, else the link that
// froze its rate in the solver, else the protocol's bandwidth cap.
std::string limited_by(const Simulator& sim, const Topology& topology, const LoadPattern& pattern,
                       ActivityId id, double time_s) {
  if (pattern.latency_s >= 0.5 * time_s) return "latency";
  const ResourceId bottleneck = sim.bottleneck(id);
  if (bottleneck == kNoResource) {
    return std::isfinite(pattern.bound) ? "protocol cap (" + to_string(pattern.protocol) + ")"
                                        : "latency";
  }
  return to_string(topology.kind_of(bottleneck)) + " " + sim.resource(bottleneck).name;
}

void add_link_counters(const Simulator& sim, Trace& trace) {
  trace.process_names.emplace_back(kLinkTracePid, "links (utilization)");
  std::vector<bool> busy(sim.resource_count(), false);
  for (const auto& sample : sim.load_samples()) {
    if (sample.utilization > 0) busy[sample.resource] = true;
  }
  for (const auto& sample : sim.load_samples()) {
    if (!busy[sample.resource]) continue;
    trace.counters.push_back(
        {sim.resource(sample.resource).name, kLinkTracePid, sample.time_s, sample.utilization});
  }
}

Report run_collective(const Scenario& s, const Catalog& catalog, const RunOptions& options) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const GpuSpec& gpu = catalog.gpu_of(instance);
  const CollectiveWorkload& w = s.workload.collective;

  Simulator sim;
  sim.set_load_tracing(options.trace);
  CompletionLog log;
  log.attach(sim);
  const auto calibrated = calibrated_parameters(s, gpu);
  Topology topology(instance, calibrated ? calibrated->gpu : gpu, s.cluster.nodes,
                    s.cluster.network, network_defaults(calibrated.get()), sim);
  CollectiveModel model(topology, sim, NcclTuning::builtin(), w.options);

  Communicator comm;
  const int ranks = w.ranks > 0 ? w.ranks : topology.gpus();
  for (int r = 0; r < ranks; ++r) comm.gpus.push_back(r);

  Report report = report_for(s, options);
  note_calibration(report, calibrated.get());
  report.cluster_summary = cluster_summary(s, instance, gpu);

  CollectiveResult result;
  result.op = to_string(w.op);
  result.ranks = ranks;
  result.nodes = s.cluster.nodes;
  result.nvlink_domains = model.domains(comm);

  if (options.trace) {
    for (int node = 0; node < (ranks + topology.gpus_per_node() - 1) / topology.gpus_per_node();
         ++node) {
      report.trace.process_names.emplace_back(node, "node " + std::to_string(node));
    }
    for (int r = 0; r < ranks; ++r) {
      report.trace.thread_names.emplace_back(topology.node_of(r), r,
                                             "rank " + std::to_string(r) + " comm stream");
    }
  }

  const int element = dtype_bytes(w.dtype);
  const double bus_factor = bus_bandwidth_factor(w.op, ranks);
  double busbw_sum = 0.0;
  std::uint64_t tag = 0;
  const std::vector<double> sizes = sweep_sizes(w, ranks);
  for (double bytes : sizes) {
    throw_if_cancelled();
    report_progress(static_cast<double>(tag), static_cast<double>(sizes.size()));
    const CollectiveChoice choice = model.choose(w.op, comm, bytes);
    const double start_s = sim.now();
    const ActivityId id = sim.start(CollectiveModel::activity(*choice.pattern, bytes, tag));
    sim.run();
    const double time_s = log.done_s.at(tag) - start_s;
    ++tag;

    CollectiveRow row;
    row.bytes = bytes;
    row.count = static_cast<long long>(bytes / element);
    row.type = w.dtype;
    row.redop = w.redop;
    row.time_s = time_s;
    row.algbw_bytes_per_s = bytes / time_s;
    row.busbw_bytes_per_s = row.algbw_bytes_per_s * bus_factor;
    row.algorithm = to_string(choice.pattern->algorithm);
    row.protocol = to_string(choice.pattern->protocol);
    row.channels = choice.pattern->channels;
    row.limited_by = limited_by(sim, topology, *choice.pattern, id, time_s);
    row.predicted_time_s = choice.predicted_time_s;
    busbw_sum += row.busbw_bytes_per_s;
    result.rows.push_back(row);

    if (options.trace) {
      const std::string name =
          result.op + " " + std::to_string(static_cast<long long>(bytes)) + " B";
      for (int r = 0; r < ranks; ++r) {
        report.trace.spans.push_back({name,
                                      "collective",
                                      topology.node_of(r),
                                      r,
                                      start_s,
                                      time_s,
                                      {{"algorithm", row.algorithm},
                                       {"protocol", row.protocol},
                                       {"limited_by", row.limited_by}}});
      }
    }
  }
  if (!result.rows.empty()) result.avg_busbw_bytes_per_s = busbw_sum / result.rows.size();
  if (options.trace) add_link_counters(sim, report.trace);

  for (const auto& e : s.expect) {
    ExpectationResult r{e.name, e.limit, 0.0, true};
    if (result.rows.empty()) {
      r.ok = false;
    } else if (e.name == "busbw_gbps_min") {
      r.value = result.rows.back().busbw_bytes_per_s / 1e9;
      r.ok = r.value >= e.limit;
    } else if (e.name == "algbw_gbps_min") {
      r.value = result.rows.back().algbw_bytes_per_s / 1e9;
      r.ok = r.value >= e.limit;
    } else if (e.name == "latency_us_max") {
      r.value = result.rows.front().time_s * 1e6;
      r.ok = r.value <= e.limit;
    }
    report.expectations.push_back(r);
  }
  if (!s.expect.empty()) {
    report.notes.push_back(
        "expectations read the largest size (busbw_gbps_min, algbw_gbps_min) and the smallest "
        "size (latency_us_max)");
  }
  report.collective = std::move(result);
  return report;
}

void check_expectation(ExpectationResult& r, double value, bool is_min) {
  r.value = value;
  r.ok = is_min ? value >= r.limit : value <= r.limit;
}

// Who reads data each step: in Megatron-LM the first pipeline stage reads the tokens and the
// last the labels, on tensor-parallel rank 0 (which broadcasts to its group); every
// context-parallel rank reads whole sequences and keeps its chunk. Each reader reads its replica's
// share of the global batch.
DataDemand data_demand(const Layout& l, const TrainingWorkload& w, int gpus_per_node,
                       const StorageDefaults& defaults, double run_tokens) {
  const RankStrides strides = rank_strides(l, w.parallel.order);
  std::map<int, double> bytes_by_node;
  const double replica_bytes =
      static_cast<double>(w.batch.global_batch) / l.dp * w.batch.seq_len * w.data.bytes_per_token;
  DataDemand demand;
  for (int dp = 0; dp < l.dp; ++dp) {
    for (int cp = 0; cp < l.cp; ++cp) {
      for (int pp : l.pp > 1 ? std::vector<int>{0, l.pp - 1} : std::vector<int>{0}) {
        const int node = strides.gpu({0, cp, dp, pp}) / gpus_per_node;
        bytes_by_node[node] += replica_bytes;
        demand.bytes_per_step += replica_bytes;
      }
    }
  }
  demand.reading_nodes = static_cast<int>(bytes_by_node.size());
  for (const auto& [node, bytes] : bytes_by_node) {
    demand.bytes_per_node = std::max(demand.bytes_per_node, bytes);
  }
  // A request: one object or 16 MiB range from S3; from a file system one file (raw) or one
  // sample (tokenized, read through the index as Megatron's indexed datasets do).
  const DataConfig& d = w.data;
  const Tier tier = d.cache ? *d.cache : d.tier;
  if (tier == Tier::kS3) {
    demand.request_bytes = std::min(d.file_bytes, defaults.s3_part_bytes);
  } else if (d.raw) {
    demand.request_bytes = d.file_bytes;
  } else {
    demand.request_bytes = std::min(d.file_bytes, w.batch.seq_len * d.bytes_per_token);
  }
  const double tokens_per_step = static_cast<double>(w.batch.global_batch) * w.batch.seq_len;
  const double dataset_tokens = d.dataset_tokens > 0 ? d.dataset_tokens : run_tokens;
  demand.dataset_bytes_per_node = demand.bytes_per_node * dataset_tokens / tokens_per_step;
  return demand;
}

// Bytes a checkpoint saves: the trainable parameters' BF16 weights and optimizer state (Adam's
// FP32 master, m and v); a LoRA run saves its adapters only.
double checkpoint_bytes(const Scenario& s, const Layout& l) {
  const TrainingDefaults& d = TrainingDefaults::builtin();
  const double per_param = d.weight_bytes_per_param + d.optimizer_bytes_per_param;
  const TrainingWorkload& w = s.workload.training;
  if (!w.mode.lora) return count_parameters(s.model).total * per_param;
  double adapters = 0.0;
  for (int rank = 0; rank < l.pp; ++rank) {
    const StageParameters p = stage_parameters(s.model, l, w.mode, rank);
    adapters += p.adapter_non_expert * l.tp + p.adapter_expert * l.tp * l.ep;
  }
  return adapters * per_param;
}

std::vector<FailureClass> failure_classes(const ReliabilityConfig& r) {
  std::vector<FailureClass> classes = ReliabilityDefaults::builtin().classes;
  for (auto& c : classes) {
    if (const auto it = r.rates_per_day.find(c.name); it != r.rates_per_day.end()) {
      c.per_unit_per_day = it->second;
      c.source = "scenario /cluster/reliability/rates_per_day/" + c.name;
    }
    c.per_unit_per_day *= r.rate_scale;
  }
  return classes;
}

RecoveryTimes recovery_times(const ReliabilityConfig& r) {
  RecoveryTimes t = ReliabilityDefaults::builtin().recovery;
  t.detect_s = r.detect_s.value_or(t.detect_s);
  t.restart_s = r.restart_s.value_or(t.restart_s);
  t.replace_with_spare_s = r.replace_s.value_or(t.replace_with_spare_s);
  t.provision_s = r.provision_s.value_or(t.provision_s);
  t.repair_s = r.repair_s.value_or(t.repair_s);
  t.spare_nodes = r.spare_nodes;
  return t;
}

// Storage, checkpoints, failures and dollars of a training run whose step was simulated.
void estimate_run(const Scenario& s, const InstanceSpec& instance, const GpuSpec& gpu,
                  const Layout& l, TrainingReport& t, Report& report) {
  const StorageDefaults& storage_defaults = StorageDefaults::builtin();
  const TrainingWorkload& w = s.workload.training;
  const StorageConfig& storage = s.cluster.storage;
  const double run_tokens = t.steps * t.tokens_per_step;

  // Data loading: the stall it adds to every step.
  const DataDemand demand = data_demand(l, w, instance.gpus_per_node, storage_defaults, run_tokens);
  const DataLoadResult data = simulate_data_loading(storage, storage_defaults, instance, gpu,
                                                    w.data, demand, t.step_compute_s);
  t.data.tier = to_string(data.tier);
  t.data.source_tier = to_string(w.data.tier);
  t.data.bytes_per_step = demand.bytes_per_step;
  t.data.reading_nodes = demand.reading_nodes;
  t.data.bytes_per_node = demand.bytes_per_node;
  t.data.request_bytes = demand.request_bytes;
  t.data.read_s = data.read_s;
  t.data.first_batch_s = data.first_batch_s;
  t.data.limited_by = data.limited_by;
  t.data.staging_s = data.staging_s;
  t.data.staging_limited_by = data.staging_limited_by;
  t.data_stall_s = data.stall_s;
  t.step_s = t.step_compute_s + t.data_stall_s;

  // Failures of the whole job.
  const ReliabilityConfig& rc = s.cluster.reliability;
  const ClusterCounts counts{static_cast<double>(l.gpus), static_cast<double>(s.cluster.nodes),
                             static_cast<double>(s.cluster.nodes) * instance.efa_nics};
  RunInputs inputs;
  inputs.recovery = recovery_times(rc);
  if (rc.enabled) {
    inputs.failures = job_failure_rate(failure_classes(rc), counts);
    inputs.planned_per_s =
        rc.planned_per_day.value_or(ReliabilityDefaults::builtin().planned_per_node_day *
                                    s.cluster.nodes) /
        86400.0;
  }
  RunReport& run = t.run;
  run.failures_modelled = rc.enabled;
  run.failures_per_day = inputs.failures.per_s * 86400.0;
  run.mtbf_s = inputs.failures.per_s > 0 ? 1.0 / inputs.failures.per_s : 0.0;
  run.replace_fraction = inputs.failures.replace_fraction;
  run.planned_per_day = inputs.planned_per_s * 86400.0;
  for (const auto& [name, per_s] : inputs.failures.per_s_by_class) {
    run.failures_per_day_by_class[name] = per_s * 86400.0;
  }
  run.spare_nodes = rc.spare_nodes;
  run.detect_s = inputs.recovery.detect_s;
  run.restart_s = inputs.recovery.restart_s;
  run.replace_s = inputs.recovery.replace_with_spare_s;
  run.provision_s = inputs.recovery.provision_s;

  // Checkpoints: their cost per save (simulated beside the data loader), and the interval.
  const CheckpointConfig& cc = w.checkpoint;
  CheckpointReport& ck = t.checkpoint;
  ck.enabled = cc.enabled;
  ck.tier = to_string(cc.tier);
  ck.upload_to = cc.upload_to ? to_string(*cc.upload_to) : "";
  ck.mode = cc.async ? "async" : "sync";
  ck.bytes = checkpoint_bytes(s, l);
  double interval_s = kUnbounded;
  if (cc.enabled) {
    const CheckpointResult c =
        simulate_checkpoint(storage, storage_defaults, instance, gpu, s.cluster.nodes, cc, ck.bytes,
                            w.data, demand, t.step_compute_s);
    ck.bytes_per_node = c.bytes_per_node;
    ck.fixed_s = c.fixed_s;
    ck.snapshot_s = c.snapshot_s;
    ck.write_s = c.write_s;
    ck.upload_s = c.upload_s;
    ck.stall_s = c.stall_s;
    ck.restore_s = c.restore_s;
    ck.write_limited_by = c.write_limited_by;
    ck.restore_limited_by = c.restore_limited_by;
    inputs.recovery.reload_s = c.restore_s;
    // Until a durable copy exists a failure falls back to the checkpoint before.
    inputs.durability_lag_s =
        (cc.async ? c.write_s : 0.0) + (cc.upload_to && !durable(cc.tier) ? c.upload_s : 0.0);
    // The next checkpoint cannot start before this one's writes are all done.
    const double busy_s =
        c.fixed_s + (cc.async ? c.snapshot_s + c.write_s : c.write_s) + c.upload_s;
    if (cc.every_s) {
      interval_s = *cc.every_s;
      ck.interval_source = "scenario";
    } else if (inputs.failures.per_s > 0) {
      interval_s = young_daly_interval_s(ck.stall_s, inputs.failures.mtbf_s());
      ck.interval_source = "Young/Daly sqrt(2 x stall x MTBF)";
    } else {
      interval_s = 3600.0;
      ck.interval_source = "hourly (no failures modelled)";
    }
    if (interval_s < busy_s) {
      interval_s = busy_s;
      ck.interval_source = "time to write a checkpoint (longer than " +
                           std::string(cc.every_s ? "the scenario's" : "the Young/Daly") +
                           " interval)";
    }
    interval_s = std::max(interval_s, t.step_s);  // checkpoints are taken between steps
    ck.interval_s = interval_s;
  } else {
    ck.interval_source = "checkpoints disabled";
  }

  if (t.steps <= 0) return;
  inputs.useful_s = t.steps * t.step_s;
  inputs.interval_s = cc.enabled ? interval_s : inputs.useful_s;
  inputs.checkpoint_stall_s = cc.enabled ? ck.stall_s : 0.0;
  if (!cc.enabled) inputs.recovery.reload_s = 0.0;
  ck.count = cc.enabled ? std::ceil(inputs.useful_s / inputs.interval_s) : 0.0;
  RunEstimate estimate;
  try {
    estimate = expected_run(inputs);
  } catch (const Error& e) {
    if (cc.enabled || e.code() != ExitCode::kInfeasible) throw;
    char text[256];
    std::snprintf(text, sizeof text,
                  "without checkpoints every failure restarts the run from the beginning: %.3g "
                  "h of training against a job MTBF of %.3g h would practically never finish; "
                  "expected checkpoints enabled",
                  inputs.useful_s / 3600.0, inputs.failures.mtbf_s() / 3600.0);
    throw Error(ExitCode::kInfeasible, "/workload/checkpoint/enabled", text);
  }
  const double setup_s = t.data.staging_s + t.data.first_batch_s;
  // Goodput counts only the steps' own work as useful: data stalls are lost time too.
  run.useful_s = t.steps * t.step_compute_s;
  run.wall_s = estimate.wall_s + setup_s;
  run.goodput = run.useful_s / run.wall_s;
  run.checkpoint_overhead = estimate.checkpoint_s / run.wall_s;
  run.expected_failures = estimate.expected_failures;
  run.expected_planned = estimate.expected_planned;
  run.lost_s = {{"checkpoint stalls", estimate.checkpoint_s},
                {"rework after failures", estimate.rework_s},
                {"failure detection", estimate.detect_s},
                {"node replacement", estimate.replace_s},
                {"restarts", estimate.restart_s},
                {"checkpoint reloads", estimate.reload_s},
                {"planned interruptions", estimate.planned_s},
                {"data stalls", t.steps * t.data_stall_s},
                {"dataset staging and first batch", setup_s}};
  if (rc.monte_carlo) {
    const MonteCarloResult mc = monte_carlo_run(inputs, rc.trials, s.seed);
    run.trials = mc.trials;
    run.seed = mc.seed;
    run.mc_mean_s = mc.mean_wall_s + setup_s;
    run.mc_stdev_s = mc.stdev_wall_s;
    run.mc_p50_s = mc.p50_wall_s + setup_s;
    run.mc_p90_s = mc.p90_wall_s + setup_s;
    run.mc_p99_s = mc.p99_wall_s + setup_s;
  }
  t.days = run.wall_s / 86400.0;
  t.gpu_hours = run.wall_s / 3600.0 * l.gpus;

  // Dollars.
  CostInputs cost;
  cost.wall_s = run.wall_s;
  cost.cluster_usd_per_hour = t.usd_per_hour;
  cost.node_usd_per_hour = s.cluster.nodes > 0 ? t.usd_per_hour / s.cluster.nodes : 0.0;
  cost.spare_nodes = rc.spare_nodes;
  cost.fsx = storage.fsx;
  const double part = storage_defaults.s3_part_bytes;
  if (cc.enabled) {
    const bool to_s3 = cc.tier == Tier::kS3 || (cc.upload_to && *cc.upload_to == Tier::kS3);
    const bool from_s3 = (cc.upload_to ? *cc.upload_to : cc.tier) == Tier::kS3;
    const double parts = std::ceil(ck.bytes_per_node / part) * s.cluster.nodes;
    if (to_s3) {
      cost.s3_stored_bytes += cc.keep * ck.bytes;
      cost.s3_puts += ck.count * parts;
    }
    if (from_s3) cost.s3_gets += (run.expected_failures + run.expected_planned) * parts;
  }
  const double dataset_tokens = w.data.dataset_tokens > 0 ? w.data.dataset_tokens : run_tokens;
  if (w.data.tier == Tier::kS3) {
    cost.s3_stored_bytes += dataset_tokens * w.data.bytes_per_token;
    if (w.data.cache) {
      cost.s3_gets +=
          demand.dataset_bytes_per_node * demand.reading_nodes / std::min(w.data.file_bytes, part);
    } else {
      cost.s3_gets += t.steps * demand.bytes_per_step / demand.request_bytes;
    }
  }
  const CostBreakdown dollars = run_cost(cost, storage_defaults);
  t.cost = {dollars.compute, dollars.spares, dollars.fsx_lustre, dollars.s3_storage,
            dollars.s3_requests};
  t.usd = dollars.total();
  t.usd_per_million_tokens = run_tokens > 0 ? t.usd / (run_tokens / 1e6) : 0.0;
  (void)report;
}

// Runs `simulate`; a scenario that cannot run (fmsim::Error kInfeasible) is recorded in the
// report (exit code 3, report still written) and gives false. Other errors propagate.
template <typename Simulate>
bool feasible(Report& report, Simulate&& simulate) {
  try {
    simulate();
    return true;
  } catch (const Error& e) {
    if (e.code() != ExitCode::kInfeasible) throw;
    report.infeasible = e.what();
    return false;
  }
}

void note_missing_price(Report& report, double usd_per_hour, const std::string& price_source) {
  if (usd_per_hour > 0.0) return;
  report.notes.push_back(price_source +
                         ": set /cluster/pricing/usd_per_hour or usd_per_gpu_hour for dollars");
}

// The limit of an `expect` entry, 0 when the scenario has none.
double expectation_limit(const Scenario& s, const std::string& name) {
  for (const auto& e : s.expect) {
    if (e.name == name) return e.limit;
  }
  return 0.0;
}

Report run_training(const Scenario& s, const Catalog& catalog, const RunOptions& options) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const GpuSpec& gpu = catalog.gpu_of(instance);
  const TrainingWorkload& w = s.workload.training;
  TrainingSetup setup = training_setup(s, catalog);
  setup.trace = options.trace;
  Report report = report_for(s, options);
  note_calibration(report, setup.calibrated.get());
  TrainingStepResult step;
  // A layout that cannot run: the report still says so (exit code 3).
  if (!feasible(report, [&] { step = simulate_training_step(setup); })) return report;
  report.cluster_summary = cluster_summary(s, instance, gpu);
  TrainingReport t;
  const Layout& l = step.layout;
  t.tp = l.tp, t.pp = l.pp, t.cp = l.cp, t.ep = l.ep, t.dp = l.dp, t.vpp = l.vpp;
  t.gpus = l.gpus;
  t.microbatches = l.microbatches;
  t.layers_per_stage = l.layers_per_stage;
  t.simulation_mode = w.full_mode ? "full" : "symmetric";
  t.simulated_ranks = step.simulated_ranks;
  t.tasks = step.tasks;
  const MemoryBreakdown& m = step.memory;
  t.weights = m.weights, t.grads = m.grads, t.optimizer = m.optimizer,
  t.activations = m.activations, t.other = m.comm_buffers + m.reserve, t.capacity = m.capacity;
  t.fits = m.fits();
  t.memory_suggestions = m.suggestions;
  if (!t.fits) {
    report.infeasible = "does not fit in memory: " + describe_fit(m);
    report.training = std::move(t);
    return report;
  }
  t.step_compute_s = step.step_s;
  t.step_s = step.step_s;
  t.compute_s = step.compute_s;
  t.exposed_comm_s = step.exposed_comm_s;
  t.bubble_s = step.bubble_s;
  t.optimizer_s = step.optimizer_s;
  t.tokens_per_step = step.tokens_per_step;
  t.steps = training_steps(w);
  t.usd_per_hour = cluster_price_per_hour(s, instance, t.price_source);
  if (!feasible(report, [&] { estimate_run(s, instance, gpu, l, t, report); })) {
    report.training = std::move(t);
    return report;
  }
  t.estimated = true;
  // Throughput over the whole step, data stall included.
  t.tokens_per_s = step.tokens_per_step / t.step_s;
  t.tokens_per_s_per_gpu = t.tokens_per_s / l.gpus;
  t.tflops_per_gpu = step.model_flops_per_step / t.step_s / l.gpus / 1e12;
  const double peak = peak_flops(gpu, w.precision);
  t.mfu = step.model_flops_per_step / (t.step_s * l.gpus * peak);
  t.hfu = step.hardware_flops_per_step / (t.step_s * l.gpus * peak);
  note_missing_price(report, t.usd_per_hour, t.price_source);
  if (t.steps == 0) report.notes.push_back("no tokens or steps given: one step reported");

  for (const auto& e : s.expect) {
    ExpectationResult r{e.name, e.limit, 0.0, true};
    if (e.name == "mfu_min") check_expectation(r, t.mfu, true);
    if (e.name == "hfu_min") check_expectation(r, t.hfu, true);
    if (e.name == "tflops_per_gpu_min") check_expectation(r, t.tflops_per_gpu, true);
    if (e.name == "tokens_per_s_min") check_expectation(r, t.tokens_per_s, true);
    if (e.name == "step_time_s_max") check_expectation(r, t.step_s, false);
    if (e.name == "days_max") check_expectation(r, t.days, false);
    if (e.name == "cost_usd_max") check_expectation(r, t.usd, false);
    if (e.name == "goodput_min") check_expectation(r, t.run.goodput, true);
    if (e.name == "data_stall_s_max") check_expectation(r, t.data_stall_s, false);
    if (e.name == "usd_per_million_tokens_max") {
      check_expectation(r, t.usd_per_million_tokens, false);
    }
    if (e.name == "memory_gib_max") {
      check_expectation(r, t.memory_total() / (1024.0 * 1024.0 * 1024.0), false);
    }
    report.expectations.push_back(r);
  }
  report.trace = std::move(step.trace);
  report.training = std::move(t);
  return report;
}

Report run_inference(const Scenario& s, const Catalog& catalog, const RunOptions& options) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const GpuSpec& gpu = catalog.gpu_of(instance);
  InferenceSetup setup;
  setup.instance = &instance;
  setup.gpu = &gpu;
  setup.nodes = s.cluster.nodes;
  setup.network = s.cluster.network;
  setup.model = s.model;
  setup.workload = s.workload.inference;
  setup.seed = s.seed;
  setup.trace = options.trace;
  setup.calibrated = calibrated_parameters(s, gpu);
  if (setup.calibrated) setup.gpu = &setup.calibrated->gpu;
  Report report = report_for(s, options);
  note_calibration(report, setup.calibrated.get());
  report.cluster_summary = cluster_summary(s, instance, gpu);
  InferenceResult r;
  // GPUs needed for the request rate under the scenario's latency objectives.
  const double ttft_slo = expectation_limit(s, "ttft_p99_s_max");
  const double tpot_slo = expectation_limit(s, "tpot_p99_s_max");
  const InferenceWorkload& w = s.workload.inference;
  const bool size_slo = (ttft_slo > 0 || tpot_slo > 0) && !w.all_at_once && w.trace.empty() &&
                        w.prefill_replicas == 0;
  {
    const ProgressPart part(0.0, size_slo ? 0.5 : 1.0);  // the sizing's probes take the rest
    if (!feasible(report, [&] { r = simulate_inference(setup); })) return report;
  }
  if (w.prefill_replicas > 0 && (ttft_slo > 0 || tpot_slo > 0)) {
    report.notes.push_back("no SLO sizing for disaggregated serving: it sizes one mixed replica");
  }
  if (size_slo) {
    const ProgressPart part(0.5, 1.0);
    const SloSizing sizing = size_for_slo(setup, w.rate_per_s, ttft_slo, tpot_slo);
    r.slo_ttft_p99_s = ttft_slo;
    r.slo_tpot_p99_s = tpot_slo;
    r.slo_target_rate_per_s = w.rate_per_s;
    r.slo_rate_per_replica = sizing.rate_per_replica;
    r.slo_replicas = sizing.replicas;
    r.slo_gpus = sizing.gpus;
    r.slo_probes = sizing.probes;
    if (sizing.rate_per_replica == 0.0) {
      report.notes.push_back(
          "the latency objectives cannot be met by one replica even at 1/64 of "
          "its throughput: a faster layout (larger tp, fp8) is needed");
    }
  }
  // The cluster is paid for while it serves: the whole cluster's price over the duration.
  r.usd_per_hour = cluster_price_per_hour(s, instance, r.price_source);
  r.usd = r.usd_per_hour * r.duration_s / 3600.0;
  if (r.output_tokens > 0) r.usd_per_million_output_tokens = r.usd / (r.output_tokens / 1e6);
  if (r.input_tokens + r.output_tokens > 0) {
    r.usd_per_million_tokens = r.usd / ((r.input_tokens + r.output_tokens) / 1e6);
  }
  if (r.prompts > 0) r.usd_per_prompt = r.usd / r.prompts;
  note_missing_price(report, r.usd_per_hour, r.price_source);
  for (const auto& e : s.expect) {
    ExpectationResult x{e.name, e.limit, 0.0, true};
    if (e.name == "ttft_p99_s_max") check_expectation(x, r.ttft_s.p99, false);
    if (e.name == "tpot_p99_s_max") check_expectation(x, r.tpot_s.p99, false);
    if (e.name == "e2e_p99_s_max") check_expectation(x, r.e2e_s.p99, false);
    if (e.name == "output_tokens_per_s_min") check_expectation(x, r.output_tokens_per_s, true);
    if (e.name == "requests_per_s_min") check_expectation(x, r.requests_per_s, true);
    if (e.name == "usd_per_million_tokens_max") {
      check_expectation(x, r.usd_per_million_output_tokens, false);
    }
    report.expectations.push_back(x);
  }
  report.trace = std::move(r.trace);
  report.inference = std::move(r);
  return report;
}

Report run_rl(const Scenario& s, const Catalog& catalog, const RunOptions& options) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const GpuSpec& gpu = catalog.gpu_of(instance);
  RlSetup setup;
  setup.instance = &instance;
  setup.gpu = &gpu;
  setup.nodes = s.cluster.nodes;
  setup.network = s.cluster.network;
  setup.model = s.model;
  setup.workload = s.workload.rl;
  setup.seed = s.seed;
  setup.calibrated = calibrated_parameters(s, gpu);
  if (setup.calibrated) setup.gpu = &setup.calibrated->gpu;
  Report report = report_for(s, options);
  note_calibration(report, setup.calibrated.get());
  report.cluster_summary = cluster_summary(s, instance, gpu);
  RlResult r;
  if (!feasible(report, [&] { r = simulate_rl_iteration(setup); })) return report;
  r.usd_per_hour = cluster_price_per_hour(s, instance, r.price_source);
  r.usd_per_iteration = r.usd_per_hour * r.iteration_s / 3600.0;
  r.iterations = s.workload.rl.iterations;
  r.days = r.iterations * r.iteration_s / 86400.0;
  r.usd = r.iterations * r.usd_per_iteration;
  for (const auto& e : s.expect) {
    ExpectationResult x{e.name, e.limit, 0.0, true};
    if (e.name == "iteration_s_max") check_expectation(x, r.iteration_s, false);
    if (e.name == "samples_per_s_min") check_expectation(x, r.samples_per_s, true);
    if (e.name == "trainer_idle_fraction_max") {
      check_expectation(x, r.trainer_idle_fraction, false);
    }
    if (e.name == "days_max") check_expectation(x, r.days, false);
    if (e.name == "cost_usd_max") check_expectation(x, r.usd, false);
    report.expectations.push_back(x);
  }
  report.rl = std::move(r);
  return report;
}

}  // namespace

// Dollars per hour for the whole cluster: the scenario's per-GPU or per-node price, else the
// catalog's on-demand price; 0 (with a note) when there is none.
double cluster_price_per_hour(const Scenario& s, const InstanceSpec& instance,
                              std::string& source) {
  const double gpus = static_cast<double>(s.cluster.nodes) * instance.gpus_per_node;
  if (s.cluster.price_usd_per_gpu_hour) {
    source = "scenario /cluster/pricing/usd_per_gpu_hour";
    return *s.cluster.price_usd_per_gpu_hour * gpus;
  }
  if (s.cluster.price_usd_per_hour) {
    source = "scenario /cluster/pricing/usd_per_hour";
    return *s.cluster.price_usd_per_hour * s.cluster.nodes;
  }
  if (instance.price_usd_per_hour) {
    source = "on-demand " + instance.price_region + " " + instance.price_date;
    return *instance.price_usd_per_hour * s.cluster.nodes;
  }
  source = "no price known for " + instance.name;
  return 0.0;
}

TrainingSetup training_setup(const Scenario& s, const Catalog& catalog) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const TrainingWorkload& w = s.workload.training;
  TrainingSetup setup;
  setup.instance = &instance;
  setup.gpu = &catalog.gpu_of(instance);
  setup.nodes = s.cluster.nodes;
  setup.network = s.cluster.network;
  setup.model = s.model;
  setup.parallel = w.parallel;
  setup.batch = w.batch;
  setup.precision = w.precision;
  setup.mode = w.mode;
  setup.full_mode = w.full_mode;
  setup.calibrated = calibrated_parameters(s, *setup.gpu);
  if (setup.calibrated) setup.gpu = &setup.calibrated->gpu;
  return setup;
}

double training_steps(const TrainingWorkload& w) {
  if (w.steps > 0) return static_cast<double>(w.steps);
  const double tokens_per_step = static_cast<double>(w.batch.global_batch) * w.batch.seq_len;
  return w.tokens > 0 ? std::ceil(w.tokens / tokens_per_step) : 0.0;
}

std::vector<double> sweep_sizes(const CollectiveWorkload& w, int ranks) {
  const double unit = dtype_bytes(w.dtype) * (splits_buffer_over_ranks(w.op) ? ranks : 1);
  std::vector<double> sizes;
  for (double size = w.min_bytes; size <= w.max_bytes;) {
    const double aligned = std::max(unit, std::floor(size / unit) * unit);
    if (sizes.empty() || aligned > sizes.back()) sizes.push_back(aligned);
    const double next = w.step_factor > 1.0 ? size * w.step_factor : size + w.step_bytes;
    if (next <= size) break;  // a single size (min == max with no step)
    size = next;
  }
  return sizes;
}

void check_feasible(const Scenario& s, const Catalog& catalog) {
  if (s.workload.stage != "pretrain" && s.workload.stage != "sft") return;
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const TrainingWorkload& w = s.workload.training;
  const Layout layout =
      resolve_layout(w.parallel, w.batch, s.model, s.cluster.nodes * instance.gpus_per_node);
  const MemoryBreakdown memory = memory_per_gpu(s.model, layout, w.parallel, w.batch, w.precision,
                                                w.mode, catalog.gpu_of(instance));
  if (!memory.fits()) {
    throw Error(ExitCode::kInfeasible, "/workload/parallelism",
                "does not fit in memory: " + describe_fit(memory));
  }
}

namespace {

Report run_stage(const Scenario& scenario, const Catalog& catalog, const RunOptions& options) {
  if (scenario.workload.stage == "collective") return run_collective(scenario, catalog, options);
  if (scenario.workload.stage == "pretrain" || scenario.workload.stage == "sft") {
    return run_training(scenario, catalog, options);
  }
  if (scenario.workload.stage == "inference") return run_inference(scenario, catalog, options);
  if (scenario.workload.stage == "rl") return run_rl(scenario, catalog, options);
  throw bad_input("/workload/stage", "stage \"" + scenario.workload.stage + "\" cannot run yet");
}

}  // namespace

Report run_scenario(const Scenario& scenario, const Catalog& catalog, const RunOptions& options) {
  const CancelScope cancel(options.cancel);
  const ProgressScope progress(options.progress);
  Report report = run_stage(scenario, catalog, options);
  report_progress(1, 1);
  return report;
}

}  // namespace fmsim
