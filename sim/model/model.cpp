// Model architectures: parameter counts, FLOPs per token, per-GPU GEMM shapes and activation
// sizes, all derived from one list of weight matrices per layer (layer_weights() below), so that a
// parameter count, a FLOP count and a sharded GEMM can never disagree. docs/models.md derives every
// formula and names its source.
//
// The model. A decoder layer is two norms and a list of weight matrices W[k x n]. For t tokens a
// matrix is one GEMM [t x k] * [k x n] of 2 t k n FLOPs. Each matrix has a Megatron-LM tensor-
// parallel split (Shoeybi et al. 2019, §3): column-parallel divides n by tp, row-parallel divides
// k by tp (its bias is added after the all-reduce, so it is replicated), replicated matrices are
// whole on every GPU. A routed expert's matrix exists `experts` times, and a token touches top_k
// of them. From the list:
//   parameters      = sum k n (+ n with biases) over matrices x copies, + norms
//   forward FLOPs   = 2 sum k n over the matrices one token touches, + logits 2 h V,
//                     + attention 2 seq heads (d_qk + d_v) per layer, halved when causal
//   GEMMs on a GPU  = the list with n or k divided by tp; experts/ep copies of each expert GEMM
//
// Worked example, one Llama 3 8B layer (h 4096, 32 heads of 128, 8 kv heads, SwiGLU f 14336):
//   qkv       k 4096   n (32 + 2 x 8) x 128 = 6144   25,165,824 weights, column-parallel
//   attn_out  k 4096   n 4096                        16,777,216          row-parallel
//   mlp_up    k 4096   n 2 x 14336 = 28672          117,440,512          column (gate and up fused)
//   mlp_down  k 14336  n 4096                        58,720,256          row-parallel
//   norms     2 x 4096                                    8,192
//   layer                                           218,112,000
// and 32 layers + 2 x 128256 x 4096 (embedding, untied head) + 4096 (final norm) = 8,030,261,248.
//
// Where it stops being accurate: MoE routing is taken as perfectly even (no capacity factor,
// dropped or padded tokens); vocabulary padding (Megatron's multiple of 128 x tp) is not applied;
// elementwise kernels (norms, activation, RoPE, residual adds, softmax) are not listed as kernels.
#include "model/model.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"
#include "scenario/json_reader.h"
#include "suggest.h"

