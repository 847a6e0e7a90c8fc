#include "workload/inference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "cancel.h"
#include "collectives/collectives.h"
#include "data/embedded.h"
#include "engine/simulator.h"
#include "error.h"
#include "execute/compute.h"
#include "random.h"

namespace fmsim {
namespace {

constexpr double kActivationBytes = 2.0;  // BF16 activations between layers

double precision_bytes(Precision p) { return p == Precision::kFp8 ? 1.0 : 2.0; }

std::string gb(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g GB", bytes / 1e9);
  return text;
}

int draw_length(const TokenLength& length, SeededRandom& random) {
  if (length.stdev <= 0.0) return std::max(1, static_cast<int>(std::lround(length.mean)));
  return std::max(1, static_cast<int>(std::lround(length.mean + length.stdev * random.normal())));
}

// Layers on the busiest pipeline stage: the layers spread as evenly as possible.
int stage_layers(const ModelSpec& model, int pp) { return (model.layers + pp - 1) / pp; }

// Parameters on one GPU of the busiest pipeline stage: its layers (the largest layer times the
// stage's count when dense and MoE layers mix) and the embedding or the head (both with pp 1).
double total_weight_params_per_gpu(const ModelSpec& model, int tp, int ep, int pp) {
  if (pp == 1) {
    double params =
        input_embedding_parameters(model, tp) + output_layer_parameters(model, tp, true);
    for (int layer = 0; layer < model.layers; ++layer) {
      params += layer_parameter_shard(model, layer, tp, ep).total();
    }
    return params;
  }
  double largest_layer = 0.0;
  for (int layer = 0; layer < model.layers; ++layer) {
    largest_layer = std::max(largest_layer, layer_parameter_shard(model, layer, tp, ep).total());
  }
  return stage_layers(model, pp) * largest_layer +
         std::max(input_embedding_parameters(model, tp), output_layer_parameters(model, tp, false));
}

Percentiles percentiles(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  p.p50 = nearest_rank(values, 50);
  p.p99 = nearest_rank(values, 99);
  double sum = 0.0;
  for (double v : values) sum += v;
  p.mean = sum / values.size();
  return p;
}

}  // namespace

const InferenceDefaults& InferenceDefaults::builtin() {
  static const InferenceDefaults defaults = [] {
    const auto doc = nlohmann::json::parse(embedded_file("inference_defaults.json"));
    InferenceDefaults d;
    d.iteration_overhead_s = doc.at("iteration_overhead_ms").at("value").get<double>() * 1e-3;
    d.activation_workspace_factor = doc.at("activation_workspace_factor").at("value").get<double>();
    return d;
  }();
  return defaults;
}

double ReplicaCapacity::kv_tokens() const { return static_cast<double>(kv_blocks) * block_tokens; }

ReplicaCapacity replica_capacity(const ModelSpec& model, const GpuSpec& gpu,
                                 const InferenceWorkload& w) {
  const InferenceDefaults& defaults = InferenceDefaults::builtin();
  ReplicaCapacity c;
  c.block_tokens = w.block_tokens;
  c.weights_bytes_per_gpu =
      total_weight_params_per_gpu(model, w.tp, w.ep, w.pp) * precision_bytes(w.precision);
  // Activations of the largest iteration: the token budget x hidden x a factor for the MLP's
  // intermediate tensors and the residual stream (inference_defaults.json).
  c.workspace_bytes_per_gpu = w.max_tokens_per_step * model.hidden * kActivationBytes *
                              defaults.activation_workspace_factor;
  c.kv_bytes_per_gpu =
      gpu.hbm_bytes * w.memory_fraction - c.weights_bytes_per_gpu - c.workspace_bytes_per_gpu;
  c.kv_bytes_per_token_per_gpu = stage_layers(model, w.pp) *
                                 kv_cache_elements_per_token(model, w.tp) *
                                 precision_bytes(w.kv_precision);
  if (c.kv_bytes_per_gpu <= 0.0) {
    throw Error(ExitCode::kInfeasible, "/workload/kv_cache/memory_fraction",
                "the weights (" + gb(c.weights_bytes_per_gpu) + " per GPU) and the activation " +
                    "workspace (" + gb(c.workspace_bytes_per_gpu) + ") leave no room for a KV " +
                    "cache in " + gb(gpu.hbm_bytes * w.memory_fraction) +
                    "; expected a larger tp, fp8 weights or a larger memory_fraction");
  }
  c.kv_blocks = static_cast<long long>(
      std::floor(c.kv_bytes_per_gpu / (c.kv_bytes_per_token_per_gpu * w.block_tokens)));
  return c;
}

// --- iteration time ------------------------------------------------------------------------------

IterationModel::IterationModel(const ModelSpec& model, const GpuSpec& gpu,
                               const InferenceWorkload& workload,
                               std::function<double(double)> allreduce_s,
                               std::function<double(double)> alltoall_s,
                               std::function<double(double)> p2p_s, const ComputeDefaults* compute)
    : model_(model),
      gpu_(gpu),
      compute_(compute != nullptr ? compute : &ComputeDefaults::builtin()),
      tp_(workload.tp),
      ep_(workload.ep),
      precision_(workload.precision),
      allreduce_s_(std::move(allreduce_s)),
      alltoall_s_(alltoall_s ? std::move(alltoall_s) : [](double) { return 0.0; }),
      p2p_s_(p2p_s ? std::move(p2p_s) : [](double) { return 0.0; }),
      pp_(workload.pp) {
  bytes_per_param_ = precision_bytes(workload.precision);
  kv_bytes_ = precision_bytes(workload.kv_precision);
  for (int layer = 0; layer < model.layers; ++layer) {
    if (model.is_moe_layer(layer)) {
      ++moe_layers_;
      if (first_moe_ < 0) first_moe_ = layer;
    } else {
      ++dense_layers_;
      if (first_dense_ < 0) first_dense_ = layer;
    }
  }
}

double IterationModel::time_s(const IterationShape& s) const {
  const ComputeDefaults& compute = *compute_;
  // With expert parallelism the replica's ep ranks each run attention on their own share of the
  // sequences (data-parallel attention, balanced): per GPU, 1/ep of the batch.
  const double share = 1.0 / ep_;
  const double tokens = (s.prefill_tokens + s.decode_tokens) * share;
  if (tokens <= 0.0) return 0.0;
  const int tp = tp_;
  // Attention on this GPU: heads/tp heads of head_dim.
  const double d_attn = static_cast<double>(model_.heads) / tp * model_.effective_head_dim();
  const double attention_flops =
      4.0 * d_attn * (s.prefill_attention_pairs + s.decode_context_tokens) * share;
  const double kv_read_bytes =
      s.decode_context_tokens * share * kv_cache_elements_per_token(model_, tp) * kv_bytes_;
  const double attention_s = std::max(attention_time_s(gpu_, attention_flops, false, compute),
                                      memory_time_s(gpu_, kv_read_bytes, compute));
  const double allreduce_s =
      tp > 1 ? 2.0 * allreduce_s_(tokens * model_.hidden * kActivationBytes) : 0.0;
  const auto layer_s = [&](int layer) {
    const LayerKernels k =
        layer_forward_kernels(model_, layer, tokens, 1, tp, bytes_per_param_, ep_);
    double gemm_s = 0.0;
    for (const GemmShape& g : k.gemms) {
      gemm_s += gemm_time_s(gpu_, precision_, g, bytes_per_param_, compute);
    }
    // MoE layers with ep > 1: dispatch and combine each send the tokens' top-k copies of the
    // hidden state through an all-to-all over the ep ranks.
    const double alltoall_s =
        ep_ > 1 && model_.is_moe_layer(layer)
            ? 2.0 * alltoall_s_(tokens * model_.moe->top_k * model_.hidden * kActivationBytes)
            : 0.0;
    return gemm_s + attention_s + allreduce_s + alltoall_s;
  };
  double total = 0.0;
  if (dense_layers_ > 0) total += dense_layers_ * layer_s(first_dense_);
  if (moe_layers_ > 0) total += moe_layers_ * layer_s(first_moe_);
  if (s.sampled > 0) {
    const LayerKernels head =
        output_forward_kernels(model_, s.sampled * share, tp, bytes_per_param_);
    for (const GemmShape& g : head.gemms) {
      total += gemm_time_s(gpu_, precision_, g, bytes_per_param_, compute);
    }
  }
  // Pipeline parallelism: the batch goes through the pp stages one after the other (each stage
  // its layers, the sum is the whole model) with an activation send between stages; the other
  // stages meanwhile work on the other virtual engines' batches.
  if (pp_ > 1) total += (pp_ - 1) * p2p_s_(tokens * model_.hidden * kActivationBytes);
  return total + InferenceDefaults::builtin().iteration_overhead_s;
}

// --- the serving simulation ----------------------------------------------------------------------

namespace {

struct Sequence {
  int prompt = 0;  // prompt index
  int input_tokens = 0;
  int output_tokens = 0;
  int to_prefill = 0;  // tokens to (re)compute before the next output token
  int prefilled = 0;
  int generated = 0;
  int replica = -1;  // where its KV cache is
  long long blocks = 0;
  long long admitted_order = 0;
  double first_token_s = -1.0;
  double finish_s = -1.0;
  bool preempted = false;
};

struct Prompt {
  double arrival_s = 0.0;
  int samples_left = 0;
  double first_token_s = -1.0;
  double finish_s = -1.0;
};

enum class Role { kMixed, kPrefill, kDecode };

struct Replica {
  Role role = Role::kMixed;
  std::deque<int> waiting;   // sequence ids
  std::vector<int> running;  // admission order
  long long free_blocks = 0;
  bool busy = false;
  int outstanding = 0;  // prompts routed here and not finished
  // the iteration in flight
  std::vector<std::pair<int, int>> prefill_chunks;  // (sequence, tokens)
  std::vector<int> decoding;
  double busy_s = 0.0;
  double iteration_start_s = 0.0;
  std::size_t load() const { return waiting.size() + running.size(); }
};

constexpr std::uint64_t kArrival = 1ULL << 62;
constexpr std::uint64_t kIterationDone = 1ULL << 61;
constexpr std::uint64_t kTransferDone = 1ULL << 60;

class Server : public EventHandler {
 public:
  // `transfer_s(from, to, bytes)` times moving `bytes` from every GPU of replica `from` to its
  // counterpart in replica `to`, all at once.
  Server(const InferenceSetup& setup, const ReplicaCapacity& capacity, const IterationModel& model,
         Simulator& sim, Trace* trace, std::function<double(int, int, double)> transfer_s)
      : w_(setup.workload),
        capacity_(capacity),
        model_(model),
        sim_(sim),
        trace_(trace),
        transfer_s_(std::move(transfer_s)) {}

