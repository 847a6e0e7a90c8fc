// The cluster graph, its resources and its routes; the model is written out in topology.h.
//
// Layout. Vertices are numbered so that every lookup is arithmetic, never a search:
//   node n:      [n*B, (n+1)*B) with B = gpus + pcie_switches + nics, in that order
//   NVSwitches:  one per NVLink domain, after all nodes
//   leaves:      rail-major, (rail, leaf) -> rail * leaves_per_rail + leaf
//   spines:      last
// Resources are registered in build order and kept in flat vectors indexed the same way, so that
// route() only computes indices. Building is linear in the number of links: per node
// 2 x (gpus + gpus + nics) resources, plus 2 x leaves x spines fabric links. Worked count, 2 p5
// nodes (8 GPUs, 32 NICs, one leaf per rail, 16 spines): 16 NVLink + 16 PCIe + 64 EFA per node,
// 32 leaves x 16 spines x 2 = 1,024 fabric links; 1,216 resources in all.
//
// PCIe switches: the GPUs that share a set of NICs share a PCIe switch (p5: one GPU and its four
// NICs per switch; p4d: two GPUs and one NIC per switch), min(gpus, nics) switches per node.
#include "topology/topology.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/graph/visitors.hpp>
#include <boost/property_map/property_map.hpp>
#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"

namespace fmsim {

// network.json's mapping (found by ADL, so in namespace fmsim): each entry is
// {"value", "source", "note"}; only the value is read, the rest is for people.
void from_json(const nlohmann::json& j, NetworkDefaults& defaults) {
  defaults.nodes_per_leaf = j.at("nodes_per_leaf").at("value").get<int>();
  defaults.spines = j.at("spines").at("value").get<int>();
  defaults.nic_efficiency = j.at("nic_efficiency").at("value").get<double>();
  defaults.switch_hop_latency_s = j.at("switch_hop_latency_us").at("value").get<double>() * 1e-6;
}

namespace {

using Vertex = boost::graph_traits<ClusterGraph>::vertex_descriptor;

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

int ceil_div(int a, int b) { return (a + b - 1) / b; }

bool is_switch(DeviceKind kind) {
  return kind == DeviceKind::kNvSwitch || kind == DeviceKind::kLeaf || kind == DeviceKind::kSpine;
}

void validate_network(const NetworkConfig& network, const NetworkDefaults& defaults) {
  if (network.topology != "rail-fat-tree") {
    throw bad_input("/cluster/network/topology",
                    "expected \"rail-fat-tree\" (the only topology implemented), got " +
                        quoted(network.topology));
  }
  if (!(network.oversubscription >= 1.0) || !std::isfinite(network.oversubscription)) {
    throw bad_input("/cluster/network/oversubscription",
                    "expected a number >= 1, got " + number_text(network.oversubscription));
  }
  if (network.nodes_per_leaf < 0) {
    throw bad_input("/cluster/network/nodes_per_leaf",
                    "expected an integer >= 1 (or 0 for the default), got " +
                        std::to_string(network.nodes_per_leaf));
  }
  if (network.spines < 0) {
    throw bad_input(
        "/cluster/network/spines",
        "expected an integer >= 1 (or 0 for the default), got " + std::to_string(network.spines));
  }
  if (defaults.nodes_per_leaf < 1 || defaults.spines < 1 || !(defaults.nic_efficiency > 0.0) ||
      defaults.nic_efficiency > 1.0) {
    throw bad_input("network defaults",
                    "expected nodes_per_leaf >= 1, spines >= 1 and 0 < nic_efficiency <= 1");
  }
}

void validate_hardware(const InstanceSpec& instance, const GpuSpec& gpu, int nodes) {
  const std::string where = "/cluster/instance";
  const std::string who = "instance " + quoted(instance.name) + ": ";
  const int gpn = instance.gpus_per_node;
  const int nics = instance.efa_nics;
  if (gpn < 1) {
    throw bad_input(where, who + "expected gpus_per_node >= 1, got " + std::to_string(gpn));
  }
  if (gpu.pcie_bw_bytes_per_s <= 0.0) {
    throw bad_input(where, who + "GPU " + quoted(gpu.name) + " needs pcie_bw_bytes_per_s > 0");
  }
  if (nics < 0 || (nics > 0 && nics % gpn != 0 && gpn % nics != 0)) {
    throw bad_input(where, who + "expected efa_nics to be 0, a multiple of gpus_per_node (" +
                               std::to_string(gpn) + ") or a divisor of it, got " +
                               std::to_string(nics));
  }
  if (nics > 0 && instance.efa_nic_bw_bytes_per_s <= 0.0) {
    throw bad_input(where, who + "expected efa_nic_bw_bytes_per_s > 0");
  }
  const int domain = instance.nvlink_domain_gpus;
  const bool nvlink = gpu.nvlink_links > 0 && domain > 1;
  if (nvlink && domain % gpn != 0 && gpn % domain != 0) {
    throw bad_input(where, who + "expected nvlink_domain_gpus to be a multiple of gpus_per_node (" +
                               std::to_string(gpn) + ") or a divisor of it, got " +
                               std::to_string(domain));
  }
  if (nvlink && gpu.nvlink_link_effective_bw_bytes_per_s <= 0.0) {
    throw bad_input(where, who + "GPU " + quoted(gpu.name) +
                               " has NVLink but no nvlink_link_effective_bw_bytes_per_s");
  }
  const bool node_in_one_domain = gpn == 1 || (nvlink && domain % gpn == 0);
  if (nics == 0 && (nodes > 1 || !node_in_one_domain)) {
    throw bad_input(where, who + "has no EFA NIC, so its GPUs cannot reach GPUs in other nodes");
  }
}

// Edge endpoints of one resource, for hops().
struct Endpoints {
  std::uint32_t from;
  std::uint32_t to;
};

// Keeps the vertices of one route; filtered_graph needs a default-constructible predicate.
struct InVertexSet {
  const std::vector<Vertex>* vertices = nullptr;
  bool operator()(Vertex v) const {
    return std::binary_search(vertices->begin(), vertices->end(), v);
  }
};

}  // namespace

std::string to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::kNvLink:
      return "NVLink";
    case LinkKind::kPcie:
      return "PCIe";
    case LinkKind::kEfa:
      return "EFA";
    case LinkKind::kFabric:
      return "fabric";
  }
  return "unknown";
}

