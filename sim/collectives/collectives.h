// NCCL-like collectives turned into engine activities over the cluster topology.
//
// A collective of S bytes (nccl-tests' "size") becomes ONE activity: a fixed latency from NCCL's
// latency model (tuning.cc tables in sim/data/nccl_tuning.json) plus S units of work whose weight
// on every link is the number of bytes that link carries per byte of S, summed over channels.
// Channels carry equal shares and finish together, so their sum is one flow; the engine's max-min
// solver then sets its rate from the links, and concurrent collectives contend for them.
//
// Link loads per byte of S (n ranks, g ranks per NVLink domain, D domains, C channels), derived in
// docs/collectives.md:
//   ring all_reduce      every ring edge carries 2(n-1)/n          (Patarasuk & Yuan 2009)
//   ring all_gather / reduce_scatter   every edge (n-1)/n; broadcast: every edge but the one
//                        into the root carries 1
//   tree all_reduce      chain inside a domain, double binary tree between domains; every edge
//                        of a tree carries 1/2 up and 1/2 down (Sanders et al. 2009; NCCL 2.4)
//   NVLS all_reduce      per GPU: up (1 + 1/g), down (1/g + 1), divided by nvls_efficiency
//                        (multimem.ld_reduce then multimem.st through the NVSwitch)
//   NVLS tree            NVLS inside each domain, then GPU k of each domain all-reduces its 1/g
//                        slice over a double binary tree of the domains on its own rail
//   p2p sendrecv         rank i sends 1 to rank i+1; alltoall: 1/n to every other rank
// Rings enter and leave each domain on the same rail (GPU x of domain k sends to GPU x of domain
// k+1) and rotate the entry GPU per channel so all NICs carry equal shares. Protocols scale
// link bytes by 1/data_fraction (LL 2x, LL128 128/120) and apply NCCL's bandwidth caps (llMaxBw,
// per-channel LL128/tree caps) as the activity's bound, converted from bus to algorithm bandwidth.
//
// The algorithm/protocol choice follows NCCL's tuner: predicted time = latency + S / bandwidth,
// the minimum over the enabled candidates, where bandwidth is what the candidate's pattern gets
// alone on the topology (the same solver result the simulation then reproduces).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/simulator.h"
#include "topology/topology.h"

namespace fmsim {

enum class CollectiveOp {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kBroadcast,
  kSendRecv
};
enum class Algorithm { kRing, kTree, kNvls, kNvlsTree, kP2p };
enum class Protocol { kLL, kLL128, kSimple };

std::string to_string(CollectiveOp op);
std::string to_string(Algorithm algorithm);
std::string to_string(Protocol protocol);
std::optional<CollectiveOp> parse_collective_op(const std::string& name);
std::optional<Algorithm> parse_algorithm(const std::string& name);
std::optional<Protocol> parse_protocol(const std::string& name);
const std::vector<std::string>& collective_op_names();
const std::vector<std::string>& algorithm_names();
const std::vector<std::string>& protocol_names();

// nccl-tests' bus-bandwidth factor: busbw = algbw * factor (all_reduce 2(n-1)/n; all_gather,
// reduce_scatter, alltoall (n-1)/n; broadcast, sendrecv 1). nccl-tests doc/PERFORMANCE.md.
double bus_bandwidth_factor(CollectiveOp op, int ranks);

// NCCL's cost-model constants (sim/data/nccl_tuning.json).
struct NcclTuning {
  // [algorithm][protocol] in seconds; algorithm index per Algorithm (kP2p uses the ring row).
  double base_latency_s[5][3] = {};
  double nvlink_latency_s[5][3] = {};
  double net_latency_s[5][3] = {};
  std::map<std::string, double> net_overhead_s;  // by CPU vendor: "intel", "amd", "other"
  // Per GPU arch, [node class: 1 node, 2 nodes, more], bytes/s.
  std::map<GpuArch, std::array<double, 3>> ll_max_bw, ring_ll128_per_channel_bw,
      tree_ll128_per_channel_bw, tree_per_channel_bw, nvls_tree_per_channel_bw;
  std::map<GpuArch, double> nvls_efficiency;
  std::map<GpuArch, int> channels;
  double data_fraction[3] = {0.5, 120.0 / 128.0, 1.0};  // LL, LL128, Simple
  double p2p_ll_threshold_bytes = 16384;

