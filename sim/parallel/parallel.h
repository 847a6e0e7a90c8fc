// Parallelism layout and memory per GPU for training (pre-training, SFT, LoRA).
//
// Layout. A training job on G GPUs is split tp x cp x pp x dp = G (Megatron-LM order
// [TP, CP, DP, PP]; Llama 3 uses [TP, CP, PP, DP]). Expert parallelism does not add GPUs: inside
// MoE layers the dp x cp ranks of a stage are regrouped as ep x (dp x cp / ep), so ep | dp*cp
// (Megatron-Core's rule with expert_tensor_parallel_size = tp). Layers are split over pp x vpp
// virtual stages; virtual stage k lives on pipeline rank k mod pp (Narayanan et al. 2021, §2.2).
//
// Memory per GPU, in bytes (docs/parallelism.md derives every term):
//   weights + grads + optimizer = P x (2 + 4 + 12) for P parameters on the GPU, with the fp32
//       gradient accumulation buffer of Megatron (main_grad, 4 B) and Adam's fp32 master, m, v
//       (12 B, Rajbhandari et al. 2020, K = 12). ZeRO-1 divides the 12 B by the data-parallel
//       group (dp*cp, or dp*cp/ep for experts), ZeRO-2 also the 4 B, ZeRO-3/FSDP also the 2 B
//       (plus the layers all-gathered in flight).
//   activations = per-layer bytes (Korthikanti et al. 2022, §4; model/model.h layer_activations)
//       x layers on the stage x micro-batches in flight (1F1B: min(pp - rank, m); interleaved:
//       pp + (pp-1)/vpp on the first rank, Korthikanti §4.2.3), plus logits on the last stage.
//   comm_buffers = NCCL buffers per communicator (+ ZeRO-2/3 reduce-scatter bucket);
//   reserve = CUDA context + allocator fragmentation. Defaults: sim/data/training_defaults.json.
// Worked example (tests/parallel): Llama 3 405B, TP8 PP16 DP64, ZeRO-1: a middle stage holds
// 8 layers x 398,491,648 = 3,187,933,184 parameters, 19.73e9 B of weights, grads and optimizer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hardware/catalog.h"
#include "model/model.h"

namespace fmsim {

// `workload.parallelism` of a scenario (DESIGN.md §4).
struct ParallelConfig {
  int tp = 1, pp = 1, cp = 1, ep = 1;
  int dp = 0;  // 0 = "auto": the cluster's GPUs / (tp*pp*cp)
  int vpp = 1;
  int zero = 0;  // 0..3; "fsdp" parses as 3
  bool sequence_parallel = true;
  std::string recompute = "selective";                // none | selective | full
  int first_stage_layers = 0, last_stage_layers = 0;  // 0: spread evenly (see resolve_layout)
  // How ranks are numbered, fastest-varying first (Megatron-Core's `order`): "tp-cp-dp-pp" keeps
  // a TP group inside a node; "tp-cp-pp-dp" is Llama 3's; "dp-tp-cp-pp" spreads TP over nodes.
  std::string order = "tp-cp-dp-pp";
};

struct BatchConfig {
  int seq_len = 0;
  int global_batch = 0;  // sequences per optimizer step
  int micro_batch = 1;   // sequences per micro-batch
};

// GEMM precision; weights, gradients and activations stay BF16/FP32 in all three (FP8 adds the
// cached FP8 weight copies, Transformer Engine style).
enum class Precision { kBf16, kFp16, kFp8 };
std::string to_string(Precision precision);
std::optional<Precision> parse_precision(const std::string& name);  // "bf16", "fp16", "fp8"

enum class Recompute { kNone, kSelective, kFull };
std::string to_string(Recompute recompute);
std::optional<Recompute> parse_recompute(const std::string& name);  // "none", "selective", "full"

// Full training, or LoRA (Hu et al. 2021): base weights frozen (no gradients, no optimizer state),
// rank-r adapters A[r x d_in], B[d_out x r] (r (d_in + d_out) parameters) trained on the adapted
// matrices: attention q, k, v, o (MLA: its four projections and o) and every MLP matrix (gate, up,
// down; each routed and shared expert's too). Activations are counted as for full fine-tuning.
struct TrainingMode {
  bool lora = false;
  int lora_rank = 0;
  bool lora_attention = true;  // adapters on q, k, v, o
  bool lora_mlp = true;        // adapters on the MLP / expert matrices
};

// A resolved layout: every degree known, tp*pp*cp*dp = gpus.
struct Layout {
  int tp = 1, pp = 1, cp = 1, ep = 1, dp = 1, vpp = 1, gpus = 1;
  int microbatches = 1;  // per pipeline per step = global_batch / (dp * micro_batch)
  std::vector<int>
      layers_per_stage;  // size pp*vpp, in virtual-stage order (stage k on rank k % pp)
  bool embedding_on_first = true, head_on_last = true;

