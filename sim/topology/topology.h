// The cluster as a graph (Boost.Graph) of devices and directed links, each link an engine
// Resource, and the routes flows take over it.
//
// Model (one AWS UltraCluster placement group):
//   * Inside a node, every GPU has one NVLink port to the NVSwitch fabric: an uplink and a downlink
//     resource of nvlink_links x the per-link effective bandwidth (NCCL's topo.h figure). The
//     NVSwitch itself is non-blocking (NVIDIA DGX/HGX H100 documentation) and is not a resource.
//     An NVLink domain spans nvlink_domain_gpus GPUs: 8 on HGX nodes, 72 on GB200 NVL72, where the
//     domain spans 18 nodes of 4 GPUs.
//   * Every GPU has a PCIe (or C2C) link to its PCIe switch; the instance's EFA NICs hang off the
//     PCIe switches. GPU g owns NICs [g*k, (g+1)*k) when there are k >= 1 NICs per GPU; when NICs
//     are fewer than GPUs (p4d: 4 NICs, 8 GPUs) GPU g shares NIC g / (gpus/nics).
//   * Rail-optimised fat tree: NIC i of every node connects to a leaf switch of rail i; a leaf takes
//     nodes_per_leaf nodes. Leaves of all rails connect to `spines` spine switches; each leaf's
//     uplink capacity is its downlink capacity / oversubscription, split evenly over the spines.
//   * Routing: inside an NVLink domain, src uplink -> dst downlink. Across domains, the flow leaves
//     through the source GPU's NICs (bytes split evenly over them), stays on the same rail, enters
//     the destination GPU's matching NIC; a flow between two leaves is split evenly (ECMP) over
//     all spines.
// Limits: no adaptive routing (SRD's multipath spraying is approximated by the even ECMP split),
// no link failures, PCIe switches are non-blocking and the host CPU/memory path is not modelled.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "engine/simulator.h"
#include "hardware/catalog.h"

namespace fmsim {

// Defaults for the parts AWS does not publish (sim/data/network.json, each with its source).
struct NetworkDefaults {
  int nodes_per_leaf = 32;
  int spines = 16;
  // Usable fraction of a NIC's line rate (NCCL's topo.h NET_BW of 12.0 GB/s for 100 Gbit/s).
  double nic_efficiency = 0.96;
  double switch_hop_latency_s = 1e-6;
};

// The defaults embedded in sim/data/network.json.
const NetworkDefaults& network_defaults();

// The scenario's /cluster/network object.
struct NetworkConfig {
  std::string topology = "rail-fat-tree";
  double oversubscription = 1.0;  // leaf downlink : uplink capacity, >= 1
  int nodes_per_leaf = 0;         // 0: NetworkDefaults
  int spines = 0;                 // 0: NetworkDefaults
};

enum class DeviceKind { kGpu, kNvSwitch, kPcieSwitch, kNic, kLeaf, kSpine };
enum class LinkKind { kNvLink, kPcie, kEfa, kFabric };
std::string to_string(LinkKind kind);

struct Device {
  DeviceKind kind = DeviceKind::kGpu;
  int node = -1;   // owning node, -1 for switches outside nodes
  int index = -1;  // GPU rank, NIC index in the node, rail, spine number...
  std::string name;
};

struct Link {
  LinkKind kind = LinkKind::kNvLink;
  double bw_bytes_per_s = 0.0;
  ResourceId resource = kNoResource;
};

using ClusterGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS,
                                           Device, Link>;

// One resource a flow crosses, with the fraction of the flow's bytes that cross it.
struct LinkShare {
  ResourceId resource = kNoResource;
  double fraction = 1.0;
};
using Route = std::vector<LinkShare>;

class Topology {
 public:
  // Builds the graph and registers one resource per directed link in `sim`.
  // Throws fmsim::Error (kBadInput) for nodes < 1 or an unusable network config.
  Topology(const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
           const NetworkConfig& network, const NetworkDefaults& defaults, Simulator& sim);

  int nodes() const;
  int gpus() const;
  int gpus_per_node() const;
  int node_of(int gpu) const;
  int nvlink_domain_of(int gpu) const;
  bool same_nvlink_domain(int a, int b) const;
  int nics_per_node() const;
  // NICs (node-local indices) that GPU `gpu` sends and receives through.
  std::vector<int> nics_of(int gpu) const;

  // Route of a flow from GPU src to GPU dst (src != dst), per the model above.
  Route route(int src, int dst) const;
  // The GPU's NVLink port resources, for NVLS (multicast/reduction in the switch).
  ResourceId nvlink_up(int gpu) const;
  ResourceId nvlink_down(int gpu) const;

  LinkKind kind_of(ResourceId resource) const;  // resource must belong to this topology
  const ClusterGraph& graph() const;
  // Switch hops between two GPUs (BFS over the graph), for tests and latency terms.
  int hops(int src, int dst) const;

  const InstanceSpec& instance() const;
  const GpuSpec& gpu() const;

 private:
  struct State;
  std::shared_ptr<const State> state_;
};

}  // namespace fmsim