  static const NcclTuning& builtin();
};

// The ranks of a communicator: GPU ids of the topology, in rank order.
struct Communicator {
  std::vector<int> gpus;
};

struct CollectiveOptions {
  std::vector<Algorithm> algorithms;  // enabled algorithms; empty: every one NCCL would consider
  std::vector<Protocol> protocols;    // enabled protocols; empty: all three
  int channels = 0;                   // 0: NcclTuning default for the GPU arch
};

// The load one collective puts on the cluster, per byte of its size.
struct LoadPattern {
  Algorithm algorithm = Algorithm::kRing;
  Protocol protocol = Protocol::kSimple;
  int channels = 1;
  double latency_s = 0.0;
  std::vector<Use> uses;      // weight = link bytes per byte of size
  double bound = kUnbounded;  // algorithm-bandwidth cap from NCCL's protocol limits, B/s
  double isolated_bw = 0.0;   // algorithm bandwidth alone on the topology, B/s
  ResourceId isolated_bottleneck = kNoResource;  // kNoResource: the protocol cap limits it
};

struct CollectiveChoice {
  const LoadPattern* pattern = nullptr;  // owned by the CollectiveModel's cache, lives as long
  double predicted_time_s = 0.0;
};

class CollectiveModel {
 public:
  CollectiveModel(const Topology& topology, const Simulator& sim, const NcclTuning& tuning,
                  CollectiveOptions options);

  // Algorithm/protocol pairs available for this op and communicator (hardware and options).
  std::vector<std::pair<Algorithm, Protocol>> candidates(CollectiveOp op,
                                                         const Communicator& comm) const;
  // Pattern of one candidate (cached per op/algorithm/protocol/communicator size).
  const LoadPattern& pattern(CollectiveOp op, const Communicator& comm, Algorithm algorithm,
                             Protocol protocol) const;
  // NCCL-like selection for a message of `bytes`. Throws fmsim::Error if no candidate is enabled.
  CollectiveChoice choose(CollectiveOp op, const Communicator& comm, double bytes) const;
  // A point-to-point send of `bytes` from GPU src to GPU dst (a pipeline-parallel send): the
  // route's links, NCCL's one-step latency of the Simple protocol (LL up to the p2p threshold).
  ActivitySpec send_activity(int src, int dst, double bytes) const;
  // The engine activity performing one collective of `bytes` with the given pattern.
  static ActivitySpec activity(const LoadPattern& pattern, double bytes, std::uint64_t tag = 0);

  int domains(const Communicator& comm) const;

  // Link bytes per byte of size of one algorithm's flows, before the protocol's wire overhead,
  // sorted by resource: the same for every protocol, so built once per (op, algorithm,
  // communicator) and cached. A pattern's uses are these weights times wire_scale(protocol).
  const std::vector<Use>& flows(CollectiveOp op, const Communicator& comm,
                                Algorithm algorithm) const;
  // Bytes on the wire per byte of data with the protocol (1 / its data fraction).
  double wire_scale(Protocol protocol) const;

 private:
  LoadPattern build(CollectiveOp op, const Communicator& comm, Algorithm algorithm,
                    Protocol protocol) const;
  const std::vector<Use>& flows(CollectiveOp op, const Communicator& comm, Algorithm algorithm,
                                const std::vector<std::vector<int>>& groups) const;

  const Topology& topology_;
  const Simulator& sim_;
  const NcclTuning& tuning_;
  CollectiveOptions options_;
  mutable std::map<std::tuple<int, int, int, std::vector<int>>, LoadPattern> cache_;
  mutable std::map<std::tuple<int, int, std::vector<int>>, std::vector<Use>> flows_cache_;
  mutable std::vector<double> scratch_weights_;  // link weights while a pattern is built
};

}  // namespace fmsim
