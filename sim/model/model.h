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
  int experts = 0;            // routed experts per MoE layer
  int top_k = 0;              // routed experts per token
  int shared_experts = 0;     // always-on experts per MoE layer (DeepSeek)
  int expert_ffn_hidden = 0;  // FFN width of one expert
  int dense_layers_first = 0; // the first k layers use the dense MLP (DeepSeek-V3: 3)
  int dense_ffn_hidden = 0;   // FFN width of those dense layers (0: ModelSpec::ffn_hidden)
};

// Multi-head latent attention (DeepSeek-V2/V3), approximated as its projection GEMMs: the
// low-rank query and key/value compressions and their up-projections. See docs/models.md.
struct MlaSpec {
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
};

struct ModelSpec {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int ffn_hidden = 0;  // dense MLP width
  int heads = 0;
  int kv_heads = 0;    // = heads for MHA, fewer for GQA
  int head_dim = 0;    // 0: hidden / heads
  int vocab = 0;
  bool tied_embeddings = false;
  bool gated_mlp = true;  // SwiGLU (3 matrices) vs GELU (2 matrices)
  std::optional<MoeSpec> moe;
  std::optional<MlaSpec> mla;
  std::string source;  // where the preset's figures come from

  int effective_head_dim() const { return head_dim > 0 ? head_dim : hidden / heads; }
  bool is_moe_layer(int layer) const { return moe && layer >= moe->dense_layers_first; }
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
  double embedding = 0.0;  // input embedding (+ output head when untied)
  double per_dense_layer = 0.0;
  double per_moe_layer = 0.0;  // all experts
};
ParameterCounts count_parameters(const ModelSpec& model);

// Training FLOPs per token (Kaplan et al. 2020 / Narayanan et al. 2021 form):
//   forward  = 2 * N_active_matmul + attention, with attention = 2 * 2 * seq * d_attn per layer
//              (QK^T and AV), halved for causal masking when `causal` is true;
//   backward = 2 x forward; logits (2 * hidden * vocab) included in N_active_matmul.
struct FlopsPerToken {
  double forward = 0.0;
  double backward = 0.0;
  double total() const { return forward + backward; }
};
FlopsPerToken flops_per_token(const ModelSpec& model, int seq_len, bool causal = true);

// One GEMM of the forward pass: C[m x n] = A[m x k] * B[k x n]; FLOPs 2 m n k.
struct GemmShape {
  std::string name;  // "qkv", "attn_out", "mlp_up", "mlp_down", "expert_up", "logits", ...
  double m = 0, n = 0, k = 0;
  double flops() const { return 2.0 * m * n * k; }
};
// The forward kernels of layer `layer` for `tokens` tokens of sequences of length seq_len, with
// Megatron tensor parallelism over `tp` GPUs (column-parallel QKV/up, row-parallel out/down: n or
// k divided by tp) and, for MoE layers, `tokens_per_expert` tokens routed to each local expert.
struct LayerKernels {
  std::vector<GemmShape> gemms;
  double attention_flops = 0.0;  // QK^T + AV on this GPU (causal), for `tokens` tokens
  double weight_bytes = 0.0;     // this GPU's share of the layer's weights, at bytes_per_param
};
LayerKernels layer_forward_kernels(const ModelSpec& model, int layer, double tokens, int seq_len,
                                   int tp, double bytes_per_param);

}  // namespace fmsim
