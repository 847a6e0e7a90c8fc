#include "workload/training.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "collectives/collectives.h"
#include "engine/simulator.h"
#include "error.h"
#include "execute/compute.h"
#include "execute/task_graph.h"

namespace fmsim {

double TrainingStepResult::exposed_comm_total() const {
  double total = 0.0;
  for (const auto& [kind, seconds] : exposed_comm_s) total += seconds;
  return total;
}

namespace {

constexpr double kActivationBytes = 2.0;  // activations and their gradients travel in BF16

using Coord = RankCoord;

// One entry of a stage's pipeline schedule.
struct ScheduleOp {
  bool forward = true;
  int microbatch = 0;
  int chunk = 0;  // model chunk (virtual stage index / pp) for the interleaved schedule
};

// Megatron-LM's 1F1B (vpp = 1) and interleaved 1F1B schedules for `stage` of `pp`, with m
// micro-batches (Narayanan et al. SC21, section 2.2; megatron/core/pipeline_parallel/schedules.py).
std::vector<ScheduleOp> pipeline_schedule(int pp, int stage, int m, int vpp) {
  std::vector<ScheduleOp> ops;
  const int total = m * vpp;
  auto op = [&](int k, bool forward) {
    const int group = k / pp;
    int chunk = vpp == 1 ? 0 : group % vpp;
    if (!forward && vpp > 1) chunk = vpp - 1 - chunk;
    const int microbatch = vpp == 1 ? k : (k / (pp * vpp)) * pp + k % pp;
    return ScheduleOp{forward, microbatch, chunk};
  };
  int warmup = vpp == 1 ? pp - stage - 1 : (pp - stage - 1) * 2 + (vpp - 1) * pp;
  warmup = std::min(warmup, total);
  for (int k = 0; k < warmup; ++k) ops.push_back(op(k, true));
  for (int i = 0; i < total - warmup; ++i) {
    ops.push_back(op(warmup + i, true));
    ops.push_back(op(i, false));
  }
  for (int k = total - warmup; k < total; ++k) ops.push_back(op(k, false));
  return ops;
}

// Times of one layer's compute blocks on one GPU for one micro-batch.
struct LayerCost {
  double attention_fwd_s = 0, mlp_fwd_s = 0;
  double attention_bwd_s = 0, mlp_bwd_s = 0;
  double attention_core_fwd_s = 0;  // recomputed by selective recompute
  double model_flops = 0;           // forward + backward FLOPs of this GPU's share
  double recompute_flops = 0;
  double tp_bytes = 0;     // size of each TP all-gather / reduce-scatter (nccl-tests size)
  double cp_bytes = 0;     // K,V all-gather size
  double ep_bytes = 0;     // all-to-all size per rank
  double grad_params = 0;  // parameters whose gradients this GPU reduces over DP
  bool moe = false;
};

bool is_mlp_gemm(const std::string& name) {
  for (const char* prefix : {"mlp", "expert", "router", "shared", "ffn", "moe"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

LayerCost layer_cost(const TrainingSetup& s, const Layout& l, const ComputeDefaults& compute,
                     int layer) {
  const ModelSpec& m = s.model;
  const GpuSpec& gpu = *s.gpu;
  const double b = s.batch.micro_batch;
  const double seq = s.batch.seq_len;
  const double tokens = b * seq / l.cp;  // tokens of one micro-batch on this GPU's CP chunk
  const double bytes_per_element = s.precision == Precision::kFp8 ? 1.0 : 2.0;
  LayerCost cost;
  cost.moe = m.is_moe_layer(layer);

  const LayerKernels kernels =
      layer_forward_kernels(m, layer, tokens, s.batch.seq_len, l.tp, bytes_per_element, l.ep);
  double attention_gemm_s = 0, mlp_gemm_s = 0, attention_gemm_bwd_s = 0, mlp_gemm_bwd_s = 0;
  double gemm_flops = 0;
  for (const GemmShape& g : kernels.gemms) {
    const double fwd = gemm_time_s(gpu, s.precision, g, bytes_per_element, compute);
    // Backward: the data gradient (m x k from m x n times n x k) and, unless the weight is frozen
    // (LoRA), the weight gradient (k x n, contracting over m).
    GemmShape dgrad = g, wgrad = g;
    dgrad.n = g.k, dgrad.k = g.n;
    wgrad.m = g.k, wgrad.n = g.n, wgrad.k = g.m;
    double bwd = gemm_time_s(gpu, s.precision, dgrad, bytes_per_element, compute);
    if (!s.mode.lora) bwd += gemm_time_s(gpu, s.precision, wgrad, bytes_per_element, compute);
    (is_mlp_gemm(g.name) ? mlp_gemm_s : attention_gemm_s) += fwd;
    (is_mlp_gemm(g.name) ? mlp_gemm_bwd_s : attention_gemm_bwd_s) += bwd;
    gemm_flops += g.flops();
  }
  // FlashAttention backward runs 5 matrix products against the forward's 2 (Dao 2023).
  const double attention_fwd = attention_time_s(gpu, kernels.attention_flops, false, compute);
  const double attention_bwd = attention_time_s(gpu, 2.5 * kernels.attention_flops, true, compute);
  // Elementwise work (norms, residual adds, RoPE, the gated activation), memory bound; with
  // sequence parallelism the norms and residuals see tokens / tp. Bytes per token, BF16:
  // attention side 2 norms-and-residual passes of h plus RoPE on q and k; MLP side the same
  // residual traffic plus the activation reading 2 f and writing f.
  const double h = m.hidden;
  double q_dim = static_cast<double>(m.heads) * m.effective_head_dim();
  double kv_dim = static_cast<double>(m.kv_heads) * m.effective_head_dim();
  if (m.mla) {
    // MLA: queries and keys of qk_nope + qk_rope per head, values of v_head_dim; kv_dim is the
    // mean of the K and V widths (it is used for "K and V", twice).
    const double qk = m.mla->qk_nope_head_dim + m.mla->qk_rope_head_dim;
    q_dim = m.heads * qk;
    kv_dim = m.heads * (qk + m.mla->v_head_dim) / 2.0;
  }
  const double ffn = cost.moe ? m.moe->expert_ffn_hidden * m.moe->top_k : m.ffn_hidden;
  // Norms and residuals run on every TP rank unless sequence parallelism splits the tokens.
  const double residual_split = s.parallel.sequence_parallel ? l.tp : 1.0;
  const double attn_elementwise =
      tokens * 2.0 * (5 * h / residual_split + 2 * (q_dim + kv_dim) / l.tp);
  const double mlp_elementwise = tokens * 2.0 * (5 * h / residual_split + 3 * ffn / l.tp);

  cost.attention_core_fwd_s = attention_fwd;
  cost.attention_fwd_s =
      attention_gemm_s + attention_fwd + memory_time_s(gpu, attn_elementwise, compute);
  cost.mlp_fwd_s = mlp_gemm_s + memory_time_s(gpu, mlp_elementwise, compute);
  cost.attention_bwd_s =
      attention_gemm_bwd_s + attention_bwd + memory_time_s(gpu, 2 * attn_elementwise, compute);
  cost.mlp_bwd_s = mlp_gemm_bwd_s + memory_time_s(gpu, 2 * mlp_elementwise, compute);
  cost.model_flops = 3.0 * (gemm_flops + kernels.attention_flops);
  if (s.parallel.recompute == "selective") {
    cost.attention_bwd_s += attention_fwd;
    cost.recompute_flops = kernels.attention_flops;
  } else if (s.parallel.recompute == "full") {
    cost.attention_bwd_s += cost.attention_fwd_s;
    cost.mlp_bwd_s += cost.mlp_fwd_s;
    cost.recompute_flops = gemm_flops + kernels.attention_flops;
  }

  cost.tp_bytes = tokens * h * kActivationBytes;
  cost.cp_bytes = b * seq * 2.0 * kv_dim / l.tp * kActivationBytes;
  if (cost.moe) cost.ep_bytes = tokens / l.tp * m.moe->top_k * h * kActivationBytes;

  const ParameterCounts params = count_parameters(m);
  if (cost.moe) {
    const double expert_params = static_cast<double>(m.moe->experts) * (m.gated_mlp ? 3.0 : 2.0) *
                                 h * m.moe->expert_ffn_hidden;
    cost.grad_params = (params.per_moe_layer - expert_params) / l.tp + expert_params / l.ep;
  } else {
    cost.grad_params = params.per_dense_layer / l.tp;
  }
  return cost;
}

// What one stage's GPU computes in a step, apart from communication.
struct StepCosts {
  std::vector<int> first_layer;  // by virtual stage; first_layer[v + 1] - first_layer[v] layers
  std::vector<LayerCost> layers;
  double logits_fwd_s = 0, logits_bwd_s = 0;  // output layer and loss, on the last virtual stage
  std::vector<double> optimizer_s;            // by pipeline stage
};

StepCosts costs_of_step(const TrainingSetup& s, const Layout& l, const ComputeDefaults& compute) {
  StepCosts c;
  const ModelSpec& m = s.model;
  const int virtual_stages = l.pp * l.vpp;
  c.first_layer.assign(virtual_stages + 1, 0);
  for (int v = 0; v < virtual_stages; ++v)
    c.first_layer[v + 1] = c.first_layer[v] + l.layers_per_stage[v];
  for (int layer = 0; layer < m.layers; ++layer)
    c.layers.push_back(layer_cost(s, l, compute, layer));

  // Output layer and loss on the last virtual stage; embedding lookup is negligible.
  const double tokens = static_cast<double>(s.batch.micro_batch) * s.batch.seq_len / l.cp;
  const double bytes_per_element = s.precision == Precision::kFp8 ? 1.0 : 2.0;
  const GemmShape logits{"logits", tokens, static_cast<double>(m.vocab) / l.tp,
                         static_cast<double>(m.hidden)};
  c.logits_fwd_s = gemm_time_s(*s.gpu, s.precision, logits, bytes_per_element, compute);
  c.logits_bwd_s =
      gemm_time_s(*s.gpu, s.precision, {"", logits.m, logits.k, logits.n}, bytes_per_element,
                  compute) +
      (s.mode.lora ? 0.0
                   : gemm_time_s(*s.gpu, s.precision, {"", logits.k, logits.n, logits.m},
                                 bytes_per_element, compute));

  // The optimizer step of each stage: a memory-bound pass over the parameters it updates.
  for (int p = 0; p < l.pp; ++p) {
    double params = 0;
    for (int v = p; v < virtual_stages; v += l.pp) {
      for (int layer = c.first_layer[v]; layer < c.first_layer[v + 1]; ++layer)
        params += c.layers[layer].grad_params;
    }
    if (s.parallel.zero >= 1) params /= l.dp * l.cp;
    if (s.mode.lora) params *= 0.01;  // adapters only: a few percent of the weights at most
    c.optimizer_s.push_back(
        memory_time_s(*s.gpu, params * compute.optimizer_bytes_per_param, compute));
  }
  return c;
}

class StepBuilder {
 public:
  StepBuilder(const TrainingSetup& setup, const Layout& layout, Simulator& sim,
              const Topology& topology)
      : s_(setup),
        l_(layout),
        sim_(sim),
        topology_(topology),
        collectives_(topology, sim, NcclTuning::builtin(), {}),
        compute_(compute_defaults(setup.calibrated.get())),
        order_(rank_strides(layout, setup.parallel.order)) {}

  TrainingStepResult build_and_run();

 private:
  int gpu_of(const Layout& /*layout*/, const Coord& c) const { return order_.gpu(c); }
  ResourceId sm_of(int gpu);
  ActivitySpec compute_activity(int gpu, double seconds);
  using GroupMaker = std::vector<Coord> (StepBuilder::*)(const Coord&) const;
  ActivitySpec collective_activity(CollectiveOp op, const std::vector<Coord>& members,
                                   GroupMaker make, double bytes);
  std::vector<Coord> tp_group(const Coord& c) const;
  std::vector<Coord> cp_group(const Coord& c) const;
  std::vector<Coord> dp_group(const Coord& c) const;
  std::vector<Coord> ep_group(const Coord& c) const;
  // Position among the stage's data x context-parallel ranks, context fastest.
  int ep_rank(const Coord& c) const { return c.dp * l_.cp + c.cp; }
  // Identical groups of the other ranks of the same stage, for symmetric mode.
  std::vector<std::vector<Coord>> copies_of(const std::vector<Coord>& group, GroupMaker make) const;
  std::vector<Coord> simulated_ranks() const;
  bool simulated(const Coord& c) const;

  const TrainingSetup& s_;
  const Layout& l_;
  Simulator& sim_;
  const Topology& topology_;
  CollectiveModel collectives_;
  const ComputeDefaults& compute_;
  RankStrides order_;
  std::map<int, ResourceId> sm_;
  std::map<std::tuple<int, std::vector<int>, int, int>, std::vector<Use>> merged_uses_;
  std::vector<std::int32_t> slot_of_;  // scratch of collective_activity, by resource
};

ResourceId StepBuilder::sm_of(int gpu) {
  auto it = sm_.find(gpu);
  if (it != sm_.end()) return it->second;
  // Capacity 1: the whole GPU. A kernel alone runs at its roofline time; kernels that overlap on
  // one GPU share it.
  const ResourceId id = sim_.add_resource("gpu" + std::to_string(gpu) + ".sm", 1.0);
  sm_.emplace(gpu, id);
  return id;
}

ActivitySpec StepBuilder::compute_activity(int gpu, double seconds) {
  ActivitySpec spec;
  spec.work = seconds;
  spec.bound = 1.0;
  if (seconds > 0) spec.uses = {{sm_of(gpu), 1.0}};
  return spec;
}

std::vector<Coord> StepBuilder::tp_group(const Coord& c) const {
  std::vector<Coord> g;
  for (int t = 0; t < l_.tp; ++t) g.push_back({t, c.cp, c.dp, c.pp});
  return g;
}
std::vector<Coord> StepBuilder::cp_group(const Coord& c) const {
  std::vector<Coord> g;
  for (int k = 0; k < l_.cp; ++k) g.push_back({c.tp, k, c.dp, c.pp});
  return g;
}
std::vector<Coord> StepBuilder::dp_group(const Coord& c) const {
  // Gradients are reduced over data and context parallel ranks together (Megatron).
  std::vector<Coord> g;
  for (int d = 0; d < l_.dp; ++d) {
    for (int k = 0; k < l_.cp; ++k) g.push_back({c.tp, k, d, c.pp});
  }
  return g;
}
std::vector<Coord> StepBuilder::ep_group(const Coord& c) const {
  // Expert-parallel groups are carved out of consecutive data x context-parallel ranks, context
  // fastest (Megatron-Core's MoE parallel folding; the layout requires ep | dp * cp).
  std::vector<Coord> g;
  const int base = (ep_rank(c) / l_.ep) * l_.ep;
  for (int e = 0; e < l_.ep; ++e) {
    g.push_back({c.tp, (base + e) % l_.cp, (base + e) / l_.cp, c.pp});
  }
  return g;
}

std::vector<std::vector<Coord>> StepBuilder::copies_of(const std::vector<Coord>& group,
                                                       GroupMaker make) const {
  std::vector<std::vector<Coord>> copies;
  if (s_.full_mode) return copies;
  // The groups of one kind partition the stage's ranks: walk the ranks once, making the group of
  // each rank that no group made so far covers. O(ranks of the stage).
  const int stage = group.front().pp;
  auto index = [&](const Coord& c) { return (c.dp * l_.cp + c.cp) * l_.tp + c.tp; };
  std::vector<char> covered(static_cast<std::size_t>(l_.tp) * l_.cp * l_.dp, 0);
  for (const Coord& c : group) covered[index(c)] = 1;
  for (int d = 0; d < l_.dp; ++d) {
    for (int k = 0; k < l_.cp; ++k) {
      for (int t = 0; t < l_.tp; ++t) {
        if (covered[index({t, k, d, stage})]) continue;
        std::vector<Coord> other = (this->*make)({t, k, d, stage});
        for (const Coord& c : other) covered[index(c)] = 1;
        copies.push_back(std::move(other));
      }
    }
  }
  return copies;
}

ActivitySpec StepBuilder::collective_activity(CollectiveOp op, const std::vector<Coord>& members,
                                              GroupMaker make, double bytes) {
  Communicator comm;
  for (const Coord& c : members) comm.gpus.push_back(gpu_of(l_, c));
  const CollectiveChoice choice = collectives_.choose(op, comm, bytes);
  ActivitySpec spec = CollectiveModel::activity(*choice.pattern, bytes);
  if (s_.full_mode) return spec;
  // Symmetric mode: the identical collectives of the other groups run at the same rate; where
  // they cross a resource of this one, their load adds to its weight there.
  const auto key =
      std::make_tuple(static_cast<int>(op), comm.gpus, static_cast<int>(choice.pattern->algorithm),
                      static_cast<int>(choice.pattern->protocol));
  auto it = merged_uses_.find(key);
  if (it == merged_uses_.end()) {
    const auto copies = copies_of(members, make);
    std::vector<Use> uses = choice.pattern->uses;  // sorted by resource
    // Where each of this pattern's resources sits in `uses` (scratch, -1 elsewhere).
    if (slot_of_.size() < sim_.resource_count()) slot_of_.resize(sim_.resource_count(), -1);
    for (std::size_t i = 0; i < uses.size(); ++i) {
      slot_of_[uses[i].resource] = static_cast<std::int32_t>(i);
    }
    // A group inside one NVLink domain cannot share a link with a group inside another domain:
    // skip those copies without building their flows (TP groups of other nodes).
    auto single_domain = [&](const std::vector<int>& gpus) {
      const int domain = topology_.nvlink_domain_of(gpus.front());
      for (int g : gpus) {
        if (topology_.nvlink_domain_of(g) != domain) return -1;
      }
      return domain;
    };
    const int own_domain = single_domain(comm.gpus);
    const double scale = collectives_.wire_scale(choice.pattern->protocol);
    for (const auto& copy : copies) {
      Communicator other;
      for (const Coord& c : copy) other.gpus.push_back(gpu_of(l_, c));
      if (own_domain >= 0) {
        const int other_domain = single_domain(other.gpus);
        if (other_domain >= 0 && other_domain != own_domain) continue;
      }
      for (const Use& use : collectives_.flows(op, other, choice.pattern->algorithm)) {
        const std::int32_t slot = slot_of_[use.resource];
        if (slot >= 0) uses[slot].weight += use.weight * scale;
      }
    }
    for (const Use& use : uses) slot_of_[use.resource] = -1;
    it = merged_uses_.emplace(key, std::move(uses)).first;
  }
  spec.uses = it->second;
  return spec;
}

std::vector<Coord> StepBuilder::simulated_ranks() const {
  std::vector<Coord> ranks;
  for (int p = 0; p < l_.pp; ++p) {
    if (!s_.full_mode) {
      ranks.push_back({0, 0, 0, p});
      continue;
    }
    for (int d = 0; d < l_.dp; ++d) {
      for (int k = 0; k < l_.cp; ++k) {
        for (int t = 0; t < l_.tp; ++t) ranks.push_back({t, k, d, p});
      }
    }
  }
  return ranks;
}

bool StepBuilder::simulated(const Coord& c) const {
  return s_.full_mode || (c.tp == 0 && c.cp == 0 && c.dp == 0);
}

TrainingStepResult StepBuilder::build_and_run() {
  TrainingStepResult result;
  const ModelSpec& m = s_.model;
  const int virtual_stages = l_.pp * l_.vpp;
  const StepCosts step_costs = costs_of_step(s_, l_, compute_);
  const std::vector<int>& first_layer = step_costs.first_layer;
  const std::vector<LayerCost>& costs = step_costs.layers;
  const double logits_fwd_s = step_costs.logits_fwd_s;
  const double logits_bwd_s = step_costs.logits_bwd_s;
  const double tokens = static_cast<double>(s_.batch.micro_batch) * s_.batch.seq_len / l_.cp;

  TaskGraph graph;
  const auto ranks = simulated_ranks();
  struct RankStreams {
    StreamId compute, p2p, dp;
  };
  std::map<int, RankStreams> streams;  // by GPU id
  for (const Coord& c : ranks) {
    const int gpu = gpu_of(l_, c);
    const int node = topology_.node_of(gpu);
    const std::string who = "gpu " + std::to_string(gpu) + " (pp " + std::to_string(c.pp) + ")";
    streams[gpu] = {graph.add_stream({who + " compute", node, gpu * 4}),
                    graph.add_stream({who + " p2p", node, gpu * 4 + 1}),
                    graph.add_stream({who + " dp", node, gpu * 4 + 2})};
  }

  // Collective tasks sit on the compute (or dp) stream of every simulated member.
  auto member_streams = [&](const std::vector<Coord>& group, bool dp_stream) {
    std::vector<StreamId> out;
    for (const Coord& c : group) {
      if (!simulated(c)) continue;
      const auto& rs = streams.at(gpu_of(l_, c));
      out.push_back(dp_stream ? rs.dp : rs.compute);
    }
    return out;
  };

  // For each (virtual stage, micro-batch, direction): the last task of that pass on each
  // simulated rank of the stage, for pipeline dependencies. Keyed by (v, mb, forward, dp, cp, tp).
  using PassKey = std::tuple<int, int, bool, int, int, int>;  // (v, mb, forward, dp, cp, tp)
  std::map<PassKey, std::vector<TaskId>> pass_first;
  std::map<PassKey, TaskId> send_task;
  std::map<int, std::vector<TaskId>> dp_tasks;  // by GPU
  std::map<int, TaskId> last_compute;           // by GPU

  const int zero = s_.parallel.zero;
  // ZeRO-3/FSDP: each layer's weights are all-gathered before its forward and its backward, at
  // most two layers ahead of the compute (FSDP's prefetch), and its gradients reduce-scattered
  // after each micro-batch's backward.
  std::map<int, TaskId> pending_gather;           // by GPU: the gather the next layer waits for
  std::map<int, std::vector<TaskId>> layer_ends;  // by GPU: last task of each layer pass so far
  const double grad_bytes = compute_.grad_reduce_bytes_per_param;
  const CollectiveOp grad_op = zero >= 1 ? CollectiveOp::kReduceScatter : CollectiveOp::kAllReduce;
  // Megatron's TP collectives per layer: with sequence parallelism an all-gather before and a
  // reduce-scatter after each of the attention and MLP blocks (Korthikanti et al. 2022, fig. 5);
  // without it, the all-gather positions are identities and the reduce-scatters all-reduces
  // (Shoeybi et al. 2019, the f and g operators): 2 all-reduces forward, 2 backward.
  const bool sp = s_.parallel.sequence_parallel;
  const CollectiveOp tp_gather = CollectiveOp::kAllGather;
  const CollectiveOp tp_scatter = sp ? CollectiveOp::kReduceScatter : CollectiveOp::kAllReduce;
  const double gather_factor = sp ? 1.0 : 0.0;  // 0: no collective at a gather position

  // Program order: every simulated rank of a stage runs the same schedule. Stages are emitted in
  // order, and within a stage one op at a time for all its ranks, so collectives line up.
  for (int p = 0; p < l_.pp; ++p) {
    std::vector<Coord> stage_ranks;
    for (const Coord& c : ranks) {
      if (c.pp == p) stage_ranks.push_back(c);
    }
    // One "lead" rank per TP/CP/DP group creates each collective once.
    auto is_lead = [](const Coord& c, bool tp, bool cp, bool dp) {
      return (!tp || c.tp == 0) && (!cp || c.cp == 0) && (!dp || c.dp == 0);
    };

    // ZeRO-1/2: last step's parameter all-gather overlaps this step's forward (steady state).
    if (zero == 1 || zero == 2) {
      for (const Coord& c : stage_ranks) {
        if (!is_lead(c, false, true, true)) continue;
        double params = 0;
        for (int v = p; v < virtual_stages; v += l_.pp) {
          for (int layer = first_layer[v]; layer < first_layer[v + 1]; ++layer)
            params += costs[layer].grad_params;
        }
        const auto group = dp_group(c);
        if (group.size() < 2) continue;
        Task t;
        t.name = "param all-gather (overlaps forward)";
        t.category = "dp";
        t.activity = collective_activity(CollectiveOp::kAllGather, group, &StepBuilder::dp_group,
                                         params * 2.0);
        t.streams = member_streams(group, true);
        dp_tasks[gpu_of(l_, c)].push_back(graph.add(std::move(t)));
      }
    }

    for (const ScheduleOp& op : pipeline_schedule(l_.pp, p, l_.microbatches, l_.vpp)) {
      const int v = op.chunk * l_.pp + p;
      const bool last_microbatch = op.microbatch == l_.microbatches - 1;
      // Per rank: the chain of tasks of this pass.
      std::map<int, TaskId> prev;  // by GPU: the previous task of this pass on its compute stream
      // The first task of this pass on each rank waits for the previous virtual stage's send
      // (forward) or the next one's (backward); linked once every task exists.
      auto pass_key = [&](const Coord& c) {
        return std::make_tuple(v, op.microbatch, op.forward, c.dp, c.cp, c.tp);
      };
      auto add_compute = [&](const Coord& c, const std::string& name, double seconds) {
        const int gpu = gpu_of(l_, c);
        Task t;
        t.name = name;
        t.category = "compute";
        t.activity = compute_activity(gpu, seconds);
        t.streams = {streams.at(gpu).compute};
        const bool first = !prev.count(gpu);
        if (!first) t.deps.push_back(prev.at(gpu));
        if (auto g = pending_gather.find(gpu); g != pending_gather.end()) {
          t.deps.push_back(g->second);
          pending_gather.erase(g);
        }
        const TaskId id = graph.add(std::move(t));
        if (first) pass_first[pass_key(c)].push_back(id);
        prev[gpu] = id;
        last_compute[gpu] = id;
        return id;
      };
      auto add_collective = [&](const std::string& name, const std::string& category,
                                CollectiveOp cop, const std::vector<Coord>& group, GroupMaker make,
                                double bytes) {
        if (group.size() < 2 || bytes <= 0) return;
        Task t;
        t.name = name;
        t.category = category;
        t.activity = collective_activity(cop, group, make, bytes);
        t.streams = member_streams(group, false);
        std::vector<Coord> first_members;
        for (const Coord& c : group) {
          if (!simulated(c)) continue;
          if (auto g = pending_gather.find(gpu_of(l_, c)); g != pending_gather.end()) {
            t.deps.push_back(g->second);
            pending_gather.erase(g);
          }
          if (auto it = prev.find(gpu_of(l_, c)); it != prev.end()) {
            t.deps.push_back(it->second);
          } else {
            first_members.push_back(c);
          }
        }
        const TaskId id = graph.add(std::move(t));
        for (const Coord& c : first_members) pass_first[pass_key(c)].push_back(id);
        for (const Coord& c : group) {
          if (simulated(c)) prev[gpu_of(l_, c)] = id;
        }
      };

      auto fsdp_gather = [&](const LayerCost& lc, const std::string& name) {
        if (zero != 3) return;
        for (const Coord& c : stage_ranks) {
          if (!is_lead(c, false, true, true)) continue;
          const auto group = dp_group(c);
          if (group.size() < 2) continue;
          Task t;
          t.name = name;
          t.category = "dp";
          t.activity = collective_activity(CollectiveOp::kAllGather, group, &StepBuilder::dp_group,
                                           lc.grad_params * 2.0);
          t.streams = member_streams(group, true);
          for (const Coord& member : group) {
            if (!simulated(member)) continue;
            const auto& ends = layer_ends[gpu_of(l_, member)];
            if (ends.size() >= 2) t.deps.push_back(ends[ends.size() - 2]);
          }
          const TaskId id = graph.add(std::move(t));
          for (const Coord& member : group) {
            if (simulated(member)) pending_gather[gpu_of(l_, member)] = id;
          }
        }
      };
      auto end_layer = [&]() {
        for (const Coord& c : stage_ranks) {
          const int gpu = gpu_of(l_, c);
          if (auto it = prev.find(gpu); it != prev.end()) layer_ends[gpu].push_back(it->second);
        }
      };

      // One collective per group of the stage (its lead rank creates it), or one compute task per
      // simulated rank.
      auto tp = [&](const std::string& name, CollectiveOp cop, double bytes) {
        for (const Coord& c : stage_ranks) {
          if (is_lead(c, true, false, false)) {
            add_collective(name, "tp", cop, tp_group(c), &StepBuilder::tp_group, bytes);
          }
        }
      };
      auto cp = [&](const std::string& name, CollectiveOp cop, double bytes) {
        for (const Coord& c : stage_ranks) {
          if (is_lead(c, false, true, false)) {
            add_collective(name, "cp", cop, cp_group(c), &StepBuilder::cp_group, bytes);
          }
        }
      };
      auto ep = [&](const std::string& name, const LayerCost& lc) {
        if (!lc.moe) return;
        for (const Coord& c : stage_ranks) {
          if (ep_rank(c) % l_.ep == 0) {
            add_collective(name, "ep", CollectiveOp::kAllToAll, ep_group(c), &StepBuilder::ep_group,
                           lc.ep_bytes);
          }
        }
      };
      auto compute = [&](const std::string& name, double seconds) {
        for (const Coord& c : stage_ranks) add_compute(c, name, seconds);
      };

      // Backward of the last virtual stage starts with the loss gradient through the logits.
      const std::string mb = " mb" + std::to_string(op.microbatch);
      if (op.forward) {
        for (int layer = first_layer[v]; layer < first_layer[v + 1]; ++layer) {
          const LayerCost& lc = costs[layer];
          const std::string ln = "L" + std::to_string(layer) + " fwd ";
          fsdp_gather(lc, ln + "param all-gather" + mb);
          tp(ln + "tp all-gather" + mb, tp_gather, lc.tp_bytes * gather_factor);
          cp(ln + "cp kv all-gather" + mb, CollectiveOp::kAllGather, lc.cp_bytes);
          compute(ln + "attention" + mb, lc.attention_fwd_s);
          tp(ln + "tp reduce-scatter" + mb, tp_scatter, lc.tp_bytes);
          tp(ln + "tp all-gather" + mb, tp_gather, lc.tp_bytes * gather_factor);
          ep(ln + "ep dispatch" + mb, lc);
          compute(ln + "mlp" + mb, lc.mlp_fwd_s);
          ep(ln + "ep combine" + mb, lc);
          tp(ln + "tp reduce-scatter" + mb, tp_scatter, lc.tp_bytes);
          end_layer();
        }
        if (v == virtual_stages - 1) compute("logits+loss fwd" + mb, logits_fwd_s);
      } else {
        if (v == virtual_stages - 1) compute("logits bwd" + mb, logits_bwd_s);
        for (int layer = first_layer[v + 1] - 1; layer >= first_layer[v]; --layer) {
          const LayerCost& lc = costs[layer];
          const std::string ln = "L" + std::to_string(layer) + " bwd ";
          fsdp_gather(lc, ln + "param all-gather" + mb);
          if (s_.parallel.recompute == "full") {
            // The recomputed forward repeats the layer's forward TP collectives.
            for (int block = 0; block < 2; ++block) {
              tp(ln + "recompute tp all-gather" + mb, tp_gather, lc.tp_bytes * gather_factor);
              tp(ln + "recompute tp reduce" + mb, tp_scatter, lc.tp_bytes);
            }
          }
          tp(ln + "tp all-gather" + mb, tp_gather, lc.tp_bytes * gather_factor);
          ep(ln + "ep combine grad" + mb, lc);
          compute(ln + "mlp" + mb, lc.mlp_bwd_s);
          ep(ln + "ep dispatch grad" + mb, lc);
          tp(ln + "tp reduce-scatter" + mb, tp_scatter, lc.tp_bytes);
          tp(ln + "tp all-gather" + mb, tp_gather, lc.tp_bytes * gather_factor);
          compute(ln + "attention" + mb, lc.attention_bwd_s);
          cp(ln + "cp kv reduce-scatter" + mb, CollectiveOp::kReduceScatter, lc.cp_bytes);
          tp(ln + "tp reduce-scatter" + mb, tp_scatter, lc.tp_bytes);
          // Gradients of this layer are complete after the last micro-batch's backward: reduce
          // them over the data-parallel group on the DP stream while the backward goes on.
          if (last_microbatch || zero == 3) {
            for (const Coord& c : stage_ranks) {
              if (!is_lead(c, false, true, true)) continue;
              const auto group = dp_group(c);
              if (group.size() < 2) continue;
              Task t;
              t.name = "L" + std::to_string(layer) + " grad " +
                       (zero >= 1 ? "reduce-scatter" : "all-reduce");
              t.category = "dp";
              t.activity = collective_activity(grad_op, group, &StepBuilder::dp_group,
                                               lc.grad_params * grad_bytes);
              t.streams = member_streams(group, true);
              for (const Coord& member : group) {
                if (simulated(member)) t.deps.push_back(prev.at(gpu_of(l_, member)));
              }
              const TaskId id = graph.add(std::move(t));
              for (const Coord& member : group) {
                if (simulated(member)) dp_tasks[gpu_of(l_, member)].push_back(id);
              }
            }
          }
          end_layer();
        }
      }
      // Send the activations (forward) or their gradients (backward) to the next virtual stage;
      // with sequence parallelism Megatron sends 1/tp of the tensor (scatter-gather optimisation).
      const int to_v = op.forward ? v + 1 : v - 1;
      if (to_v >= 0 && to_v < virtual_stages) {
        const int to_stage = to_v % l_.pp;
        for (const Coord& c : stage_ranks) {
          const int src = gpu_of(l_, c);
          const int dst = gpu_of(l_, {c.tp, c.cp, c.dp, to_stage});
          const double bytes = tokens * m.hidden * kActivationBytes / l_.tp;
          Task t;
          t.name = std::string(op.forward ? "send activations" : "send gradients") + mb;
          t.category = "pp";
          t.activity = collectives_.send_activity(src, dst, bytes);
          t.streams = {streams.at(src).p2p};
          if (auto it = prev.find(src); it != prev.end()) t.deps.push_back(it->second);
          send_task[pass_key(c)] = graph.add(std::move(t));
        }
      }
    }

    // Optimizer step after every gradient reduction of this rank.
    for (const Coord& c : stage_ranks) {
      const int gpu = gpu_of(l_, c);
      Task t;
      t.name = "optimizer";
      t.category = "optimizer";
      t.activity = compute_activity(gpu, step_costs.optimizer_s[p]);
      t.streams = {streams.at(gpu).compute};
      t.deps = dp_tasks[gpu];
      t.deps.push_back(last_compute.at(gpu));
      graph.add(std::move(t));
    }
  }

  // Pipeline edges: a pass starts when the neighbouring virtual stage's send has arrived.
  for (const auto& [key, firsts] : pass_first) {
    auto [v, mb, forward, dp, cp, tp] = key;
    const int from_v = forward ? v - 1 : v + 1;
    if (from_v < 0 || from_v >= virtual_stages) continue;
    const auto send = send_task.find({from_v, mb, forward, dp, cp, tp});
    if (send == send_task.end()) continue;
    for (TaskId first : firsts) graph.add_dependency(first, send->second);
  }

  const double start_s = sim_.now();
  const auto timing = execute(graph, sim_);
  result.tasks = graph.tasks().size();
  result.simulated_ranks = static_cast<int>(ranks.size());
  for (const auto& t : timing) result.step_s = std::max(result.step_s, t.end_s - start_s);

  // Breakdown on the representative whose compute stream is busiest.
  double best_busy = -1;
  for (const Coord& c : ranks) {
    if (!(c.tp == 0 && c.cp == 0 && c.dp == 0)) continue;
    const StreamId stream = streams.at(gpu_of(l_, c)).compute;
    double compute = 0, optimizer = 0;
    std::map<std::string, double> exposed;
    double previous_end = start_s;
    for (TaskId id : graph.stream_order()[stream]) {
      const Task& task = graph.tasks()[id];
      const double d = timing[id].end_s - timing[id].start_s;
      // An idle gap before this task belongs to whatever it waited for last: a data-parallel
      // task (an FSDP gather) makes it exposed DP time; a pipeline send leaves it as bubble.
      const double gap = timing[id].start_s - previous_end;
      previous_end = timing[id].end_s;
      if (gap > 0) {
        TaskId blocking = id;
        double latest = -1;
        for (TaskId dep : task.deps) {
          if (timing[dep].end_s > latest) latest = timing[dep].end_s, blocking = dep;
        }
        if (blocking != id && graph.tasks()[blocking].category == "dp") exposed["dp"] += gap;
      }
      if (task.category == "compute") {
        compute += d;
      } else if (task.category == "optimizer") {
        optimizer += d;
      } else {
        exposed[task.category] += d;
      }
    }
    double busy = compute;
    for (const auto& [k, x] : exposed) busy += x;
    if (busy > best_busy) {
      best_busy = busy;
      result.compute_s = compute;
      result.optimizer_s = optimizer;
      result.exposed_comm_s = exposed;
    }
  }
  result.bubble_s = std::max(
      0.0, result.step_s - result.compute_s - result.exposed_comm_total() - result.optimizer_s);

  // FLOPs: the model's (6N + attention per token, no recomputation) and the executed ones.
  result.tokens_per_step = static_cast<double>(s_.batch.global_batch) * s_.batch.seq_len;
  // LoRA freezes the base: its backward computes data gradients only (half of a full backward),
  // so the model FLOPs are forward + backward / 2 (the adapters' own FLOPs are negligible).
  const FlopsPerToken per_token = flops_per_token(m, s_.batch.seq_len);
  const double per_token_flops =
      s_.mode.lora ? per_token.forward + 0.5 * per_token.backward : per_token.total();
  result.model_flops_per_step = per_token_flops * result.tokens_per_step;
  double recompute_per_microbatch = 0;
  for (const LayerCost& lc : costs) recompute_per_microbatch += lc.recompute_flops * l_.tp;
  result.hardware_flops_per_step =
      result.model_flops_per_step + recompute_per_microbatch * l_.cp * l_.microbatches * l_.dp;

  if (s_.trace) {
    for (const auto& stream : graph.streams()) {
      result.trace.thread_names.emplace_back(stream.pid, stream.tid, stream.name);
    }
    std::set<int> nodes;
    for (const auto& stream : graph.streams()) nodes.insert(stream.pid);
    for (int node : nodes)
      result.trace.process_names.emplace_back(node, "node " + std::to_string(node));
    for (TaskId id = 0; id < graph.tasks().size(); ++id) {
      const Task& task = graph.tasks()[id];
      for (StreamId s : task.streams) {
        const Stream& stream = graph.streams()[s];
        result.trace.spans.push_back({task.name, task.category, stream.pid, stream.tid,
                                      timing[id].start_s, timing[id].end_s - timing[id].start_s,
                                      nullptr});
      }
    }
  }
  return result;
}

}  // namespace

double training_step_lower_bound_s(const TrainingSetup& setup, const Layout& l) {
  const StepCosts c = costs_of_step(setup, l, compute_defaults(setup.calibrated.get()));
  const int virtual_stages = l.pp * l.vpp;
  // One micro-batch's forward and backward compute through each virtual stage.
  std::vector<double> fwd(virtual_stages, 0.0), bwd(virtual_stages, 0.0);
  for (int v = 0; v < virtual_stages; ++v) {
    for (int layer = c.first_layer[v]; layer < c.first_layer[v + 1]; ++layer) {
      fwd[v] += c.layers[layer].attention_fwd_s + c.layers[layer].mlp_fwd_s;
      bwd[v] += c.layers[layer].attention_bwd_s + c.layers[layer].mlp_bwd_s;
    }
  }
  fwd[virtual_stages - 1] += c.logits_fwd_s;
  bwd[virtual_stages - 1] += c.logits_bwd_s;

  // Stage p's compute stream runs its passes one after the other, each kernel at most at its
  // roofline rate (a compute activity's bound). Its first pass is a forward at a virtual stage
  // >= p, so it starts after that micro-batch's forward through virtual stages 0..p-1 (`head`).
  // Its last pass is a backward at a virtual stage >= p; then come its own optimizer step, and
  // that micro-batch's backward through p-1..0, each stage q's optimizer after its part
  // (`upstream`: the longest of those chains, B_{p-1} + ... + B_q + optimizer_q).
  double bound = 0.0, head = 0.0;
  double upstream = 0.0;
  for (int p = 0; p < l.pp; ++p) {
    double passes = 0.0;
    for (int v = p; v < virtual_stages; v += l.pp) passes += fwd[v] + bwd[v];
    passes *= l.microbatches;
    const double tail = std::max(upstream, c.optimizer_s[p]);
    bound = std::max(bound, head + passes + tail);
    head += fwd[p];
    upstream = bwd[p] + tail;
  }
  // Margin for the engine's rounding (an activity within 1e-12 of its work is done).
  return bound * (1.0 - 1e-9);
}

TrainingStepResult simulate_training_step(const TrainingSetup& setup) {
  const int cluster_gpus = setup.nodes * setup.instance->gpus_per_node;
  TrainingStepResult result;
  result.layout = resolve_layout(setup.parallel, setup.batch, setup.model, cluster_gpus);
  result.memory = memory_per_gpu(setup.model, result.layout, setup.parallel, setup.batch,
                                 setup.precision, setup.mode, *setup.gpu);
  if (!result.memory.fits()) return result;

  Simulator sim;
  sim.set_load_tracing(false);
  Topology topology(*setup.instance, *setup.gpu, setup.nodes, setup.network,
                    network_defaults(setup.calibrated.get()), sim);
  StepBuilder builder(setup, result.layout, sim, topology);
  TrainingStepResult step = builder.build_and_run();
  step.layout = result.layout;
  step.memory = result.memory;
  return step;
}

}  // namespace fmsim
