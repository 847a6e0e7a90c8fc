// The inference stage (workload/inference.h): iteration times, KV-cache sizing and the serving
// simulation, checked against hand calculations and queueing laws.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "error.h"
#include "execute/compute.h"
#include "hardware/catalog.h"
#include "model/model.h"
#include "workload/inference.h"

namespace fmsim {
namespace {

const InstanceSpec& p5() { return Catalog::builtin().instance("p5.48xlarge", ""); }
const GpuSpec& h100() { return Catalog::builtin().gpu_of(p5()); }

InferenceWorkload serving(int tp = 1) {
  InferenceWorkload w;
  w.tp = tp;
  w.replicas = 1;
  return w;
}

InferenceSetup setup_for(const std::string& model, const InferenceWorkload& w) {
  InferenceSetup s;
  s.instance = &p5();
  s.gpu = &h100();
  s.nodes = 1;
  s.model = model_preset(model, "");
  s.workload = w;
  s.seed = 7;
  return s;
}

// Bytes of every weight a decode iteration reads: the transformer layers and the output head
// (the input embedding is a lookup, not a GEMM).
double gemm_weight_bytes(const ModelSpec& m, int tp, double bytes_per_param) {
  double params = output_layer_parameters(m, tp, false);
  for (int layer = 0; layer < m.layers; ++layer) {
    params += layer_parameter_shard(m, layer, tp).total();
  }
  return params * bytes_per_param;
}

TEST(InferenceIteration, BatchOneDecodeReadsEveryWeightOnceAtHbmBandwidth) {
  // Llama 3 8B, BF16, one H100: a decode step of one sequence is a GEMV per weight matrix, so it
  // moves the weights' bytes through HBM: bytes / (3.35e12 B/s x hbm_efficiency), plus the fixed
  // iteration overhead. Attention over 16 cached tokens adds 16 x 32 layers x 4 KiB: nothing.
  const ModelSpec m = model_preset("llama3-8b", "");
  const InferenceWorkload w = serving();
  const IterationModel model(m, h100(), w, [](double) { return 0.0; });
  const double bandwidth = h100().hbm_bw_bytes_per_s * ComputeDefaults::builtin().hbm_efficiency;
  const double expected =
      gemm_weight_bytes(m, 1, 2.0) / bandwidth + InferenceDefaults::builtin().iteration_overhead_s;
  const double got = model.time_s({0, 0, 1, 16, 1});
  EXPECT_NEAR(got, expected, 0.05 * expected);
  // 15.01e9 B of GEMM weights (8.03e9 parameters x 2 B less the 1.05e9 B input embedding):
  // 5.6 ms per token plus the overhead.
  EXPECT_NEAR(gemm_weight_bytes(m, 1, 2.0), 15.01e9, 0.01e9);
}

TEST(InferenceIteration, TensorParallelDecodeAddsTwoAllReducesPerLayer) {
  // Llama 3 70B on tp 8: each GPU reads an eighth of the weights, and every layer adds two
  // all-reduces of hidden x 2 bytes (injected here as 25 us each): 80 x 2 x 25 us = 4 ms.
  const ModelSpec m = model_preset("llama3-70b", "");
  const InferenceWorkload w = serving(8);
  const IterationModel model(m, h100(), w, [&](double bytes) {
    EXPECT_DOUBLE_EQ(bytes, m.hidden * 2.0);
    return 25e-6;
  });
  const double bandwidth = h100().hbm_bw_bytes_per_s * ComputeDefaults::builtin().hbm_efficiency;
  const double expected = gemm_weight_bytes(m, 8, 2.0) / bandwidth + 80 * 2 * 25e-6 +
                          InferenceDefaults::builtin().iteration_overhead_s;
  EXPECT_NEAR(model.time_s({0, 0, 1, 16, 1}), expected, 0.05 * expected);
}

TEST(InferenceIteration, LargeBatchesBecomeComputeBound) {
  // 8,192 prefill tokens: the GEMMs' FLOPs (2 x 7.5e9 x 8,192 = 1.2e14) dominate; the time is
  // within a few tens of percent of FLOPs / (peak x GEMM efficiency) and far above a decode step.
  const ModelSpec m = model_preset("llama3-8b", "");
  const IterationModel model(m, h100(), serving(), [](double) { return 0.0; });
  const double prefill = model.time_s({8192, 8192.0 * 8193 / 2, 0, 0, 1});
  const double decode = model.time_s({0, 0, 1, 16, 1});
  EXPECT_GT(prefill, 10 * decode);
  const double gemm_flops = 2.0 * (gemm_weight_bytes(m, 1, 1.0)) * 8192;
  const double ideal = gemm_flops / (h100().bf16_flops * 0.75);
  EXPECT_GT(prefill, ideal);
  EXPECT_LT(prefill, 1.5 * ideal);
}

TEST(InferenceCapacity, KvBytesPerTokenAreTwoTimesLayersKvHeadsHeadDimBytes) {
  // Llama 3 8B: 2 x 32 layers x 8 KV heads x 128 x 2 B = 131,072 B per token in BF16, half in
  // FP8, and half per GPU again at tp 2 (4 KV heads each).
  const ModelSpec m = model_preset("llama3-8b", "");
  InferenceWorkload w = serving();
  EXPECT_DOUBLE_EQ(replica_capacity(m, h100(), w).kv_bytes_per_token_per_gpu, 131072.0);
  w.kv_precision = Precision::kFp8;
  EXPECT_DOUBLE_EQ(replica_capacity(m, h100(), w).kv_bytes_per_token_per_gpu, 65536.0);
  w.tp = 2;
  EXPECT_DOUBLE_EQ(replica_capacity(m, h100(), w).kv_bytes_per_token_per_gpu, 32768.0);
}

TEST(InferenceCapacity, BlocksAreWhatHbmLeavesAfterWeightsAndWorkspace) {
  // blocks = floor((HBM x 0.9 - weights - workspace) / (131,072 B x 16 tokens)); the weights are
  // every parameter in BF16 (8.03e9 x 2 B); the largest batch of 512 + 256-token requests that
  // fits is blocks x 16 / 768.
  const ModelSpec m = model_preset("llama3-8b", "");
  const InferenceWorkload w = serving();
  const ReplicaCapacity c = replica_capacity(m, h100(), w);
  EXPECT_NEAR(c.weights_bytes_per_gpu, count_parameters(m).total * 2.0, 1.0);
  const double free_bytes =
      h100().hbm_bytes * 0.9 - c.weights_bytes_per_gpu - c.workspace_bytes_per_gpu;
  EXPECT_EQ(c.kv_blocks, static_cast<long long>(std::floor(free_bytes / (131072.0 * 16))));
  const double max_batch = std::floor(c.kv_tokens() / 768.0);
  EXPECT_GT(max_batch, 500);  // about 60 GiB of cache: ~600 such requests
  EXPECT_LT(max_batch, 700);
}

TEST(InferenceCapacity, WeightsThatDoNotFitAreInfeasible) {
  // Llama 3 405B in BF16 on one H100: 810 GB of weights in 72 GiB.
  try {
    replica_capacity(model_preset("llama3-405b", ""), h100(), serving());
    FAIL() << "expected kInfeasible";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/kv_cache/memory_fraction");
  }
}

TEST(InferenceServing, ARequestLargerThanTheCacheIsInfeasible) {
  InferenceWorkload w = serving();
  w.count = 1;
  w.input_tokens = {1e6, 0};  // 1M tokens x 131 KB = 131 GB of cache on one H100
  try {
    simulate_inference(setup_for("llama3-8b", w));
    FAIL() << "expected kInfeasible";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/requests");
  }
}

TEST(InferenceServing, OneRequestAloneTakesPrefillThenOneDecodeStepPerToken) {
  // One request of 512 + 256 tokens: TTFT = one prefill iteration of 512 tokens; then 255 decode
  // iterations; TPOT = their mean, between the batch-1 step at 512 and at 767 cached tokens.
  InferenceWorkload w = serving();
  w.count = 1;
  const InferenceSetup s = setup_for("llama3-8b", w);
  const InferenceResult r = simulate_inference(s);
  const IterationModel model(s.model, h100(), w, [](double) { return 0.0; });
  const double prefill = model.time_s({512, 512.0 * 513 / 2, 0, 0, 1});
  EXPECT_NEAR(r.ttft_s.p50, prefill, 1e-9);
  EXPECT_GE(r.tpot_s.p50, model.time_s({0, 0, 1, 512, 1}) - 1e-12);
  EXPECT_LE(r.tpot_s.p50, model.time_s({0, 0, 1, 767, 1}) + 1e-12);
  EXPECT_EQ(r.iterations, 256);
  EXPECT_NEAR(r.e2e_s.p50, r.ttft_s.p50 + 255 * r.tpot_s.p50, 1e-9);
}

TEST(InferenceServing, LittlesLawHoldsBetweenArrivalsLatencyAndRequestsInTheSystem) {
  // L = lambda W on the sample path: the time-average number of prompts in the system (from the
  // arrival and finish events) equals the throughput times the mean latency (from each prompt's
  // own times); and the measured arrival rate is the Poisson rate asked for.
  InferenceWorkload w = serving();
  w.rate_per_s = 8;
  w.count = 2000;
  const InferenceResult r = simulate_inference(setup_for("llama3-8b", w));
  EXPECT_NEAR(r.mean_in_system, r.requests_per_s * r.e2e_s.mean, 1e-6 * r.mean_in_system);
  EXPECT_NEAR(r.arrival_rate_per_s, 8.0, 0.05 * 8.0);
  EXPECT_NEAR(r.mean_in_system, r.arrival_rate_per_s * r.e2e_s.mean, 0.05 * r.mean_in_system);
}

TEST(InferenceServing, TtftRisesSharplyAsLoadApproachesCapacity) {
  // The offline throughput (every request at t = 0) is the replica's capacity in requests/s.
  // Below half of it a prompt waits little; past it the queue grows without bound and the TTFT
  // of a finite run is dominated by waiting.
  InferenceWorkload w = serving();
  w.count = 600;
  w.all_at_once = true;
  const double capacity = simulate_inference(setup_for("llama3-8b", w)).requests_per_s;
  w.all_at_once = false;
  std::vector<double> ttft;
  for (double load : {0.25, 0.5, 0.9, 1.25}) {
    w.rate_per_s = load * capacity;
    ttft.push_back(simulate_inference(setup_for("llama3-8b", w)).ttft_s.p99);
  }
  EXPECT_LT(ttft[1], 2.0 * ttft[0]);   // flat at low load (p99 of the TTFT)
  EXPECT_GT(ttft[2], ttft[1]);         // rising
  EXPECT_GT(ttft[3], 10.0 * ttft[1]);  // the knee
}

TEST(InferenceServing, SameSeedSameRunAndSamplesMultiplySequences) {
  InferenceWorkload w = serving();
  w.count = 100;
  w.rate_per_s = 5;
  w.output_tokens = {256, 64};
  const InferenceResult a = simulate_inference(setup_for("llama3-8b", w));
  const InferenceResult b = simulate_inference(setup_for("llama3-8b", w));
  EXPECT_EQ(a.ttft_s.p99, b.ttft_s.p99);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  w.samples_per_prompt = 4;  // best-of-4: four sequences per prompt
  const InferenceResult c = simulate_inference(setup_for("llama3-8b", w));
  EXPECT_EQ(c.sequences, 400);
  EXPECT_EQ(c.prompts, 100);
  EXPECT_GT(c.e2e_s.mean, a.e2e_s.mean);
}

TEST(InferenceServing, CachePressurePreemptsAndStillFinishesEveryRequest) {
  // A 25% memory fraction leaves about 3 GiB of cache (~25,000 tokens): 64 requests of 4,096
  // tokens at once must
  // be preempted and recomputed, and all of them still finish.
  InferenceWorkload w = serving();
  w.memory_fraction = 0.25;
  w.count = 64;
  w.all_at_once = true;
  w.input_tokens = {2048, 0};
  w.output_tokens = {2048, 0};
  const InferenceSetup s = setup_for("llama3-8b", w);
  const ReplicaCapacity c = replica_capacity(s.model, h100(), w);
  ASSERT_LT(c.kv_tokens(), 64 * 4096);  // not all fit at once
  const InferenceResult r = simulate_inference(s);
  EXPECT_GT(r.preemptions, 0);
  EXPECT_EQ(r.output_tokens, 64.0 * 2048);
  EXPECT_LE(r.kv_cache_peak_fraction, 1.0);
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

TEST(InferenceSizing, FindsTheHighestRateWithinTheSlosAndTheReplicasATargetNeeds) {
  // A TPOT p99 of 15 ms for Llama 3 8B on one H100 (a batch-1 step takes 6.6 ms; the step grows
  // with the batch, and the batch with the rate): the rate found meets it, a rate 10% higher does
  // not (the bisection brackets the limit to within 1.5%), and 100 requests/s need
  // ceil(100 / rate) replicas of one GPU. (TTFT is a poor sizing SLO here: chunked prefill admits
  // new prompts at once until the batch limit, so TTFT stays low almost up to the capacity.)
  InferenceSetup s;
  s.instance = &Catalog::builtin().instance("p5.48xlarge", "");
  s.gpu = &Catalog::builtin().gpu_of(*s.instance);
  s.model = model_preset("llama3-8b", "");
  s.workload.count = 600;
  s.seed = 3;
  const SloSizing sizing = size_for_slo(s, 100.0, 0.0, 0.015);
  ASSERT_GT(sizing.rate_per_replica, 0.0);
  EXPECT_EQ(sizing.replicas, static_cast<int>(std::ceil(100.0 / sizing.rate_per_replica)));
  EXPECT_EQ(sizing.gpus, sizing.replicas);
  s.workload.replicas = 1;
  s.workload.rate_per_s = sizing.rate_per_replica;
  EXPECT_LE(simulate_inference(s).tpot_s.p99, 0.015);
  s.workload.rate_per_s = 1.1 * sizing.rate_per_replica;
  EXPECT_GT(simulate_inference(s).tpot_s.p99, 0.015);
}

TEST(InferenceSizing, AnSloFasterThanOneDecodeStepCannotBeMet) {
  // A TPOT p99 of 1 ms is below the 6.6 ms a batch-1 decode step takes: no rate meets it.
  InferenceSetup s;
  s.instance = &Catalog::builtin().instance("p5.48xlarge", "");
  s.gpu = &Catalog::builtin().gpu_of(*s.instance);
  s.model = model_preset("llama3-8b", "");
  s.workload.count = 100;
  const SloSizing sizing = size_for_slo(s, 10.0, 0.0, 0.001);
  EXPECT_EQ(sizing.rate_per_replica, 0.0);
  EXPECT_EQ(sizing.replicas, 0);
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

TEST(InferenceServing, TheReservingSchedulerNeverPreempts) {
  // The cache-pressure case above with TensorRT-LLM's GUARANTEED_NO_EVICT admission: a request
  // enters only when its 4,096 tokens fit whole, so none is ever preempted, and at most
  // floor(cache tokens / 4,096) run at once.
  InferenceWorkload w;
  w.replicas = 1;
  w.memory_fraction = 0.25;
  w.count = 64;
  w.all_at_once = true;
  w.input_tokens = {2048, 0};
  w.output_tokens = {2048, 0};
  w.reserve_full_request = true;
  InferenceSetup s;
  s.instance = &Catalog::builtin().instance("p5.48xlarge", "");
  s.gpu = &Catalog::builtin().gpu_of(*s.instance);
  s.model = model_preset("llama3-8b", "");
  s.workload = w;
  const InferenceResult r = simulate_inference(s);
  EXPECT_EQ(r.preemptions, 0);
  EXPECT_EQ(r.output_tokens, 64.0 * 2048);
  const ReplicaCapacity c = replica_capacity(s.model, *s.gpu, w);
  EXPECT_LE(r.mean_batch, std::floor(c.kv_tokens() / 4096.0));
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

TEST(InferenceExpertParallel, AReplicaIsTpTimesEpGpusHoldingAnEpthOfTheExperts) {
  // Mixtral 8x7B with ep 8: every GPU holds the attention and router whole and one of the 8
  // experts: non-expert + expert / 8 parameters (tp 1), in FP8 one byte each.
  const ModelSpec m = model_preset("mixtral-8x7b", "");
  InferenceWorkload w;
  w.ep = 8;
  w.precision = Precision::kFp8;
  const GpuSpec& b200 =
      Catalog::builtin().gpu_of(Catalog::builtin().instance("p6-b200.48xlarge", ""));
  double params = input_embedding_parameters(m, 1) + output_layer_parameters(m, 1, true);
  for (int layer = 0; layer < m.layers; ++layer) {
    const LayerParameterShard whole = layer_parameter_shard(m, layer, 1, 1);
    params += whole.non_expert + whole.expert / 8;
  }
  EXPECT_NEAR(replica_capacity(m, b200, w).weights_bytes_per_gpu, params, 1.0);
}

TEST(InferenceExpertParallel, EveryMoeLayerAddsADispatchAndACombineAllToAll) {
  // 32 MoE layers x 2 all-to-alls (injected at 40 us each) = 2.56 ms on top of the same step
  // without them; each moves the GPU's tokens (64 decode tokens / 8 ranks) x top-2 x hidden x 2 B.
  const ModelSpec m = model_preset("mixtral-8x7b", "");
  InferenceWorkload w;
  w.ep = 8;
  const GpuSpec& gpu = Catalog::builtin().gpu_of(Catalog::builtin().instance("p5.48xlarge", ""));
  const IterationModel with(
      m, gpu, w, [](double) { return 0.0; },
      [&](double bytes) {
        EXPECT_DOUBLE_EQ(bytes, 8.0 * 2 * m.hidden * 2);
        return 40e-6;
      });
  const IterationModel without(
      m, gpu, w, [](double) { return 0.0; }, [](double) { return 0.0; });
  const IterationShape shape{0, 0, 64, 64 * 100.0, 64};
  EXPECT_NEAR(with.time_s(shape) - without.time_s(shape), 32 * 2 * 40e-6, 1e-12);
}

TEST(InferenceExpertParallel, ServesOnEightGpusPerReplica) {
  InferenceSetup s;
  s.instance = &Catalog::builtin().instance("p6-b200.48xlarge", "");
  s.gpu = &Catalog::builtin().gpu_of(*s.instance);
  s.model = model_preset("mixtral-8x7b", "");
  s.workload.ep = 8;
  s.workload.count = 50;
  s.workload.rate_per_s = 10;
  const InferenceResult r = simulate_inference(s);
  EXPECT_EQ(r.replicas, 1);
  EXPECT_EQ(r.gpus_per_replica, 8);
  EXPECT_EQ(r.output_tokens, 50.0 * 256);
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

InferenceSetup disaggregated_70b(int prefill_replicas) {
  InferenceSetup s;
  s.instance = &Catalog::builtin().instance("p5.48xlarge", "");
  s.gpu = &Catalog::builtin().gpu_of(*s.instance);
  s.nodes = 2;
  s.model = model_preset("llama3-70b", "");
  s.workload.precision = Precision::kFp8;
  s.workload.tp = 4;
  s.workload.replicas = 4;
  s.workload.prefill_replicas = prefill_replicas;
  s.workload.count = 300;
  s.workload.rate_per_s = 6;
  s.workload.input_tokens = {2048, 0};
  s.workload.output_tokens = {256, 0};
  return s;
}

TEST(InferenceDisaggregated, EveryPromptsKvCacheCrossesOnceAndDecodeRunsUndisturbed) {
  // One prefill and three decode replicas of tp 4: each of the 300 prompts is prefilled, its KV
  // cache (2,048 tokens x 80 layers x 2 x 8/4 KV heads x 128 x 2 B = 168 MB per GPU) crosses to
  // a decode replica, and decoding is never interrupted by prompt chunks, so the TPOT is below
  // the mixed layout's at the same load.
  const InferenceResult split = simulate_inference(disaggregated_70b(1));
  const InferenceResult mixed = simulate_inference(disaggregated_70b(0));
  EXPECT_EQ(split.kv_transfers, 300);
  EXPECT_EQ(split.output_tokens, 300.0 * 256);
  EXPECT_LT(split.tpot_s.p50, mixed.tpot_s.p50);
  // A transfer cannot beat one GPU's NVLink: 168 MB / 370.8 GB/s = 0.45 ms.
  const double bytes = 2048.0 * 80 * 2 * 2 * 128 * 2;
  EXPECT_GT(split.kv_transfer_s_mean,
            bytes / Catalog::builtin().gpu_of(p5()).nvlink_effective_bw_bytes_per_s());
}

TEST(InferenceDisaggregated, NoDecodeReplicaLeftIsInfeasible) {
  try {
    simulate_inference(disaggregated_70b(4));
    FAIL() << "expected kInfeasible";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/disaggregation/prefill_replicas");
  }
}

}  // namespace
}  // namespace fmsim

namespace fmsim {
namespace {

TEST(InferencePipelineParallel, EachStageHoldsHalfTheLayersAndTheirKvCache) {
  // Llama 3 405B (126 layers), tp 8, pp 2, FP8: a GPU of the busier stage holds 63 layers' shards
  // and the larger of the embedding and the head; its KV per token is 63 layers' worth.
  const ModelSpec m = model_preset("llama3-405b", "");
  InferenceWorkload w;
  w.tp = 8;
  w.pp = 2;
  w.precision = Precision::kFp8;
  w.kv_precision = Precision::kFp8;
  double largest = 0.0;
  for (int layer = 0; layer < m.layers; ++layer) {
    largest = std::max(largest, layer_parameter_shard(m, layer, 8, 1).total());
  }
  const double expected = 63 * largest + std::max(input_embedding_parameters(m, 8),
                                                  output_layer_parameters(m, 8, false));
  const ReplicaCapacity c = replica_capacity(m, h100(), w);
  EXPECT_NEAR(c.weights_bytes_per_gpu, expected, 1.0);
  EXPECT_DOUBLE_EQ(c.kv_bytes_per_token_per_gpu, 63 * kv_cache_elements_per_token(m, 8));
}

TEST(InferencePipelineParallel, AnIterationPassesEveryStageAndSendsBetweenThem) {
  // The same batch with pp 2 takes the pp-1 time (all layers, one overhead) plus one activation
  // send of 64 tokens x hidden x 2 B (injected at 30 us).
  const ModelSpec m = model_preset("llama3-70b", "");
  InferenceWorkload one, two;
  one.tp = two.tp = 4;
  two.pp = 2;
  const auto none = [](double) { return 0.0; };
  const IterationModel flat(m, h100(), one, none);
  const IterationModel piped(m, h100(), two, none, none, [&](double bytes) {
    EXPECT_DOUBLE_EQ(bytes, 64.0 * m.hidden * 2);
    return 30e-6;
  });
  const IterationShape shape{0, 0, 64, 64 * 300.0, 64};
  EXPECT_NEAR(piped.time_s(shape) - flat.time_s(shape), 30e-6, 1e-12);
}

TEST(InferencePipelineParallel, AReplicaSpansTwoNodesAndServesEveryRequest) {
  InferenceSetup s;
  s.instance = &p5();
  s.gpu = &h100();
  s.nodes = 2;
  s.model = model_preset("llama3-405b", "");
  s.workload.precision = Precision::kFp8;
  s.workload.tp = 8;
  s.workload.pp = 2;
  s.workload.replicas = 1;
  s.workload.count = 40;
  s.workload.rate_per_s = 2;
  const InferenceResult r = simulate_inference(s);
  EXPECT_EQ(r.replicas, 1);
  EXPECT_EQ(r.gpus, 16);
  EXPECT_EQ(r.output_tokens, 40.0 * 256);
}

}  // namespace
}  // namespace fmsim