namespace fmsim {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// The weight matrices of a layer

enum class Split { kColumn, kRow, kReplicated };

struct Weight {
  std::string name;
  double k = 0.0;
  double n = 0.0;
  Split split = Split::kColumn;
  bool routed_expert = false;  // one of `experts` copies; a token uses top_k of them
  bool bias = false;
};

struct LayerWeights {
  std::vector<Weight> matrices;
  double norm_params = 0.0;  // replicated on every GPU
};

// Widths of one attention head's query/key and value, as QK^T and AV see them.
struct HeadDims {
  double qk = 0.0;
  double v = 0.0;
};

HeadDims head_dims(const ModelSpec& model) {
  if (model.mla) {
    return {static_cast<double>(model.mla->qk_nope_head_dim + model.mla->qk_rope_head_dim),
            static_cast<double>(model.mla->v_head_dim)};
  }
  const double d = model.effective_head_dim();
  return {d, d};
}

// LayerNorm has a weight and a bias per channel, RMSNorm a weight only; `biases` marks the former.
double norm_params(const ModelSpec& model, double width) {
  return model.biases ? 2.0 * width : width;
}

int dense_ffn_hidden(const ModelSpec& model) {
  if (model.moe && model.moe->dense_ffn_hidden > 0) return model.moe->dense_ffn_hidden;
  return model.ffn_hidden;
}

// Standard attention: Q, K and V fused in one column-parallel GEMM (Megatron's linear_qkv).
void append_attention(const ModelSpec& model, LayerWeights& out) {
  const double h = model.hidden;
  const double d = model.effective_head_dim();
  const double width = (model.heads + 2.0 * model.kv_heads) * d;
  out.matrices.push_back({"qkv", h, width, Split::kColumn, false, model.biases});
  out.matrices.push_back({"attn_out", model.heads * d, h, Split::kRow, false, model.biases});
}

// Multi-head latent attention (DeepSeek-V2 §2.1, V3 §2.1.1) as Megatron-core builds it: the
// down-projections to the query latent (q_lora_rank) and to the key/value latent plus the shared
// RoPE key (kv_lora_rank + qk_rope_head_dim) are replicated on every tp rank; the up-projections
// to per-head queries (nope + rope) and keys/values (nope + v) are column-parallel; the output is
// row-parallel. Each latent has an RMSNorm. Without a query latent (q_lora_rank 0, DeepSeek-V2-
// Lite) the query is one column-parallel projection from the hidden state.
void append_mla(const ModelSpec& model, LayerWeights& out) {
  const MlaSpec& mla = *model.mla;
  const double h = model.hidden;
  const double heads = model.heads;
  const double q_width = heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim);
  if (mla.q_lora_rank > 0) {
    out.matrices.push_back({"q_down", h, static_cast<double>(mla.q_lora_rank), Split::kReplicated,
                            false, model.biases});
    out.matrices.push_back({"q_up", static_cast<double>(mla.q_lora_rank), q_width, Split::kColumn,
                            false, model.biases});
    out.norm_params += norm_params(model, mla.q_lora_rank);
  } else {
    out.matrices.push_back({"q", h, q_width, Split::kColumn, false, model.biases});
  }
  out.matrices.push_back({"kv_down", h,
                          static_cast<double>(mla.kv_lora_rank + mla.qk_rope_head_dim),
                          Split::kReplicated, false, model.biases});
  out.matrices.push_back({"kv_up", static_cast<double>(mla.kv_lora_rank),
                          heads * (mla.qk_nope_head_dim + mla.v_head_dim), Split::kColumn, false,
                          model.biases});
  out.norm_params += norm_params(model, mla.kv_lora_rank);
  out.matrices.push_back({"attn_out", heads * mla.v_head_dim, h, Split::kRow, false, model.biases});
}

// An MLP of width f: up (gate and up fused when gated, as Megatron's linear_fc1) and down.
void append_mlp(const ModelSpec& model, const std::string& prefix, double f, bool routed_expert,
                LayerWeights& out) {
  const double h = model.hidden;
  const double up = model.gated_mlp ? 2.0 * f : f;
  out.matrices.push_back({prefix + "_up", h, up, Split::kColumn, routed_expert, model.biases});
  out.matrices.push_back({prefix + "_down", f, h, Split::kRow, routed_expert, model.biases});
}

// A MoE block: the router (h x experts, replicated, no bias), the routed experts and the shared
// experts, fused into one MLP of width shared_experts x expert_ffn_hidden as DeepSeek does.
void append_moe(const ModelSpec& model, LayerWeights& out) {
  const MoeSpec& moe = *model.moe;
  out.matrices.push_back({"router", static_cast<double>(model.hidden),
                          static_cast<double>(moe.experts), Split::kReplicated, false, false});
  append_mlp(model, "expert", moe.expert_ffn_hidden, true, out);
  if (moe.shared_experts > 0) {
    append_mlp(model, "shared", static_cast<double>(moe.shared_experts) * moe.expert_ffn_hidden,
               false, out);
  }
}

void check_layer(const ModelSpec& model, int layer) {
  if (layer < 0 || layer >= model.layers) {
    throw std::invalid_argument("layer " + std::to_string(layer) + " outside 0.." +
                                std::to_string(model.layers - 1) + " of " + model.name);
  }
}

LayerWeights layer_weights(const ModelSpec& model, int layer) {
  check_layer(model, layer);
  LayerWeights out;
  out.norm_params = 2.0 * norm_params(model, model.hidden);  // before attention, before the MLP
  if (model.mla) {
    append_mla(model, out);
  } else {
    append_attention(model, out);
  }
  if (model.is_moe_layer(layer)) {
    append_moe(model, out);
  } else {
    append_mlp(model, "mlp", dense_ffn_hidden(model), false, out);
  }
  return out;
}

