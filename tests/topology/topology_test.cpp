// Topology: device and link counts, capacities and routes checked against hand calculations.
//
// The hardware is written out here (not read from the catalog) with the figures of
// shared/data/hardware-facts.md, so that these tests only depend on the topology model:
//   H100 SXM: 18 NVLink4 links x 20.6 GB/s usable (NCCL topo.h SM90) = 370.8 GB/s per direction;
//             PCIe Gen5 x16 128 GB/s both ways = 64 GB/s per direction.
//   A100 SXM: 12 NVLink3 links x 20.0 GB/s (SM80) = 240 GB/s; PCIe Gen4 32 GB/s per direction.
//   B200 in GB200: 18 NVLink5 links x 40.1 GB/s (SM100) = 721.8 GB/s; NVLink-C2C 900 GB/s both
//             ways = 450 GB/s per direction.
//   p5.48xlarge: 8 H100, one 8-GPU NVLink domain, 32 EFA NICs of 100 Gbit/s = 12.5 GB/s.
//   p4d.24xlarge: 8 A100, one 8-GPU NVLink domain, 4 EFA NICs of 100 Gbit/s.
//   p6e-gb200.36xlarge: 4 B200, 72-GPU NVLink domain (u-p6e-gb200x72 = 18 nodes), 1.6 Tbit/s EFA
//             as 4 NICs of 400 Gbit/s = 50 GB/s (the card count is unconfirmed; 400 Gbit/s per
//             GPU).
// Network defaults: nic_efficiency 0.96 (NCCL NET_BW 12.0 / 12.5), 32 nodes per leaf, 16 spines.
#include "topology/topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "error.h"

