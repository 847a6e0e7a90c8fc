// Layout resolution and the memory model of parallel.h. docs/parallelism.md derives the formulas;
// the comments here say where each term comes from.
#include "parallel/parallel.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"
#include "scenario/json_reader.h"

namespace fmsim {
namespace {

constexpr double kGiB = 1073741824.0;
constexpr long long kMaxDegree = 1 << 20;  // far above any cluster; guards int overflow

Error infeasible(const std::string& where, const std::string& message) {
  return Error(ExitCode::kInfeasible, where, message);
}

std::string gib_text(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / kGiB);
  return text;
}

// `total` split over `parts` as evenly as possible, the extra units on the last parts (later
// pipeline stages keep fewer micro-batches in flight, so they absorb the larger share).
std::vector<int> spread(int total, int parts) {
  std::vector<int> out(parts, total / parts);
  for (int i = parts - total % parts; i < parts; ++i) ++out[i];
  return out;
}

}  // namespace

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
    case Precision::kFp8:
      return "fp8";
  }
  return "bf16";
}

std::optional<Precision> parse_precision(const std::string& name) {
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") return Precision::kFp16;
  if (name == "fp8") return Precision::kFp8;
  return std::nullopt;
}

std::string to_string(Recompute recompute) {
  switch (recompute) {
    case Recompute::kNone:
      return "none";
    case Recompute::kSelective:
      return "selective";
    case Recompute::kFull:
      return "full";
  }
  return "none";
}

std::optional<Recompute> parse_recompute(const std::string& name) {
  if (name == "none") return Recompute::kNone;
  if (name == "selective") return Recompute::kSelective;
  if (name == "full") return Recompute::kFull;
  return std::nullopt;
}

int Layout::first_layer(int virtual_stage) const {
  int layer = 0;
  for (int k = 0; k < virtual_stage; ++k) layer += layers_per_stage[k];
  return layer;
}

// ---------------------------------------------------------------------------------------------
// Stage split

namespace {

// No override: an even split when it divides; otherwise Megatron's
// --account-for-embedding-in-pipeline-split / --account-for-loss-in-pipeline-split: the embedding
// and the loss head count as one layer each, so L + 2 units are spread and the first and last
// virtual stages give one slot each to them (Llama 3 405B: 126 + 2 = 128 = 16 x 8, so 7, 8 x 14,
// 7). If that leaves a stage empty, a plain even split.
std::vector<int> split_without_override(int layers, int stages) {
  if (layers % stages == 0 || stages == 1) return spread(layers, stages);
  std::vector<int> counts = spread(layers + 2, stages);
  --counts.front();
  --counts.back();
  if (*std::min_element(counts.begin(), counts.end()) >= 1) return counts;
  return spread(layers, stages);
}

}  // namespace