double full_parameters(const Weight& w) { return w.k * w.n + (w.bias ? w.n : 0.0); }

// One GPU's share of one copy of `w` under tp.
double shard_parameters(const Weight& w, int tp) {
  const double bias = w.bias ? w.n : 0.0;
  switch (w.split) {
    case Split::kColumn:
      return (w.k * w.n + bias) / tp;
    case Split::kRow:
      return w.k * w.n / tp + bias;
    case Split::kReplicated:
      break;
  }
  return w.k * w.n + bias;
}

void check_parallelism(const ModelSpec& model, int tp, int ep) {
  const std::string problem = sharding_problem(model, tp, ep);
  if (!problem.empty()) throw std::invalid_argument(problem);
}

std::string in_quotes(const std::string& text) { return "\"" + text + "\""; }

// ---------------------------------------------------------------------------------------------
// JSON mapping: one reader for presets (models.json) and scenarios.

constexpr long long kMaxLayers = 100000;
constexpr long long kMaxWidth = 1LL << 24;  // far above any real model's width, far below int's

const char* const kModelKeys[] = {"preset",
                                  "name",
                                  "source",
                                  "layers",
                                  "hidden",
                                  "ffn_hidden",
                                  "heads",
                                  "kv_heads",
                                  "head_dim",
                                  "vocab",
                                  "tied_embeddings",
                                  "gated_mlp",
                                  "biases",
                                  "position_embeddings",
                                  "moe",
                                  "mla"};
const char* const kMoeKeys[] = {
    "experts",         "top_k", "shared_experts", "expert_ffn_hidden", "dense_layers_first",
    "dense_ffn_hidden"};
const char* const kMlaKeys[] = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                                "qk_rope_head_dim", "v_head_dim"};

// Marks every known key read and rejects the others first, so that a typo ("hiden") is reported
// as one rather than as a missing field.
template <std::size_t N>
void reject_unknown_keys(JsonReader& in, const char* const (&keys)[N]) {
  for (const char* key : keys) in.raw(key);
  in.finish();
}

// An integer field over its current value; `required` when there is no value to start from.
int read_int(JsonReader& in, const std::string& key, int current, long long min, long long max,
             bool required) {
  if (required && !in.has(key)) {
    throw bad_input(in.pointer(key), "missing; expected an integer between " + std::to_string(min) +
                                         " and " + std::to_string(max));
  }
  return static_cast<int>(in.integer(key, current, min, max));
}

MoeSpec read_moe(JsonReader in, const std::optional<MoeSpec>& base) {
  reject_unknown_keys(in, kMoeKeys);
  const bool required = !base;
  MoeSpec moe = base.value_or(MoeSpec{});
  moe.experts = read_int(in, "experts", moe.experts, 1, kMaxWidth, required);
  moe.top_k = read_int(in, "top_k", moe.top_k, 1, kMaxWidth, required);
  moe.shared_experts = read_int(in, "shared_experts", moe.shared_experts, 0, kMaxWidth, false);
  moe.expert_ffn_hidden =
      read_int(in, "expert_ffn_hidden", moe.expert_ffn_hidden, 1, kMaxWidth, required);
  moe.dense_layers_first =
      read_int(in, "dense_layers_first", moe.dense_layers_first, 0, kMaxLayers, false);
  moe.dense_ffn_hidden =
      read_int(in, "dense_ffn_hidden", moe.dense_ffn_hidden, 0, kMaxWidth, false);
  return moe;
}

