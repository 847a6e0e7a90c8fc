// Model architectures: dense decoder transformers (MHA/GQA, SwiGLU or GELU MLP, RoPE, tied or
// untied embeddings) and mixture-of-experts variants, with the pure counts the simulator needs:
// parameters, FLOPs per token, per-layer kernel shapes, activation sizes. Presets live in
// sim/data/models.json with their sources. docs/models.md derives every formula.
//
// Conventions: a "token" is one position of one sequence; FLOPs count a multiply-add as 2;
// sizes are in elements unless the name says bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fmsim {

struct MoeSpec {
  int experts = 0;             // routed experts per MoE layer
  int top_k = 0;               // routed experts per token
  int shared_experts = 0;      // always-on experts per MoE layer (DeepSeek)
  int expert_ffn_hidden = 0;   // FFN width of one expert
  int dense_layers_first = 0;  // the first k layers use the dense MLP (DeepSeek-V3: 3)
  int dense_ffn_hidden = 0;    // FFN width of those dense layers (0: ModelSpec::ffn_hidden)

  friend bool operator==(const MoeSpec&, const MoeSpec&) = default;
};

// Multi-head latent attention (DeepSeek-V2/V3), approximated as its projection GEMMs: the
// low-rank query and key/value compressions and their up-projections. See docs/models.md.
struct MlaSpec {
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;

  friend bool operator==(const MlaSpec&, const MlaSpec&) = default;
};

struct ModelSpec {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int ffn_hidden = 0;  // dense MLP width
  int heads = 0;
  int kv_heads = 0;  // = heads for MHA, fewer for GQA
  int head_dim = 0;  // 0: hidden / heads
  int vocab = 0;
  bool tied_embeddings = false;
  bool gated_mlp = true;  // SwiGLU (3 matrices) vs GELU (2 matrices)
  std::optional<MoeSpec> moe;
  std::optional<MlaSpec> mla;
  std::string source;   // where the preset's figures come from
  bool biases = false;  // biases on every linear layer but the router and head, LayerNorm biases
                        // (GPT-2/3); Llama, Mixtral and DeepSeek have none
  int position_embeddings = 0;  // rows of a learned absolute position table (GPT-3: 2048); 0: RoPE