namespace fmsim {
namespace {

GpuSpec h100() {
  GpuSpec gpu;
  gpu.name = "H100-SXM";
  gpu.arch = GpuArch::kHopper;
  gpu.nvlink_links = 18;
  gpu.nvlink_bw_bytes_per_s = 450e9;
  gpu.nvlink_link_effective_bw_bytes_per_s = 20.6e9;
  gpu.pcie_bw_bytes_per_s = 64e9;
  gpu.nvls = true;
  return gpu;
}

GpuSpec a100() {
  GpuSpec gpu;
  gpu.name = "A100-SXM4-40GB";
  gpu.arch = GpuArch::kAmpere;
  gpu.nvlink_links = 12;
  gpu.nvlink_bw_bytes_per_s = 300e9;
  gpu.nvlink_link_effective_bw_bytes_per_s = 20.0e9;
  gpu.pcie_bw_bytes_per_s = 32e9;
  return gpu;
}

GpuSpec gb200_b200() {
  GpuSpec gpu;
  gpu.name = "B200-GB200";
  gpu.arch = GpuArch::kBlackwell;
  gpu.nvlink_links = 18;
  gpu.nvlink_bw_bytes_per_s = 900e9;
  gpu.nvlink_link_effective_bw_bytes_per_s = 40.1e9;
  gpu.pcie_bw_bytes_per_s = 450e9;
  gpu.nvls = true;
  return gpu;
}

InstanceSpec p5() {
  InstanceSpec instance;
  instance.name = "p5.48xlarge";
  instance.gpu = "H100-SXM";
  instance.gpus_per_node = 8;
  instance.nvlink_domain_gpus = 8;
  instance.efa_nics = 32;
  instance.efa_nic_bw_bytes_per_s = 12.5e9;
  instance.efa_generation = "EFAv2";
  return instance;
}

InstanceSpec p4d() {
  InstanceSpec instance;
  instance.name = "p4d.24xlarge";
  instance.gpu = "A100-SXM4-40GB";
  instance.gpus_per_node = 8;
  instance.nvlink_domain_gpus = 8;
  instance.efa_nics = 4;
  instance.efa_nic_bw_bytes_per_s = 12.5e9;
  instance.efa_generation = "EFA";
  return instance;
}

InstanceSpec p6e_gb200() {
  InstanceSpec instance;
  instance.name = "p6e-gb200.36xlarge";
  instance.gpu = "B200-GB200";
  instance.gpus_per_node = 4;
  instance.nvlink_domain_gpus = 72;
  instance.efa_nics = 4;
  instance.efa_nic_bw_bytes_per_s = 50e9;
  instance.efa_generation = "EFAv4";
  instance.ultraserver = "u-p6e-gb200x72";
  return instance;
}

// The defaults network.json holds, written out so that a change of the data file does not move
// these hand calculations.
NetworkDefaults test_defaults() {
  NetworkDefaults defaults;
  defaults.nodes_per_leaf = 32;
  defaults.spines = 16;
  defaults.nic_efficiency = 0.96;
  defaults.switch_hop_latency_s = 1e-6;
  return defaults;
}

Topology build(const InstanceSpec& instance, const GpuSpec& gpu, int nodes, Simulator& sim,
               const NetworkConfig& network = {}) {
  return Topology(instance, gpu, nodes, network, test_defaults(), sim);
}

std::map<DeviceKind, int> devices_by_kind(const Topology& topology) {
  std::map<DeviceKind, int> counts;
  const ClusterGraph& graph = topology.graph();
  for (auto v : boost::make_iterator_range(boost::vertices(graph))) ++counts[graph[v].kind];
  return counts;
}

std::map<LinkKind, int> resources_by_kind(const Topology& topology) {
  std::map<LinkKind, int> counts;
  for (std::size_t i = 0; i < topology.resource_count(); ++i) {
    ++counts[topology.kind_of(topology.first_resource() + ResourceId(i))];
  }
  return counts;
}

int count_kind(const Topology& topology, const Route& route, LinkKind kind) {
  return int(std::count_if(route.begin(), route.end(), [&](const LinkShare& share) {
    return topology.kind_of(share.resource) == kind;
  }));
}

double fraction_of(const Route& route, ResourceId resource) {
  for (const LinkShare& share : route) {
    if (share.resource == resource) return share.fraction;
  }
  return 0.0;
}

ResourceId find_resource(const Simulator& sim, const std::string& name) {
  for (ResourceId id = 0; id < sim.resource_count(); ++id) {
    if (sim.resource(id).name == name) return id;
  }
  return kNoResource;
}

// Per p5 node: 8 GPUs, 8 PCIe switches (one per GPU and its 4 NICs), 32 NICs = 48 devices; one
// NVSwitch per node (8-GPU domain); 32 rails x 1 leaf (2 nodes <= 32 per leaf); 16 spines.
// 2 x 48 + 2 + 32 + 16 = 146 devices.
// Resources per node: 8 x 2 NVLink + 8 x 2 PCIe + 32 x 2 EFA = 96; fabric: 32 leaves x 16 spines
// x 2 directions = 1,024. 2 x 96 + 1,024 = 1,216 resources; edges add 32 x 2 PCIe switch <-> NIC
// per node (not resources): 1,216 + 128 = 1,344.
TEST(TopologyBuild, TwoP5NodesHaveTheHandCountedDevicesAndLinks) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2, sim);

  EXPECT_EQ(topology.gpus(), 16);
  EXPECT_EQ(topology.nics_per_node(), 32);
  EXPECT_EQ(topology.nvlink_domains(), 2);
  EXPECT_EQ(topology.leaves_per_rail(), 1);
  EXPECT_EQ(topology.spines(), 16);
  EXPECT_EQ(boost::num_vertices(topology.graph()), 146u);
  const std::map<DeviceKind, int> devices = devices_by_kind(topology);
  EXPECT_EQ(devices.at(DeviceKind::kGpu), 16);
  EXPECT_EQ(devices.at(DeviceKind::kNvSwitch), 2);
  EXPECT_EQ(devices.at(DeviceKind::kPcieSwitch), 16);
  EXPECT_EQ(devices.at(DeviceKind::kNic), 64);
  EXPECT_EQ(devices.at(DeviceKind::kLeaf), 32);
  EXPECT_EQ(devices.at(DeviceKind::kSpine), 16);