std::vector<int> split_layers(int layers, int pp, int vpp, int first_stage_layers,
                              int last_stage_layers, const std::string& parallelism_pointer) {
  const std::string first_ptr = pointer_join(parallelism_pointer, "first_stage_layers");
  const std::string last_ptr = pointer_join(parallelism_pointer, "last_stage_layers");
  const int stages = pp * vpp;
  if (stages > layers) {
    const std::string field = vpp > 1 ? "vpp" : "pp";
    throw infeasible(pointer_join(parallelism_pointer, field),
                     "pp x vpp = " + std::to_string(pp) + " x " + std::to_string(vpp) + " = " +
                         std::to_string(stages) + " pipeline stages but the model has only " +
                         std::to_string(layers) + " layers: a stage would have no layer");
  }
  if (first_stage_layers == 0 && last_stage_layers == 0) {
    return split_without_override(layers, stages);
  }

  // Layers per pipeline rank: the overrides, then the rest spread over the other ranks.
  std::vector<int> per_rank(pp, 0);
  std::vector<int> free_ranks;
  int remaining = layers;
  if (pp == 1) {
    if (first_stage_layers != 0 && first_stage_layers != layers) {
      throw infeasible(first_ptr, "with pp = 1 the only stage holds all " + std::to_string(layers) +
                                      " layers, not " + std::to_string(first_stage_layers));
    }
    if (last_stage_layers != 0 && last_stage_layers != layers) {
      throw infeasible(last_ptr, "with pp = 1 the only stage holds all " + std::to_string(layers) +
                                     " layers, not " + std::to_string(last_stage_layers));
    }
    per_rank[0] = layers;
  } else {
    for (int r = 0; r < pp; ++r) {
      if (r == 0 && first_stage_layers > 0) {
        per_rank[r] = first_stage_layers;
        remaining -= first_stage_layers;
      } else if (r == pp - 1 && last_stage_layers > 0) {
        per_rank[r] = last_stage_layers;
        remaining -= last_stage_layers;
      } else {
        free_ranks.push_back(r);
      }
    }
    const std::string blame = last_stage_layers > 0 ? last_ptr : first_ptr;
    const std::string given = "first_stage_layers " + std::to_string(first_stage_layers) +
                              " and last_stage_layers " + std::to_string(last_stage_layers);
    if (free_ranks.empty() && remaining != 0) {
      throw infeasible(blame, given + " must add up to the model's " + std::to_string(layers) +
                                  " layers with pp = 2");
    }
    const int needed = static_cast<int>(free_ranks.size()) * vpp;
    if (remaining < needed) {
      throw infeasible(blame, given + " leave " + std::to_string(remaining) + " of " +
                                  std::to_string(layers) + " layers for the other " +
                                  std::to_string(free_ranks.size()) +
                                  " pipeline stages, which need at least " +
                                  std::to_string(needed) + " (one per virtual stage)");
    }
    if (!free_ranks.empty()) {
      const std::vector<int> shares = spread(remaining, static_cast<int>(free_ranks.size()));
      for (std::size_t i = 0; i < free_ranks.size(); ++i) per_rank[free_ranks[i]] = shares[i];
    }
  }
  // Each rank's layers over its vpp chunks (Megatron divides the first/last stage's layers
  // evenly over the virtual chunks); chunk c of rank r is virtual stage c*pp + r.
  std::vector<int> counts(stages, 0);
  for (int r = 0; r < pp; ++r) {
    if (per_rank[r] < vpp) {
      throw infeasible(
          r == 0 ? first_ptr : last_ptr,
          "pipeline stage " + std::to_string(r) + " would hold " + std::to_string(per_rank[r]) +
              " layers, fewer than its vpp = " + std::to_string(vpp) + " virtual stages");
    }
    const std::vector<int> chunks = spread(per_rank[r], vpp);
    for (int c = 0; c < vpp; ++c) counts[c * pp + r] = chunks[c];
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Layout

namespace {

void check_ranges(const ParallelConfig& c, const BatchConfig& b, int cluster_gpus,
                  const std::string& workload) {
  const std::string par = workload + "/parallelism";
  const auto at_least = [&](int value, int min, const std::string& field, const std::string& at) {
    if (value >= min && value <= kMaxDegree) return;
    throw bad_input(pointer_join(at, field), "expected an integer between " + std::to_string(min) +
                                                 " and " + std::to_string(kMaxDegree) + ", got " +
                                                 std::to_string(value));
  };
  at_least(c.tp, 1, "tp", par);
  at_least(c.pp, 1, "pp", par);
  at_least(c.cp, 1, "cp", par);
  at_least(c.ep, 1, "ep", par);
  at_least(c.vpp, 1, "vpp", par);
  at_least(c.dp, 0, "dp", par);
  at_least(c.first_stage_layers, 0, "first_stage_layers", par);
  at_least(c.last_stage_layers, 0, "last_stage_layers", par);
  if (c.zero < 0 || c.zero > 3) {
    throw bad_input(par + "/zero",
                    "expected 0, 1, 2, 3 or \"fsdp\", got " + std::to_string(c.zero));
  }
  if (!parse_recompute(c.recompute)) {
    throw bad_input(par + "/recompute", "unknown value \"" + c.recompute +
                                            "\"; expected one of: none, selective, full");
  }
  const auto positive = [&](long long value, const std::string& field) {
    if (value >= 1) return;
    throw bad_input(pointer_join(workload, field),
                    "expected a positive integer, got " + std::to_string(value));
  };
  positive(b.seq_len, "seq_len");
  positive(b.global_batch, "global_batch");
  positive(b.micro_batch, "micro_batch");
  if (cluster_gpus < 1) {
    throw bad_input("/cluster/nodes",
                    "the cluster has " + std::to_string(cluster_gpus) + " GPUs; need at least 1");
  }
}

// dp from the cluster, or a check of the given dp. Names the degree that breaks divisibility.
int resolve_dp(const ParallelConfig& c, int cluster_gpus, const std::string& par) {
  const long long model_parallel = static_cast<long long>(c.tp) * c.pp * c.cp;
  const std::string product = "tp x pp x cp = " + std::to_string(c.tp) + " x " +
                              std::to_string(c.pp) + " x " + std::to_string(c.cp) + " = " +
                              std::to_string(model_parallel);
  if (cluster_gpus % model_parallel != 0) {
    // The first degree whose running product stops dividing the cluster is the one to change.
    long long running = 1;
    std::string field = "cp";
    for (const auto& [name, degree] : {std::pair{"tp", c.tp}, {"pp", c.pp}, {"cp", c.cp}}) {
      running *= degree;
      if (cluster_gpus % running != 0) {
        field = name;
        break;
      }
    }
    throw infeasible(pointer_join(par, field),
                     product + " does not divide the cluster's " + std::to_string(cluster_gpus) +
                         " GPUs, so no whole number of data-parallel replicas fills it");
  }
  const int fill = static_cast<int>(cluster_gpus / model_parallel);
  if (c.dp == 0 || c.dp == fill) return fill;
  throw infeasible(pointer_join(par, "dp"), product + " times dp " + std::to_string(c.dp) + " is " +
                                                std::to_string(model_parallel * c.dp) +
                                                " GPUs, but the cluster has " +
                                                std::to_string(cluster_gpus) + "; dp must be " +
                                                std::to_string(fill) + " (or \"auto\")");
}

void check_model_split(const ParallelConfig& c, const ModelSpec& model, int dp,
                       const std::string& par) {
  // Megatron shards heads and query groups over tp (divide() asserts in attention.py), so tp must
  // divide heads and kv_heads; KV heads are not replicated as inference engines do.
  if (const std::string problem = sharding_problem(model, c.tp, 1); !problem.empty()) {
    throw infeasible(par + "/tp", problem);
  }
  if (c.ep == 1) return;
  if (!model.moe) {
    throw infeasible(par + "/ep", "ep = " + std::to_string(c.ep) + " but model \"" + model.name +
                                      "\" is dense: expert parallelism needs MoE layers");
  }
  if (const std::string problem = sharding_problem(model, c.tp, c.ep); !problem.empty()) {
    throw infeasible(par + "/ep", problem);
  }
  // Megatron-Core (expert_tensor_parallel_size = tp): expert-parallel groups are formed inside the
  // data-parallel x context-parallel ranks of a stage, so ep | dp*cp.
  if ((static_cast<long long>(dp) * c.cp) % c.ep != 0) {
    throw infeasible(par + "/ep", "ep = " + std::to_string(c.ep) +
                                      " must divide dp x cp = " + std::to_string(dp) + " x " +
                                      std::to_string(c.cp) + " = " + std::to_string(dp * c.cp) +
                                      ": expert-parallel groups are formed inside the "
                                      "data-parallel ranks");
  }
}

}  // namespace

Layout resolve_layout(const ParallelConfig& config, const BatchConfig& batch,
                      const ModelSpec& model, int cluster_gpus,
                      const std::string& workload_pointer) {
  const std::string par = workload_pointer + "/parallelism";
  check_ranges(config, batch, cluster_gpus, workload_pointer);
  if (config.vpp > 1 && config.pp == 1) {
    throw infeasible(par + "/vpp", "vpp = " + std::to_string(config.vpp) +
                                       " interleaves pipeline stages, but pp = 1 has none");
  }
  Layout layout;
  layout.tp = config.tp;
  layout.pp = config.pp;
  layout.cp = config.cp;
  layout.ep = config.ep;
  layout.vpp = config.vpp;
  layout.dp = resolve_dp(config, cluster_gpus, par);
  layout.gpus = cluster_gpus;
  check_model_split(config, model, layout.dp, par);
  layout.layers_per_stage = split_layers(model.layers, config.pp, config.vpp,
                                         config.first_stage_layers, config.last_stage_layers, par);

  const long long per_step = static_cast<long long>(layout.dp) * batch.micro_batch;
  if (batch.global_batch % per_step != 0) {
    throw infeasible(workload_pointer + "/global_batch",
                     "global_batch " + std::to_string(batch.global_batch) +
                         " is not a multiple of dp x micro_batch = " + std::to_string(layout.dp) +
                         " x " + std::to_string(batch.micro_batch) + " = " +
                         std::to_string(per_step));
  }
  layout.microbatches = static_cast<int>(batch.global_batch / per_step);
  // Megatron's interleaved schedule runs micro-batches in groups of pp
  // (schedules.py, forward_backward_pipelining_with_interleaving).
  if (config.vpp > 1 && layout.microbatches % config.pp != 0) {
    throw infeasible(par + "/vpp", "the interleaved schedule needs the micro-batches per step (" +
                                       std::to_string(layout.microbatches) +
                                       ") to be a multiple of pp (" + std::to_string(config.pp) +
                                       ")");
  }
  // Load-balanced ring attention cuts each sequence into 2 cp chunks (chunk i and 2cp-1-i on
  // rank i; Megatron/Transformer Engine context parallelism, Llama 3 §3.3.2).
  if (config.cp > 1 && batch.seq_len % (2 * config.cp) != 0) {
    throw infeasible(workload_pointer + "/seq_len",
                     "seq_len " + std::to_string(batch.seq_len) +
                         " must be a multiple of 2 x cp = " + std::to_string(2 * config.cp) +
                         " (load-balanced context parallelism splits each sequence into 2 cp "
                         "chunks)");
  }
  // Sequence parallelism splits each CP chunk's tokens over the tp ranks.
  const int local_seq = batch.seq_len / config.cp;
  if (config.sequence_parallel && config.tp > 1 && local_seq % config.tp != 0) {
    throw infeasible(workload_pointer + "/seq_len",
                     "with sequence parallelism seq_len / cp = " + std::to_string(local_seq) +
                         " must be a multiple of tp = " + std::to_string(config.tp));
  }
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Defaults

RankStrides rank_strides(const Layout& l, const std::string& order) {
  RankStrides strides;
  int stride = 1;
  for (std::size_t i = 0; i < order.size(); i += 3) {
    const std::string dim = order.substr(i, 2);
    if (dim == "tp") strides.tp = stride, stride *= l.tp;
    if (dim == "cp") strides.cp = stride, stride *= l.cp;
    if (dim == "dp") strides.dp = stride, stride *= l.dp;
    if (dim == "pp") strides.pp = stride, stride *= l.pp;
  }
  return strides;
}

const TrainingDefaults& TrainingDefaults::builtin() {
  static const TrainingDefaults defaults = [] {
    const auto doc = nlohmann::json::parse(embedded_file("training_defaults.json"));
    const auto value = [&](const char* key) { return doc.at(key).at("value"); };
    TrainingDefaults d;
    d.weight_bytes_per_param = value("weight_bytes_per_param").get<double>();
    d.grad_bytes_per_param = value("grad_bytes_per_param").get<double>();
    d.optimizer_bytes_per_param = value("optimizer_bytes_per_param").get<double>();
    d.fp8_weight_cache_bytes_per_param = value("fp8_weight_cache_bytes_per_param").get<double>();
    d.activation_bytes_per_element = value("activation_bytes_per_element").get<double>();
    d.logits_bytes_per_element = value("logits_bytes_per_element").get<double>();
    d.flash_attention = value("flash_attention").get<bool>();
    d.dropout = value("dropout").get<bool>();
    d.zero3_layers_in_flight = value("zero3_layers_in_flight").get<int>();
    d.nccl_bytes_per_communicator = value("nccl_gib_per_communicator").get<double>() * kGiB;
    d.cuda_context_bytes = value("cuda_context_gib").get<double>() * kGiB;
    d.allocator_fragmentation = value("allocator_fragmentation").get<double>();
    return d;
  }();
  return defaults;
}

// ---------------------------------------------------------------------------------------------
// Parameters per GPU

namespace {

// LoRA adapter parameters of one whole layer (not sharded): r (d_in + d_out) per adapted matrix
// (Hu et al. 2021, A: r x d_in, B: d_out x r).
struct AdapterCount {
  double non_expert = 0.0;
  double expert = 0.0;
};

AdapterCount lora_adapters(const ModelSpec& m, int layer, const TrainingMode& mode) {
  AdapterCount out;
  const double r = mode.lora_rank;
  const double h = m.hidden;
  const auto adapter = [r](double d_in, double d_out) { return r * (d_in + d_out); };
  if (mode.lora_attention) {
    if (m.mla) {
      const MlaSpec& a = *m.mla;
      const double heads = m.heads;
      const double qk_dim = a.qk_nope_head_dim + a.qk_rope_head_dim;
      out.non_expert += a.q_lora_rank > 0
                            ? adapter(h, a.q_lora_rank) + adapter(a.q_lora_rank, heads * qk_dim)
                            : adapter(h, heads * qk_dim);
      out.non_expert += adapter(h, a.kv_lora_rank + a.qk_rope_head_dim);
      out.non_expert += adapter(a.kv_lora_rank, heads * (a.qk_nope_head_dim + a.v_head_dim));
      out.non_expert += adapter(heads * a.v_head_dim, h);
    } else {
      const double q = static_cast<double>(m.heads) * m.effective_head_dim();
      const double kv = static_cast<double>(m.kv_heads) * m.effective_head_dim();
      out.non_expert += adapter(h, q) + 2 * adapter(h, kv) + adapter(q, h);
    }
  }
  if (mode.lora_mlp) {
    const double matrices = m.gated_mlp ? 3.0 : 2.0;
    if (m.is_moe_layer(layer)) {
      const MoeSpec& e = *m.moe;
      const double per_expert = matrices * adapter(h, e.expert_ffn_hidden);
      out.expert += e.experts * per_expert;
      out.non_expert += e.shared_experts * per_expert;
    } else {
      const double f =
          m.moe && m.moe->dense_ffn_hidden > 0 ? m.moe->dense_ffn_hidden : m.ffn_hidden;
      out.non_expert += matrices * adapter(h, f);
    }
  }
  return out;
}

}  // namespace

StageParameters stage_parameters(const ModelSpec& model, const Layout& layout,
                                 const TrainingMode& mode, int pipeline_rank) {
  assert(pipeline_rank >= 0 && pipeline_rank < layout.pp && "pipeline rank out of range");
  StageParameters p;
  for (int chunk = 0; chunk < layout.vpp; ++chunk) {
    const int stage = chunk * layout.pp + pipeline_rank;
    const int first = layout.first_layer(stage);
    for (int layer = first; layer < first + layout.layers_per_stage[stage]; ++layer) {
      const LayerParameterShard shard = layer_parameter_shard(model, layer, layout.tp, layout.ep);
      p.non_expert += shard.non_expert;
      p.expert += shard.expert;
      p.layer_weights += shard.total();
      p.largest_layer = std::max(p.largest_layer, shard.total());
      ++p.layers;
      if (!mode.lora) continue;
      // Adapters follow their base matrix: split over tp, routed experts also over ep.
      const AdapterCount a = lora_adapters(model, layer, mode);
      p.adapter_non_expert += a.non_expert / layout.tp;
      p.adapter_expert += a.expert / (static_cast<double>(layout.tp) * layout.ep);
    }
  }
  if (pipeline_rank == 0) {
    const double embedding = input_embedding_parameters(model, layout.tp);
    p.non_expert += embedding;
    p.largest_layer = std::max(p.largest_layer, embedding);
  }
  if (pipeline_rank == layout.pp - 1) {
    // With pp > 1 a tied head is a second copy on the last stage (Megatron's embedding group).
    const double head = output_layer_parameters(model, layout.tp, layout.pp == 1);
    p.non_expert += head;
    p.largest_layer = std::max(p.largest_layer, head);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Activations

double microbatches_in_flight(int pp, int microbatches, int vpp, int pipeline_rank) {
  assert(pp >= 1 && vpp >= 1 && microbatches >= 1 && "degrees must be positive");
  if (vpp == 1) return std::min(pp - pipeline_rank, microbatches);
  // megatron/core/pipeline_parallel/schedules.py: warm-up forwards of the interleaved schedule,
  // plus the one in steady state, in model chunks of L/(pp vpp) layers.
  const long long chunks =
      std::min<long long>(2LL * (pp - pipeline_rank - 1) + static_cast<long long>(vpp - 1) * pp + 1,
                          static_cast<long long>(microbatches) * vpp);
  return static_cast<double>(chunks) / vpp;
}

double layer_activation_bytes(const ModelSpec& model, int layer, double tokens, int seq_len, int tp,
                              bool sequence_parallel, Recompute recompute,
                              const TrainingDefaults& defaults) {
  const double element = defaults.activation_bytes_per_element;
  // Tensors of width hidden are split over tp only with sequence parallelism (Korthikanti §4.2.2).
  const double hidden_split = sequence_parallel ? tp : 1;
  const double hidden_tensor = tokens * model.hidden / hidden_split;
  // Full recomputation keeps only the layer input, 2 s b h (Korthikanti Table 2, "full").
  if (recompute == Recompute::kFull) return element * hidden_tensor;
  // Selective recomputation drops what flash attention never keeps: the attention scores.
  const bool no_scores = defaults.flash_attention || recompute == Recompute::kSelective;
  const LayerActivations a = layer_activations(model, layer, tokens, seq_len, tp);
  double bytes = element * a.total(sequence_parallel, no_scores);
  if (defaults.dropout) {
    // Korthikanti §4.1: 1-byte masks after attention and after the MLP (s b h each); with
    // unfused attention the scores' mask (1 byte) and dropout output (2 bytes) per score.
    bytes += 2.0 * hidden_tensor;
    if (!no_scores) bytes += (1.0 + element) * a.attention_scores;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Memory

namespace {

int communicators(const ModelSpec& model, const Layout& l) {
  const bool experts = model.moe.has_value() && l.ep > 1;
  return (l.tp > 1) + (l.cp > 1) + (l.pp > 1) + (l.dp > 1) + experts +
         (experts && l.expert_dp() > 1);
}

}  // namespace

MemoryBreakdown memory_of_stage(const ModelSpec& model, const Layout& layout,
                                const ParallelConfig& config, const BatchConfig& batch,
                                Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                                int pipeline_rank, const TrainingDefaults& defaults) {
  const std::optional<Recompute> recompute = parse_recompute(config.recompute);
  if (!recompute) {
    throw bad_input(
        "/workload/parallelism/recompute",
        "unknown value \"" + config.recompute + "\"; expected one of: none, selective, full");
  }
  MemoryBreakdown m;
  m.capacity = gpu.hbm_bytes;
  m.pipeline_rank = pipeline_rank;
  const StageParameters p = stage_parameters(model, layout, mode, pipeline_rank);

  // Model states (Rajbhandari et al. 2020 §5; Megatron distributed optimizer = ZeRO-1). Dense
  // state is sharded over the dp x cp ranks that reduce its gradients, expert state over the
  // expert data-parallel ranks.
  const double dense_group = static_cast<double>(layout.dp) * layout.cp;
  const double expert_group = layout.expert_dp();
  const auto sharded = [&](double dense, double expert, int from_stage) {
    if (config.zero < from_stage) return dense + expert;
    return dense / dense_group + expert / expert_group;
  };
  // LoRA: base weights frozen (weights only); adapters carry gradients and optimizer state.
  const double weight_dense = p.non_expert + p.adapter_non_expert;
  const double weight_expert = p.expert + p.adapter_expert;
  const double train_dense = mode.lora ? p.adapter_non_expert : p.non_expert;
  const double train_expert = mode.lora ? p.adapter_expert : p.expert;
  m.weights = defaults.weight_bytes_per_param * sharded(weight_dense, weight_expert, 3);
  m.grads = defaults.grad_bytes_per_param * sharded(train_dense, train_expert, 2);
  m.optimizer = defaults.optimizer_bytes_per_param * sharded(train_dense, train_expert, 1);
  // ZeRO-3/FSDP: the layers all-gathered for compute (the current one and the prefetched one).
  const double gathered =
      config.zero >= 3 ? std::min(defaults.zero3_layers_in_flight * p.largest_layer, p.total())
                       : 0.0;
  m.weights += defaults.weight_bytes_per_param * gathered;
  if (precision == Precision::kFp8) {
    const double cached = config.zero >= 3 ? std::min(gathered, p.layer_weights) : p.layer_weights;
    m.weights += defaults.fp8_weight_cache_bytes_per_param * cached;
  }

  // Activations: the stage's layers for each micro-batch in flight (Korthikanti §4.2.3).
  const Recompute rc = *recompute;
  const double tokens = static_cast<double>(batch.micro_batch) * batch.seq_len / layout.cp;
  const double hidden_split = config.sequence_parallel ? layout.tp : 1;
  double per_microbatch = 0.0;
  double working_set = 0.0;  // one layer without recomputation, rebuilt during its backward
  for (int chunk = 0; chunk < layout.vpp; ++chunk) {
    const int stage = chunk * layout.pp + pipeline_rank;
    const int first = layout.first_layer(stage);
    for (int layer = first; layer < first + layout.layers_per_stage[stage]; ++layer) {
      per_microbatch += layer_activation_bytes(model, layer, tokens, batch.seq_len, layout.tp,
                                               config.sequence_parallel, rc, defaults);
      if (rc != Recompute::kFull) continue;
      working_set =
          std::max(working_set,
                   layer_activation_bytes(model, layer, tokens, batch.seq_len, layout.tp,
                                          config.sequence_parallel, Recompute::kNone, defaults));
    }
  }
  const double in_flight =
      microbatches_in_flight(layout.pp, layout.microbatches, layout.vpp, pipeline_rank);
  m.activations = per_microbatch * in_flight + working_set;
  if (pipeline_rank == 0 && defaults.dropout) {
    m.activations += in_flight * tokens * model.hidden / hidden_split;  // embedding dropout mask
  }
  if (pipeline_rank == layout.pp - 1) {
    // Korthikanti §4.3: final norm input and head input (2 s b h each, sequence-parallel) and the
    // FP32 logits 4 s b v / t for the cross-entropy, for the one micro-batch the last stage holds.
    m.activations +=
        2.0 * defaults.activation_bytes_per_element * tokens * model.hidden / hidden_split;
    m.activations += defaults.logits_bytes_per_element * tokens * model.vocab / layout.tp;
  }

  // NCCL buffers per communicator; ZeRO-2/3 also reduce-scatter one layer's full gradients.
  m.comm_buffers = communicators(model, layout) * defaults.nccl_bytes_per_communicator;
  if (config.zero >= 2) {
    m.comm_buffers +=
        defaults.grad_bytes_per_param * std::min(p.largest_layer, train_dense + train_expert);
  }
  const double allocated = m.weights + m.grads + m.optimizer + m.activations + m.comm_buffers;
  m.reserve = defaults.cuda_context_bytes + defaults.allocator_fragmentation * allocated;
  return m;
}

namespace {

MemoryBreakdown worst_stage(const ModelSpec& model, const Layout& layout,
                            const ParallelConfig& config, const BatchConfig& batch,
                            Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                            const TrainingDefaults& defaults) {
  MemoryBreakdown worst;
  for (int rank = 0; rank < layout.pp; ++rank) {
    MemoryBreakdown m =
        memory_of_stage(model, layout, config, batch, precision, mode, gpu, rank, defaults);
    if (rank == 0 || m.total() > worst.total()) worst = std::move(m);
  }
  return worst;
}

// One alternative to try: a label and the changed knobs. `relayout`: resolve the layout again
// (dp "auto", so the cluster stays the same size).
struct Alternative {
  std::string label;
  ParallelConfig config;
  BatchConfig batch;
  bool relayout = false;
};

std::vector<Alternative> alternatives(const ModelSpec& model, const Layout& layout,
                                      const ParallelConfig& config, const BatchConfig& batch) {
  std::vector<Alternative> out;
  const auto add = [&](std::string label, bool relayout,
                       const std::function<void(ParallelConfig&, BatchConfig&)>& change) {
    Alternative a{std::move(label), config, batch, relayout};
    change(a.config, a.batch);
    if (relayout) a.config.dp = 0;
    out.push_back(std::move(a));
  };
  if (config.recompute == "none") {
    add("recompute: selective", false,
        [](ParallelConfig& c, BatchConfig&) { c.recompute = "selective"; });
  }
  if (config.recompute != "full") {
    add("recompute: full", false, [](ParallelConfig& c, BatchConfig&) { c.recompute = "full"; });
  }
  for (int zero = config.zero + 1; zero <= 3; ++zero) {
    add("zero: " + std::to_string(zero), false,
        [zero](ParallelConfig& c, BatchConfig&) { c.zero = zero; });
  }
  if (!config.sequence_parallel && layout.tp > 1) {
    add("sequence_parallel: true", true,
        [](ParallelConfig& c, BatchConfig&) { c.sequence_parallel = true; });
  }
  if (layout.vpp > 1) {
    add("vpp: 1", true, [](ParallelConfig& c, BatchConfig&) { c.vpp = 1; });
  }
  if (batch.micro_batch > 1) {
    add("micro_batch: " + std::to_string(batch.micro_batch / 2), true,
        [](ParallelConfig&, BatchConfig& b) { b.micro_batch /= 2; });
  }
  const auto degree = [&](const std::string& name, int ParallelConfig::*field) {
    add(name + ": " + std::to_string(config.*field * 2), true,
        [field](ParallelConfig& c, BatchConfig&) { c.*field *= 2; });
  };
  degree("tp", &ParallelConfig::tp);
  add("pp: " + std::to_string(config.pp * 2), true, [](ParallelConfig& c, BatchConfig&) {
    c.pp *= 2;
    c.first_stage_layers = c.last_stage_layers = 0;
  });
  degree("cp", &ParallelConfig::cp);
  if (model.moe) degree("ep", &ParallelConfig::ep);
  return out;
}

std::vector<std::string> suggest(const ModelSpec& model, const Layout& layout,
                                 const ParallelConfig& config, const BatchConfig& batch,
                                 Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                                 const TrainingDefaults& defaults) {
  std::vector<std::string> out;
  bool zero_fits = false;  // only the lowest ZeRO stage that fits is worth listing
  std::string closest;
  double closest_total = std::numeric_limits<double>::infinity();
  for (const Alternative& a : alternatives(model, layout, config, batch)) {
    if (zero_fits && a.label.rfind("zero: ", 0) == 0) continue;
    Layout changed = layout;
    try {
      if (a.relayout) changed = resolve_layout(a.config, a.batch, model, layout.gpus);
    } catch (const Error&) {
      continue;  // that layout cannot run here
    }
    const MemoryBreakdown m =
        worst_stage(model, changed, a.config, a.batch, precision, mode, gpu, defaults);
    std::string label = a.label;
    if (a.relayout && changed.dp != layout.dp) label += " (dp " + std::to_string(changed.dp) + ")";
    const std::string need =
        " -> would need " + gib_text(m.total()) + " of " + gib_text(m.capacity);
    if (m.fits()) {
      out.push_back(label + need);
      zero_fits = zero_fits || a.label.rfind("zero: ", 0) == 0;
    } else if (m.total() < closest_total) {
      closest_total = m.total();
      closest = label + need;
    }
  }
  if (!out.empty()) return out;
  // Nothing fits alone: the cheapest knobs together.
  ParallelConfig together = config;
  together.recompute = "full";
  together.zero = 3;
  const MemoryBreakdown m =
      worst_stage(model, layout, together, batch, precision, mode, gpu, defaults);
  const std::string need = " -> would need " + gib_text(m.total()) + " of " + gib_text(m.capacity);
  if (m.fits()) {
    out.push_back("recompute: full + zero: 3" + need);
    return out;
  }
  out.push_back("no single change tried fits; closest: " +
                (closest.empty() ? "recompute: full + zero: 3" + need : closest) +
                "; more GPUs per replica (tp, pp) or a larger-memory GPU are needed");
  return out;
}

}  // namespace

MemoryBreakdown memory_per_gpu(const ModelSpec& model, const Layout& layout,
                               const ParallelConfig& config, const BatchConfig& batch,
                               Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                               const TrainingDefaults& defaults) {
  MemoryBreakdown worst = worst_stage(model, layout, config, batch, precision, mode, gpu, defaults);
  if (!worst.fits()) {
    worst.suggestions = suggest(model, layout, config, batch, precision, mode, gpu, defaults);
  }
  return worst;
}

std::string describe_fit(const MemoryBreakdown& memory) {
  std::string text = "needs " + gib_text(memory.total()) + " per GPU (pipeline stage " +
                     std::to_string(memory.pipeline_rank) + ") of " + gib_text(memory.capacity);
  if (memory.fits()) return text;
  return text + ": " + gib_text(memory.shortfall_bytes()) + " over";
}

// ---------------------------------------------------------------------------------------------
// Pipeline bubble (Narayanan et al. 2021, §2.2)

double bubble_fraction(int pp, int microbatches, int vpp) {
  assert(pp >= 1 && microbatches >= 1 && vpp >= 1 && "degrees must be positive");
  return (pp - 1.0) / (static_cast<double>(vpp) * microbatches + pp - 1.0);
}

double bubble_over_ideal(int pp, int microbatches, int vpp) {
  assert(pp >= 1 && microbatches >= 1 && vpp >= 1 && "degrees must be positive");
  return (pp - 1.0) / (static_cast<double>(vpp) * microbatches);
}

// ---------------------------------------------------------------------------------------------
// JSON

ParallelConfig parse_parallel(const nlohmann::json& value, const std::string& where) {
  JsonReader r(value, where);
  ParallelConfig c;
  c.tp = static_cast<int>(r.integer("tp", c.tp, 1, kMaxDegree));
  c.pp = static_cast<int>(r.integer("pp", c.pp, 1, kMaxDegree));
  c.cp = static_cast<int>(r.integer("cp", c.cp, 1, kMaxDegree));
  c.ep = static_cast<int>(r.integer("ep", c.ep, 1, kMaxDegree));
  c.vpp = static_cast<int>(r.integer("vpp", c.vpp, 1, kMaxDegree));
  if (const nlohmann::json* dp = r.raw("dp"); dp != nullptr && !dp->is_number()) {
    if (!dp->is_string() || dp->get<std::string>() != "auto") {
      throw bad_input(r.pointer("dp"),
                      "expected a positive integer or \"auto\", got " + describe_value(*dp));
    }
  } else {
    c.dp = static_cast<int>(r.integer("dp", 0, 1, kMaxDegree));
  }
  if (const nlohmann::json* zero = r.raw("zero"); zero != nullptr && !zero->is_number()) {
    if (!zero->is_string() || zero->get<std::string>() != "fsdp") {
      throw bad_input(r.pointer("zero"),
                      "expected 0, 1, 2, 3 or \"fsdp\", got " + describe_value(*zero));
    }
    c.zero = 3;
  } else {
    c.zero = static_cast<int>(r.integer("zero", 0, 0, 3));
  }
  c.sequence_parallel = r.boolean("sequence_parallel", c.sequence_parallel);
  c.recompute = r.choice("recompute", c.recompute, {"none", "selective", "full"});
  c.first_stage_layers = static_cast<int>(r.integer("first_stage_layers", 0, 0, kMaxDegree));
  c.last_stage_layers = static_cast<int>(r.integer("last_stage_layers", 0, 0, kMaxDegree));
  {
    // Any order of the four rank dimensions.
    std::vector<std::string> orders;
    std::vector<std::string> dims = {"cp", "dp", "pp", "tp"};
    do {
      orders.push_back(dims[0] + "-" + dims[1] + "-" + dims[2] + "-" + dims[3]);
    } while (std::next_permutation(dims.begin(), dims.end()));
    c.order = r.choice("order", c.order, orders);
  }
  r.finish();
  return c;
}

nlohmann::json to_json(const ParallelConfig& c) {
  return {{"tp", c.tp},
          {"pp", c.pp},
          {"cp", c.cp},
          {"ep", c.ep},
          {"dp", c.dp == 0 ? nlohmann::json("auto") : nlohmann::json(c.dp)},
          {"vpp", c.vpp},
          {"order", c.order},
          {"zero", c.zero},
          {"sequence_parallel", c.sequence_parallel},
          {"recompute", c.recompute},
          {"first_stage_layers", c.first_stage_layers},
          {"last_stage_layers", c.last_stage_layers}};
}

}  // namespace fmsim
