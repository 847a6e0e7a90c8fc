#include "workload/rl.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "cancel.h"
#include "collectives/collectives.h"
#include "engine/simulator.h"
#include "error.h"
#include "execute/compute.h"

namespace fmsim {
namespace {

// Mean of a token length (its distribution is symmetric and rounded; the truncation at 1 is
// neglected here).
double mean_tokens(const TokenLength& length) { return std::max(1.0, length.mean); }

// Forward FLOPs of the scoring models over `sequences` of `tokens` each, on `gpus` GPUs at the
// GEMM efficiency of large shapes (these batches are large).
double scoring_time_s(const ModelSpec& model, const GpuSpec& gpu, Precision precision,
                      double sequences, int tokens, int models, int gpus,
                      const ComputeDefaults& compute) {
  const double flops = models * sequences * tokens * flops_per_token(model, tokens).forward;
  const double efficiency = compute.gemm_max_efficiency.at(gpu.arch).at(
      precision == Precision::kFp8 && gpu.fp8_flops > 0 ? Precision::kFp8 : Precision::kBf16);
  return flops / (gpus * peak_flops(gpu, precision) * efficiency);
}

}  // namespace

RlResult simulate_rl_iteration(const RlSetup& setup) {
  const RlWorkload& w = setup.workload;
  const InstanceSpec& instance = *setup.instance;
  const GpuSpec& gpu = *setup.gpu;
  const int cluster_gpus = setup.nodes * instance.gpus_per_node;
  RlResult r;
  r.algorithm = w.ppo ? "ppo" : "grpo";
  r.placement = w.colocated ? "colocated" : (w.async ? "disaggregated-async" : "disaggregated");
  r.rollout_gpus = w.colocated ? cluster_gpus : w.rollout_gpus;
  r.trainer_gpus = w.colocated ? cluster_gpus : cluster_gpus - w.rollout_gpus;
  if (!w.colocated && (w.rollout_gpus <= 0 || w.rollout_gpus >= cluster_gpus ||
                       w.rollout_gpus % instance.gpus_per_node != 0)) {
    throw Error(ExitCode::kInfeasible, "/workload/rollout_gpus",
                "expected whole nodes for generation that leave nodes to train: a multiple of " +
                    std::to_string(instance.gpus_per_node) + " between " +
                    std::to_string(instance.gpus_per_node) + " and " +
                    std::to_string(cluster_gpus - instance.gpus_per_node) + ", got " +
                    std::to_string(w.rollout_gpus));
  }
  r.prompts = w.prompts_per_iteration;
  r.samples = w.prompts_per_iteration * w.group_size;

  // 1. Rollout: every prompt's group at once on the rollout pool.
  InferenceSetup rollout;
  rollout.instance = &instance;
  rollout.gpu = &gpu;
  rollout.nodes = r.rollout_gpus / instance.gpus_per_node;
  rollout.network = setup.network;
  rollout.model = setup.model;
  rollout.workload = w.rollout;
  rollout.workload.replicas = r.rollout_gpus / (w.rollout.tp * w.rollout.ep);
  rollout.workload.all_at_once = true;
  rollout.workload.count = w.prompts_per_iteration;
  rollout.workload.samples_per_prompt = w.group_size;
  rollout.seed = setup.seed;
  rollout.calibrated = setup.calibrated;
  const InferenceResult generated = [&] {
    const ProgressPart part(0.0, 0.9);  // the policy step (of unknown length) takes the rest
    return simulate_inference(rollout);
  }();
  r.rollout_s = generated.duration_s;
  r.rollout_busy_fraction = generated.busy_fraction;
  r.generated_tokens = generated.output_tokens;
  const int sequence_tokens = static_cast<int>(
      std::lround(mean_tokens(w.rollout.input_tokens) + mean_tokens(w.rollout.output_tokens)));
  r.sequence_tokens = static_cast<double>(r.samples) * sequence_tokens;

  // 2. Scoring on the trainer pool: reward and reference (GRPO), plus the critic (PPO).
  const int scoring_models = w.ppo ? 3 : 2;
  r.scoring_s =
      scoring_time_s(setup.model, gpu, w.train_precision, r.samples, sequence_tokens,
                     scoring_models, r.trainer_gpus, compute_defaults(setup.calibrated.get()));

  // 3. The policy step (and the critic's for PPO) on the trainer pool.
  TrainingSetup train;
  train.instance = &instance;
  train.gpu = &gpu;
  train.nodes = r.trainer_gpus / instance.gpus_per_node;
  train.network = setup.network;
  train.model = setup.model;
  train.parallel = w.train_parallel;
  train.batch = {sequence_tokens, r.samples, w.micro_batch};
  train.precision = w.train_precision;
  train.calibrated = setup.calibrated;
  const TrainingStepResult step = simulate_training_step(train);
  if (!step.memory.fits()) {
    throw Error(ExitCode::kInfeasible, "/workload/policy/parallelism",
                "the policy's training step does not fit in memory: " + describe_fit(step.memory));
  }
  r.train_s = step.step_s * (w.ppo ? 2.0 : 1.0);
  r.train_mfu = step.model_flops_per_step /
                (step.step_s * step.layout.gpus * peak_flops(gpu, w.train_precision));

  // 4. Weight sync.
  r.weight_bytes = count_parameters(setup.model).total * 2.0;  // BF16
  if (w.colocated) {
    // Each GPU copies its shard into the engine's buffers: read and write once through HBM.
    const double shard = r.weight_bytes / std::max(1, w.rollout.tp);
    r.sync_s = memory_time_s(gpu, 2.0 * shard, compute_defaults(setup.calibrated.get()));
  } else {
    // A broadcast from one trainer GPU to every rollout GPU over the whole cluster's fabric.
    Simulator sim;
    Topology topology(instance, gpu, setup.nodes, setup.network,
                      network_defaults(setup.calibrated.get()), sim);
    CollectiveModel collectives(topology, sim, NcclTuning::builtin(), {});
    Communicator comm;
    comm.gpus.push_back(0);
    for (int g = r.trainer_gpus; g < cluster_gpus; ++g) comm.gpus.push_back(g);
    r.sync_s = collectives.choose(CollectiveOp::kBroadcast, comm, r.weight_bytes).predicted_time_s;
  }

  // The iteration and each pool's idle share.
  const double training_s = r.scoring_s + r.train_s;
  const double rollout_busy_s = r.rollout_s * r.rollout_busy_fraction;
  if (w.colocated || !w.async) {
    r.iteration_s = r.rollout_s + training_s + r.sync_s;
  } else {
    r.iteration_s = std::max(r.rollout_s, training_s) + r.sync_s;
  }
  if (w.colocated) {
    // One pool: idle only in the rollout's tail, where replicas wait for the longest samples.
    const double idle = (r.rollout_s - rollout_busy_s) / r.iteration_s;
    r.trainer_idle_fraction = idle;
    r.rollout_idle_fraction = idle;
  } else {
    r.trainer_idle_fraction = 1.0 - training_s / r.iteration_s;
    r.rollout_idle_fraction = 1.0 - rollout_busy_s / r.iteration_s;
  }
  r.samples_per_s = r.samples / r.iteration_s;
  r.generated_tokens_per_s = r.generated_tokens / r.iteration_s;
  return r;
}

}  // namespace fmsim
