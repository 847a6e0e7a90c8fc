#include "workload/run.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "collectives/collectives.h"
#include "engine/simulator.h"
#include "error.h"
#include "execute/compute.h"
#include "topology/topology.h"
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
  return report;
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
  Topology topology(instance, gpu, s.cluster.nodes, s.cluster.network, network_defaults(), sim);
  CollectiveModel model(topology, sim, NcclTuning::builtin(), w.options);

  Communicator comm;
  const int ranks = w.ranks > 0 ? w.ranks : topology.gpus();
  for (int r = 0; r < ranks; ++r) comm.gpus.push_back(r);

  Report report = report_for(s, options);
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
  for (double bytes : sweep_sizes(w, ranks)) {
    const CollectiveChoice choice = model.choose(w.op, comm, bytes);
    const double start_s = sim.now();
    const ActivityId id = sim.start(CollectiveModel::activity(choice.pattern, bytes, tag));
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
    row.algorithm = to_string(choice.pattern.algorithm);
    row.protocol = to_string(choice.pattern.protocol);
    row.channels = choice.pattern.channels;
    row.limited_by = limited_by(sim, topology, choice.pattern, id, time_s);
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

void check_expectation(ExpectationResult& r, double value, bool is_min) {
  r.value = value;
  r.ok = is_min ? value >= r.limit : value <= r.limit;
}

Report run_training(const Scenario& s, const Catalog& catalog, const RunOptions& options) {
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const GpuSpec& gpu = catalog.gpu_of(instance);
  const TrainingWorkload& w = s.workload.training;

  TrainingSetup setup;
  setup.instance = &instance;
  setup.gpu = &gpu;
  setup.nodes = s.cluster.nodes;
  setup.network = s.cluster.network;
  setup.model = s.model;
  setup.parallel = w.parallel;
  setup.batch = w.batch;
  setup.precision = w.precision;
  setup.mode = w.mode;
  setup.full_mode = w.full_mode;
  setup.trace = options.trace;
  Report report = report_for(s, options);
  TrainingStepResult step;
  try {
    step = simulate_training_step(setup);
  } catch (const Error& e) {
    if (e.code() != ExitCode::kInfeasible) throw;
    // A layout that cannot run: the report still says so (exit code 3).
    report.infeasible = e.what();
    return report;
  }
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
  t.step_s = step.step_s;
  t.compute_s = step.compute_s;
  t.exposed_comm_s = step.exposed_comm_s;
  t.bubble_s = step.bubble_s;
  t.optimizer_s = step.optimizer_s;
  t.tokens_per_step = step.tokens_per_step;
  t.tokens_per_s = step.tokens_per_step / step.step_s;
  t.tokens_per_s_per_gpu = t.tokens_per_s / l.gpus;
  t.tflops_per_gpu = step.model_flops_per_step / step.step_s / l.gpus / 1e12;
  const double peak = peak_flops(gpu, w.precision);
  t.mfu = step.model_flops_per_step / (step.step_s * l.gpus * peak);
  t.hfu = step.hardware_flops_per_step / (step.step_s * l.gpus * peak);
  t.steps = w.steps > 0 ? static_cast<double>(w.steps)
                        : (w.tokens > 0 ? std::ceil(w.tokens / step.tokens_per_step) : 0.0);
  const double hours = t.steps * step.step_s / 3600.0;
  t.days = hours / 24.0;
  t.gpu_hours = hours * l.gpus;
  t.usd_per_hour = cluster_price_per_hour(s, instance, t.price_source);
  t.usd = t.usd_per_hour * hours;
  const double tokens = t.steps * step.tokens_per_step;
  t.usd_per_million_tokens = tokens > 0 ? t.usd / (tokens / 1e6) : 0.0;
  if (t.usd_per_hour == 0.0) {
    report.notes.push_back(t.price_source +
                           ": set /cluster/pricing/usd_per_hour or usd_per_gpu_hour for dollars");
  }
  if (t.steps == 0) report.notes.push_back("no tokens or steps given: one step reported");
  report.notes.push_back(
      "storage, data loading, checkpoints and failures are not simulated yet "
      "(issue 5): days assume no stalls and no interruptions");

  for (const auto& e : s.expect) {
    ExpectationResult r{e.name, e.limit, 0.0, true};
    if (e.name == "mfu_min") check_expectation(r, t.mfu, true);
    if (e.name == "hfu_min") check_expectation(r, t.hfu, true);
    if (e.name == "tflops_per_gpu_min") check_expectation(r, t.tflops_per_gpu, true);
    if (e.name == "tokens_per_s_min") check_expectation(r, t.tokens_per_s, true);
    if (e.name == "step_time_s_max") check_expectation(r, t.step_s, false);
    if (e.name == "days_max") check_expectation(r, t.days, false);
    if (e.name == "cost_usd_max") check_expectation(r, t.usd, false);
    if (e.name == "memory_gib_max") {
      check_expectation(r, t.memory_total() / (1024.0 * 1024.0 * 1024.0), false);
    }
    report.expectations.push_back(r);
  }
  report.trace = std::move(step.trace);
  report.training = std::move(t);
  return report;
}

}  // namespace

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

Report run_scenario(const Scenario& scenario, const Catalog& catalog, const RunOptions& options) {
  if (scenario.workload.stage == "collective") return run_collective(scenario, catalog, options);
  if (scenario.workload.stage == "pretrain" || scenario.workload.stage == "sft") {
    return run_training(scenario, catalog, options);
  }
  throw bad_input("/workload/stage", "stage \"" + scenario.workload.stage + "\" cannot run yet");
}

}  // namespace fmsim