const NetworkDefaults& network_defaults() {
  static const NetworkDefaults defaults =
      nlohmann::json::parse(embedded_file("network.json")).get<NetworkDefaults>();
  return defaults;
}

struct Topology::State {
  InstanceSpec instance;
  GpuSpec gpu;
  int nodes = 0;
  int gpus_per_node = 0;
  int nics = 0;           // per node, = rails
  int pcie_switches = 0;  // per node
  int domain_gpus = 1;    // GPUs per NVLink domain; 1 without NVLink
  bool nvlink = false;
  int domains = 0;  // NVSwitch vertices
  int nodes_per_leaf = 0;
  int leaves_per_rail = 0;
  int spines = 0;

  // The Boost graph of devices and links is built on first use (graph(), hops()): a simulation
  // routes by arithmetic on the resource tables below and never needs it.
  mutable ClusterGraph graph;
  mutable std::once_flag graph_built;
  struct PendingEdge {
    Vertex from, to;
    Link link;
  };
  mutable std::vector<PendingEdge>
      edges;  // every directed edge, in order, until the graph is built
  ResourceId first = kNoResource;
  std::vector<LinkKind> kinds;          // by resource - first
  std::vector<Endpoints> endpoints;     // by resource - first
  std::vector<ResourceId> nvlink_up;    // by GPU
  std::vector<ResourceId> nvlink_down;  // by GPU
  std::vector<ResourceId> pcie_up;      // by GPU: GPU -> PCIe switch
  std::vector<ResourceId> pcie_down;    // by GPU: PCIe switch -> GPU
  std::vector<ResourceId> nic_up;       // by node * nics + nic: NIC -> leaf
  std::vector<ResourceId> nic_down;     // by node * nics + nic: leaf -> NIC
  std::vector<ResourceId> leaf_up;      // by leaf_index * spines + spine: leaf -> spine
  std::vector<ResourceId> leaf_down;    // by leaf_index * spines + spine: spine -> leaf

