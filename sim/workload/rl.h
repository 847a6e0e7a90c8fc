// The RL post-training stage (GRPO or PPO): one iteration of the loop
//
//   rollout   the policy generates group_size samples for each of prompts_per_iteration prompts
//             (an offline run of the inference simulation on the rollout GPUs: the iteration waits
//             for the longest sample, so the tail of the batch leaves GPUs idle);
//   scoring   forward passes over every generated sequence: the reward model and the frozen
//             reference policy (GRPO), plus the critic (PPO), timed as compute-bound forward
//             FLOPs (2 x parameters + attention per token, models.h) at the GEMM efficiency of
//             large shapes on the trainer GPUs;
//   train     one optimizer step of the policy on those sequences (the training simulation with
//             global_batch = prompts x group_size sequences of input + output tokens), twice
//             for PPO (policy and critic);
//   sync      the new weights from the trainer to the rollout engines: colocated, a copy within
//             each GPU's HBM (resharding ignored); disaggregated, a broadcast of the BF16 weights
//             over the EFA fabric to every rollout GPU, timed by the NCCL model.
//
// Placement. Colocated: one pool of every GPU time-shares the phases, iteration = rollout +
// scoring + train + sync. Disaggregated: rollout_gpus generate, the others train; synchronous
// (on-policy) iteration = the same sum, each pool idle while the other works; asynchronous
// (one step off-policy, `async`) iteration = max(rollout, scoring + train) + sync.
// idle_fraction of a pool = 1 - its busy time / iteration (the rollout pool's busy time counts
// only replica time spent in iterations, so a long tail of one sample shows as idle).
//
// Limits: the models that score share the policy's architecture; optimizer state offload and
// KV-cache memory sharing in the colocated case are not simulated (the rollout engine gets the
// whole HBM, as with verl's offloading); no partial rollouts.
#pragma once

#include <cstdint>
#include <memory>

#include "hardware/catalog.h"
#include "model/model.h"
#include "report/report.h"
#include "topology/topology.h"
#include "workload/inference.h"
#include "workload/training.h"

namespace fmsim {

struct RlWorkload {
  bool ppo = false;  // false: GRPO
  int group_size = 8;
  int prompts_per_iteration = 512;
  bool colocated = true;
  bool async = false;     // disaggregated only: generation one step ahead of training
  int rollout_gpus = 0;   // disaggregated: GPUs that generate (whole nodes)
  double iterations = 0;  // 0: one iteration reported
  // The policy's training step: parallelism, precision, micro-batch (global_batch and seq_len
  // come from the rollout).
  ParallelConfig train_parallel;
  Precision train_precision = Precision::kBf16;
  int micro_batch = 1;
  // The rollout engine: tp, precision, batching, KV cache, prompt and output lengths.
  InferenceWorkload rollout;
};

struct RlSetup {
  const InstanceSpec* instance = nullptr;
  const GpuSpec* gpu = nullptr;
  int nodes = 1;
  NetworkConfig network;
  ModelSpec model;
  RlWorkload workload;
  std::uint64_t seed = 1;
  // A calibration profile applied (`gpu` then points at its GPU); null for the built-in defaults.
  std::shared_ptr<const CalibratedParameters> calibrated;
};

// Throws fmsim::Error(kInfeasible) when a pool cannot hold its work (training layout, memory,
// KV cache) or the pools do not fit the cluster.
RlResult simulate_rl_iteration(const RlSetup& setup);

}  // namespace fmsim