MlaSpec read_mla(JsonReader in, const std::optional<MlaSpec>& base) {
  reject_unknown_keys(in, kMlaKeys);
  const bool required = !base;
  MlaSpec mla = base.value_or(MlaSpec{});
  mla.q_lora_rank = read_int(in, "q_lora_rank", mla.q_lora_rank, 0, kMaxWidth, false);
  mla.kv_lora_rank = read_int(in, "kv_lora_rank", mla.kv_lora_rank, 1, kMaxWidth, required);
  mla.qk_nope_head_dim =
      read_int(in, "qk_nope_head_dim", mla.qk_nope_head_dim, 1, kMaxWidth, required);
  mla.qk_rope_head_dim =
      read_int(in, "qk_rope_head_dim", mla.qk_rope_head_dim, 0, kMaxWidth, required);
  mla.v_head_dim = read_int(in, "v_head_dim", mla.v_head_dim, 1, kMaxWidth, required);
  return mla;
}

// The pointer to blame for a relation between two fields of `object` (at `where`): `key` when the
// object gave it, else `other`.
std::string blame(const json& object, const std::string& where, const std::string& key,
                  const std::string& other) {
  return pointer_join(where, object.contains(key) ? key : other);
}

// Checks that hold between fields, once all are read from `object` (at `where`).
void check_relations(const ModelSpec& m, const json& object, const std::string& where) {
  const std::string n_heads = std::to_string(m.heads);
  if (m.mla && m.kv_heads != m.heads) {
    throw bad_input(pointer_join(where, "kv_heads"),
                    "MLA gives every head its own key and value: kv_heads must equal heads (" +
                        n_heads + "), got " + std::to_string(m.kv_heads));
  }
  if (m.mla && m.head_dim != 0) {
    throw bad_input(pointer_join(where, "head_dim"),
                    "not used with mla: head widths are mla's qk_nope_head_dim, "
                    "qk_rope_head_dim and v_head_dim");
  }
  if (m.kv_heads > m.heads || m.heads % m.kv_heads != 0) {
    throw bad_input(blame(object, where, "kv_heads", "heads"),
                    "heads (" + n_heads + ") must be a multiple of kv_heads (" +
                        std::to_string(m.kv_heads) +
                        "): each key/value head serves a group of query heads");
  }
  if (!m.mla && m.head_dim == 0 && m.hidden % m.heads != 0) {
    throw bad_input(blame(object, where, "heads", "hidden"), "hidden (" + std::to_string(m.hidden) +
                                                                 ") is not a multiple of heads (" +
                                                                 n_heads + "); give head_dim");
  }
  const bool uses_dense_mlp =
      !m.moe || (m.moe->dense_layers_first > 0 && m.moe->dense_ffn_hidden == 0);
  if (uses_dense_mlp && m.ffn_hidden == 0) {
    throw bad_input(pointer_join(where, "ffn_hidden"),
                    "missing; expected an integer between 1 and " + std::to_string(kMaxWidth) +
                        " (the dense MLP's width)");
  }
  if (!m.moe) return;
  const std::string moe_where = pointer_join(where, "moe");
  const json& moe = object.contains("moe") ? object.at("moe") : json::object();
  if (m.moe->top_k > m.moe->experts) {
    throw bad_input(blame(moe, moe_where, "top_k", "experts"),
                    "top_k (" + std::to_string(m.moe->top_k) + ") exceeds experts (" +
                        std::to_string(m.moe->experts) + ")");
  }
  if (m.moe->dense_layers_first >= m.layers) {
    throw bad_input(moe.contains("dense_layers_first")
                        ? pointer_join(moe_where, "dense_layers_first")
                        : pointer_join(where, "layers"),
                    "dense_layers_first (" + std::to_string(m.moe->dense_layers_first) +
                        ") leaves no MoE layer among " + std::to_string(m.layers) + " layers");
  }
}