  EXPECT_EQ(topology.resource_count(), 1216u);
  EXPECT_EQ(sim.resource_count(), 1216u);
  EXPECT_EQ(boost::num_edges(topology.graph()), 1344u);
  const std::map<LinkKind, int> resources = resources_by_kind(topology);
  EXPECT_EQ(resources.at(LinkKind::kNvLink), 32);
  EXPECT_EQ(resources.at(LinkKind::kPcie), 32);
  EXPECT_EQ(resources.at(LinkKind::kEfa), 128);
  EXPECT_EQ(resources.at(LinkKind::kFabric), 1024);
}

// NVLink: 18 x 20.6 GB/s = 370.8 GB/s; PCIe 64 GB/s; NIC -> leaf 12.5 x 0.96 = 12.0 GB/s;
// leaf -> spine: 32 nodes x 12.0 GB/s / 1.0 / 16 spines = 24 GB/s.
TEST(TopologyBuild, P5LinkCapacitiesFollowTheModel) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2, sim);

  EXPECT_DOUBLE_EQ(sim.resource(topology.nvlink_up(5)).capacity, 370.8e9);
  EXPECT_DOUBLE_EQ(sim.resource(topology.nvlink_down(5)).capacity, 370.8e9);
  EXPECT_EQ(sim.resource(topology.nvlink_up(13)).name, "n1.gpu5.nvlink.up");
  EXPECT_EQ(sim.resource(topology.nvlink_down(13)).name, "n1.gpu5.nvlink.down");
  EXPECT_DOUBLE_EQ(sim.resource(find_resource(sim, "n1.gpu5.pcie.up")).capacity, 64e9);
  EXPECT_DOUBLE_EQ(sim.resource(find_resource(sim, "n1.nic12->leaf.r12.0")).capacity, 12.0e9);
  EXPECT_DOUBLE_EQ(sim.resource(find_resource(sim, "leaf.r12.0->n1.nic12")).capacity, 12.0e9);
  EXPECT_DOUBLE_EQ(sim.resource(find_resource(sim, "leaf.r12.0->spine.4")).capacity, 24e9);
  EXPECT_DOUBLE_EQ(sim.resource(find_resource(sim, "spine.4->leaf.r12.0")).capacity, 24e9);
}

TEST(TopologyBuild, LinkKindsPrintAsTheirNames) {
  EXPECT_EQ(to_string(LinkKind::kNvLink), "NVLink");
  EXPECT_EQ(to_string(LinkKind::kPcie), "PCIe");
  EXPECT_EQ(to_string(LinkKind::kEfa), "EFA");
  EXPECT_EQ(to_string(LinkKind::kFabric), "fabric");
}

// A resource registered before the topology is not one of its links.
TEST(TopologyBuild, KindOfRejectsResourcesOfOthers) {
  Simulator sim;
  const ResourceId foreign = sim.add_resource("hbm", 3.35e12);
  const Topology topology = build(p5(), h100(), 1, sim);
  EXPECT_EQ(topology.first_resource(), foreign + 1);
  EXPECT_THROW(topology.kind_of(foreign), std::out_of_range);
  EXPECT_THROW(topology.kind_of(topology.first_resource() + ResourceId(topology.resource_count())),
               std::out_of_range);
}

// network.json's NIC efficiency is NCCL's NET_BW for a 100 Gbit/s NIC: 12.0 / 12.5 = 0.96; the hop
// latency is stored in microseconds (1.0) and read in seconds.
TEST(TopologyDefaults, EmbeddedDefaultsMatchTheirSources) {
  const NetworkDefaults& defaults = network_defaults();
  EXPECT_DOUBLE_EQ(defaults.nic_efficiency, 12.0 / 12.5);
  EXPECT_GE(defaults.nodes_per_leaf, 1);
  EXPECT_GE(defaults.spines, 1);
  EXPECT_DOUBLE_EQ(defaults.switch_hop_latency_s, 1e-6);
}

// Two GPUs of one p5 node: n0.gpu0 up, n0.gpu5 down, all bytes on each; one switch (NVSwitch).
TEST(TopologyRoute, IntraNodeRouteIsTwoNvLinkPorts) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2, sim);

  const Route route = topology.route(0, 5);
  ASSERT_EQ(route.size(), 2u);
  EXPECT_DOUBLE_EQ(fraction_of(route, topology.nvlink_up(0)), 1.0);
  EXPECT_DOUBLE_EQ(fraction_of(route, topology.nvlink_down(5)), 1.0);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kNvLink), 2);
  EXPECT_EQ(topology.hops(0, 5), 1);
  EXPECT_EQ(topology.hops(3, 3), 0);
}

