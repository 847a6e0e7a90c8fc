#include "workload/run.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "collectives/collectives.h"
#include "engine/simulator.h"
#include "error.h"
#include "topology/topology.h"

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

bool splits_buffer_over_ranks(CollectiveOp op) {
  return op == CollectiveOp::kAllGather || op == CollectiveOp::kReduceScatter ||
         op == CollectiveOp::kAllToAll;
}

std::string cluster_summary(const Scenario& s, const InstanceSpec& instance, const GpuSpec& gpu,
                            const Topology& topology) {
  char text[512];
  std::snprintf(
      text, sizeof text,
      "%d x %s = %d x %s; NVLink %.1f GB/s per GPU per direction (NCCL effective), "
      "domain %d GPUs; EFA %d x %.0f Gbit/s per node; rail fat tree, oversubscription %.2g",
      s.cluster.nodes, instance.name.c_str(), topology.gpus(), gpu.name.c_str(),
      gpu.nvlink_links * gpu.nvlink_link_effective_bw_bytes_per_s / 1e9,
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

  Report report;
  report.stage = "collective";
  report.scenario_name = s.name;
  report.scenario_origin = options.scenario_origin;
  report.scenario = to_json(s);
  report.cluster_summary = cluster_summary(s, instance, gpu, topology);

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

Report run_scenario(const Scenario& scenario, const Catalog& catalog, const RunOptions& options) {
  if (scenario.workload.stage == "collective") return run_collective(scenario, catalog, options);
  throw bad_input("/workload/stage", "stage \"" + scenario.workload.stage + "\" cannot run yet");
}

}  // namespace fmsim