  int node_block() const { return gpus_per_node + pcie_switches + nics; }
  Vertex gpu_vertex(int rank) const {
    return Vertex(rank / gpus_per_node) * node_block() + rank % gpus_per_node;
  }
  Vertex pcie_vertex(int node, int pcie) const {
    return Vertex(node) * node_block() + gpus_per_node + pcie;
  }
  Vertex nic_vertex(int node, int nic) const {
    return Vertex(node) * node_block() + gpus_per_node + pcie_switches + nic;
  }
  Vertex nvswitch_vertex(int domain) const { return Vertex(nodes) * node_block() + domain; }
  int leaf_index(int rail, int leaf) const { return rail * leaves_per_rail + leaf; }
  Vertex leaf_vertex(int rail, int leaf) const {
    return nvswitch_vertex(domains) + leaf_index(rail, leaf);
  }
  Vertex spine_vertex(int spine) const {
    return leaf_vertex(0, 0) + Vertex(nics) * leaves_per_rail + spine;
  }
  Vertex vertex_count() const { return spine_vertex(0) + (nics > 0 ? spines : 0); }

  int nic_share() const { return nics >= gpus_per_node ? nics / gpus_per_node : 1; }
  int pcie_of_local_gpu(int local) const {
    return nics >= gpus_per_node || nics == 0 ? local : local / (gpus_per_node / nics);
  }
  int pcie_of_nic(int nic) const { return nics >= gpus_per_node ? nic / nic_share() : nic; }
  int leaf_of(int node) const { return node / nodes_per_leaf; }

  // Builds the vertices and links, registering one resource per directed link in `sim`.
  void build(Simulator& sim, double nic_efficiency, double oversubscription) {
    add_node_links(sim, nic_efficiency);
    add_fabric_links(sim, nic_efficiency, oversubscription);
  }

  const ClusterGraph& built_graph() const {
    std::call_once(graph_built, [this] {
      graph = ClusterGraph(vertex_count());
      add_devices();
      for (const PendingEdge& e : edges) boost::add_edge(e.from, e.to, e.link, graph);
      edges = {};
    });
    return graph;
  }

  void set_device(Vertex v, DeviceKind kind, int node, int index, std::string name) const {
    graph[v] = Device{kind, node, index, std::move(name)};
  }