  void add_prompt(double arrival_s, int input, int output) {
    const int id = static_cast<int>(prompts_.size());
    prompts_.push_back({arrival_s, w_.samples_per_prompt, -1.0, -1.0});
    for (int k = 0; k < w_.samples_per_prompt; ++k) {
      Sequence s;
      s.prompt = id;
      s.input_tokens = input;
      s.output_tokens = output;
      s.to_prefill = input;
      sequences_.push_back(s);
    }
    sim_.schedule_timer(arrival_s, kArrival | static_cast<std::uint64_t>(id));
  }

  void start(int replicas) {
    replicas_.assign(replicas, Replica{});
    for (int r = 0; r < replicas; ++r) {
      replicas_[r].free_blocks = total_blocks();
      if (w_.prefill_replicas > 0) {
        replicas_[r].role = r < w_.prefill_replicas ? Role::kPrefill : Role::kDecode;
      }
    }
    sim_.set_handler(this);
  }

  void on_activity_done(ActivityId, std::uint64_t) override {}

  void on_timer(std::uint64_t tag) override {
    const double now = sim_.now();
    if (tag & kArrival) {
      const int prompt = static_cast<int>(tag & ~kArrival);
      account_in_system(now, +1);
      // Join the shortest queue: the replica with the fewest outstanding prompts (lowest index);
      // disaggregated, the prefill replica with the fewest sequences.
      int best = 0;
      if (w_.prefill_replicas > 0) {
        best = least_loaded(Role::kPrefill);
      } else {
        for (int r = 1; r < static_cast<int>(replicas_.size()); ++r) {
          if (replicas_[r].outstanding < replicas_[best].outstanding) best = r;
        }
      }
      Replica& replica = replicas_[best];
      ++replica.outstanding;
      for (int k = 0; k < w_.samples_per_prompt; ++k) {
        replica.waiting.push_back(prompt * w_.samples_per_prompt + k);
      }
      if (!replica.busy) schedule(best);
      return;
    }
    if (tag & kIterationDone) {
      const int r = static_cast<int>(tag & ~kIterationDone);
      finish_iteration(r, now);
      schedule(r);
      return;
    }
    if (tag & kTransferDone) {
      // The KV cache arrived: the prefill replica frees it, a decode replica takes the sequence.
      const int id = static_cast<int>(tag & ~kTransferDone);
      Sequence& s = sequences_[id];
      Replica& from = replicas_[s.replica];
      from.free_blocks += s.blocks;
      s.blocks = 0;
      if (!from.busy) schedule(s.replica);
      const int to = least_loaded(Role::kDecode);
      s.replica = to;
      replicas_[to].waiting.push_back(id);
      if (!replicas_[to].busy) schedule(to);
    }
  }

