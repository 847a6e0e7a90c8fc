#include "collectives/collectives.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "data/embedded.h"
#include "error.h"

namespace fmsim {
namespace {

constexpr int kAlgorithmRow[] = {1, 0, 4, 5, 1};  // Algorithm -> row of tuning.cc tables
const char* const kAlgorithmKeys[] = {
    "tree", "ring", "collnet_direct", "collnet_chain", "nvls", "nvls_tree", "pat"};

int index_of(Algorithm a) { return static_cast<int>(a); }
int index_of(Protocol p) { return static_cast<int>(p); }

template <typename Enum>
std::optional<Enum> parse_by_name(const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<Enum>(it - names.begin());
}

// Rows of NCCL's [algorithm][protocol] latency tables, in microseconds.
void read_latency_rows(const nlohmann::json& table, double (&out)[5][3]) {
  for (int a = 0; a < 5; ++a) {
    const auto& row = table.at(kAlgorithmKeys[kAlgorithmRow[a]]);
    for (int p = 0; p < 3; ++p) out[a][p] = row.at(p).get<double>() * 1e-6;
  }
}

std::map<GpuArch, std::array<double, 3>> read_arch_caps(const nlohmann::json& table) {
  std::map<GpuArch, std::array<double, 3>> caps;
  for (GpuArch arch : {GpuArch::kAmpere, GpuArch::kHopper, GpuArch::kBlackwell}) {
    const auto& row = table.at(to_string(arch));
    for (int i = 0; i < 3; ++i) caps[arch][i] = row.at(i).get<double>() * 1e9;
  }
  return caps;
}

// Steps of a ring algorithm for `op` on n ranks (tuning.cc: nsteps).
int ring_steps(CollectiveOp op, int n) {
  switch (op) {
    case CollectiveOp::kAllReduce:
      return 2 * (n - 1);
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter:
      return n - 1;
    default:
      return n;
  }
}

// Bytes every ring edge carries per byte of the collective's size.
double ring_edge_bytes(CollectiveOp op, int n) {
  switch (op) {
    case CollectiveOp::kAllReduce:
      return 2.0 * (n - 1) / n;
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter:
      return static_cast<double>(n - 1) / n;
    default:
      return 1.0;
  }
}

// Sums link loads of the flows that make up one collective. Weights sit in a dense vector indexed
// by resource id (patterns of large communicators touch thousands of links); routes are cached
// per (src, dst) because channels repeat the same pairs.
class LoadAccumulator {
 public:
  // `scratch` is all zeros on entry and is left all zeros: it is reused across patterns so that a
  // small pattern on a large cluster costs what it touches, not the cluster's size.
  LoadAccumulator(const Topology& topology, std::vector<double>& scratch, double wire_scale)
      : topology_(topology), wire_scale_(wire_scale), weights_(scratch) {}

  void flow(int src, int dst, double bytes) {
    if (src == dst || bytes <= 0.0) return;
    const auto key = (static_cast<std::uint64_t>(src) << 32) | static_cast<std::uint32_t>(dst);
    auto it = routes_.find(key);
    if (it == routes_.end()) it = routes_.emplace(key, topology_.route(src, dst)).first;
    for (const LinkShare& share : it->second) add(share.resource, share.fraction * bytes);
  }
  void direct(ResourceId resource, double bytes) { add(resource, bytes); }

  std::vector<Use> uses() {
    std::sort(touched_.begin(), touched_.end());
    std::vector<Use> out;
    out.reserve(touched_.size());
    for (ResourceId r : touched_) {
      out.push_back({r, weights_[r] * wire_scale_});
      weights_[r] = 0.0;
    }
    touched_.clear();
    return out;
  }

 private:
  void add(ResourceId resource, double bytes) {
    if (resource >= weights_.size()) weights_.resize(resource + 1, 0.0);
    if (weights_[resource] == 0.0) touched_.push_back(resource);
    weights_[resource] += bytes;
  }