  ResourceId link(Simulator& sim, Vertex from, Vertex to, LinkKind kind, double bw_bytes_per_s,
                  std::string name) {
    const ResourceId id = sim.add_resource(std::move(name), bw_bytes_per_s);
    if (first == kNoResource) first = id;
    if (id != first + kinds.size()) {
      throw std::logic_error("Topology: the engine's resource ids are not contiguous at " +
                             sim.resource(id).name);
    }
    kinds.push_back(kind);
    endpoints.push_back({static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to)});
    edges.push_back({from, to, Link{kind, bw_bytes_per_s, id}});
    return id;
  }

  void add_devices() const {
    const int gpn = gpus_per_node;
    for (int node = 0; node < nodes; ++node) {
      const std::string prefix = "n" + std::to_string(node) + ".";
      for (int local = 0; local < gpn; ++local) {
        const int rank = node * gpn + local;
        set_device(gpu_vertex(rank), DeviceKind::kGpu, node, rank,
                   prefix + "gpu" + std::to_string(local));
      }
      for (int p = 0; p < pcie_switches; ++p) {
        set_device(pcie_vertex(node, p), DeviceKind::kPcieSwitch, node, p,
                   prefix + "pcie" + std::to_string(p));
      }
      for (int nic = 0; nic < nics; ++nic) {
        set_device(nic_vertex(node, nic), DeviceKind::kNic, node, nic,
                   prefix + "nic" + std::to_string(nic));
      }
    }
    const int domain_nodes = std::max(1, domain_gpus / gpn);
    for (int d = 0; d < domains; ++d) {
      const bool inside_one_node = domain_nodes == 1;
      const int node = inside_one_node ? d * domain_gpus / gpn : -1;
      set_device(nvswitch_vertex(d), DeviceKind::kNvSwitch, node, d,
                 "nvswitch." + std::to_string(d));
    }
    for (int rail = 0; rail < nics; ++rail) {
      for (int leaf = 0; leaf < leaves_per_rail; ++leaf) {
        set_device(leaf_vertex(rail, leaf), DeviceKind::kLeaf, -1, rail, leaf_name(rail, leaf));
      }
    }
    if (nics == 0) return;
    for (int spine = 0; spine < spines; ++spine) {
      set_device(spine_vertex(spine), DeviceKind::kSpine, -1, spine,
                 "spine." + std::to_string(spine));
    }
  }

  static std::string leaf_name(int rail, int leaf) {
    return "leaf.r" + std::to_string(rail) + "." + std::to_string(leaf);
  }

  void add_node_links(Simulator& sim, double nic_efficiency) {
    const int gpn = gpus_per_node;
    const int gpus = nodes * gpn;
    const double nvlink_bw = gpu.nvlink_links * gpu.nvlink_link_effective_bw_bytes_per_s;
    const double pcie_bw = gpu.pcie_bw_bytes_per_s;
    const double nic_bw = instance.efa_nic_bw_bytes_per_s * nic_efficiency;
    nvlink_up.assign(gpus, kNoResource);
    nvlink_down.assign(gpus, kNoResource);
    pcie_up.resize(gpus);
    pcie_down.resize(gpus);
    nic_up.resize(std::size_t(nodes) * nics);
    nic_down.resize(std::size_t(nodes) * nics);
    for (int node = 0; node < nodes; ++node) {
      const std::string prefix = "n" + std::to_string(node) + ".";
      for (int local = 0; local < gpn; ++local) {
        const int rank = node * gpn + local;
        const Vertex g = gpu_vertex(rank);
        const std::string name = prefix + "gpu" + std::to_string(local);
        if (nvlink) {
          const Vertex sw = nvswitch_vertex(rank / domain_gpus);
          nvlink_up[rank] = link(sim, g, sw, LinkKind::kNvLink, nvlink_bw, name + ".nvlink.up");
          nvlink_down[rank] = link(sim, sw, g, LinkKind::kNvLink, nvlink_bw, name + ".nvlink.down");
        }
        const Vertex pcie = pcie_vertex(node, pcie_of_local_gpu(local));
        pcie_up[rank] = link(sim, g, pcie, LinkKind::kPcie, pcie_bw, name + ".pcie.up");
        pcie_down[rank] = link(sim, pcie, g, LinkKind::kPcie, pcie_bw, name + ".pcie.down");
      }
      for (int nic = 0; nic < nics; ++nic) {
        const Vertex n = nic_vertex(node, nic);
        const Vertex pcie = pcie_vertex(node, pcie_of_nic(nic));
        const Link host_link{LinkKind::kPcie, instance.efa_nic_bw_bytes_per_s, kNoResource};
        edges.push_back({pcie, n, host_link});
        edges.push_back({n, pcie, host_link});
        const int rail = nic;
        const Vertex leaf = leaf_vertex(rail, leaf_of(node));
        const std::string nic_name = prefix + "nic" + std::to_string(nic);
        const std::string leaf_label = leaf_name(rail, leaf_of(node));
        const std::size_t at = std::size_t(node) * nics + nic;
        nic_up[at] = link(sim, n, leaf, LinkKind::kEfa, nic_bw, nic_name + "->" + leaf_label);
        nic_down[at] = link(sim, leaf, n, LinkKind::kEfa, nic_bw, leaf_label + "->" + nic_name);
      }
    }
  }

  // Leaf <-> spine, per spine: a leaf sized for nodes_per_leaf nodes, uplinks = downlinks /
  // oversubscription, split evenly over the spines (whether or not the leaf is full).
  void add_fabric_links(Simulator& sim, double nic_efficiency, double oversubscription) {
    if (nics == 0) return;
    const double downlink_bw = nodes_per_leaf * instance.efa_nic_bw_bytes_per_s * nic_efficiency;
    const double per_spine_bw = downlink_bw / oversubscription / spines;
    const std::size_t links = std::size_t(nics) * leaves_per_rail * spines;
    leaf_up.resize(links);
    leaf_down.resize(links);
    for (int rail = 0; rail < nics; ++rail) {
      for (int leaf = 0; leaf < leaves_per_rail; ++leaf) {
        const Vertex l = leaf_vertex(rail, leaf);
        const std::string leaf_label = leaf_name(rail, leaf);
        for (int spine = 0; spine < spines; ++spine) {
          const Vertex sp = spine_vertex(spine);
          const std::string spine_label = "spine." + std::to_string(spine);
          const std::size_t at = std::size_t(leaf_index(rail, leaf)) * spines + spine;
          leaf_up[at] =
              link(sim, l, sp, LinkKind::kFabric, per_spine_bw, leaf_label + "->" + spine_label);
          leaf_down[at] =
              link(sim, sp, l, LinkKind::kFabric, per_spine_bw, spine_label + "->" + leaf_label);
        }
      }
    }
  }

  void check_gpu(int rank) const {
    if (rank < 0 || rank >= nodes * gpus_per_node) {
      throw std::out_of_range("GPU " + std::to_string(rank) + " is not in this topology");
    }
  }
};