  InferenceResult result(const InferenceSetup& setup) const;

 private:
  // Frees a sequence's blocks and queues it again to recompute what it had.
  void preempt(Replica& replica, int id) {
    Sequence& s = sequences_[id];
    replica.free_blocks += s.blocks;
    s.blocks = 0;
    s.to_prefill = s.input_tokens + s.generated;
    s.prefilled = 0;
    s.preempted = true;
    replica.running.erase(std::find(replica.running.begin(), replica.running.end(), id));
    replica.waiting.push_front(id);
    ++preemptions_;
  }

  int least_loaded(Role role) const {
    int best = -1;
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r].role != role) continue;
      if (best < 0 || replicas_[r].load() < replicas_[best].load()) best = r;
    }
    return best;
  }

  long long blocks_for(long long tokens) const {
    return (tokens + capacity_.block_tokens - 1) / capacity_.block_tokens;
  }

  // Grows a sequence's allocation to hold `tokens`; false when the cache has no room.
  bool reserve(Replica& replica, Sequence& s, long long tokens) {
    const long long need = blocks_for(tokens) - s.blocks;
    if (need <= 0) return true;
    if (need > replica.free_blocks) return false;
    replica.free_blocks -= need;
    s.blocks += need;
    return true;
  }

  void schedule(int r) {
    Replica& replica = replicas_[r];
    replica.prefill_chunks.clear();
    replica.decoding.clear();
    int budget = w_.max_tokens_per_step;
    IterationShape shape;
    if (replica.role == Role::kDecode) {
      // Sequences whose KV cache arrived join the batch when the cache has room for it.
      while (!replica.waiting.empty() && static_cast<int>(replica.running.size()) < w_.max_batch) {
        const int id = replica.waiting.front();
        Sequence& s = sequences_[id];
        if (!reserve(replica, s, static_cast<long long>(s.input_tokens) + s.generated)) break;
        replica.waiting.pop_front();
        s.admitted_order = admissions_++;
        replica.running.push_back(id);
      }
    }
    const bool prefill_only =
        replica.role == Role::kPrefill || (!w_.chunked_prefill && !replica.waiting.empty() &&
                                           can_admit(replica, replica.waiting.front()));
    // 1. Decode: one token for each running sequence past its prompt.
    if (!prefill_only) {
      for (std::size_t i = 0; i < replica.running.size() && budget > 0; ++i) {
        const int id = replica.running[i];
        Sequence& s = sequences_[id];
        if (s.prefilled < s.to_prefill) continue;
        // The newest token's K and V join the cache in this iteration.
        const long long tokens = s.input_tokens + s.generated;
        while (!reserve(replica, s, tokens)) {
          // Preempt the most recently admitted other sequence; if it is this one, give up.
          const int victim = replica.running.back();
          if (victim == id) break;
          preempt(replica, victim);
        }
        if (s.blocks < blocks_for(tokens)) {
          preempt(replica, id);
          --i;
          continue;
        }
        replica.decoding.push_back(id);
        shape.decode_tokens += 1;
        shape.decode_context_tokens += s.input_tokens + s.generated;
        --budget;
      }
    }
    // 2. Prompts already admitted but not fully computed (chunked prefill).
    if (w_.chunked_prefill && replica.role != Role::kDecode) {
      for (int id : replica.running) {
        if (budget <= 0) break;
        Sequence& s = sequences_[id];
        if (s.prefilled >= s.to_prefill) continue;
        add_chunk(replica, id, budget, shape);
      }
    }
    // 3. Admit new sequences, first come first served.
    if (replica.role != Role::kDecode && (w_.chunked_prefill || prefill_only)) {
      while (!replica.waiting.empty() && budget > 0 &&
             static_cast<int>(replica.running.size()) < w_.max_batch) {
        const int id = replica.waiting.front();
        Sequence& s = sequences_[id];
        // Without chunking a prompt goes whole (one may exceed the budget if it is alone).
        if (!w_.chunked_prefill && s.to_prefill > budget && !replica.prefill_chunks.empty()) break;
        // vLLM reserves the first chunk; a reserving scheduler (TensorRT-LLM's default) the
        // whole request, so that it never needs a preemption.
        const long long first_chunk = w_.reserve_full_request
                                          ? static_cast<long long>(s.input_tokens) + s.output_tokens
                                      : w_.chunked_prefill ? std::min(budget, s.to_prefill)
                                                           : s.to_prefill;
        if (!reserve(replica, s, first_chunk)) break;  // the cache is full: wait
        replica.waiting.pop_front();
        s.admitted_order = admissions_++;
        replica.running.push_back(id);
        int allowance = w_.chunked_prefill ? budget : s.to_prefill;
        add_chunk(replica, id, allowance, shape);
        budget = w_.chunked_prefill ? allowance : budget - s.to_prefill;
      }
    }
    if (replica.prefill_chunks.empty() && replica.decoding.empty()) {
      if (!replica.running.empty()) {
        // Every running prompt waits for cache room that only a preemption can give.
        preempt(replica, replica.running.back());
        schedule(r);
        return;
      }
      replica.busy = false;
      return;
    }
    for (const auto& [id, tokens] : replica.prefill_chunks) {
      const Sequence& s = sequences_[id];
      if (s.prefilled + tokens >= s.to_prefill) shape.sampled += 1;
    }
    shape.sampled += shape.decode_tokens;
    const double time_s = model_.time_s(shape);
    replica.busy = true;
    replica.iteration_start_s = sim_.now();
    replica.busy_s += time_s;
    ++iterations_;
    batch_sum_ += static_cast<double>(replica.decoding.size() + replica.prefill_chunks.size());
    sim_.schedule_timer(sim_.now() + time_s, kIterationDone | static_cast<std::uint64_t>(r));
    if (trace_ != nullptr) {
      trace_->counters.push_back({"replica " + std::to_string(r) + " batch", 0, sim_.now(),
                                  static_cast<double>(replica.running.size())});
      trace_->counters.push_back({"replica " + std::to_string(r) + " KV cache used", 0, sim_.now(),
                                  1.0 - static_cast<double>(replica.free_blocks) / total_blocks()});
    }
    const double used = 1.0 - static_cast<double>(replica.free_blocks) / total_blocks();
    kv_peak_ = std::max(kv_peak_, used);
  }

  // The replica's pool: every ep rank's cache (sequences spread evenly over them).
  long long total_blocks() const { return capacity_.kv_blocks * w_.ep / w_.pp; }

  bool can_admit(const Replica& replica, int id) const {
    const Sequence& s = sequences_[id];
    const long long tokens = w_.reserve_full_request
                                 ? static_cast<long long>(s.input_tokens) + s.output_tokens
                                 : s.to_prefill;
    return static_cast<int>(replica.running.size()) < w_.max_batch &&
           blocks_for(tokens) <= replica.free_blocks;
  }

  // Adds a prompt chunk of up to `budget` tokens, as far as the cache has room, to the iteration.
  void add_chunk(Replica& replica, int id, int& budget, IterationShape& shape) {
    Sequence& s = sequences_[id];
    const long long room = (s.blocks + replica.free_blocks) * capacity_.block_tokens - s.prefilled;
    const int chunk =
        static_cast<int>(std::min<long long>(std::min(budget, s.to_prefill - s.prefilled), room));
    if (chunk <= 0) return;
    reserve(replica, s, s.prefilled + chunk);
    replica.prefill_chunks.emplace_back(id, chunk);
    shape.prefill_tokens += chunk;
    const double l = chunk, before = s.prefilled;
    shape.prefill_attention_pairs += l * before + l * (l + 1) / 2;
    budget -= chunk;
  }

  void finish_iteration(int r, double now) {
    Replica& replica = replicas_[r];
    std::vector<int> produced = replica.decoding;
    for (const auto& [id, tokens] : replica.prefill_chunks) {
      Sequence& s = sequences_[id];
      s.prefilled += tokens;
      if (s.prefilled >= s.to_prefill) produced.push_back(id);
    }
    for (int id : produced) {
      Sequence& s = sequences_[id];
      if (s.prefilled < s.to_prefill) continue;
      // A recomputed sequence resumes where it was: its prompt now includes what it generated.
      if (s.preempted) {
        s.preempted = false;
        s.prefilled = s.input_tokens;
        s.to_prefill = s.input_tokens;
      }
      ++s.generated;
      Prompt& p = prompts_[s.prompt];
      if (s.first_token_s < 0) s.first_token_s = now;
      if (p.first_token_s < 0) p.first_token_s = now;
      if (replica.role == Role::kPrefill && s.generated < s.output_tokens) {
        // Hand the KV cache to a decode replica; the blocks stay here until it has arrived.
        replica.running.erase(std::find(replica.running.begin(), replica.running.end(), id));
        s.replica = r;
        const double bytes =
            static_cast<double>(s.input_tokens) * capacity_.kv_bytes_per_token_per_gpu;
        const double transfer = transfer_s_(r, least_loaded(Role::kDecode), bytes);
        ++kv_transfers_;
        kv_transfer_sum_s_ += transfer;
        sim_.schedule_timer(now + transfer, kTransferDone | static_cast<std::uint64_t>(id));
        continue;
      }
      if (s.generated >= s.output_tokens) {
        s.finish_s = now;
        replica.free_blocks += s.blocks;
        s.blocks = 0;
        replica.running.erase(std::find(replica.running.begin(), replica.running.end(), id));
        if (--p.samples_left == 0) {
          p.finish_s = now;
          --replica.outstanding;
          account_in_system(now, -1);
          report_progress(static_cast<double>(++prompts_done_),
                          static_cast<double>(prompts_.size()));
        }
      }
    }
  }

  void account_in_system(double now, int delta) {
    in_system_integral_ += in_system_ * (now - last_change_s_);
    last_change_s_ = now;
    in_system_ += delta;
  }

  const InferenceWorkload& w_;
  const ReplicaCapacity& capacity_;
  const IterationModel& model_;
  Simulator& sim_;
  Trace* trace_;
  std::vector<Prompt> prompts_;
  std::vector<Sequence> sequences_;
  std::vector<Replica> replicas_;
  std::function<double(int, int, double)> transfer_s_;
  long long admissions_ = 0, iterations_ = 0, preemptions_ = 0, kv_transfers_ = 0;
  long long prompts_done_ = 0;  // for report_progress
  double kv_transfer_sum_s_ = 0.0;
  double batch_sum_ = 0.0, kv_peak_ = 0.0;
  double in_system_integral_ = 0.0, last_change_s_ = 0.0;
  int in_system_ = 0;
};

