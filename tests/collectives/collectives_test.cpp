// Collectives on the topology, checked against bandwidths and latencies worked out by hand from
// the link capacities (catalog and NCCL's tuning tables), never against the program's output.
#include "collectives/collectives.h"

#include <gtest/gtest.h>

#include <memory>

#include "engine/simulator.h"
#include "error.h"
#include "hardware/catalog.h"
#include "topology/topology.h"

namespace fmsim {
namespace {

constexpr double kGB = 1e9;
constexpr double kLarge = 8.0 * (1ull << 30);  // 8 GiB: latency is < 0.1% of the time

struct Outcome {
  double time_s = 0.0;
  double algbw = 0.0;  // bytes/s
  double busbw = 0.0;
  LoadPattern pattern;
  LinkKind bottleneck_kind = LinkKind::kNvLink;
  bool link_limited = false;
};

// A cluster, its engine and the collective model, for one test.
class Cluster : public EventHandler {
 public:
  Cluster(const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
          CollectiveOptions options = {}, NetworkConfig network = {})
      : topology_(instance, gpu, nodes, network, network_defaults(), sim_),
        model_(topology_, sim_, NcclTuning::builtin(), std::move(options)) {
    sim_.set_handler(this);
    for (int g = 0; g < topology_.gpus(); ++g) all_.gpus.push_back(g);
  }
  Cluster(const std::string& instance, int nodes, CollectiveOptions options = {})
      : Cluster(Catalog::builtin().instance(instance, ""),
                Catalog::builtin().gpu_of(Catalog::builtin().instance(instance, "")), nodes,
                std::move(options)) {}

  void on_activity_done(ActivityId, std::uint64_t tag) override { done_[tag] = sim_.now(); }

  // Runs one collective on every GPU, NCCL-like choice unless the options force one.
  Outcome run(CollectiveOp op, double bytes) {
    const CollectiveChoice choice = model_.choose(op, all_, bytes);
    const double start = sim_.now();
    const ActivityId id = sim_.start(CollectiveModel::activity(*choice.pattern, bytes, next_tag_));
    sim_.run();
    Outcome out;
    out.time_s = done_.at(next_tag_++) - start;
    out.algbw = bytes / out.time_s;
    out.busbw = out.algbw * bus_bandwidth_factor(op, static_cast<int>(all_.gpus.size()));
    out.pattern = *choice.pattern;
    const ResourceId bottleneck = sim_.bottleneck(id);
    out.link_limited = bottleneck != kNoResource;
    if (out.link_limited) out.bottleneck_kind = topology_.kind_of(bottleneck);
    return out;
  }

  Simulator& sim() { return sim_; }
  const Topology& topology() const { return topology_; }
  const CollectiveModel& model() const { return model_; }
  const Communicator& all() const { return all_; }

 private:
  Simulator sim_;
  Topology topology_;
  CollectiveModel model_;
  Communicator all_;
  std::map<std::uint64_t, double> done_;
  std::uint64_t next_tag_ = 0;
};

CollectiveOptions only(Algorithm algorithm, Protocol protocol) {
  CollectiveOptions options;
  options.algorithms = {algorithm};
  options.protocols = {protocol};
  return options;
}

// A node of 8 GPUs whose only NVLink port has bandwidth B per direction (one link of B).
struct OneLinkNode {
  GpuSpec gpu;
  InstanceSpec instance;
  explicit OneLinkNode(double link_bw) {
    gpu.name = "test-gpu";
    gpu.arch = GpuArch::kHopper;
    gpu.nvlink_links = 1;
    gpu.nvlink_link_effective_bw_bytes_per_s = link_bw;
    gpu.nvlink_bw_bytes_per_s = link_bw;
    gpu.pcie_bw_bytes_per_s = 64e9;
    gpu.nvls = false;
    instance.name = "test-node";
    instance.gpu = gpu.name;
    instance.gpus_per_node = 8;
    instance.nvlink_domain_gpus = 8;
    instance.efa_nics = 8;
    instance.efa_nic_bw_bytes_per_s = 50e9;
    instance.cpu_vendor = "intel";
  }
};

TEST(BusBandwidthFactor, FollowsNcclTests) {
  // nccl-tests doc/PERFORMANCE.md: all_reduce 2(n-1)/n, all_gather/reduce_scatter (n-1)/n.
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kAllReduce, 8), 14.0 / 8.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kAllGather, 16), 15.0 / 16.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kReduceScatter, 4), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kAllToAll, 2), 0.5);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kBroadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::kSendRecv, 8), 1.0);
}