// Reads a model object over `base` (a preset, or defaults when `base` is null).
ModelSpec read_model(const json& object, JsonReader& in, const ModelSpec* base) {
  ModelSpec m = base ? *base : ModelSpec{};
  const bool required = base == nullptr;
  const bool base_is_mha = m.kv_heads == m.heads;  // true for the defaults too (0 == 0)
  m.layers = read_int(in, "layers", m.layers, 1, kMaxLayers, required);
  m.hidden = read_int(in, "hidden", m.hidden, 1, kMaxWidth, required);
  m.ffn_hidden = read_int(in, "ffn_hidden", m.ffn_hidden, 1, kMaxWidth, false);
  m.heads = read_int(in, "heads", m.heads, 1, kMaxWidth, required);
  m.kv_heads = read_int(in, "kv_heads", m.kv_heads, 1, kMaxWidth, false);
  // Multi-head attention stays so when only `heads` changes; grouped-query keeps its kv_heads.
  if (!in.has("kv_heads") && base_is_mha) m.kv_heads = m.heads;
  m.head_dim = read_int(in, "head_dim", m.head_dim, 0, kMaxWidth, false);
  m.vocab = read_int(in, "vocab", m.vocab, 1, kMaxWidth, required);
  m.tied_embeddings = in.boolean("tied_embeddings", m.tied_embeddings);
  m.gated_mlp = in.boolean("gated_mlp", m.gated_mlp);
  m.biases = in.boolean("biases", m.biases);
  m.position_embeddings =
      read_int(in, "position_embeddings", m.position_embeddings, 0, kMaxWidth, false);
  if (const json* moe = in.raw("moe")) {
    if (moe->is_null()) {
      m.moe.reset();
    } else {
      m.moe = read_moe(JsonReader(*moe, in.pointer("moe")), m.moe);
    }
  }
  if (const json* mla = in.raw("mla")) {
    if (mla->is_null()) {
      m.mla.reset();
    } else {
      m.mla = read_mla(JsonReader(*mla, in.pointer("mla")), m.mla);
    }
  }
  if (m.mla && !in.has("kv_heads")) m.kv_heads = m.heads;
  check_relations(m, object, in.pointer());
  return m;
}

// A preset entry of models.json: the model fields plus its documentation.
ModelSpec read_preset(const json& entry, const std::string& where) {
  JsonReader in(entry, where);
  for (const char* key : kModelKeys) in.raw(key);
  in.raw("note");
  in.raw("published_params");
  in.finish();
  if (in.has("preset")) throw bad_input(in.pointer("preset"), "a preset cannot name a preset");
  ModelSpec model = read_model(entry, in, nullptr);
  model.name = in.required_string("name");
  model.source = in.required_string("source");
  in.string("note", "");
  JsonReader published = in.object("published_params");
  published.number("total", 0.0, 1.0, 1e16);
  published.number("active", 0.0, 1.0, 1e16);
  published.string("printed", "");
  published.string("source", "");
  published.finish();
  return model;
}

std::vector<ModelSpec> load_presets() {
  const std::string file = "models.json";
  const json document = json::parse(embedded_file(file));
  std::vector<ModelSpec> presets;
  const json& list = document.at("models");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = file + "#/models/" + std::to_string(i);
    ModelSpec model = read_preset(list[i], where);
    for (const ModelSpec& earlier : presets) {
      if (earlier.name == model.name) {
        throw bad_input(where + "/name", "preset " + in_quotes(model.name) + " defined twice");
      }
    }
    presets.push_back(std::move(model));
  }
  return presets;
}

const std::vector<ModelSpec>& presets() {
  static const std::vector<ModelSpec> all = load_presets();
  return all;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Presets and JSON

const ModelSpec& model_preset(const std::string& name, const std::string& where) {
  for (const ModelSpec& model : presets()) {
    if (model.name == name) return model;
  }
  const std::vector<std::string> names = model_preset_names();
  std::string list;
  for (const std::string& known : names) list += (list.empty() ? "" : ", ") + known;
  throw bad_input(where, "unknown model " + in_quotes(name) + did_you_mean(name, names) +
                             "; expected a preset (" + list + ") or a model object");
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const ModelSpec& model : presets()) names.push_back(model.name);
  return names;
}

