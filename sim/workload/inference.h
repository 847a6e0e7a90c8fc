// The inference stage: a model served by replicas of tp GPUs with continuous batching, as vLLM and
// TensorRT-LLM serve it, simulated iteration by iteration on the engine's clock.
//
// Requests arrive from a seeded Poisson process (or all at once, or from a trace file), are
// routed to the replica with the fewest outstanding requests, and wait for admission. Each
// replica runs engine iterations back to back while it has work. One iteration (a forward pass
// of the whole batch) holds:
//   - one token of every running sequence that has finished its prompt (decode),
//   - then prompt chunks (chunked prefill): the rest of partially prefilled prompts, then new
//     sequences first come first served, while the token budget (max_tokens_per_step), the batch
//     limit (max_batch) and the KV cache allow. Without chunked prefill an iteration is either
//     whole prompts only (while any can be admitted) or decode only.
// KV cache: paged blocks of block_tokens tokens in HBM. A sequence holds ceil(tokens / block)
// blocks. When a decode token needs a block and none is free, the most recently admitted
// sequence is preempted: its blocks are freed and it goes back to the head of the queue to
// recompute its prompt and the tokens it had generated (vLLM's recompute preemption). With the
// "reserve" scheduler a request is admitted only when its whole prompt + output fits, and no
// sequence is ever preempted (TensorRT-LLM's default capacity scheduler).
//
// Iteration time, per layer of the model on one GPU of the replica (tp-sharded):
//   GEMMs of T = prefill + decode tokens: roofline per GEMM (execute/compute.h): at small T the
//       weights' bytes over HBM bandwidth (decode is HBM-bound), at large T the FLOPs;
//   attention: prefill 4 d (l s + l (l + 1) / 2) FLOPs for a chunk of l tokens after s cached
//       ones (d = heads x head_dim / tp), decode 4 d c FLOPs against reading c cached tokens'
//       K and V (2 kv_heads head_dim / tp elements each): the roofline of both;
//   two all-reduces of T x hidden BF16 activations over the tp GPUs (Megatron's row-parallel
//       outputs), timed by the NCCL model on the NVLink topology;
// plus the logits GEMM of the sequences that sample a token, and a fixed per-iteration overhead
// (sim/data/inference_defaults.json). Worked example (tests/workload/inference_test.cpp):
// batch-1 decode of Llama 3 8B on one H100 in BF16 reads its 15.01 GB of GEMM weights once per
// token: 15.01e9 / (3.35e12 x 0.8) = 5.6 ms per output token, plus the iteration overhead.
//
// KV bytes per token on one GPU: layers x 2 x kv_heads x head_dim / tp x bytes (1 for fp8, 2 for
// bf16). Capacity per GPU: HBM x memory_fraction - weights - activation workspace; a GPU holds
// capacity / (bytes per token x block) blocks, a replica ep times that.
//
// Disaggregated prefill and decode (prefill_replicas > 0, DistServe/Dynamo style): prompts go to
// prefill replicas, which produce the first token; the sequence's KV cache (its prompt tokens x
// the per-GPU bytes per token, every GPU of the replica sending its shard at once) then crosses to
// the least loaded decode replica as a point-to-point transfer timed by the NCCL model (NVLink
// within a node, EFA between nodes), and decodes there. The prefill replica keeps the blocks until
// the transfer is done.
//
// Expert parallelism (MoE, ep > 1): a replica is tp x ep GPUs; the ep ranks run attention on
// their own sequences (data-parallel attention, evenly balanced: each GPU sees 1/ep of the batch
// and holds its sequences' KV cache) and share the experts (experts/ep each, split over tp), with
// an all-to-all over the ep ranks to dispatch and another to combine the tokens' top-k hidden
// states in every MoE layer (SGLang/vLLM-style DP attention + EP).
//
// Pipeline parallelism (pp > 1, vLLM's scheme): a replica is tp x ep x pp GPUs, each stage holds
// ceil(layers / pp) layers (and the embedding or the head) and their KV cache for every sequence;
// pp virtual engines share the replica, each with 1/pp of its cache, so that pp batches are in
// flight and every stage is busy. One engine's iteration passes all stages in turn: the whole
// model's time plus pp - 1 activation sends (NCCL point-to-point model).
//
// Limits: no prefix caching (the samples of one prompt each prefill it), no speculative decoding,
// no CPU scheduling gaps beyond the fixed overhead, sampling is free, and EP routing and sequence
// placement are perfectly balanced.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calibration/profile.h"
#include "hardware/catalog.h"
#include "model/model.h"
#include "parallel/parallel.h"
#include "report/report.h"
#include "topology/topology.h"