InferenceResult Server::result(const InferenceSetup& setup) const {
  InferenceResult out;
  out.replicas = static_cast<int>(replicas_.size()) / w_.pp;  // pp virtual engines each
  out.tp = w_.tp;
  out.ep = w_.ep;
  out.pp = w_.pp;
  out.gpus_per_replica = w_.tp * w_.ep * w_.pp;
  out.gpus = out.replicas * out.gpus_per_replica;
  out.weights_bytes_per_gpu = capacity_.weights_bytes_per_gpu;
  out.kv_bytes_per_gpu = capacity_.kv_bytes_per_gpu;
  out.kv_bytes_per_token_per_gpu = capacity_.kv_bytes_per_token_per_gpu;
  out.kv_tokens_per_replica = capacity_.kv_tokens() * w_.ep;  // shared by the pp engines
  out.kv_blocks_per_replica = total_blocks();
  out.prompts = static_cast<int>(prompts_.size());
  out.sequences = static_cast<int>(sequences_.size());
  std::vector<double> ttft, tpot, e2e;
  double first_arrival = std::numeric_limits<double>::infinity(), last_arrival = 0.0,
         last_finish = 0.0;
  for (const Prompt& p : prompts_) {
    ttft.push_back(p.first_token_s - p.arrival_s);
    e2e.push_back(p.finish_s - p.arrival_s);
    first_arrival = std::min(first_arrival, p.arrival_s);
    last_arrival = std::max(last_arrival, p.arrival_s);
    last_finish = std::max(last_finish, p.finish_s);
  }
  for (const Sequence& s : sequences_) {
    out.input_tokens += s.input_tokens;
    out.output_tokens += s.output_tokens;
    if (s.output_tokens > 1) tpot.push_back((s.finish_s - s.first_token_s) / (s.output_tokens - 1));
  }
  out.ttft_s = percentiles(ttft);
  out.tpot_s = percentiles(tpot);
  out.e2e_s = percentiles(e2e);
  out.duration_s = prompts_.empty() ? 0.0 : last_finish - first_arrival;
  if (out.duration_s > 0) {
    out.output_tokens_per_s = out.output_tokens / out.duration_s;
    out.input_tokens_per_s = out.input_tokens / out.duration_s;
    out.requests_per_s = out.prompts / out.duration_s;
    out.mean_in_system = in_system_integral_ / out.duration_s;
  }
  out.arrival_rate_per_s =
      last_arrival > first_arrival ? (out.prompts - 1) / (last_arrival - first_arrival) : 0.0;
  out.kv_cache_peak_fraction = kv_peak_;
  out.iterations = iterations_;
  out.preemptions = preemptions_;
  out.mean_batch = iterations_ > 0 ? batch_sum_ / iterations_ : 0.0;
  double busy = 0.0;
  for (const Replica& r : replicas_) busy += r.busy_s;
  out.busy_fraction =
      out.duration_s > 0 ? busy / (out.duration_s * static_cast<double>(replicas_.size())) : 0.0;
  out.prefill_replicas = w_.prefill_replicas;
  out.kv_transfers = kv_transfers_;
  out.kv_transfer_s_mean = kv_transfers_ > 0 ? kv_transfer_sum_s_ / kv_transfers_ : 0.0;
  (void)setup;
  return out;
}

}  // namespace