namespace {

// Sorts by resource and adds up the fractions of repeated resources.
Route merge_shares(Route shares) {
  std::sort(shares.begin(), shares.end(),
            [](const LinkShare& a, const LinkShare& b) { return a.resource < b.resource; });
  Route merged;
  merged.reserve(shares.size());
  for (const LinkShare& share : shares) {
    if (!merged.empty() && merged.back().resource == share.resource) {
      merged.back().fraction += share.fraction;
      continue;
    }
    merged.push_back(share);
  }
  return merged;
}

}  // namespace

Topology::Topology(const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
                   const NetworkConfig& network, const NetworkDefaults& defaults, Simulator& sim) {
  if (nodes < 1) {
    throw bad_input("/cluster/nodes", "expected an integer >= 1, got " + std::to_string(nodes));
  }
  validate_network(network, defaults);
  validate_hardware(instance, gpu, nodes);

  auto state = std::make_shared<State>();
  State& s = *state;
  s.instance = instance;
  s.gpu = gpu;
  s.nodes = nodes;
  s.gpus_per_node = instance.gpus_per_node;
  s.nics = instance.efa_nics;
  s.pcie_switches = s.nics > 0 ? std::min(s.gpus_per_node, s.nics) : s.gpus_per_node;
  s.nvlink = gpu.nvlink_links > 0 && instance.nvlink_domain_gpus > 1;
  s.domain_gpus = s.nvlink ? instance.nvlink_domain_gpus : 1;
  s.domains = s.nvlink ? ceil_div(nodes * s.gpus_per_node, s.domain_gpus) : 0;
  s.nodes_per_leaf = network.nodes_per_leaf > 0 ? network.nodes_per_leaf : defaults.nodes_per_leaf;
  s.spines = network.spines > 0 ? network.spines : defaults.spines;
  s.leaves_per_rail = s.nics > 0 ? ceil_div(nodes, s.nodes_per_leaf) : 0;

  s.build(sim, defaults.nic_efficiency, network.oversubscription);
  state_ = std::move(state);
}

int Topology::nodes() const { return state_->nodes; }
int Topology::gpus() const { return state_->nodes * state_->gpus_per_node; }
int Topology::gpus_per_node() const { return state_->gpus_per_node; }

int Topology::node_of(int gpu) const {
  state_->check_gpu(gpu);
  return gpu / state_->gpus_per_node;
}

int Topology::nvlink_domain_of(int gpu) const {
  state_->check_gpu(gpu);
  return gpu / state_->domain_gpus;
}

bool Topology::same_nvlink_domain(int a, int b) const {
  return state_->nvlink && nvlink_domain_of(a) == nvlink_domain_of(b);
}

int Topology::nvlink_domains() const { return state_->nvlink ? state_->domains : gpus(); }

int Topology::nics_per_node() const { return state_->nics; }

std::vector<int> Topology::nics_of(int gpu) const {
  const State& s = *state_;
  s.check_gpu(gpu);
  if (s.nics == 0) return {};
  const int local = gpu % s.gpus_per_node;
  if (s.nics < s.gpus_per_node) return {local / (s.gpus_per_node / s.nics)};
  const int k = s.nic_share();
  std::vector<int> nics(k);
  for (int j = 0; j < k; ++j) nics[j] = local * k + j;
  return nics;
}

int Topology::nodes_per_leaf() const { return state_->nodes_per_leaf; }
int Topology::spines() const { return state_->spines; }
int Topology::leaves_per_rail() const { return state_->leaves_per_rail; }

int Topology::leaf_of(int node) const {
  if (node < 0 || node >= state_->nodes) {
    throw std::out_of_range("node " + std::to_string(node) + " is not in this topology");
  }
  return state_->leaf_of(node);
}