// n0.gpu0 -> n1.gpu0, both nodes under leaf 0: GPU 0 owns NICs 0-3 (32 / 8 = 4 per GPU), so the
// route is pcie.up (1) + 4 x NIC -> leaf (1/4) + 4 x leaf -> NIC (1/4) + pcie.down (1) = 10
// resources, no spine link, and one switch hop (the rail's leaf).
TEST(TopologyRoute, InterNodeRouteOnP5SplitsOverFourNicsUnderOneLeaf) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2, sim);

  EXPECT_EQ(topology.nics_of(8), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(topology.nics_of(13), (std::vector<int>{20, 21, 22, 23}));
  const Route route = topology.route(0, 8);
  EXPECT_EQ(route.size(), 10u);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kPcie), 2);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kEfa), 8);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kFabric), 0);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "n0.gpu0.pcie.up")), 1.0);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "n1.gpu0.pcie.down")), 1.0);
  for (int nic = 0; nic < 4; ++nic) {
    const std::string rail = std::to_string(nic);
    const std::string up = "n0.nic" + rail + "->leaf.r" + rail + ".0";
    const std::string down = "leaf.r" + rail + ".0->n1.nic" + rail;
    EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, up)), 0.25) << up;
    EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, down)), 0.25) << down;
  }
  EXPECT_EQ(topology.hops(0, 8), 1);
}

// One node per leaf and 4 spines: the 2 nodes sit under different leaves, so each of the 4 NIC
// paths (1/4 of the bytes) splits evenly over 4 spines: 16 leaf -> spine and 16 spine -> leaf
// links of 1/4 x 1/4 = 1/16 each; 10 + 32 = 42 resources; hops leaf, spine, leaf = 3.
TEST(TopologyRoute, EcmpSplitsEvenlyOverSpinesBetweenLeaves) {
  Simulator sim;
  NetworkConfig network;
  network.nodes_per_leaf = 1;
  network.spines = 4;
  const Topology topology = build(p5(), h100(), 2, sim, network);

  EXPECT_EQ(topology.leaves_per_rail(), 2);
  EXPECT_EQ(topology.leaf_of(1), 1);
  const Route route = topology.route(0, 8);
  EXPECT_EQ(route.size(), 42u);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kFabric), 32);
  for (int spine = 0; spine < 4; ++spine) {
    const std::string s = std::to_string(spine);
    EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "leaf.r2.0->spine." + s)), 1.0 / 16);
    EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "spine." + s + "->leaf.r2.1")),
                     1.0 / 16);
  }
  EXPECT_EQ(topology.hops(0, 8), 3);
}

// With the defaults (32 nodes per leaf, 16 spines), nodes 0 and 32 are under leaves 0 and 1:
// 4 NICs x 16 spines x 2 directions = 128 fabric links, each carrying 1/4 x 1/16 = 1/64.
TEST(TopologyRoute, DefaultFabricHasSixteenWayEcmp) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 33, sim);

  const Route route = topology.route(0, 32 * 8);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kFabric), 128);
  for (const LinkShare& share : route) {
    if (topology.kind_of(share.resource) == LinkKind::kFabric) {
      EXPECT_DOUBLE_EQ(share.fraction, 1.0 / 64);
    }
  }
  EXPECT_EQ(topology.hops(0, 32 * 8), 3);
  EXPECT_EQ(topology.hops(0, 31 * 8), 1);
}

// n0.gpu0 (rails 0-3) -> n1.gpu5 (rails 20-23): different rails, so even under one leaf number
// the bytes cross the spines (no PXN in route()): 4 x 16 x 2 fabric links of 1/64.
TEST(TopologyRoute, CrossRailFlowsGoThroughTheSpines) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2, sim);

  const Route route = topology.route(0, 13);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kFabric), 128);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "n0.nic1->leaf.r1.0")), 0.25);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "leaf.r1.0->spine.7")), 1.0 / 64);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "spine.7->leaf.r21.0")), 1.0 / 64);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "leaf.r21.0->n1.nic21")), 0.25);
  EXPECT_EQ(topology.hops(0, 13), 3);
}