ModelSpec parse_model(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) return model_preset(value.get<std::string>(), where);
  if (!value.is_object()) {
    throw bad_input(where.empty() ? "/" : where,
                    "expected a preset name or a model object, got " + describe_value(value));
  }
  JsonReader in(value, where);
  reject_unknown_keys(in, kModelKeys);
  const ModelSpec* base = nullptr;
  if (const json* preset = in.raw("preset")) {
    if (!preset->is_string()) {
      throw bad_input(in.pointer("preset"),
                      "expected a preset name (a string), got " + describe_value(*preset));
    }
    base = &model_preset(preset->get<std::string>(), in.pointer("preset"));
  }
  ModelSpec model = read_model(value, in, base);
  const bool changed = value.size() > (in.has("preset") ? 1u : 0u) + (in.has("name") ? 1u : 0u) +
                                          (in.has("source") ? 1u : 0u);
  const std::string default_name =
      base == nullptr ? "custom" : (changed ? base->name + " (modified)" : base->name);
  model.name = in.string("name", default_name);
  model.source = in.string("source", base == nullptr ? "given in the scenario" : base->source);
  return model;
}

nlohmann::json to_json(const ModelSpec& model) {
  json out = {{"name", model.name},
              {"source", model.source},
              {"layers", model.layers},
              {"hidden", model.hidden},
              {"heads", model.heads},
              {"kv_heads", model.kv_heads},
              {"vocab", model.vocab},
              {"tied_embeddings", model.tied_embeddings},
              {"gated_mlp", model.gated_mlp},
              {"biases", model.biases},
              {"position_embeddings", model.position_embeddings}};
  // Zero means "not used" (MoE-only models) or "derived" (head_dim): left out, as a user would.
  if (model.ffn_hidden > 0) out["ffn_hidden"] = model.ffn_hidden;
  if (model.head_dim > 0) out["head_dim"] = model.head_dim;
  if (model.moe) {
    const MoeSpec& moe = *model.moe;
    out["moe"] = {{"experts", moe.experts},
                  {"top_k", moe.top_k},
                  {"shared_experts", moe.shared_experts},
                  {"expert_ffn_hidden", moe.expert_ffn_hidden},
                  {"dense_layers_first", moe.dense_layers_first},
                  {"dense_ffn_hidden", moe.dense_ffn_hidden}};
  }
  if (model.mla) {
    const MlaSpec& mla = *model.mla;
    out["mla"] = {{"q_lora_rank", mla.q_lora_rank},
                  {"kv_lora_rank", mla.kv_lora_rank},
                  {"qk_nope_head_dim", mla.qk_nope_head_dim},
                  {"qk_rope_head_dim", mla.qk_rope_head_dim},
                  {"v_head_dim", mla.v_head_dim}};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Counts

ParameterCounts count_parameters(const ModelSpec& model) {
  ParameterCounts counts;
  const double h = model.hidden;
  const double table = static_cast<double>(model.vocab) * h;
  counts.embedding = (model.tied_embeddings ? table : 2.0 * table) +
                     static_cast<double>(model.position_embeddings) * h;
  counts.final_norm = norm_params(model, h);
  counts.total = counts.embedding + counts.final_norm;
  counts.active = counts.total;
  for (int layer = 0; layer < model.layers; ++layer) {
    const LayerWeights weights = layer_weights(model, layer);
    double total = weights.norm_params;
    double active = weights.norm_params;
    for (const Weight& w : weights.matrices) {
      const double one = full_parameters(w);
      total += w.routed_expert ? one * model.moe->experts : one;
      active += w.routed_expert ? one * model.moe->top_k : one;
    }
    counts.total += total;
    counts.active += active;
    (model.is_moe_layer(layer) ? counts.per_moe_layer : counts.per_dense_layer) = total;
  }
  return counts;
}

FlopsPerToken flops_per_token(const ModelSpec& model, int seq_len, bool causal) {
  const HeadDims dims = head_dims(model);
  // Kaplan et al. 2020 Table 1 and Narayanan et al. 2021 eq. 3: QK^T and AV each 2 x seq x
  // (heads x width) per token and layer; a causal mask leaves half the score matrix to compute.
  const double attention = 2.0 * seq_len * model.heads * (dims.qk + dims.v) * (causal ? 0.5 : 1.0);
  double matmul_weights = static_cast<double>(model.hidden) * model.vocab;  // logits
  for (int layer = 0; layer < model.layers; ++layer) {
    for (const Weight& w : layer_weights(model, layer).matrices) {
      matmul_weights += w.routed_expert ? w.k * w.n * model.moe->top_k : w.k * w.n;
    }
  }
  FlopsPerToken flops;
  flops.forward = 2.0 * matmul_weights + model.layers * attention;
  flops.backward = 2.0 * flops.forward;  // gradients of inputs and of weights, each a forward
  return flops;
}

std::string sharding_problem(const ModelSpec& model, int tp, int ep) {
  if (tp < 1 || ep < 1) {
    return "tp (" + std::to_string(tp) + ") and ep (" + std::to_string(ep) + ") must be >= 1";
  }
  const auto not_multiple = [&](const std::string& what, int value, const std::string& by,
                                int divisor) -> std::string {
    if (value % divisor == 0) return "";
    return model.name + ": " + what + " (" + std::to_string(value) + ") is not a multiple of " +
           by + " (" + std::to_string(divisor) + ")";
  };
  std::string problem = not_multiple("heads", model.heads, "tp", tp);
  if (problem.empty() && !model.mla) problem = not_multiple("kv_heads", model.kv_heads, "tp", tp);
  const bool has_dense = !model.moe || model.moe->dense_layers_first > 0;
  if (problem.empty() && has_dense) {
    problem = not_multiple("the dense FFN width", dense_ffn_hidden(model), "tp", tp);
  }
  if (problem.empty() && model.moe) {
    problem = not_multiple("expert_ffn_hidden", model.moe->expert_ffn_hidden, "tp", tp);
  }
  if (problem.empty() && model.moe) problem = not_multiple("experts", model.moe->experts, "ep", ep);
  if (problem.empty() && !model.moe && ep > 1) {
    problem = model.name + ": ep (" + std::to_string(ep) + ") > 1 on a model without experts";
  }
  return problem;
}

LayerParameterShard layer_parameter_shard(const ModelSpec& model, int layer, int tp, int ep) {
  check_parallelism(model, tp, ep);
  const LayerWeights weights = layer_weights(model, layer);
  LayerParameterShard shard;
  shard.non_expert = weights.norm_params;
  for (const Weight& w : weights.matrices) {
    const double one = shard_parameters(w, tp);
    if (w.routed_expert) {
      shard.expert += one * (model.moe->experts / ep);
    } else {
      shard.non_expert += one;
    }
  }
  return shard;
}

double input_embedding_parameters(const ModelSpec& model, int tp) {
  const double h = model.hidden;
  return static_cast<double>(model.vocab) * h / tp +
         static_cast<double>(model.position_embeddings) * h;
}

double output_layer_parameters(const ModelSpec& model, int tp, bool holds_input_embedding) {
  const double head = static_cast<double>(model.vocab) * model.hidden / tp;
  const bool head_is_embedding = model.tied_embeddings && holds_input_embedding;
  return norm_params(model, model.hidden) + (head_is_embedding ? 0.0 : head);
}

// ---------------------------------------------------------------------------------------------
// Kernels

LayerKernels layer_forward_kernels(const ModelSpec& model, int layer, double tokens, int seq_len,
                                   int tp, double bytes_per_param, int ep) {
  check_parallelism(model, tp, ep);
  const LayerWeights weights = layer_weights(model, layer);
  LayerKernels kernels;
  for (const Weight& w : weights.matrices) {
    GemmShape gemm{w.name, tokens, w.n, w.k};
    if (w.split == Split::kColumn) gemm.n /= tp;
    if (w.split == Split::kRow) gemm.k /= tp;
    if (w.routed_expert) {
      // Even routing: the ep GPUs of the group send tokens * ep * top_k token copies to the
      // experts, experts / ep of them here.
      gemm.count = model.moe->experts / ep;
      gemm.m = tokens * ep * model.moe->top_k / model.moe->experts;
    }
    kernels.gemms.push_back(gemm);
  }
  const HeadDims dims = head_dims(model);
  // Causal: each of the tokens attends on average to half of its sequence (see flops_per_token).
  kernels.attention_flops =
      tokens * seq_len * (static_cast<double>(model.heads) / tp) * (dims.qk + dims.v);
  kernels.weight_bytes = layer_parameter_shard(model, layer, tp, ep).total() * bytes_per_param;
  return kernels;
}

LayerKernels output_forward_kernels(const ModelSpec& model, double tokens, int tp,
                                    double bytes_per_param) {
  if (tp < 1) throw std::invalid_argument("tp must be >= 1");
  LayerKernels kernels;
  const double vocab_shard = static_cast<double>(model.vocab) / tp;
  kernels.gemms.push_back({"logits", tokens, vocab_shard, static_cast<double>(model.hidden)});
  kernels.weight_bytes = output_layer_parameters(model, tp, false) * bytes_per_param;
  return kernels;
}

LayerActivations layer_activations(const ModelSpec& model, int layer, double tokens, int seq_len,
                                   int tp) {
  check_parallelism(model, tp, 1);
  check_layer(model, layer);
  const double t = tokens;
  const double h = model.hidden;
  const double heads = model.heads;
  LayerActivations a;
  a.tp = tp;
  // Norm 1's input (the residual stream), its output (the attention's input), norm 2's input and
  // output (the MLP's input): Korthikanti's 2 sbh bytes of LayerNorm inputs plus the QKV and MLP
  // inputs, 2 sbh bytes each.
  a.hidden_width = 4.0 * t * h;
  if (model.mla) {
    const MlaSpec& mla = *model.mla;
    // Per-head queries and keys (nope + rope) and values as attention reads them, and the
    // attention output; the latents (down-projection outputs and their norms' outputs) whole.
    const double qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
    a.tensor_parallel += t * heads * (2.0 * qk + 2.0 * mla.v_head_dim) / tp;
    a.replicated += t * (2.0 * mla.q_lora_rank + 2.0 * mla.kv_lora_rank + mla.qk_rope_head_dim);
  } else {
    // Q, K, V (the QKV GEMM's output) and the attention output (the out-projection's input).
    const double d = model.effective_head_dim();
    a.tensor_parallel += t * (2.0 * heads + 2.0 * model.kv_heads) * d / tp;
  }
  a.attention_scores = t * seq_len * heads / tp;
  // An MLP of width f over r rows keeps its up-projection output (the activation's input, 2f wide
  // when gated) and the activation's output (the down-projection's input).
  const auto mlp = [&](double rows, double f) {
    return rows * ((model.gated_mlp ? 2.0 : 1.0) * f + f) / tp;
  };
  if (!model.is_moe_layer(layer)) {
    a.tensor_parallel += mlp(t, dense_ffn_hidden(model));
    return a;
  }
  const MoeSpec& moe = *model.moe;
  // Even routing: t x top_k token copies reach this GPU's experts whatever ep is; their inputs
  // (the dispatched tokens) and the router's probabilities are whole on every tp rank.
  a.tensor_parallel += mlp(t * moe.top_k, moe.expert_ffn_hidden);
  a.tensor_parallel += mlp(t, static_cast<double>(moe.shared_experts) * moe.expert_ffn_hidden);
  a.replicated += t * moe.top_k * h + t * moe.experts;
  return a;
}

double kv_cache_elements_per_token(const ModelSpec& model, int tp) {
  if (model.mla) return model.mla->kv_lora_rank + model.mla->qk_rope_head_dim;
  return 2.0 * model.kv_heads * model.effective_head_dim() / tp;
}

}  // namespace fmsim
