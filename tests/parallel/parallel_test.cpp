// Layouts, memory per GPU and pipeline bubbles, checked against numbers worked by hand from the
// published formulas (ZeRO, Megatron's distributed optimizer, Korthikanti et al. 2022, Narayanan
// et al. 2021), never against the program's own output.
#include "parallel/parallel.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.h"
#include "hardware/catalog.h"
#include "model/model.h"

namespace fmsim {
namespace {

constexpr double kGiB = 1073741824.0;

const GpuSpec& h100() { return Catalog::builtin().gpu("H100-SXM", ""); }
const ModelSpec& preset(const std::string& name) { return model_preset(name, ""); }

// A small dense model whose parameters are easy to count by hand: GELU MLP, RMSNorm, no biases,
// untied embeddings.
//   per layer: q, k, v, o 4 x 256^2 = 262,144; MLP 2 x 256 x 1024 = 524,288; norms 2 x 256 = 512
//              -> 786,944; 4 layers 3,147,776
//   embedding 1000 x 256 = 256,000; head 256,000; final norm 256
//   Psi = 3,660,032
ModelSpec tiny_model() {
  ModelSpec m;
  m.name = "tiny";
  m.layers = 4;
  m.hidden = 256;
  m.ffn_hidden = 1024;
  m.heads = 4;
  m.kv_heads = 4;
  m.vocab = 1000;
  m.tied_embeddings = false;
  m.gated_mlp = false;
  return m;
}
constexpr double kTinyParams = 3660032;
constexpr double kTinyLayer = 786944;

// Expects `action` to throw fmsim::Error with `code` naming `where`.
void expect_error(const std::function<void()>& action, ExitCode code, const std::string& where) {
  try {
    action();
    ADD_FAILURE() << "expected an error at " << where;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.where(), where) << e.what();
  }
}

ParallelConfig config(int tp, int pp, int dp = 0) {
  ParallelConfig c;
  c.tp = tp;
  c.pp = pp;
  c.dp = dp;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Layout

TEST(Layout, DpAutoFillsTheCluster) {
  // 64 GPUs / (tp 8 x pp 1 x cp 1) = 8 replicas; 512 sequences / (8 x 2) = 32 micro-batches.
  const Layout l = resolve_layout(config(8, 1), {8192, 512, 2}, preset("llama3-8b"), 64);
  EXPECT_EQ(l.dp, 8);
  EXPECT_EQ(l.gpus, 64);
  EXPECT_EQ(l.microbatches, 32);
  EXPECT_EQ(l.layers_per_stage, std::vector<int>{32});
}

TEST(Layout, Llama3_405bOn8192GpusRemovesOneLayerFromFirstAndLastStage) {
  // Llama 3 Table 4: TP8 PP16 DP64 on 8,192 H100, 16M tokens = 2,048 sequences of 8,192.
  // 8192 / (8 x 16) = 64 replicas; 2048 / 64 = 32 micro-batches of 1 sequence.
  // 126 layers do not divide by 16: with the embedding and the head counted as one layer each,
  // 128 / 16 = 8 per stage, so the first and last stages get 7 (arXiv:2407.21783 §3.3.2).
  const Layout l = resolve_layout(config(8, 16), {8192, 2048, 1}, preset("llama3-405b"), 8192);
  EXPECT_EQ(l.dp, 64);
  EXPECT_EQ(l.microbatches, 32);
  std::vector<int> expected(16, 8);
  expected.front() = expected.back() = 7;
  EXPECT_EQ(l.layers_per_stage, expected);
  EXPECT_EQ(l.first_layer(16), 126);
}

TEST(Layout, Llama3_405bOn16kGpusHalvesMicrobatchesPerReplica) {
  // 16,384 / 128 = 128 replicas; 2048 / 128 = 16 micro-batches (Table 4: batch size/DP 16).
  const Layout l = resolve_layout(config(8, 16), {8192, 2048, 1}, preset("llama3-405b"), 16384);
  EXPECT_EQ(l.dp, 128);
  EXPECT_EQ(l.microbatches, 16);
}

TEST(Layout, InterleavedSplitCountsEmbeddingAndHeadInVirtualStages) {
  // pp 16 x vpp 2 = 32 virtual stages; (126 + 2) / 32 = 4, so virtual stages 0 and 31 get 3.
  ParallelConfig c = config(8, 16);
  c.vpp = 2;
  const Layout l = resolve_layout(c, {8192, 2048, 1}, preset("llama3-405b"), 8192);
  std::vector<int> expected(32, 4);
  expected.front() = expected.back() = 3;
  EXPECT_EQ(l.layers_per_stage, expected);
}

TEST(Layout, EvenSplitWhenLayersDivide) {
  // 80 layers / pp 4 = 20: no embedding accounting when the split is even.
  const Layout l = resolve_layout(config(8, 4), {8192, 512, 1}, preset("llama3-70b"), 512);
  EXPECT_EQ(l.layers_per_stage, (std::vector<int>{20, 20, 20, 20}));
}

TEST(Layout, FirstAndLastStageLayersOverrideTheSplit) {
  // 126 - 6 - 6 = 114 layers over the 14 middle stages: 8 each and 2 left over, which go to the
  // two latest middle stages (they keep the fewest micro-batches in flight).
  ParallelConfig c = config(8, 16);
  c.first_stage_layers = 6;
  c.last_stage_layers = 6;
  const Layout l = resolve_layout(c, {8192, 2048, 1}, preset("llama3-405b"), 8192);
  std::vector<int> expected(16, 8);
  expected[0] = expected[15] = 6;
  expected[13] = expected[14] = 9;
  EXPECT_EQ(l.layers_per_stage, expected);
}

TEST(Layout, SplitLayersSpreadsRemainderToLaterStages) {
  // 33 layers, 4 stages: 35 units -> 8, 9, 9, 9 -> minus embedding and head: 7, 9, 9, 8.
  EXPECT_EQ(split_layers(33, 4, 1, 0, 0), (std::vector<int>{7, 9, 9, 8}));
  // 5 layers, 4 stages: 7 units -> 1, 2, 2, 2 leaves the first empty; plain split 1, 1, 1, 2.
  EXPECT_EQ(split_layers(5, 4, 1, 0, 0), (std::vector<int>{1, 1, 1, 2}));
  // vpp 2 with an override: rank 0 holds 3 layers as chunks 1 (stage 0) and 2 (stage 2).
  EXPECT_EQ(split_layers(8, 2, 2, 3, 0), (std::vector<int>{1, 2, 2, 3}));
}

TEST(LayoutError, ProductThatDoesNotDivideTheClusterNamesTheDegree) {
  // tp 8 divides 64 GPUs, tp x pp = 24 does not: pp is the degree to change.
  expect_error(
      [] {
        resolve_layout(config(8, 3), {8192, 512, 1}, preset("llama3-8b"), 64);
      },
      ExitCode::kInfeasible, "/workload/parallelism/pp");
}

TEST(LayoutError, ExplicitDpThatDoesNotFillTheClusterNamesDp) {
  // tp 8 x dp 4 = 32 GPUs on a 64-GPU cluster.
  try {
    resolve_layout(config(8, 1, 4), {8192, 512, 1}, preset("llama3-8b"), 64);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/parallelism/dp");
    EXPECT_NE(e.message().find("dp must be 8"), std::string::npos) << e.what();
  }
}

TEST(LayoutError, TpMustDivideKvHeads) {
  // Llama 3 8B: 32 heads divide by 16, 8 KV heads do not (Megatron shards query groups).
  expect_error(
      [] {
        resolve_layout(config(16, 1), {8192, 512, 1}, preset("llama3-8b"), 16);
      },
      ExitCode::kInfeasible, "/workload/parallelism/tp");
}

TEST(LayoutError, MorePipelineStagesThanLayers) {
  expect_error(
      [] {
        resolve_layout(config(1, 8), {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/pp");
  ParallelConfig c = config(1, 2);
  c.vpp = 4;  // 8 virtual stages for 4 layers
  expect_error(
      [&] {
        resolve_layout(c, {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/vpp");
}

TEST(LayoutError, OverrideThatLeavesAStageEmpty) {
  // 4 layers, pp 4, first stage 2: 2 layers left for 3 stages.
  ParallelConfig c = config(1, 4);
  c.first_stage_layers = 2;
  expect_error(
      [&] {
        resolve_layout(c, {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/first_stage_layers");
}

TEST(LayoutError, VppNeedsPipelineParallelism) {
  ParallelConfig c = config(1, 1);
  c.vpp = 2;
  expect_error(
      [&] {
        resolve_layout(c, {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/vpp");
}

TEST(LayoutError, InterleavingNeedsMicrobatchesInGroupsOfPp) {
  // pp 2 x dp 4 on 8 GPUs, 12 sequences -> 3 micro-batches, not a multiple of pp 2.
  ParallelConfig c = config(1, 2);
  c.vpp = 2;
  expect_error(
      [&] {
        resolve_layout(c, {1024, 12, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/vpp");
}

TEST(LayoutError, GlobalBatchNotDivisibleByDpTimesMicroBatch) {
  // dp 8 x micro-batch 2 = 16 does not divide 100.
  expect_error(
      [] {
        resolve_layout(config(1, 1), {1024, 100, 2}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/global_batch");
}

TEST(LayoutError, SeqLenMustSplitInto2CpChunks) {
  // cp 4: 2 x 4 = 8 chunks; 4100 = 8 x 512 + 4.
  ParallelConfig c = config(1, 1);
  c.cp = 4;
  expect_error(
      [&] {
        resolve_layout(c, {4100, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/seq_len");
}

TEST(LayoutError, SequenceParallelNeedsSeqLenDivisibleByTp) {
  // tp 4 with sequence parallelism: 1026 tokens do not split over 4 ranks.
  expect_error(
      [] {
        resolve_layout(config(4, 1), {1026, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/seq_len");
}

TEST(LayoutError, ExpertParallelismOnADenseModel) {
  ParallelConfig c = config(1, 1);
  c.ep = 2;
  expect_error(
      [&] {
        resolve_layout(c, {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/ep");
}

TEST(LayoutError, EpMustDivideExperts) {
  // Mixtral has 8 experts per layer.
  ParallelConfig c = config(1, 1);
  c.ep = 16;
  expect_error(
      [&] {
        resolve_layout(c, {4096, 64, 1}, preset("mixtral-8x7b"), 16);
      },
      ExitCode::kInfeasible, "/workload/parallelism/ep");
}

TEST(LayoutError, EpMustDivideDpTimesCp) {
  // tp 2 on 8 GPUs: dp 4, and expert groups of 8 cannot be formed inside 4 replicas.
  ParallelConfig c = config(2, 1);
  c.ep = 8;
  expect_error(
      [&] {
        resolve_layout(c, {4096, 64, 1}, preset("mixtral-8x7b"), 8);
      },
      ExitCode::kInfeasible, "/workload/parallelism/ep");
}

TEST(LayoutError, OutOfRangeValuesAreBadInput) {
  expect_error(
      [] {
        resolve_layout(config(0, 1), {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kBadInput, "/workload/parallelism/tp");
  ParallelConfig c = config(1, 1);
  c.recompute = "sometimes";
  expect_error(
      [&] {
        resolve_layout(c, {1024, 64, 1}, tiny_model(), 8);
      },
      ExitCode::kBadInput, "/workload/parallelism/recompute");
}

TEST(LayoutError, PointersFollowTheWorkloadThatWasGiven) {
  // The RL stage nests a policy workload; its errors name that workload's fields.
  expect_error(
      [] {
        resolve_layout(config(1, 1), {1024, 100, 2}, tiny_model(), 8, "/workload/policy");
      },
      ExitCode::kInfeasible, "/workload/policy/global_batch");
}

// ---------------------------------------------------------------------------------------------
// Parameters and model states

TEST(Memory, TinyModelParameterCountMatchesHandCount) {
  EXPECT_DOUBLE_EQ(count_parameters(tiny_model()).total, kTinyParams);
  // One stage holds everything: Psi; the largest unit is one layer.
  const Layout l = resolve_layout(config(1, 1), {1024, 64, 1}, tiny_model(), 8);
  const StageParameters p = stage_parameters(tiny_model(), l, {}, 0);
  EXPECT_DOUBLE_EQ(p.total(), kTinyParams);
  EXPECT_DOUBLE_EQ(p.largest_layer, kTinyLayer);
  EXPECT_EQ(p.layers, 4);
}

// Model states (weights + grads + optimizer) of the tiny model on 8 data-parallel GPUs.
double model_states(const MemoryBreakdown& m) { return m.weights + m.grads + m.optimizer; }

MemoryBreakdown tiny_memory(int zero, const TrainingDefaults& defaults,
                            Precision precision = Precision::kBf16, TrainingMode mode = {}) {
  ParallelConfig c = config(1, 1);
  c.zero = zero;
  const BatchConfig batch{1024, 64, 1};
  const Layout l = resolve_layout(c, batch, tiny_model(), 8);
  return memory_per_gpu(tiny_model(), l, c, batch, precision, mode, h100(), defaults);
}

TEST(MemoryZero, StagesMatchTheZeroPaperWithFp16Gradients) {
  // Rajbhandari et al. 2020 §5 with K = 12, Nd = 8, Psi = 3,660,032, 2-byte gradients:
  //   ZeRO-0: (2 + 2 + K) Psi          = 16 Psi            = 58,560,512
  //   ZeRO-1: (2 + 2) Psi + K Psi / Nd = 14,640,128 + 5,490,048 = 20,130,176
  //   ZeRO-2: 2 Psi + (2 + K) Psi / Nd = 7,320,064 + 6,405,056  = 13,725,120
  //   ZeRO-3: (2 + 2 + K) Psi / Nd     = 7,320,064, plus fmsim's two all-gathered layers in
  //           flight: 2 x 786,944 x 2 B = 3,147,776 -> 10,467,840
  TrainingDefaults zero_paper = TrainingDefaults::builtin();
  zero_paper.grad_bytes_per_param = 2;
  EXPECT_DOUBLE_EQ(model_states(tiny_memory(0, zero_paper)), 16 * kTinyParams);
  EXPECT_DOUBLE_EQ(model_states(tiny_memory(1, zero_paper)), 20130176);
  EXPECT_DOUBLE_EQ(model_states(tiny_memory(2, zero_paper)), 13725120);
  const MemoryBreakdown z3 = tiny_memory(3, zero_paper);
  EXPECT_DOUBLE_EQ(z3.weights, 2 * kTinyParams / 8 + 2 * 2 * kTinyLayer);
  EXPECT_DOUBLE_EQ(z3.grads, 2 * kTinyParams / 8);
  EXPECT_DOUBLE_EQ(z3.optimizer, 12 * kTinyParams / 8);
  EXPECT_DOUBLE_EQ(model_states(z3), 10467840);
}

TEST(MemoryZero, DistributedOptimizerIsSixPlusTwelveOverDBytesPerParameter) {
  // fmsim's default: BF16 weights, FP32 main_grad, Adam; Megatron's docs table gives 18 bytes per
  // parameter without and 6 + 12/d with the distributed optimizer (= ZeRO-1):
  //   18 Psi = 65,880,576;  6 Psi + 12 Psi / 8 = 21,960,192 + 5,490,048 = 27,450,240.
  EXPECT_DOUBLE_EQ(model_states(tiny_memory(0, TrainingDefaults::builtin())), 18 * kTinyParams);
  EXPECT_DOUBLE_EQ(model_states(tiny_memory(1, TrainingDefaults::builtin())), 27450240);
}

TEST(Memory, Fp8CachesAnFp8CopyOfEveryLayerWeight) {
  // 2 bytes (weight and transpose in FP8) for the 4 x 786,944 layer parameters, not for the
  // embedding and head: 6,295,552 bytes more than BF16.
  const TrainingDefaults& d = TrainingDefaults::builtin();
  EXPECT_DOUBLE_EQ(tiny_memory(0, d, Precision::kFp8).weights - tiny_memory(0, d).weights,
                   2 * 4 * kTinyLayer);
}

TEST(Memory, LoraTrainsOnlyTheAdapters) {
  // Rank 8 on q, k, v, o (256 -> 256: 8 x 512 = 4,096 each) and the two MLP matrices
  // (256 <-> 1024: 8 x 1280 = 10,240 each): 16,384 + 20,480 = 36,864 per layer, 147,456 in all.
  // ZeRO-0: weights 2 (Psi + 147,456), grads 4 x 147,456, optimizer 12 x 147,456.
  TrainingMode lora;
  lora.lora = true;
  lora.lora_rank = 8;
  const MemoryBreakdown m = tiny_memory(0, TrainingDefaults::builtin(), Precision::kBf16, lora);
  EXPECT_DOUBLE_EQ(m.weights, 2 * (kTinyParams + 147456));
  EXPECT_DOUBLE_EQ(m.grads, 4 * 147456.0);
  EXPECT_DOUBLE_EQ(m.optimizer, 12 * 147456.0);
}

TEST(Memory, Llama3_405bModelStatesOn8192Gpus) {
  // TP8 PP16 DP64, ZeRO-1 (distributed optimizer). One layer on one of 8 TP ranks (SwiGLU, GQA
  // with 8 KV heads of 128):
  //   qkv 16384 x (128 + 16) x 128 = 301,989,888; out 16384^2 = 268,435,456;
  //   MLP 3 x 16384 x 53248 = 2,617,245,696; sum 3,187,671,040 / 8 = 398,458,880;
  //   + the two RMSNorms, replicated, 32,768 -> 398,491,648.
  // Embedding shard 128,256 x 16384 / 8 = 262,668,288.
  //   stage 0:  7 layers + embedding       = 2,789,441,536 + 262,668,288 = 3,052,109,824
  //   stage 1:  8 layers                   = 3,187,933,184
  //   stage 15: 7 layers + head + final norm 16,384 = 3,052,126,208
  // Stage 1: weights 2 P = 6,375,866,368; grads 4 P = 12,751,732,736;
  //          optimizer 12 P / 64 = 597,737,472; sum 19,725,336,576 B (18.4 GiB).
  const ModelSpec& model = preset("llama3-405b");
  ParallelConfig c = config(8, 16);
  c.zero = 1;
  c.recompute = "selective";
  const BatchConfig batch{8192, 2048, 1};
  const Layout l = resolve_layout(c, batch, model, 8192);
  EXPECT_DOUBLE_EQ(stage_parameters(model, l, {}, 0).total(), 3052109824.0);
  EXPECT_DOUBLE_EQ(stage_parameters(model, l, {}, 1).total(), 3187933184.0);
  EXPECT_DOUBLE_EQ(stage_parameters(model, l, {}, 15).total(), 3052126208.0);

  const MemoryBreakdown s1 = memory_of_stage(model, l, c, batch, Precision::kBf16, {}, h100(), 1);
  EXPECT_DOUBLE_EQ(s1.weights, 6375866368.0);
  EXPECT_DOUBLE_EQ(s1.grads, 12751732736.0);
  EXPECT_DOUBLE_EQ(s1.optimizer, 597737472.0);
  EXPECT_DOUBLE_EQ(model_states(s1), 19725336576.0);

  // Activations, selective recompute (flash attention, no dropout), TP8 with SP, per layer and
  // micro-batch, bytes per token x 2 / 8: norms' inputs and outputs 4h = 65,536; Q, K, V, output
  // (128 + 8 + 8 + 128) x 128 = 34,816; SwiGLU gate+up and output 3 x 53,248 = 159,744;
  // 260,096 elements x 2 B x 8192 tokens / 8 = 532,676,608 B.
  // 1F1B: stage 0 keeps 16 micro-batches of 7 layers (112 layer-micro-batches), stage 1 15 of 8
  // (120): stage 1, not the first, needs the most: 120 x 532,676,608 = 63,921,192,960 B.
  EXPECT_DOUBLE_EQ(s1.activations, 63921192960.0);
  const MemoryBreakdown worst = memory_per_gpu(model, l, c, batch, Precision::kBf16, {}, h100());
  EXPECT_EQ(worst.pipeline_rank, 1);
  EXPECT_DOUBLE_EQ(worst.total(), s1.total());
}

TEST(Memory, ExpertStateIsShardedOverExpertDataParallelRanks) {
  // Mixtral 8x7B on 8 GPUs, tp 1, ep 8, dp 8, ZeRO-1: expert data-parallel size 8 / 8 = 1.
  //   per layer non-expert: qkv 4096 x 6144 = 25,165,824; out 16,777,216; router 32,768;
  //   norms 8,192 -> 41,984,000. One expert: 3 x 4096 x 14336 = 176,160,768 (one per GPU).
  //   Non-expert on a GPU: 32 x 41,984,000 + embedding and head 2 x 131,072,000 + norm 4,096
  //   = 1,605,636,096; expert: 32 x 176,160,768 = 5,637,144,576.
  //   Optimizer: 12 x (1,605,636,096 / 8 + 5,637,144,576 / 1) = 70,054,189,056.
  const ModelSpec& model = preset("mixtral-8x7b");
  ParallelConfig c = config(1, 1);
  c.ep = 8;
  c.zero = 1;
  const BatchConfig batch{4096, 64, 1};
  const Layout l = resolve_layout(c, batch, model, 8);
  EXPECT_EQ(l.expert_dp(), 1);
  const StageParameters p = stage_parameters(model, l, {}, 0);
  EXPECT_DOUBLE_EQ(p.non_expert, 1605636096.0);
  EXPECT_DOUBLE_EQ(p.expert, 5637144576.0);
  const MemoryBreakdown m = memory_of_stage(model, l, c, batch, Precision::kBf16, {}, h100(), 0);
  EXPECT_DOUBLE_EQ(m.optimizer, 70054189056.0);
}

// ---------------------------------------------------------------------------------------------
// Activations

// GPT-3 175B layer shapes: h = 12288, a = 96, f = 4h, MHA, GELU; s = 2048, b = 1.
// s b h = 25,165,824; 5 a s / h = 5 x 96 x 2048 / 12288 = 80.
constexpr double kSbh = 2048.0 * 12288.0;

TrainingDefaults korthikanti_defaults() {
  TrainingDefaults d = TrainingDefaults::builtin();
  d.dropout = true;           // the paper's GPT has dropout
  d.flash_attention = false;  // and materialises the attention scores
  return d;
}

double gpt_layer(int tp, bool sp, Recompute recompute, const TrainingDefaults& d) {
  return layer_activation_bytes(preset("gpt3-175b"), 0, 2048, 2048, tp, sp, recompute, d);
}

TEST(MemoryActivations, KorthikantiGptLayerIs34sbhPlus5as2b) {
  // Korthikanti et al. 2022 eq. (1): s b h (34 + 5 a s / h) = 25,165,824 x 114 = 2,868,903,936.
  const TrainingDefaults d = korthikanti_defaults();
  EXPECT_DOUBLE_EQ(gpt_layer(1, true, Recompute::kNone, d), kSbh * 114);
  // Table 2, t = 8: tensor parallel s b h (10 + 24/t + 5as/(ht)) = sbh x 23;
  // tensor + sequence parallel s b h (34/t + 5as/(ht)) = sbh x 14.25.
  EXPECT_DOUBLE_EQ(gpt_layer(8, false, Recompute::kNone, d), kSbh * 23);
  EXPECT_DOUBLE_EQ(gpt_layer(8, true, Recompute::kNone, d), kSbh * 14.25);
}

TEST(MemoryActivations, RecomputationReducesByThePapersFactors) {
  // Table 2: selective recompute with TP+SP keeps s b h 34/t (the 5as/h term is gone: 14.25 ->
  // 4.25 at t = 8, 70% less); full recompute keeps the layer input, 2 s b h (2 s b h / t when
  // the input is sequence-parallel).
  const TrainingDefaults d = korthikanti_defaults();
  EXPECT_DOUBLE_EQ(gpt_layer(8, true, Recompute::kSelective, d), kSbh * 34 / 8);
  EXPECT_DOUBLE_EQ(gpt_layer(8, false, Recompute::kSelective, d), kSbh * (10 + 24.0 / 8));
  EXPECT_DOUBLE_EQ(gpt_layer(8, false, Recompute::kFull, d), kSbh * 2);
  EXPECT_DOUBLE_EQ(gpt_layer(8, true, Recompute::kFull, d), kSbh * 2 / 8);
}

TEST(MemoryActivations, FlashAttentionWithoutDropoutKeeps32sbh) {
  // fmsim's defaults: no dropout masks (34 - 2) and no attention scores, whatever the recompute
  // setting short of full: 32 s b h.
  const TrainingDefaults& d = TrainingDefaults::builtin();
  EXPECT_DOUBLE_EQ(gpt_layer(1, true, Recompute::kNone, d), kSbh * 32);
  EXPECT_DOUBLE_EQ(gpt_layer(1, true, Recompute::kSelective, d), kSbh * 32);
}

TEST(MemoryActivations, FirstStageOf1F1BHoldsPpMicrobatches) {
  // Narayanan et al. 2021 §2.2.1: rank r of 1F1B holds min(pp - r, m) micro-batches.
  EXPECT_DOUBLE_EQ(microbatches_in_flight(4, 8, 1, 0), 4);
  EXPECT_DOUBLE_EQ(microbatches_in_flight(4, 8, 1, 3), 1);
  EXPECT_DOUBLE_EQ(microbatches_in_flight(4, 2, 1, 0), 2);
  // Interleaved, Korthikanti §4.2.3: pp (1 + (pp-1)/(pp vpp)) = 4 x (1 + 3/8) = 5.5 on rank 0
  // (Megatron's warm-up: 2 x 3 + 1 x 4 + 1 = 11 chunks of half the rank's layers).
  EXPECT_DOUBLE_EQ(microbatches_in_flight(4, 8, 2, 0), 5.5);
}

TEST(MemoryActivations, StageActivationsAreLayersTimesMicrobatchesInFlight) {
  // Tiny model, pp 2 on 8 GPUs (dp 4), 64 sequences of 1024 -> 16 micro-batches. Stage 0 holds
  // 2 layers x min(2, 16) = 4 layer-micro-batches, no logits (not the last stage).
  // One layer, selective, tp 1: 1024 tokens x (4h + 4h + 2f) x 2 B = 1024 x 4096 x 2 = 8 MiB.
  ParallelConfig c = config(1, 2);
  const BatchConfig batch{1024, 64, 1};
  const Layout l = resolve_layout(c, batch, tiny_model(), 8);
  const MemoryBreakdown m =
      memory_of_stage(tiny_model(), l, c, batch, Precision::kBf16, {}, h100(), 0);
  EXPECT_DOUBLE_EQ(m.activations, 4 * 8388608.0);
  // The last stage: 2 layers x 1 micro-batch, plus the final norm and head inputs 2 x 1024 x 256
  // x 2 B = 1,048,576 and the FP32 logits 1024 x 1000 x 4 B = 4,096,000.
  const MemoryBreakdown last =
      memory_of_stage(tiny_model(), l, c, batch, Precision::kBf16, {}, h100(), 1);
  EXPECT_DOUBLE_EQ(last.activations, 2 * 8388608.0 + 1048576 + 4096000);
}

TEST(MemoryActivations, FullRecomputeKeepsInputsPlusOneWorkingLayer) {
  // Tiny model, pp 1: 1 micro-batch in flight; 4 layer inputs of 1024 x 256 x 2 B = 524,288
  // each, plus one layer's full working set (8 MiB) while it is recomputed, plus the last
  // stage's head terms 1,048,576 + 4,096,000.
  ParallelConfig c = config(1, 1);
  c.recompute = "full";
  const BatchConfig batch{1024, 64, 1};
  const Layout l = resolve_layout(c, batch, tiny_model(), 8);
  const MemoryBreakdown m =
      memory_of_stage(tiny_model(), l, c, batch, Precision::kBf16, {}, h100(), 0);
  EXPECT_DOUBLE_EQ(m.activations, 4 * 524288.0 + 8388608 + 1048576 + 4096000);
}

TEST(MemoryActivations, ContextParallelismDividesTheSequence) {
  // cp 2 on 8 GPUs: each rank keeps 512 of 1024 tokens; per layer 512 x 4096 x 2 = 4 MiB.
  ParallelConfig c = config(1, 2);
  c.cp = 2;
  const BatchConfig batch{1024, 64, 1};
  const Layout l = resolve_layout(c, batch, tiny_model(), 8);
  const MemoryBreakdown m =
      memory_of_stage(tiny_model(), l, c, batch, Precision::kBf16, {}, h100(), 0);
  EXPECT_DOUBLE_EQ(m.activations, 4 * 4194304.0);
}

// ---------------------------------------------------------------------------------------------
// Fit, reserve and suggestions

TEST(Memory, ReserveIsContextPlusFragmentation) {
  // 1 GiB of CUDA context + 5% of everything allocated; dp 8 alone: one NCCL communicator.
  const MemoryBreakdown m = tiny_memory(0, TrainingDefaults::builtin());
  EXPECT_DOUBLE_EQ(m.comm_buffers, 0.5 * kGiB);
  const double allocated = m.weights + m.grads + m.optimizer + m.activations + m.comm_buffers;
  EXPECT_DOUBLE_EQ(m.reserve, kGiB + 0.05 * allocated);
  EXPECT_DOUBLE_EQ(m.capacity, h100().hbm_bytes);
  EXPECT_TRUE(m.fits());
  EXPECT_TRUE(m.suggestions.empty());
}

TEST(Memory, SuggestionsOnlyListChangesThatFit) {
  // Llama 3 405B at TP8 PP16 without recomputation needs about 84.4 GiB on stage 1 (18.4 GiB of
  // model states, 59.5 GiB of activations, 1.5 GiB of NCCL buffers, 5 GiB reserve), more than an
  // H100's 80 GiB; full recomputation keeps 120 layer inputs of 32 MiB (3.75 GiB) and one
  // working layer (0.5 GiB) instead of 59.5 GiB. With flash attention "none" keeps what
  // "selective" keeps (Memory.Llama3_405bModelStatesOn8192Gpus):
  //   allocated = 19,725,336,576 + 63,921,192,960 + 3 communicators (tp, pp, dp) x 0.5 GiB
  //             = 85,257,142,272; reserve = 1 GiB + 5% = 5,336,598,937.6;
  //   total = 90,593,741,209.6 B = 84.4 GiB.
  const ModelSpec& model = preset("llama3-405b");
  ParallelConfig c = config(8, 16);
  c.zero = 1;
  c.recompute = "none";
  const BatchConfig batch{8192, 2048, 1};
  const Layout l = resolve_layout(c, batch, model, 8192);
  const MemoryBreakdown m = memory_per_gpu(model, l, c, batch, Precision::kBf16, {}, h100());
  EXPECT_NEAR(m.total(), 90593741209.6, 1.0);
  ASSERT_FALSE(m.fits());
  EXPECT_DOUBLE_EQ(m.shortfall_bytes(), m.total() - h100().hbm_bytes);
  EXPECT_NE(describe_fit(m).find("over"), std::string::npos) << describe_fit(m);
  ASSERT_FALSE(m.suggestions.empty());
  bool full_listed = false;
  for (const std::string& s : m.suggestions) {
    full_listed = full_listed || s.rfind("recompute: full -> would need", 0) == 0;
  }
  EXPECT_TRUE(full_listed) << m.suggestions.front();
  // And it does fit when applied.
  c.recompute = "full";
  EXPECT_TRUE(memory_per_gpu(model, l, c, batch, Precision::kBf16, {}, h100()).fits());
}

// ---------------------------------------------------------------------------------------------
// Pipeline bubble

TEST(Bubble, OneFOneBFractionOfStepIsPpMinusOneOverMPlusPpMinusOne) {
  // pp 4, m 8: (4 - 1) / (8 + 4 - 1) = 3/11 of the step; 3/8 of the ideal time.
  EXPECT_DOUBLE_EQ(bubble_fraction(4, 8, 1), 3.0 / 11.0);
  EXPECT_DOUBLE_EQ(bubble_over_ideal(4, 8, 1), 3.0 / 8.0);
}

TEST(Bubble, InterleavingDividesTheBubbleByVpp) {
  // Narayanan et al. 2021 §2.2.2: (pp-1)/(vpp m) = 3/16 of the ideal; 3/(16 + 3) of the step.
  EXPECT_DOUBLE_EQ(bubble_over_ideal(4, 8, 2), 3.0 / 16.0);
  EXPECT_DOUBLE_EQ(bubble_fraction(4, 8, 2), 3.0 / 19.0);
  EXPECT_DOUBLE_EQ(bubble_fraction(1, 8, 1), 0.0);
}

// ---------------------------------------------------------------------------------------------
// JSON

TEST(ParallelConfigJson, ParsesAutoAndFsdp) {
  const auto j = nlohmann::json::parse(
      R"({"tp": 8, "pp": 4, "dp": "auto", "zero": "fsdp", "recompute": "full",
          "sequence_parallel": false, "first_stage_layers": 3})");
  const ParallelConfig c = parse_parallel(j, "/workload/parallelism");
  EXPECT_EQ(c.tp, 8);
  EXPECT_EQ(c.pp, 4);
  EXPECT_EQ(c.dp, 0);
  EXPECT_EQ(c.zero, 3);
  EXPECT_EQ(c.recompute, "full");
  EXPECT_FALSE(c.sequence_parallel);
  EXPECT_EQ(c.first_stage_layers, 3);
  EXPECT_EQ(c.cp, 1);  // defaults
  EXPECT_EQ(c.vpp, 1);
}

TEST(ParallelConfigJson, RoundTripsThroughToJson) {
  ParallelConfig c = config(4, 2, 16);
  c.zero = 2;
  c.vpp = 3;
  const ParallelConfig back = parse_parallel(to_json(c), "/p");
  EXPECT_EQ(to_json(back), to_json(c));
  EXPECT_EQ(to_json(ParallelConfig{})["dp"], "auto");
}

TEST(ParallelConfigJson, RejectsUnknownFieldsAndValuesWithPointers) {
  const std::string at = "/workload/parallelism";
  try {
    parse_parallel(nlohmann::json::parse(R"({"recompte": "full"})"), at);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(e.where(), at + "/recompte");
    EXPECT_NE(e.message().find("did you mean \"recompute\""), std::string::npos) << e.what();
  }
  expect_error([&] { parse_parallel(nlohmann::json::parse(R"({"dp": "all"})"), at); },
               ExitCode::kBadInput, at + "/dp");
  expect_error([&] { parse_parallel(nlohmann::json::parse(R"({"zero": 4})"), at); },
               ExitCode::kBadInput, at + "/zero");
  expect_error([&] { parse_parallel(nlohmann::json::parse(R"({"tp": 0})"), at); },
               ExitCode::kBadInput, at + "/tp");
  expect_error([&] { parse_parallel(nlohmann::json::parse(R"({"recompute": "most"})"), at); },
               ExitCode::kBadInput, at + "/recompute");
}

TEST(ParallelPrecision, ParsesAndPrintsItsNames) {
  for (Precision p : {Precision::kBf16, Precision::kFp16, Precision::kFp8}) {
    EXPECT_EQ(parse_precision(to_string(p)), p);
  }
  EXPECT_FALSE(parse_precision("fp4").has_value());
  EXPECT_EQ(parse_recompute("selective"), Recompute::kSelective);
}

}  // namespace
}  // namespace fmsim