// Leaf uplinks = 32 x 12.0 GB/s / oversubscription / 16: 24 GB/s at 1.0, 12 GB/s at 2.0; the NIC
// links do not change.
TEST(TopologyRoute, OversubscriptionHalvesLeafToSpineCapacity) {
  Simulator flat_sim;
  Simulator oversubscribed_sim;
  NetworkConfig oversubscribed;
  oversubscribed.oversubscription = 2.0;
  build(p5(), h100(), 2, flat_sim);
  build(p5(), h100(), 2, oversubscribed_sim, oversubscribed);

  for (const char* name : {"leaf.r3.0->spine.0", "spine.15->leaf.r31.0"}) {
    EXPECT_DOUBLE_EQ(flat_sim.resource(find_resource(flat_sim, name)).capacity, 24e9) << name;
    EXPECT_DOUBLE_EQ(oversubscribed_sim.resource(find_resource(oversubscribed_sim, name)).capacity,
                     12e9)
        << name;
  }
  const char* nic = "n0.nic3->leaf.r3.0";
  EXPECT_DOUBLE_EQ(oversubscribed_sim.resource(find_resource(oversubscribed_sim, nic)).capacity,
                   12.0e9);
}

// p4d: 4 NICs for 8 GPUs, so GPUs 0 and 1 share NIC 0 (and one PCIe switch); a flow
// n0.gpu1 -> n1.gpu0 puts all its bytes on NIC 0 of both nodes. NVLink 12 x 20 = 240 GB/s.
TEST(TopologyRoute, P4dGpuPairsShareOneNic) {
  Simulator sim;
  const Topology topology = build(p4d(), a100(), 2, sim);

  EXPECT_EQ(topology.nics_of(0), std::vector<int>{0});
  EXPECT_EQ(topology.nics_of(1), std::vector<int>{0});
  EXPECT_EQ(topology.nics_of(7), std::vector<int>{3});
  EXPECT_EQ(devices_by_kind(topology).at(DeviceKind::kPcieSwitch), 8);  // 4 per node
  EXPECT_DOUBLE_EQ(sim.resource(topology.nvlink_up(0)).capacity, 240e9);

  const Route route = topology.route(1, 8);
  EXPECT_EQ(route.size(), 4u);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "n0.nic0->leaf.r0.0")), 1.0);
  EXPECT_DOUBLE_EQ(fraction_of(route, find_resource(sim, "leaf.r0.0->n1.nic0")), 1.0);
  EXPECT_EQ(topology.hops(1, 8), 1);
}

// GB200: 72-GPU domains of 4-GPU nodes span 72 / 4 = 18 nodes; 36 nodes = 144 GPUs = 2 domains.
// GPU 0 (node 0) and GPU 68 (node 17) share domain 0 and talk over NVLink (18 x 40.1 = 721.8
// GB/s); GPU 72 (node 18) is in domain 1 and is reached over EFA.
TEST(TopologyRoute, Gb200NodesOfOneUltraServerTalkOverNvLink) {
  Simulator sim;
  const Topology topology = build(p6e_gb200(), gb200_b200(), 36, sim);

  EXPECT_EQ(topology.nvlink_domains(), 2);
  EXPECT_EQ(devices_by_kind(topology).at(DeviceKind::kNvSwitch), 2);
  EXPECT_EQ(topology.node_of(68), 17);
  EXPECT_EQ(topology.nvlink_domain_of(68), 0);
  EXPECT_EQ(topology.nvlink_domain_of(72), 1);
  EXPECT_TRUE(topology.same_nvlink_domain(0, 68));
  EXPECT_FALSE(topology.same_nvlink_domain(0, 72));
  EXPECT_DOUBLE_EQ(sim.resource(topology.nvlink_up(68)).capacity, 721.8e9);

  const Route nvlink = topology.route(0, 68);
  ASSERT_EQ(nvlink.size(), 2u);
  EXPECT_EQ(count_kind(topology, nvlink, LinkKind::kNvLink), 2);
  EXPECT_EQ(topology.hops(0, 68), 1);

  const Route network = topology.route(0, 72);
  EXPECT_EQ(count_kind(topology, network, LinkKind::kNvLink), 0);
  EXPECT_DOUBLE_EQ(fraction_of(network, find_resource(sim, "n0.nic0->leaf.r0.0")), 1.0);
}