namespace fmsim {

// A length in tokens: fixed (stdev 0) or drawn from a normal distribution, rounded, at least 1.
struct TokenLength {
  double mean = 0.0;
  double stdev = 0.0;
};

struct TraceRequest {
  double arrival_s = 0.0;
  int input_tokens = 0;
  int output_tokens = 0;
};

// `workload` of the inference stage (DESIGN.md section 4).
struct InferenceWorkload {
  Precision precision = Precision::kBf16;  // weights and GEMMs
  int replicas = 0;                        // 0: every GPU of the cluster, tp per replica
  int tp = 1, pp = 1, ep = 1;
  // requests
  bool all_at_once = false;  // rate "inf": every request queued at time 0 (offline throughput)
  double rate_per_s = 1.0;   // Poisson arrivals
  int count = 1000;          // prompts
  TokenLength input_tokens{512, 0}, output_tokens{256, 0};
  int samples_per_prompt = 1;       // best-of-n: n sequences per prompt
  std::vector<TraceRequest> trace;  // when given, replaces the three above
  std::string trace_file;
  // batching
  int max_batch = 256;
  int max_tokens_per_step = 8192;
  bool chunked_prefill = true;
  // "reserve": admit a request only when its whole KV cache (prompt + output) fits, and never
  // preempt (TensorRT-LLM's GUARANTEED_NO_EVICT); "preempt": admit when the prompt fits and
  // preempt on demand (vLLM).
  bool reserve_full_request = false;
  // Disaggregated serving: the first prefill_replicas replicas only compute prompts and hand each
  // sequence's KV cache over the network to one of the other (decode-only) replicas; 0: every
  // replica does both.
  int prefill_replicas = 0;
  // KV cache
  int block_tokens = 16;
  double memory_fraction = 0.9;
  Precision kv_precision = Precision::kBf16;  // kBf16 or kFp8
};

// Constants of sim/data/inference_defaults.json.
struct InferenceDefaults {
  double iteration_overhead_s = 0.0;
  double activation_workspace_factor = 0.0;  // bytes of workspace per token of the budget, x hidden
  static const InferenceDefaults& builtin();
};

// What one replica can hold: checks the model fits and returns the KV capacity. Throws
// fmsim::Error(kInfeasible) naming /workload/kv_cache/memory_fraction when the weights do not
// fit, or /workload/requests when one request's tokens do not fit in the KV cache.
struct ReplicaCapacity {
  double weights_bytes_per_gpu = 0.0;
  double workspace_bytes_per_gpu = 0.0;
  double kv_bytes_per_gpu = 0.0;  // available for the cache
  double kv_bytes_per_token_per_gpu = 0.0;
  long long kv_blocks = 0;  // per replica (every GPU holds its share of each block)
  double kv_tokens() const;
  int block_tokens = 16;
};
ReplicaCapacity replica_capacity(const ModelSpec& model, const GpuSpec& gpu,
                                 const InferenceWorkload& workload);

// The forward time of one iteration on one replica. Exposed for tests and the planner.
struct IterationShape {
  double prefill_tokens = 0.0;
  double prefill_attention_pairs = 0.0;  // sum over chunks of l s + l (l + 1) / 2
  double decode_tokens = 0.0;
  double decode_context_tokens = 0.0;  // sum over decode sequences of their cached tokens
  double sampled = 0.0;                // sequences that produce a token this iteration
};

class IterationModel {
 public:
  // `allreduce_s(bytes)` times one all-reduce over the replica's tp GPUs, `alltoall_s(bytes)` one
  // all-to-all over its ep ranks (per GPU bytes; not needed when ep is 1).
  IterationModel(const ModelSpec& model, const GpuSpec& gpu, const InferenceWorkload& workload,
                 std::function<double(double)> allreduce_s,
                 std::function<double(double)> alltoall_s = nullptr,
                 std::function<double(double)> p2p_s = nullptr,
                 const ComputeDefaults* compute = nullptr);  // null: the built-in defaults
  double time_s(const IterationShape& shape) const;

 private:
  ModelSpec model_;  // copies: the model may be built from temporaries
  const GpuSpec& gpu_;
  const ComputeDefaults* compute_;
  int tp_ = 1, ep_ = 1;
  Precision precision_ = Precision::kBf16;
  std::function<double(double)> allreduce_s_;
  std::function<double(double)> alltoall_s_;
  std::function<double(double)> p2p_s_;
  int pp_ = 1;
  double bytes_per_param_ = 2.0, kv_bytes_ = 2.0;
  int dense_layers_ = 0, moe_layers_ = 0, first_moe_ = -1, first_dense_ = -1;
};

struct InferenceSetup {
  const InstanceSpec* instance = nullptr;
  const GpuSpec* gpu = nullptr;
  int nodes = 1;
  NetworkConfig network;
  ModelSpec model;
  InferenceWorkload workload;
  std::uint64_t seed = 1;
  bool trace = false;
  // A calibration profile applied (`gpu` then points at its GPU); null for the built-in defaults.
  std::shared_ptr<const CalibratedParameters> calibrated;
};

// Runs the requests to completion on every replica. Throws fmsim::Error(kInfeasible) as
// replica_capacity does, and for a layout the cluster cannot hold.
InferenceResult simulate_inference(const InferenceSetup& setup);

// Sizing for service-level objectives: the highest Poisson rate one replica sustains with its
// TTFT p99 and TPOT p99 within the limits (a limit <= 0 is not checked), found by bisection
// between 1/64 of the replica's offline throughput and that throughput (each probe a run of up to
// 600 prompts of the scenario's lengths), and the replicas and GPUs a target rate needs.
struct SloSizing {
  double rate_per_replica = 0.0;  // 0: the SLOs cannot be met even at a light load
  int replicas = 0;
  int gpus = 0;
  int probes = 0;
};
SloSizing size_for_slo(const InferenceSetup& setup, double target_rate_per_s, double ttft_p99_s,
                       double tpot_p99_s);

}  // namespace fmsim