TEST(RingAllReduce, BusBandwidthEqualsLinkBandwidthForLargeMessages) {
  // Ring all-reduce on n ranks pushes 2(n-1)/n * S over every ring edge, so with one link of
  // B per GPU: t = 2(n-1)/n * S / B and busbw = S/t * 2(n-1)/n = B (Patarasuk & Yuan 2009).
  const double link = 100 * kGB;
  OneLinkNode node(link);
  Cluster cluster(node.instance, node.gpu, 1, only(Algorithm::kRing, Protocol::kSimple));
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_NEAR(out.busbw, link, 0.05 * link);
  EXPECT_LE(out.busbw, link * (1 + 1e-9));
  EXPECT_TRUE(out.link_limited);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kNvLink);
}

TEST(RingAllReduce, SmallMessagesAreLatencyBound) {
  // NCCL's ring latency on one node: base[ring][LL] + 2(n-1) * nvlink[ring][LL]
  // = 6.6 us + 14 * 0.6 us = 15.0 us (tuning.cc tables). 8 bytes add ~nothing to it.
  OneLinkNode node(100 * kGB);
  Cluster cluster(node.instance, node.gpu, 1, only(Algorithm::kRing, Protocol::kLL));
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, 8);
  EXPECT_NEAR(out.time_s, 15.0e-6, 0.01e-6);
  EXPECT_NEAR(out.pattern.latency_s, 15.0e-6, 1e-12);
}

TEST(RingAllReduce, BusBandwidthNeverExceedsTheLinkAtAnySize) {
  const double link = 100 * kGB;
  OneLinkNode node(link);
  for (Protocol protocol : {Protocol::kLL, Protocol::kLL128, Protocol::kSimple}) {
    Cluster cluster(node.instance, node.gpu, 1, only(Algorithm::kRing, protocol));
    for (double bytes = 8; bytes <= kLarge; bytes *= 4) {
      EXPECT_LE(cluster.run(CollectiveOp::kAllReduce, bytes).busbw, link * (1 + 1e-9))
          << to_string(protocol) << " at " << bytes << " bytes";
    }
  }
}

TEST(RingAllReduce, LlProtocolHalvesTheWireBandwidth) {
  // LL sends 8-byte lines holding 4 data bytes: the link carries 2 bytes per payload byte, so
  // busbw <= B/2, and NCCL caps it at llMaxBw (Hopper, 1 node: 141 GB/s) too.
  const double link = 100 * kGB;
  OneLinkNode node(link);
  Cluster cluster(node.instance, node.gpu, 1, only(Algorithm::kRing, Protocol::kLL));
  EXPECT_NEAR(cluster.run(CollectiveOp::kAllReduce, kLarge).busbw, link / 2, 0.01 * link);
}

TEST(NvlsAllReduce, SingleP5NodeFollowsTheMulticastFormula) {
  // NVLS: each GPU sends S + S/n up to the NVSwitch and receives S/n + S, derated by NCCL's
  // nvlsEfficiency (0.85 on Hopper): algbw = 0.85 * B * n/(n+1) with B = 18 x 20.6 GB/s.
  // n = 8: 0.85 * 370.8 * 8/9 = 280.16 GB/s, busbw = algbw * 14/8 = 490.3 GB/s.
  Cluster cluster("p5.48xlarge", 1, only(Algorithm::kNvls, Protocol::kSimple));
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  const double expected_algbw = 0.85 * 370.8 * kGB * 8.0 / 9.0;
  EXPECT_NEAR(out.algbw, expected_algbw, 0.01 * expected_algbw);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kNvLink);
  // Published: ~480 GB/s busbw for NVLS all-reduce on 8 x H100 (nccl-tests issue #212).
  EXPECT_NEAR(out.busbw, 480 * kGB, 0.05 * 480 * kGB);
}