  // Ranks that hold copies of the same expert shard: the expert data-parallel group.
  int expert_dp() const { return dp * cp / ep; }
  // First model layer of virtual stage k (k = pp*vpp gives the layer count).
  int first_layer(int virtual_stage) const;
};

// A rank's coordinates, and the GPU it runs on. GPU ids follow parallelism.order, fastest first;
// Megatron-LM's default "tp-cp-dp-pp" keeps a TP group inside one node and puts a stage's
// replicas on consecutive nodes.
struct RankCoord {
  int tp = 0, cp = 0, dp = 0, pp = 0;
};
struct RankStrides {
  int tp = 1, cp = 1, dp = 1, pp = 1;
  int gpu(const RankCoord& c) const { return c.tp * tp + c.cp * cp + c.dp * dp + c.pp * pp; }
};
// The strides of an order such as "tp-cp-dp-pp" (validated by parse_parallel).
RankStrides rank_strides(const Layout& layout, const std::string& order);

// Checks a configuration against the model and the cluster and fills in dp and the stage split.
// Out-of-range values (tp < 1, unknown recompute) throw fmsim::Error(kBadInput); layouts that
// cannot run throw fmsim::Error(kInfeasible) naming `workload_pointer` + "/parallelism/<field>",
// "/global_batch" or "/seq_len". Layers that do not divide by pp*vpp are spread as Megatron's
// account-for-embedding/loss options do (the embedding and the head count as one layer each);
// first/last_stage_layers set the first/last pipeline rank's layers (Megatron's
// decoder_first/last_pipeline_num_layers), the rest spread evenly.
Layout resolve_layout(const ParallelConfig& config, const BatchConfig& batch,
                      const ModelSpec& model, int cluster_gpus,
                      const std::string& workload_pointer = "/workload");

// Layers per virtual stage (the split rule of resolve_layout, without the other checks). Throws
// fmsim::Error(kInfeasible) naming `parallelism_pointer`/pp, vpp, first_ or last_stage_layers when
// a stage would get no layer.
std::vector<int> split_layers(int layers, int pp, int vpp, int first_stage_layers,
                              int last_stage_layers,
                              const std::string& parallelism_pointer = "/workload/parallelism");

// Training constants from sim/data/training_defaults.json (each with its source there).
struct TrainingDefaults {
  // Bytes per parameter: BF16 weights, FP32 gradient accumulation (Megatron main_grad), Adam's
  // FP32 master weights, m and v (ZeRO's K = 12), FP8 weight and transpose cached per step.
  double weight_bytes_per_param = 2;
  double grad_bytes_per_param = 4;
  double optimizer_bytes_per_param = 12;
  double fp8_weight_cache_bytes_per_param = 2;
  // Bytes per activation element (BF16) and per logit (FP32, for the cross-entropy).
  double activation_bytes_per_element = 2;
  double logits_bytes_per_element = 4;
  bool flash_attention = true;     // no s x s attention scores kept (Dao et al. 2022)
  bool dropout = false;            // dropout masks (Llama, Mixtral, DeepSeek train without)
  int zero3_layers_in_flight = 2;  // all-gathered layers: the current one and the prefetched one
  double nccl_bytes_per_communicator = 0.5 * 1073741824.0;
  double cuda_context_bytes = 1073741824.0;
  double allocator_fragmentation = 0.05;  // fraction of the allocated bytes lost to fragmentation