InferenceResult simulate_inference(const InferenceSetup& setup) {
  const InferenceWorkload& w = setup.workload;
  const GpuSpec& gpu = *setup.gpu;
  const ReplicaCapacity capacity = replica_capacity(setup.model, gpu, w);

  // Requests: from the trace, or drawn from the seeded process.
  SeededRandom random(setup.seed);
  std::vector<TraceRequest> requests = w.trace;
  if (requests.empty()) {
    double t = 0.0;
    for (int i = 0; i < w.count; ++i) {
      if (!w.all_at_once && i > 0) t += random.exponential(w.rate_per_s);
      requests.push_back(
          {t, draw_length(w.input_tokens, random), draw_length(w.output_tokens, random)});
    }
  }
  // One request must fit in an empty cache.
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const double tokens = requests[i].input_tokens + requests[i].output_tokens;
    if (tokens > capacity.kv_tokens() * w.ep / w.pp) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "request %zu needs %.0f tokens of KV cache but a replica holds %.0f (%.4g GB "
                    "per GPU at %.4g bytes per token); expected shorter requests, a larger tp or "
                    "an fp8 KV cache",
                    i, tokens, capacity.kv_tokens(), capacity.kv_bytes_per_gpu / 1e9,
                    capacity.kv_bytes_per_token_per_gpu);
      throw Error(ExitCode::kInfeasible, "/workload/requests", text);
    }
  }

  const int cluster_gpus = setup.nodes * setup.instance->gpus_per_node;
  const int per_replica = w.tp * w.ep * w.pp;
  const int replicas = w.replicas > 0 ? w.replicas : cluster_gpus / per_replica;
  if (replicas < 1 || replicas * per_replica > cluster_gpus) {
    throw Error(ExitCode::kInfeasible, "/workload/replicas",
                std::to_string(replicas) + " replicas of tp " + std::to_string(w.tp) + " x ep " +
                    std::to_string(w.ep) + " need " +
                    std::to_string(std::max(1, replicas) * per_replica) +
                    " GPUs; the cluster has " + std::to_string(cluster_gpus));
  }

  // TP all-reduces and EP all-to-alls on the replica's GPUs (NVLink within a node, EFA across),
  // timed by the NCCL model. Ranks: tp fastest, then ep.
  if (w.prefill_replicas >= replicas) {
    throw Error(ExitCode::kInfeasible, "/workload/disaggregation/prefill_replicas",
                std::to_string(w.prefill_replicas) + " prefill replicas of " +
                    std::to_string(replicas) + " leave none to decode; expected at most " +
                    std::to_string(replicas - 1));
  }
  // Disaggregated, the KV transfers cross between replicas: the topology covers them all.
  const int topology_gpus = w.prefill_replicas > 0 ? replicas * per_replica : per_replica;
  Simulator topology_sim;
  Topology topology(*setup.instance, gpu,
                    std::max(1, (topology_gpus + setup.instance->gpus_per_node - 1) /
                                    setup.instance->gpus_per_node),
                    setup.network, network_defaults(setup.calibrated.get()), topology_sim);
  CollectiveModel collectives(topology, topology_sim, NcclTuning::builtin(), {});
  Communicator tp_group, ep_group;
  for (int g = 0; g < w.tp; ++g) tp_group.gpus.push_back(g);
  for (int e = 0; e < w.ep; ++e) ep_group.gpus.push_back(e * w.tp);
  Communicator stage_pair;  // GPU 0 of stage 0 and of stage 1 (stages are tp x ep GPUs apart)
  stage_pair.gpus = {0, w.tp * w.ep};
  std::map<double, double> allreduce_cache, alltoall_cache, p2p_cache;
  const auto timed = [&](CollectiveOp op, const Communicator& comm, std::map<double, double>& cache,
                         double bytes) {
    const auto it = cache.find(bytes);
    if (it != cache.end()) return it->second;
    const double t = collectives.choose(op, comm, bytes).predicted_time_s;
    cache.emplace(bytes, t);
    return t;
  };
  const IterationModel model(
      setup.model, gpu, w,
      [&](double bytes) {
        return timed(CollectiveOp::kAllReduce, tp_group, allreduce_cache, bytes);
      },
      [&](double bytes) { return timed(CollectiveOp::kAllToAll, ep_group, alltoall_cache, bytes); },
      [&](double bytes) { return timed(CollectiveOp::kSendRecv, stage_pair, p2p_cache, bytes); },
      &compute_defaults(setup.calibrated.get()));

  Simulator sim;
  Trace trace;
  const auto transfer_s = [&](int from, int to, double bytes) {
    Communicator pair;
    pair.gpus = {from / w.pp * per_replica, to / w.pp * per_replica};
    if (pair.gpus[0] == pair.gpus[1]) return 0.0;  // two engines of one replica share its cache
    return collectives.choose(CollectiveOp::kSendRecv, pair, bytes).predicted_time_s;
  };
  Server server(setup, capacity, model, sim, setup.trace ? &trace : nullptr, transfer_s);
  server.start(replicas * w.pp);  // pp virtual engines per replica (vLLM's pipeline scheme)
  for (const TraceRequest& r : requests)
    server.add_prompt(r.arrival_s, r.input_tokens, r.output_tokens);
  sim.run();
  InferenceResult out = server.result(setup);
  out.trace = std::move(trace);
  return out;
}

}  // namespace fmsim