  const Topology& topology_;
  double wire_scale_;
  std::unordered_map<std::uint64_t, Route> routes_;
  std::vector<double>& weights_;
  std::vector<ResourceId> touched_;
};

// Parent of position p in a binary tree laid out in heap order (-1 for the root).
int heap_parent(int p) { return p == 0 ? -1 : (p - 1) / 2; }

// NCCL's double binary tree over D domains: tree 0 in heap order over 0..D-1, tree 1 over the
// mirrored order, so the leaves of one tree are inner nodes of the other (Sanders et al. 2009).
// Returns (child domain, parent domain) edges of tree t.
std::vector<std::pair<int, int>> tree_edges(int domains, int t) {
  std::vector<std::pair<int, int>> edges;
  for (int p = 1; p < domains; ++p) {
    int child = t == 0 ? p : domains - 1 - p;
    int parent = t == 0 ? heap_parent(p) : domains - 1 - heap_parent(p);
    edges.emplace_back(child, parent);
  }
  return edges;
}

}  // namespace

std::string to_string(CollectiveOp op) { return collective_op_names()[static_cast<int>(op)]; }
std::string to_string(Algorithm algorithm) { return algorithm_names()[index_of(algorithm)]; }
std::string to_string(Protocol protocol) { return protocol_names()[index_of(protocol)]; }

const std::vector<std::string>& collective_op_names() {
  static const std::vector<std::string> names = {"all_reduce", "all_gather", "reduce_scatter",
                                                 "alltoall",   "broadcast",  "sendrecv"};
  return names;
}
const std::vector<std::string>& algorithm_names() {
  static const std::vector<std::string> names = {"ring", "tree", "nvls", "nvls_tree", "p2p"};
  return names;
}
const std::vector<std::string>& protocol_names() {
  static const std::vector<std::string> names = {"LL", "LL128", "Simple"};
  return names;
}
std::optional<CollectiveOp> parse_collective_op(const std::string& name) {
  return parse_by_name<CollectiveOp>(collective_op_names(), name);
}
std::optional<Algorithm> parse_algorithm(const std::string& name) {
  return parse_by_name<Algorithm>(algorithm_names(), name);
}
std::optional<Protocol> parse_protocol(const std::string& name) {
  return parse_by_name<Protocol>(protocol_names(), name);
}

double bus_bandwidth_factor(CollectiveOp op, int ranks) {
  const double n = ranks;
  switch (op) {
    case CollectiveOp::kAllReduce:
      return 2.0 * (n - 1) / n;
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter:
    case CollectiveOp::kAllToAll:
      return (n - 1) / n;
    case CollectiveOp::kBroadcast:
    case CollectiveOp::kSendRecv:
      return 1.0;
  }
  return 1.0;
}

const NcclTuning& NcclTuning::builtin() {
  static const NcclTuning tuning = [] {
    const auto doc = nlohmann::json::parse(embedded_file("nccl_tuning.json"));
    NcclTuning t;
    read_latency_rows(doc.at("base_latency_us"), t.base_latency_s);
    read_latency_rows(doc.at("hw_latency_us").at("nvlink"), t.nvlink_latency_s);
    read_latency_rows(doc.at("hw_latency_us").at("net"), t.net_latency_s);
    for (const char* vendor : {"intel", "amd", "other"}) {
      t.net_overhead_s[vendor] = doc.at("net_overhead_us").at(vendor).get<double>() * 1e-6;
    }
    t.ll_max_bw = read_arch_caps(doc.at("ll_max_bw_gbps"));
    t.ring_ll128_per_channel_bw = read_arch_caps(doc.at("per_channel_max_ring_ll128_bw_gbps"));
    t.tree_ll128_per_channel_bw = read_arch_caps(doc.at("per_channel_max_tree_ll128_bw_gbps"));
    t.tree_per_channel_bw = read_arch_caps(doc.at("per_channel_max_tree_bw_gbps"));
    t.nvls_tree_per_channel_bw = read_arch_caps(doc.at("per_channel_max_nvls_tree_bw_gbps"));
    for (GpuArch arch : {GpuArch::kAmpere, GpuArch::kHopper, GpuArch::kBlackwell}) {
      t.nvls_efficiency[arch] = doc.at("nvls_efficiency").at(to_string(arch)).get<double>();
      t.channels[arch] = doc.at("channels").at(to_string(arch)).get<int>();
    }
    for (int p = 0; p < 3; ++p) {
      t.data_fraction[p] = doc.at("protocol_data_fraction").at(protocol_names()[p]).get<double>();
    }
    t.p2p_ll_threshold_bytes = doc.at("p2p_ll_threshold_bytes").at("value").get<double>();
    return t;
  }();
  return tuning;
}

CollectiveModel::CollectiveModel(const Topology& topology, const Simulator& sim,
                                 const NcclTuning& tuning, CollectiveOptions options)
    : topology_(topology), sim_(sim), tuning_(tuning), options_(std::move(options)) {}

namespace {

// The communicator's ranks grouped by NVLink domain, in order of first appearance.
std::vector<std::vector<int>> group_by_domain(const Topology& topology, const Communicator& comm) {
  std::vector<std::vector<int>> groups;
  std::map<int, std::size_t> slot;
  for (int gpu : comm.gpus) {
    int domain = topology.nvlink_domain_of(gpu);
    auto [it, inserted] = slot.emplace(domain, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(gpu);
  }
  return groups;
}

// Ring order of channel c: each domain is entered at local index (c + k) mod g and left at the
// index where the next domain is entered, so every inter-domain hop stays on one rail.
std::vector<int> ring_order(const std::vector<std::vector<int>>& domains, int c) {
  std::vector<int> order;
  const int d_count = static_cast<int>(domains.size());
  if (d_count == 1) {
    const auto& dom = domains[0];
    const int g = static_cast<int>(dom.size());
    for (int i = 0; i < g; ++i) order.push_back(dom[(c + i) % g]);
    return order;
  }
  for (int k = 0; k < d_count; ++k) {
    const auto& dom = domains[k];
    const int g = static_cast<int>(dom.size());
    const int entry = (c + k) % g;
    const auto& next = domains[(k + 1) % d_count];
    int exit = (k + 1 == d_count ? c : c + k + 1) % static_cast<int>(next.size()) % g;
    if (exit == entry && g > 1) exit = (entry + 1) % g;
    order.push_back(dom[entry]);
    for (int i = 1; i < g; ++i) {
      int local = (entry + i) % g;
      if (local != exit) order.push_back(dom[local]);
    }
    if (exit != entry) order.push_back(dom[exit]);
  }
  return order;
}

}  // namespace

int CollectiveModel::domains(const Communicator& comm) const {
  return static_cast<int>(group_by_domain(topology_, comm).size());
}

std::vector<std::pair<Algorithm, Protocol>> CollectiveModel::candidates(
    CollectiveOp op, const Communicator& comm) const {
  const int d_count = domains(comm);
  const bool nvls = topology_.gpu().nvls && tuning_.nvls_efficiency.at(topology_.gpu().arch) > 0;
  std::vector<Algorithm> algorithms;
  switch (op) {
    case CollectiveOp::kAllReduce:
      algorithms = {Algorithm::kRing, Algorithm::kTree};
      if (nvls && d_count == 1 && comm.gpus.size() > 1) algorithms.push_back(Algorithm::kNvls);
      if (nvls && d_count > 1) algorithms.push_back(Algorithm::kNvlsTree);
      break;
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter:
      algorithms = {Algorithm::kRing};
      if (nvls && d_count == 1 && comm.gpus.size() > 1) algorithms.push_back(Algorithm::kNvls);
      break;
    case CollectiveOp::kBroadcast:
      algorithms = {Algorithm::kRing};
      break;
    case CollectiveOp::kAllToAll:
    case CollectiveOp::kSendRecv:
      algorithms = {Algorithm::kP2p};
      break;
  }
  auto enabled = [](const auto& list, auto value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
  };
  std::vector<std::pair<Algorithm, Protocol>> out;
  for (Algorithm a : algorithms) {
    // Point-to-point operations have no algorithm to choose: the filter does not apply.
    if (a != Algorithm::kP2p && !enabled(options_.algorithms, a)) continue;
    for (Protocol p : {Protocol::kLL, Protocol::kLL128, Protocol::kSimple}) {
      const bool simple_only = a == Algorithm::kNvls || a == Algorithm::kNvlsTree;
      const bool no_ll128 = a == Algorithm::kP2p;
      if ((simple_only && p != Protocol::kSimple) || (no_ll128 && p == Protocol::kLL128)) continue;
      if (!enabled(options_.protocols, p)) continue;
      out.emplace_back(a, p);
    }
  }
  return out;
}

const LoadPattern& CollectiveModel::pattern(CollectiveOp op, const Communicator& comm,
                                            Algorithm algorithm, Protocol protocol) const {
  auto key =
      std::make_tuple(static_cast<int>(op), index_of(algorithm), index_of(protocol), comm.gpus);
  auto it = cache_.find(key);
  if (it == cache_.end()) it = cache_.emplace(key, build(op, comm, algorithm, protocol)).first;
  return it->second;
}

double CollectiveModel::wire_scale(Protocol protocol) const {
  return 1.0 / tuning_.data_fraction[index_of(protocol)];
}

const std::vector<Use>& CollectiveModel::flows(CollectiveOp op, const Communicator& comm,
                                               Algorithm algorithm) const {
  auto key = std::make_tuple(static_cast<int>(op), index_of(algorithm), comm.gpus);
  if (auto it = flows_cache_.find(key); it != flows_cache_.end()) return it->second;
  return flows(op, comm, algorithm, group_by_domain(topology_, comm));
}

const std::vector<Use>& CollectiveModel::flows(CollectiveOp op, const Communicator& comm,
                                               Algorithm algorithm,
                                               const std::vector<std::vector<int>>& groups) const {
  auto key = std::make_tuple(static_cast<int>(op), index_of(algorithm), comm.gpus);
  if (auto it = flows_cache_.find(key); it != flows_cache_.end()) return it->second;
  const int n = static_cast<int>(comm.gpus.size());
  const int d_count = static_cast<int>(groups.size());
  const int g = static_cast<int>(groups[0].size());
  const GpuArch arch = topology_.gpu().arch;
  const int channels = options_.channels > 0 ? options_.channels : tuning_.channels.at(arch);
  LoadAccumulator acc(topology_, scratch_weights_, 1.0);
  const double nvls_eff = tuning_.nvls_efficiency.at(arch);
  switch (algorithm) {
    case Algorithm::kRing: {
      const double edge = ring_edge_bytes(op, n) / channels;
      for (int c = 0; c < channels; ++c) {
        const auto order = ring_order(groups, c);
        for (int i = 0; i < n; ++i) {
          const int dst = order[(i + 1) % n];
          if (op == CollectiveOp::kBroadcast && dst == comm.gpus[0]) continue;
          acc.flow(order[i], dst, edge);
        }
      }
      break;
    }
    case Algorithm::kTree: {
      // Each channel carries 1/C of the data up its tree (reduce) and back down (broadcast).
      const double share = 1.0 / channels;
      for (int c = 0; c < channels; ++c) {
        std::vector<int> heads;
        for (const auto& dom : groups) {
          const int size = static_cast<int>(dom.size());
          const int head = c % size;
          heads.push_back(dom[head]);
          for (int i = 0; i + 1 < size; ++i) {
            const int up = dom[(head + i) % size];
            const int down = dom[(head + i + 1) % size];
            acc.flow(down, up, share);
            acc.flow(up, down, share);
          }
        }
        for (auto [child, parent] : tree_edges(d_count, c % 2)) {
          acc.flow(heads[child], heads[parent], share);
          acc.flow(heads[parent], heads[child], share);
        }
      }
      break;
    }
    case Algorithm::kNvls:
    case Algorithm::kNvlsTree: {
      // multimem.ld_reduce reads every GPU's slice through the switch (up 1 per GPU, down 1/g
      // to the slice owner); multimem.st writes each reduced slice once and the switch
      // multicasts it (up 1/g, down 1). all_gather is the store half, reduce_scatter the load.
      for (const auto& dom : groups) {
        const double gd = static_cast<double>(dom.size());
        double up = 1.0 + 1.0 / gd, down = 1.0 / gd + 1.0;
        if (op == CollectiveOp::kAllGather) up = 1.0 / gd, down = 1.0;
        if (op == CollectiveOp::kReduceScatter) up = 1.0, down = 1.0 / gd;
        for (int gpu : dom) {
          acc.direct(topology_.nvlink_up(gpu), up / nvls_eff);
          acc.direct(topology_.nvlink_down(gpu), down / nvls_eff);
        }
      }
      if (algorithm == Algorithm::kNvlsTree) {
        // GPU k of every domain all-reduces its 1/g slice over a double binary tree of the
        // domains, half of the slice on each tree, all on GPU k's rail.
        for (int k = 0; k < g; ++k) {
          const double half_slice = 0.5 / g;
          for (int t = 0; t < 2; ++t) {
            for (auto [child, parent] : tree_edges(d_count, t)) {
              const auto& cd = groups[child];
              const auto& pd = groups[parent];
              const int cg = cd[k % cd.size()], pg = pd[k % pd.size()];
              acc.flow(cg, pg, half_slice);
              acc.flow(pg, cg, half_slice);
            }
          }
        }
      }
      break;
    }
    case Algorithm::kP2p: {
      if (op == CollectiveOp::kSendRecv) {
        for (int i = 0; i < n; ++i) acc.flow(comm.gpus[i], comm.gpus[(i + 1) % n], 1.0);
      } else {
        for (int i = 0; i < n; ++i) {
          for (int j = 0; j < n; ++j) acc.flow(comm.gpus[i], comm.gpus[j], 1.0 / n);
        }
      }
      break;
    }
  }
  return flows_cache_.emplace(std::move(key), acc.uses()).first->second;
}

LoadPattern CollectiveModel::build(CollectiveOp op, const Communicator& comm, Algorithm algorithm,
                                   Protocol protocol) const {
  const auto groups = group_by_domain(topology_, comm);
  const int n = static_cast<int>(comm.gpus.size());
  const int d_count = static_cast<int>(groups.size());
  const int g = static_cast<int>(groups[0].size());
  const GpuArch arch = topology_.gpu().arch;
  const int a = index_of(algorithm);
  const int p = index_of(protocol);
  const int node_class = d_count == 1 ? 0 : (d_count == 2 ? 1 : 2);

  LoadPattern out;
  out.algorithm = algorithm;
  out.protocol = protocol;
  out.channels = options_.channels > 0 ? options_.channels : tuning_.channels.at(arch);
  const int channels = out.channels;
  // The protocol's wire overhead: it sends 1 / data_fraction bytes per byte of data.
  const double scale = wire_scale(protocol);
  out.uses = flows(op, comm, algorithm, groups);
  for (Use& use : out.uses) use.weight *= scale;

  // NCCL's protocol and per-channel bandwidth caps (bus bandwidth), tuning.cc ncclTopoTuneModel.
  double bus_cap = kUnbounded;
  const auto cap = [&](const std::map<GpuArch, std::array<double, 3>>& table) {
    return table.at(arch)[node_class];
  };
  if (protocol == Protocol::kLL) bus_cap = cap(tuning_.ll_max_bw);
  if (algorithm == Algorithm::kRing && protocol == Protocol::kLL128) {
    bus_cap = channels * cap(tuning_.ring_ll128_per_channel_bw);
  }
  if (algorithm == Algorithm::kTree && protocol == Protocol::kLL128) {
    bus_cap = channels * cap(tuning_.tree_ll128_per_channel_bw);
  }
  if (algorithm == Algorithm::kTree && protocol == Protocol::kSimple) {
    bus_cap = channels * cap(tuning_.tree_per_channel_bw);
  }
  if (algorithm == Algorithm::kNvlsTree && cap(tuning_.nvls_tree_per_channel_bw) > 0) {
    bus_cap = channels * cap(tuning_.nvls_tree_per_channel_bw);
  }
  // NCCL converts bus to algorithm bandwidth by nRanks/nsteps for ring and NVLS, 0.5 for tree.
  double bus_to_alg = 1.0;
  if (algorithm == Algorithm::kTree) bus_to_alg = 0.5;
  if (algorithm == Algorithm::kRing || algorithm == Algorithm::kNvls ||
      algorithm == Algorithm::kNvlsTree) {
    bus_to_alg = static_cast<double>(n) / ring_steps(op, n);
  }
  out.bound = bus_cap * bus_to_alg;

  // Latency: tuning.cc, per algorithm.
  const double base = tuning_.base_latency_s[a][p];
  const double intra = tuning_.nvlink_latency_s[a][p];
  const double inter =
      g == 1 ? tuning_.net_latency_s[index_of(Algorithm::kTree)][p] : tuning_.net_latency_s[a][p];
  const std::string vendor = topology_.instance().cpu_vendor;
  double net_overhead = 0.0;
  if (d_count > 1) {
    auto it = tuning_.net_overhead_s.find(vendor);
    net_overhead =
        it != tuning_.net_overhead_s.end() ? it->second : tuning_.net_overhead_s.at("other");
    if (protocol == Protocol::kSimple) net_overhead *= 3.0;
  }
  const double log_domains = std::log2(static_cast<double>(d_count));
  switch (algorithm) {
    case Algorithm::kRing: {
      const int steps = ring_steps(op, n);
      const int inter_steps =
          d_count == 1 ? 0 : (op == CollectiveOp::kAllReduce ? 2 : 1) * (d_count - 1);
      out.latency_s =
          base + (steps - inter_steps) * std::max(intra, net_overhead) + inter_steps * inter;
      break;
    }
    case Algorithm::kTree:
      out.latency_s = base + 2.0 * ((g - 1) * intra + log_domains * inter);
      break;
    case Algorithm::kNvls:
      out.latency_s = base + intra + (d_count > 1 ? inter : 0.0);
      break;
    case Algorithm::kNvlsTree:
      out.latency_s = base + intra + 2.0 * log_domains * inter;
      break;
    case Algorithm::kP2p:
      out.latency_s = base + (d_count > 1 ? inter : intra);
      break;
  }

  // Bandwidth alone on the topology: the tightest of the bound and every link.
  out.isolated_bw = out.bound;
  for (const Use& use : out.uses) {
    const double link_bw = sim_.resource(use.resource).capacity / use.weight;
    if (link_bw < out.isolated_bw) {
      out.isolated_bw = link_bw;
      out.isolated_bottleneck = use.resource;
    }
  }
  return out;
}

CollectiveChoice CollectiveModel::choose(CollectiveOp op, const Communicator& comm,
                                         double bytes) const {
  const auto options = candidates(op, comm);
  if (options.empty()) {
    throw bad_input("/workload/algorithms",
                    "no enabled algorithm and protocol can run " + to_string(op) +
                        " on this cluster; expected one of the algorithms NCCL has for it");
  }
  CollectiveChoice best;
  bool found = false;
  for (auto [algorithm, protocol] : options) {
    if (algorithm == Algorithm::kP2p) {
      // NCCL picks LL for point-to-point messages up to NCCL_P2P_LL_THRESHOLD, else Simple.
      const bool want_ll = bytes <= tuning_.p2p_ll_threshold_bytes;
      const bool has_other = std::any_of(options.begin(), options.end(),
                                         [&](const auto& o) { return o.second != protocol; });
      if (has_other && (protocol == Protocol::kLL) != want_ll) continue;
    }
    const LoadPattern& candidate = pattern(op, comm, algorithm, protocol);
    const double time = candidate.latency_s + bytes / candidate.isolated_bw;
    if (!found || time < best.predicted_time_s) {
      best.pattern = &candidate;
      best.predicted_time_s = time;
      found = true;
    }
  }
  return best;
}

ActivitySpec CollectiveModel::send_activity(int src, int dst, double bytes) const {
  const Protocol protocol =
      bytes <= tuning_.p2p_ll_threshold_bytes ? Protocol::kLL : Protocol::kSimple;
  const int p = index_of(protocol);
  const int ring = index_of(Algorithm::kRing);
  const bool same_domain = topology_.same_nvlink_domain(src, dst);
  ActivitySpec spec;
  spec.latency_s =
      tuning_.base_latency_s[ring][p] +
      (same_domain ? tuning_.nvlink_latency_s[ring][p] : tuning_.net_latency_s[ring][p]);
  spec.work = bytes;
  if (src == dst) {
    spec.work = 0.0;
    return spec;
  }
  for (const LinkShare& share : topology_.route(src, dst)) {
    spec.uses.push_back({share.resource, share.fraction / tuning_.data_fraction[p]});
  }
  return spec;
}

ActivitySpec CollectiveModel::activity(const LoadPattern& pattern, double bytes,
                                       std::uint64_t tag) {
  ActivitySpec spec;
  spec.latency_s = pattern.latency_s;
  // A collective on one rank moves nothing: only its latency remains.
  spec.work = pattern.uses.empty() && !std::isfinite(pattern.bound) ? 0.0 : bytes;
  spec.uses = pattern.uses;
  spec.bound = pattern.bound;
  spec.tag = tag;
  return spec;
}

}  // namespace fmsim