TEST(CollectiveSelection, OneP5NodeIsLimitedByNvlink) {
  Cluster cluster("p5.48xlarge", 1);
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_TRUE(out.link_limited);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kNvLink);
}

TEST(CollectiveSelection, TwoP5NodesRingIsLimitedByEfa) {
  // Ring across 2 nodes: every node sends 2(n-1)/n * S out through its 32 EFA NICs, each usable
  // at 100 Gbit/s * 0.96 = 12 GB/s (NCCL's NET_BW): busbw = 32 * 12 = 384 GB/s. Its NVLink ports
  // carry 7 of 8 ring edges: limit 370.8 * 8/7 = 423.8 GB/s, so EFA binds first.
  Cluster cluster("p5.48xlarge", 2, only(Algorithm::kRing, Protocol::kSimple));
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kEfa);
  EXPECT_NEAR(out.busbw, 384 * kGB, 0.05 * 384 * kGB);
  EXPECT_LE(out.busbw, 384 * kGB * (1 + 1e-9));
}

TEST(CollectiveSelection, TwoP5NodesChooseNvlsTreeAboveTheRingForLargeMessages) {
  // NVLS tree sends only S per node over EFA (half of the ring's 2(n-1)/n * S), so on 2 nodes
  // it beats the ring: its limit is NVLink at 0.85 * 370.8 * 8/9 = 280 GB/s algbw, above the
  // ring's 384 * 16/30 = 205 GB/s. Published NVLS on/off at 2 nodes of 8 x H100 with 8 x 400G:
  // 330 -> 430 GB/s busbw (NCCL issue #1221): NVLS wins there too.
  Cluster cluster("p5.48xlarge", 2);
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_EQ(out.pattern.algorithm, Algorithm::kNvlsTree);
  EXPECT_GT(out.busbw, 384 * kGB);
}

TEST(CollectiveSelection, SixteenP5NodesAreLimitedByEfa) {
  Cluster cluster("p5.48xlarge", 16);
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kEfa);
}

TEST(CollectiveSelection, SmallMessagesUseLowLatencyProtocolsAndLargeOnesSimple) {
  Cluster cluster("p5.48xlarge", 2);
  EXPECT_EQ(cluster.run(CollectiveOp::kAllReduce, 8).pattern.protocol, Protocol::kLL);
  EXPECT_EQ(cluster.run(CollectiveOp::kAllReduce, kLarge).pattern.protocol, Protocol::kSimple);
}

TEST(CollectiveSelection, PicksTheCandidateWithTheLeastPredictedTime) {
  Cluster cluster("p5.48xlarge", 4);
  for (double bytes : {8.0, 65536.0, 16777216.0, kLarge}) {
    const CollectiveChoice choice =
        cluster.model().choose(CollectiveOp::kAllReduce, cluster.all(), bytes);
    for (auto [algorithm, protocol] :
         cluster.model().candidates(CollectiveOp::kAllReduce, cluster.all())) {
      const LoadPattern& p =
          cluster.model().pattern(CollectiveOp::kAllReduce, cluster.all(), algorithm, protocol);
      EXPECT_LE(choice.predicted_time_s, p.latency_s + bytes / p.isolated_bw + 1e-15);
    }
  }
}