  int effective_head_dim() const { return head_dim > 0 ? head_dim : hidden / heads; }
  bool is_moe_layer(int layer) const { return moe && layer >= moe->dense_layers_first; }

  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

// The preset called `name` (llama3-8b, llama3-70b, llama3-405b, gpt3-175b, mixtral-8x7b,
// deepseek-v3). Throws fmsim::Error(kBadInput, where, "unknown model ... did you mean ...").
const ModelSpec& model_preset(const std::string& name, const std::string& where);
std::vector<std::string> model_preset_names();
// A model from a scenario's `model` value: a preset name or an object with the ModelSpec fields
// (a "preset" key inside the object starts from that preset). Throws fmsim::Error naming the
// JSON pointer under `where`.
ModelSpec parse_model(const nlohmann::json& value, const std::string& where);
nlohmann::json to_json(const ModelSpec& model);

struct ParameterCounts {
  double total = 0.0;      // every weight, embeddings included (tied ones once)
  double active = 0.0;     // weights one token touches (MoE: top_k + shared experts only)
  double embedding = 0.0;  // input embedding (+ output head when untied, + position table)
  double per_dense_layer = 0.0;
  double per_moe_layer = 0.0;  // all experts
  double final_norm = 0.0;
  // total = embedding + dense layers * per_dense_layer + MoE layers * per_moe_layer + final_norm;
  // per_dense_layer is 0 when every layer is MoE, per_moe_layer when the model is dense.
};
ParameterCounts count_parameters(const ModelSpec& model);

// Training FLOPs per token (Kaplan et al. 2020 / Narayanan et al. 2021 form):
//   forward  = 2 * N_active_matmul + attention, with attention = 2 * 2 * seq * d_attn per layer
//              (QK^T and AV; d_attn = heads x head_dim, for MLA heads x (qk + v widths) / 2),
//              halved for causal masking when `causal` is true;
//   backward = 2 x forward; logits (2 * hidden * vocab) included in N_active_matmul.
struct FlopsPerToken {
  double forward = 0.0;
  double backward = 0.0;
  double total() const { return forward + backward; }
};
FlopsPerToken flops_per_token(const ModelSpec& model, int seq_len, bool causal = true);

// One GEMM of the forward pass: C[m x n] = A[m x k] * B[k x n]; FLOPs 2 m n k. `count` identical
// GEMMs run as one grouped GEMM (a GPU's local experts); flops() covers all of them.
struct GemmShape {
  std::string name;  // "qkv", "attn_out", "mlp_up", "mlp_down", "expert_up", "logits", ...
  double m = 0, n = 0, k = 0;
  double count = 1;
  double flops() const { return 2.0 * m * n * k * count; }
};
// The forward kernels of layer `layer` for `tokens` tokens (this GPU's) of sequences of length
// seq_len, with Megatron tensor parallelism over `tp` GPUs (column-parallel QKV/up, row-parallel
// out/down: n or k divided by tp; MLA's down-projections and the router replicated) and, for MoE
// layers, expert parallelism over `ep` GPUs: this GPU holds experts/ep experts, each split over tp,
// and with even routing each receives tokens * ep * top_k / experts tokens (the ep GPUs of the
// group each bring `tokens`). Requires sharding_problem(model, tp, ep) == "".
struct LayerKernels {
  std::vector<GemmShape> gemms;
  double attention_flops = 0.0;  // QK^T + AV on this GPU (causal), for `tokens` tokens
  double weight_bytes = 0.0;     // this GPU's share of the layer's weights, at bytes_per_param
};
LayerKernels layer_forward_kernels(const ModelSpec& model, int layer, double tokens, int seq_len,
                                   int tp, double bytes_per_param, int ep = 1);
// The last pipeline stage's kernels after its last layer: the logits GEMM (tokens x hidden x
// vocab/tp, vocabulary-parallel as Megatron's output layer). weight_bytes: the head's shard and the
// final norm, as the GEMM reads them (the head is read also when tied to the input embedding).
LayerKernels output_forward_kernels(const ModelSpec& model, double tokens, int tp,
                                    double bytes_per_param);

// Why tensor parallelism over tp GPUs and expert parallelism over ep GPUs cannot split `model`
// as Megatron does (heads, kv_heads, FFN widths not multiples of tp; experts not of ep), or "".
std::string sharding_problem(const ModelSpec& model, int tp, int ep = 1);

// One GPU's share of one layer's parameters (elements) under tp and ep; replicated pieces (norms,
// router, MLA's down-projections, row-parallel biases) counted whole. tp = ep = 1: the full layer.
struct LayerParameterShard {
  double non_expert = 0.0;  // attention, norms, dense MLP, router, shared experts
  double expert = 0.0;      // the experts/ep routed experts this GPU holds, each split over tp
  double total() const { return non_expert + expert; }
};
LayerParameterShard layer_parameter_shard(const ModelSpec& model, int layer, int tp = 1,
                                          int ep = 1);
// One GPU's share of the first stage's input embedding: vocab * hidden / tp (vocabulary-parallel)
// plus the learned position table, replicated.
double input_embedding_parameters(const ModelSpec& model, int tp);
// One GPU's share of the last stage's final norm and output head (vocab * hidden / tp). A tied
// head is the input embedding itself when the same GPU holds both (pp = 1): not counted again.
double output_layer_parameters(const ModelSpec& model, int tp, bool holds_input_embedding);

// Elements one GPU keeps from the forward pass of one layer for its backward pass, for `tokens`
// tokens, without recomputation (the tensors of Korthikanti et al. 2022, §4.1, generalised to
// GQA, gated MLPs, MoE and MLA; dropout masks not included). docs/models.md maps them.
struct LayerActivations {
  int tp = 1;
  double hidden_width = 0.0;      // 4 tokens x hidden: the two norms' inputs and outputs; split
                                  // over tp only with sequence parallelism
  double tensor_parallel = 0.0;   // already divided by tp: Q, K, V, attention output, MLP/expert
                                  // up-projection outputs and activation outputs
  double replicated = 0.0;        // whole on every tp rank: MoE dispatched tokens and router
                                  // probabilities, MLA latents
  double attention_scores = 0.0;  // tokens x seq x heads / tp: the softmax output of unfused
                                  // attention; flash attention keeps none
  double total(bool sequence_parallel, bool flash_attention) const {
    return (sequence_parallel ? hidden_width / tp : hidden_width) + tensor_parallel + replicated +
           (flash_attention ? 0.0 : attention_scores);
  }
};
LayerActivations layer_activations(const ModelSpec& model, int layer, double tokens, int seq_len,
                                   int tp);

// KV-cache elements per token per layer on one of tp GPUs: 2 x kv_heads x head_dim / tp; for MLA
// the compressed latent and the shared RoPE key, kv_lora_rank + qk_rope_head_dim, on every GPU.
double kv_cache_elements_per_token(const ModelSpec& model, int tp = 1);

}  // namespace fmsim