  static const TrainingDefaults& builtin();
};

// Parameters (elements) one GPU of pipeline rank `pipeline_rank` holds, tp- and ep-sharded, not
// yet divided by ZeRO. Dense and expert parts are reduced over different groups: dp*cp and
// layout.expert_dp().
struct StageParameters {
  double non_expert = 0.0;          // attention, norms, dense MLP, router, shared experts,
                                    // embedding (first stage), final norm and head (last stage)
  double expert = 0.0;              // routed experts
  double adapter_non_expert = 0.0;  // LoRA adapters on the non-expert matrices (0 without LoRA)
  double adapter_expert = 0.0;      // LoRA adapters on the routed experts
  double layer_weights = 0.0;       // of non_expert + expert: in transformer layers (the GEMM
                                    // weights FP8 caches; norms and router neglected)
  double largest_layer = 0.0;       // largest layer (or embedding/head) on this GPU: the unit
                                    // ZeRO-3 all-gathers
  int layers = 0;
  double total() const { return non_expert + expert; }
  double trainable(bool lora) const {
    return lora ? adapter_non_expert + adapter_expert : non_expert + expert;
  }
};
StageParameters stage_parameters(const ModelSpec& model, const Layout& layout,
                                 const TrainingMode& mode, int pipeline_rank);

// Micro-batches whose activations pipeline rank `pipeline_rank` holds at its peak, in units of
// "all of this rank's layers for one micro-batch": 1F1B min(pp - rank, m) (Narayanan et al. 2021,
// §2.2.1); interleaved (vpp > 1) Megatron's warm-up of 2 (pp - rank - 1) + (vpp - 1) pp + 1 chunks,
// capped at m vpp, divided by vpp (= pp + (pp-1)/vpp on rank 0, Korthikanti et al. 2022 §4.2.3).
double microbatches_in_flight(int pp, int microbatches, int vpp, int pipeline_rank);

// Bytes one GPU keeps for one layer and one micro-batch of `tokens` tokens (after CP) of
// sequences of seq_len, under the given recomputation: Korthikanti et al. 2022 Table 2 generalised
// (none: every tensor; selective: no attention scores; full: the layer input only, 2 s b h, split
// over tp with sequence parallelism). Dropout masks added when defaults.dropout.
double layer_activation_bytes(const ModelSpec& model, int layer, double tokens, int seq_len, int tp,
                              bool sequence_parallel, Recompute recompute,
                              const TrainingDefaults& defaults);

struct MemoryBreakdown {
  double weights = 0.0, grads = 0.0, optimizer = 0.0, activations = 0.0, comm_buffers = 0.0,
         reserve = 0.0;   // bytes
  double capacity = 0.0;  // the GPU's HBM bytes
  int pipeline_rank = 0;  // the stage these numbers are for: the one that needs the most
  // Alternatives that would fit, each with what it would need ("recompute: full -> 61.2 GiB of
  // 74.5 GiB"); empty when the layout fits.
  std::vector<std::string> suggestions;

  double total() const {
    return weights + grads + optimizer + activations + comm_buffers + reserve;
  }
  bool fits() const { return total() <= capacity; }
  double shortfall_bytes() const { return fits() ? 0.0 : total() - capacity; }
};

// Memory of the GPU that needs the most (every pipeline rank is evaluated; ties: lowest rank).
// When it does not fit, `suggestions` lists single changes (recompute, zero, sequence parallel,
// tp, pp, cp, ep, micro-batch, vpp) that would, found by re-running this function.
MemoryBreakdown memory_per_gpu(const ModelSpec& model, const Layout& layout,
                               const ParallelConfig& config, const BatchConfig& batch,
                               Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                               const TrainingDefaults& defaults = TrainingDefaults::builtin());
// The same for one pipeline rank, without suggestions.
MemoryBreakdown memory_of_stage(const ModelSpec& model, const Layout& layout,
                                const ParallelConfig& config, const BatchConfig& batch,
                                Precision precision, const TrainingMode& mode, const GpuSpec& gpu,
                                int pipeline_rank,
                                const TrainingDefaults& defaults = TrainingDefaults::builtin());
// One line for messages: "needs 90.3 GiB per GPU (pipeline stage 0) of 74.5 GiB: 15.8 GiB over".
std::string describe_fit(const MemoryBreakdown& memory);

// Pipeline bubble as a fraction of the whole step: (pp-1) / (vpp m + pp - 1); for 1F1B
// (pp-1)/(m+pp-1) (Narayanan et al. 2021, §2.2.1-2.2.2, with equal forward+backward per chunk).
double bubble_fraction(int pp, int microbatches, int vpp = 1);
// Bubble time over the ideal (bubble-free) time: (pp-1)/m for 1F1B, (pp-1)/(vpp m) interleaved
// (Narayanan et al. 2021, the "bubble time fraction").
double bubble_over_ideal(int pp, int microbatches, int vpp = 1);

// `workload.parallelism` from a scenario: tp, pp, cp, ep, dp (int or "auto"), vpp, zero (0-3 or
// "fsdp"), sequence_parallel, recompute, first_stage_layers, last_stage_layers. Strict: unknown
// fields and out-of-range values throw fmsim::Error(kBadInput) naming `where` + "/<field>".
ParallelConfig parse_parallel(const nlohmann::json& value, const std::string& where);
// The resolved form (dp 0 written "auto").
nlohmann::json to_json(const ParallelConfig& config);

}  // namespace fmsim