namespace fmsim {

SloSizing size_for_slo(const InferenceSetup& setup, double target_rate_per_s, double ttft_p99_s,
                       double tpot_p99_s) {
  InferenceSetup one = setup;
  one.trace = false;
  InferenceWorkload& w = one.workload;
  w.replicas = 1;
  w.count = std::min(w.count, 600);
  w.trace.clear();
  SloSizing sizing;
  constexpr int kMostProbes = 15;  // capacity, the two ends and 12 bisections
  const auto probe = [&] {
    const ProgressPart part(static_cast<double>(sizing.probes) / kMostProbes,
                            static_cast<double>(sizing.probes + 1) / kMostProbes);
    ++sizing.probes;
    return simulate_inference(one);
  };
  const auto meets = [&](double rate) {
    w.all_at_once = false;
    w.rate_per_s = rate;
    const InferenceResult r = probe();
    return (ttft_p99_s <= 0 || r.ttft_s.p99 <= ttft_p99_s) &&
           (tpot_p99_s <= 0 || r.tpot_s.p99 <= tpot_p99_s);
  };
  w.all_at_once = true;
  const double capacity = probe().requests_per_s;
  double low = capacity / 64, high = capacity;
  if (!meets(low)) return sizing;
  if (meets(high)) {
    low = high;
  } else {
    for (int i = 0; i < 12; ++i) {
      const double middle = std::sqrt(low * high);  // geometric: the rates span a factor of 64
      (meets(middle) ? low : high) = middle;
    }
  }
  sizing.rate_per_replica = low;
  sizing.replicas = static_cast<int>(std::ceil(target_rate_per_s / low));
  sizing.gpus = sizing.replicas * setup.workload.tp * setup.workload.ep * setup.workload.pp;
  return sizing;
}

}  // namespace fmsim