// Inside a domain: [src NVLink up, dst NVLink down], fraction 1. Across domains, with k NICs per
// GPU and S spines: src PCIe up (1), then for the j-th NIC pair: NIC -> leaf (1/k), either
// leaf -> NIC (1/k) under one leaf or, between leaves, leaf -> spine and spine -> leaf on every
// spine (1/(k S) each) then leaf -> NIC (1/k); dst PCIe down (1).
Route Topology::route(int src, int dst) const {
  const State& s = *state_;
  s.check_gpu(src);
  s.check_gpu(dst);
  if (src == dst)
    throw std::invalid_argument("Topology::route: src == dst (" + std::to_string(src) + ")");
  if (same_nvlink_domain(src, dst)) {
    return merge_shares({{s.nvlink_up[src], 1.0}, {s.nvlink_down[dst], 1.0}});
  }
  const int src_node = src / s.gpus_per_node;
  const int dst_node = dst / s.gpus_per_node;
  const std::vector<int> src_nics = nics_of(src);
  const std::vector<int> dst_nics = nics_of(dst);
  const double per_nic = 1.0 / static_cast<double>(src_nics.size());
  const double per_path = per_nic / s.spines;

  Route shares;
  shares.reserve(2 + src_nics.size() * (3 + 2 * std::size_t(s.spines)));
  shares.push_back({s.pcie_up[src], 1.0});
  for (std::size_t j = 0; j < src_nics.size(); ++j) {
    const int src_rail = src_nics[j];
    const int dst_rail = dst_nics[j];
    const int src_leaf = s.leaf_index(src_rail, s.leaf_of(src_node));
    const int dst_leaf = s.leaf_index(dst_rail, s.leaf_of(dst_node));
    shares.push_back({s.nic_up[std::size_t(src_node) * s.nics + src_rail], per_nic});
    if (src_leaf != dst_leaf) {
      for (int spine = 0; spine < s.spines; ++spine) {
        shares.push_back({s.leaf_up[std::size_t(src_leaf) * s.spines + spine], per_path});
        shares.push_back({s.leaf_down[std::size_t(dst_leaf) * s.spines + spine], per_path});
      }
    }
    shares.push_back({s.nic_down[std::size_t(dst_node) * s.nics + dst_rail], per_nic});
  }
  shares.push_back({s.pcie_down[dst], 1.0});
  return merge_shares(std::move(shares));
}

ResourceId Topology::nvlink_up(int gpu) const {
  state_->check_gpu(gpu);
  return state_->nvlink_up[gpu];
}

ResourceId Topology::nvlink_down(int gpu) const {
  state_->check_gpu(gpu);
  return state_->nvlink_down[gpu];
}

LinkKind Topology::kind_of(ResourceId resource) const {
  const State& s = *state_;
  if (resource < s.first || resource - s.first >= s.kinds.size()) {
    throw std::out_of_range("resource " + std::to_string(resource) +
                            " does not belong to this topology");
  }
  return s.kinds[resource - s.first];
}

ResourceId Topology::first_resource() const { return state_->first; }
std::size_t Topology::resource_count() const { return state_->kinds.size(); }
const ClusterGraph& Topology::graph() const { return state_->built_graph(); }

// BFS restricted to the devices the route touches (the endpoints of its resources, which brings
// in the PCIe switch <-> NIC edges between them), so that the path is the one route() takes and the
// search costs O(route), not O(cluster). The colour and predecessor maps are sparse for the same
// reason: breadth_first_visit leaves unvisited vertices alone, and a missing map entry is white.
int Topology::hops(int src, int dst) const {
  const State& s = *state_;
  s.check_gpu(src);
  s.check_gpu(dst);
  if (src == dst) return 0;
  s.built_graph();

  std::vector<Vertex> devices;
  for (const LinkShare& share : route(src, dst)) {
    const Endpoints& ends = s.endpoints[share.resource - s.first];
    devices.push_back(ends.from);
    devices.push_back(ends.to);
  }
  std::sort(devices.begin(), devices.end());
  devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
  const boost::filtered_graph<ClusterGraph, boost::keep_all, InVertexSet> sub(
      s.graph, boost::keep_all(), InVertexSet{&devices});

  std::map<Vertex, boost::default_color_type> colors;
  std::map<Vertex, Vertex> parents;
  boost::queue<Vertex> queue;
  const Vertex from = s.gpu_vertex(src);
  const Vertex to = s.gpu_vertex(dst);
  boost::breadth_first_visit(
      sub, from, queue,
      boost::make_bfs_visitor(boost::record_predecessors(
          boost::associative_property_map<std::map<Vertex, Vertex>>(parents),
          boost::on_tree_edge())),
      boost::associative_property_map<std::map<Vertex, boost::default_color_type>>(colors));
  if (!parents.contains(to)) {
    throw std::logic_error("Topology::hops: route " + s.graph[from].name + " -> " +
                           s.graph[to].name + " is not connected");
  }
  int switches = 0;
  for (Vertex v = parents.at(to); v != from; v = parents.at(v)) {
    if (is_switch(s.graph[v].kind)) ++switches;
  }
  return switches;
}

const InstanceSpec& Topology::instance() const { return state_->instance; }
const GpuSpec& Topology::gpu() const { return state_->gpu; }

}  // namespace fmsim