// A partial last domain: 20 GB200 nodes = 80 GPUs = one full domain of 72 and one of 8.
TEST(TopologyRoute, PartialLastNvLinkDomainIsItsOwnDomain) {
  Simulator sim;
  const Topology topology = build(p6e_gb200(), gb200_b200(), 20, sim);
  EXPECT_EQ(topology.nvlink_domains(), 2);
  EXPECT_TRUE(topology.same_nvlink_domain(72, 79));
  EXPECT_EQ(topology.route(72, 79).size(), 2u);
}

void expect_bad_input(const InstanceSpec& instance, int nodes, const NetworkConfig& network,
                      const std::string& where, const std::string& message) {
  Simulator sim;
  try {
    [[maybe_unused]] const Topology topology(instance, h100(), nodes, network, test_defaults(),
                                             sim);
    ADD_FAILURE() << "expected fmsim::Error at " << where;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ExitCode::kBadInput);
    EXPECT_EQ(error.where(), where);
    EXPECT_NE(error.message().find(message), std::string::npos) << error.message();
  }
}

TEST(TopologyConfig, BadConfigThrowsWithItsJsonPointer) {
  NetworkConfig network;
  expect_bad_input(p5(), 0, network, "/cluster/nodes", "expected an integer >= 1, got 0");

  network.oversubscription = 0.5;
  expect_bad_input(p5(), 2, network, "/cluster/network/oversubscription",
                   "expected a number >= 1, got 0.5");

  network = NetworkConfig{};
  network.topology = "torus";
  expect_bad_input(p5(), 2, network, "/cluster/network/topology",
                   "expected \"rail-fat-tree\" (the only topology implemented), got \"torus\"");

  network = NetworkConfig{};
  network.spines = -1;
  expect_bad_input(p5(), 2, network, "/cluster/network/spines", "got -1");

  InstanceSpec odd_nics = p5();
  odd_nics.efa_nics = 3;
  expect_bad_input(odd_nics, 2, NetworkConfig{}, "/cluster/instance", "efa_nics");
}

TEST(TopologyConfig, RouteRejectsUnknownGpusAndSelfFlows) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 1, sim);
  EXPECT_THROW(topology.route(0, 8), std::out_of_range);
  EXPECT_THROW(topology.route(2, 2), std::invalid_argument);
}

// 2,048 p5 nodes = 16,384 GPUs and 65,536 NICs; 32 rails x ceil(2048 / 32) = 64 leaves = 2,048
// leaves. Devices: 2,048 x 48 + 2,048 NVSwitches + 2,048 leaves + 16 spines = 102,416.
// Resources: 2,048 x 96 + 2,048 leaves x 16 spines x 2 = 196,608 + 65,536 = 262,144.
// Build time is linear; this test keeps under a few seconds in Debug + ASan.
TEST(TopologyScale, Builds2048P5Nodes) {
  Simulator sim;
  const Topology topology = build(p5(), h100(), 2048, sim);

  EXPECT_EQ(topology.gpus(), 16384);
  EXPECT_EQ(topology.leaves_per_rail(), 64);
  EXPECT_EQ(boost::num_vertices(topology.graph()), 102416u);
  EXPECT_EQ(devices_by_kind(topology).at(DeviceKind::kNic), 65536);
  EXPECT_EQ(topology.resource_count(), 262144u);
  EXPECT_EQ(sim.resource_count(), 262144u);
  const Route route = topology.route(0, 16383);
  EXPECT_EQ(count_kind(topology, route, LinkKind::kFabric), 128);
  EXPECT_EQ(topology.hops(0, 16383), 3);
}

}  // namespace
}  // namespace fmsim
