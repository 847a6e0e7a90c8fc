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
//   * Rail-optimised fat tree: NIC i of every node connects to a leaf switch of rail i; a leaf
//     takes nodes_per_leaf nodes. Leaves of all rails connect to `spines` spine switches; each
//     leaf's uplink capacity is its downlink capacity / oversubscription, split evenly over the
//     spines.
//   * Routing: inside an NVLink domain, src uplink -> dst downlink. Across domains, the flow leaves
//     through the source GPU's NICs (bytes split evenly over them), stays on the same rail, enters
//     the destination GPU's matching NIC; a flow between two leaves is split evenly (ECMP) over
//     all spines.
//     A flow between GPUs on different rails (different local GPU index, or p4d's shared NICs)
//     leaves on the source NIC's rail and crosses to the destination NIC's rail through the spines,
//     as a rail-optimised fabric does without NCCL's PXN; a caller that models PXN composes an
//     NVLink route to the rail-aligned GPU with a rail-aligned network route. GPUs of one node that
//     share no NVLink domain (no NVLink at all) talk over the network path too.
// Capacities (per direction): NVLink port = nvlink_links x nvlink_link_effective_bw (H100:
//   18 x 20.6 = 370.8 GB/s); GPU <-> PCIe switch = gpu.pcie_bw; NIC <-> leaf = NIC line rate x
//   nic_efficiency; leaf <-> spine, per spine = nodes_per_leaf x NIC capacity / oversubscription /
//   spines (a leaf is sized for a full set of nodes_per_leaf nodes, also when fewer are attached).
//   PCIe switch <-> NIC edges are in the graph (connectivity) but are not resources: the NIC's host
//   link is sized for its line rate, so the NIC <-> leaf link always binds first.
// Worked example (2 p5 nodes under one leaf: 8 H100, 32 NICs of 100 Gbit/s each): a flow
//   n0.gpu0 -> n1.gpu0 crosses n0.gpu0.pcie.up (fraction 1), n0.nic0..3 -> leaf.r0..3.0 (1/4 each),
//   leaf.r0..3.0 -> n1.nic0..3 (1/4 each) and n1.gpu0.pcie.down (1); alone it runs at
//   min(64 / 1, 12.0 / 0.25) = 48 GB/s, 2 switch hops fewer than between two leaves (1 vs 3).
// Limits: no adaptive routing (SRD's multipath spraying is approximated by the even ECMP split),
// no link failures, PCIe switches are non-blocking and the host CPU/memory path is not modelled.
#pragma once

#include <cstddef>
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
  ResourceId resource = kNoResource;  // kNoResource for PCIe switch <-> NIC (never binds)
};

using ClusterGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Device, Link>;

// One resource a flow crosses, with the fraction of the flow's bytes that cross it. A Route holds
// one entry per resource, sorted by resource id.
struct LinkShare {
  ResourceId resource = kNoResource;
  double fraction = 1.0;
};
using Route = std::vector<LinkShare>;

class Topology {
 public:
  // Registers one resource per directed link in `sim`; the Boost graph is built on the first
  // graph() or hops() call (thread-safe), since routing does not need it.
  // Throws fmsim::Error (kBadInput) for nodes < 1 or an unusable network config.
  Topology(const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
           const NetworkConfig& network, const NetworkDefaults& defaults, Simulator& sim);

  int nodes() const;
  int gpus() const;
  int gpus_per_node() const;
  int node_of(int gpu) const;
  // Without NVLink (nvlink_links == 0 or nvlink_domain_gpus <= 1) every GPU is its own domain.
  int nvlink_domain_of(int gpu) const;
  bool same_nvlink_domain(int a, int b) const;
  int nvlink_domains() const;
  int nics_per_node() const;  // = rails
  // NICs (node-local indices) that GPU `gpu` sends and receives through.
  std::vector<int> nics_of(int gpu) const;
  int nodes_per_leaf() const;  // after applying the defaults
  int spines() const;
  int leaves_per_rail() const;  // ceil(nodes / nodes_per_leaf)
  int leaf_of(int node) const;  // leaf number (the same on every rail)

  // Route of a flow from GPU src to GPU dst (src != dst), per the model above.
  Route route(int src, int dst) const;
  // The GPU's NVLink port resources, for NVLS (multicast/reduction in the switch); kNoResource
  // when the GPU has no NVLink domain.
  ResourceId nvlink_up(int gpu) const;
  ResourceId nvlink_down(int gpu) const;

  LinkKind kind_of(ResourceId resource) const;  // resource must belong to this topology
  // This topology's resources are the contiguous ids [first_resource, first_resource + count).
  ResourceId first_resource() const;
  std::size_t resource_count() const;
  const ClusterGraph& graph() const;  // built on first call
  // Switch hops between two GPUs, for tests and latency terms: the NVSwitches, leaves and spines on
  // the path that route(src, dst) takes (BFS over the devices of that route; with ECMP every path
  // has the same length). PCIe switches are not counted: they are the node's host path, whose
  // latency NCCL's per-step network overhead already holds. 0 when src == dst.
  int hops(int src, int dst) const;

  const InstanceSpec& instance() const;
  const GpuSpec& gpu() const;

 private:
  struct State;
  std::shared_ptr<const State> state_;
};

}  // namespace fmsim