TEST(TreeAllReduce, TwoNodesMoveHalfTheRingTrafficOverTheNetwork) {
  // Double binary tree on 2 nodes: each node sends S/2 up one tree and S/2 down the other, S in
  // all, over its NICs: p4d has 4 x 100 Gbit/s at 0.96 = 48 GB/s, so algbw = 48 GB/s (busbw
  // 2*15/16 * 48 = 90 GB/s, above the NIC rate: nccl-tests issue #22 explains why).
  Cluster cluster("p4d.24xlarge", 2, only(Algorithm::kTree, Protocol::kSimple));
  const Outcome out = cluster.run(CollectiveOp::kAllReduce, kLarge);
  EXPECT_NEAR(out.algbw, 48 * kGB, 0.02 * 48 * kGB);
  EXPECT_EQ(out.bottleneck_kind, LinkKind::kEfa);
}

TEST(RingAllReduce, InterNodeHopsStayOnOneRail) {
  // Rail-optimised: GPU x of one node sends to GPU x of the next, so 2 nodes under one leaf never
  // cross a spine.
  Cluster cluster("p5.48xlarge", 2, only(Algorithm::kRing, Protocol::kSimple));
  const LoadPattern& p = cluster.model().pattern(CollectiveOp::kAllReduce, cluster.all(),
                                                 Algorithm::kRing, Protocol::kSimple);
  for (const Use& use : p.uses) {
    EXPECT_NE(cluster.topology().kind_of(use.resource), LinkKind::kFabric);
  }
}

TEST(AllToAll, TwoP5NodesSendHalfOfEachBufferOverEfa) {
  // Every rank sends S/16 to each of 16 ranks; 8 of them are remote, so S/2 leaves each GPU over
  // its 4 NICs (4 x 12 = 48 GB/s): t = S/2 / 48 GB/s, algbw = 96 GB/s.
  Cluster cluster("p5.48xlarge", 2);
  const Outcome out = cluster.run(CollectiveOp::kAllToAll, kLarge);
  EXPECT_NEAR(out.algbw, 96 * kGB, 0.02 * 96 * kGB);
  EXPECT_EQ(out.pattern.algorithm, Algorithm::kP2p);
}

TEST(SendRecv, OneNodeRunsAtTheNvlinkPortRate) {
  // Rank i sends S to rank i+1 over NVLink: algbw = busbw = 18 x 20.6 = 370.8 GB/s.
  Cluster cluster("p5.48xlarge", 1);
  const Outcome out = cluster.run(CollectiveOp::kSendRecv, kLarge);
  EXPECT_NEAR(out.busbw, 370.8 * kGB, 0.01 * 370.8 * kGB);
}

TEST(ConcurrentCollectives, ShareTheLinksTheyBothUse) {
  // Two identical all-reduces started together get half the bandwidth each: both finish at
  // latency + 2 * S / bw, where bw is the one-collective bandwidth.
  const double link = 100 * kGB;
  OneLinkNode node(link);
  Cluster cluster(node.instance, node.gpu, 1, only(Algorithm::kRing, Protocol::kSimple));
  const LoadPattern& p = cluster.model().pattern(CollectiveOp::kAllReduce, cluster.all(),
                                                 Algorithm::kRing, Protocol::kSimple);
  const double bytes = 1e9;
  const ActivityId a = cluster.sim().start(CollectiveModel::activity(p, bytes, 1));
  const ActivityId b = cluster.sim().start(CollectiveModel::activity(p, bytes, 2));
  cluster.sim().run();
  EXPECT_TRUE(cluster.sim().finished(a));
  EXPECT_TRUE(cluster.sim().finished(b));
  const double expected = p.latency_s + 2.0 * bytes / p.isolated_bw;
  EXPECT_NEAR(cluster.sim().now(), expected, 1e-6 * expected);
}

TEST(CollectiveModel, RefusesWhenNoEnabledAlgorithmCanRunTheOp) {
  // NVLS cannot run across two NVLink domains: forcing it for 2 nodes leaves nothing.
  Cluster cluster("p5.48xlarge", 2, only(Algorithm::kNvls, Protocol::kSimple));
  EXPECT_THROW(cluster.model().choose(CollectiveOp::kAllReduce, cluster.all(), 1024), Error);
}

}  // namespace
}  // namespace fmsim
