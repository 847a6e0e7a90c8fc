// The RL stage (workload/rl.h): the iteration is assembled from the inference and training
// simulations and a weight transfer, as the header's formulas say.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "error.h"
#include "execute/compute.h"
#include "hardware/catalog.h"
#include "model/model.h"
#include "workload/inference.h"
#include "workload/rl.h"
#include "workload/training.h"

namespace fmsim {
namespace {

const InstanceSpec& p5() { return Catalog::builtin().instance("p5.48xlarge", ""); }
const GpuSpec& h100() { return Catalog::builtin().gpu_of(p5()); }

// GRPO on 2 p5 nodes: 32 prompts x 4 samples of 256 + 512 tokens, an 8B policy.
RlSetup small_grpo(bool colocated) {
  RlSetup s;
  s.instance = &p5();
  s.gpu = &h100();
  s.nodes = 2;
  s.model = model_preset("llama3-8b", "");
  RlWorkload& w = s.workload;
  w.group_size = 4;
  w.prompts_per_iteration = 32;
  w.colocated = colocated;
  w.rollout_gpus = colocated ? 0 : 8;
  w.train_parallel.zero = 1;
  w.rollout.input_tokens = {256, 0};
  w.rollout.output_tokens = {512, 0};
  return s;
}

TEST(RlIteration, ColocatedIsTheSumOfItsPhasesEachFromItsOwnModel) {
  const RlSetup s = small_grpo(true);
  const RlResult r = simulate_rl_iteration(s);
  EXPECT_DOUBLE_EQ(r.iteration_s, r.rollout_s + r.scoring_s + r.train_s + r.sync_s);
  EXPECT_EQ(r.samples, 128);
  EXPECT_EQ(r.generated_tokens, 128.0 * 512);

  // Rollout: the offline serving run of 32 prompts x 4 samples on 16 one-GPU replicas.
  InferenceSetup rollout;
  rollout.instance = &p5();
  rollout.gpu = &h100();
  rollout.nodes = 2;
  rollout.model = s.model;
  rollout.workload = s.workload.rollout;
  rollout.workload.replicas = 16;
  rollout.workload.all_at_once = true;
  rollout.workload.count = 32;
  rollout.workload.samples_per_prompt = 4;
  rollout.seed = s.seed;
  EXPECT_DOUBLE_EQ(r.rollout_s, simulate_inference(rollout).duration_s);

  // Train: one step of 128 sequences of 768 tokens on the 16 GPUs.
  TrainingSetup train;
  train.instance = &p5();
  train.gpu = &h100();
  train.nodes = 2;
  train.model = s.model;
  train.parallel = s.workload.train_parallel;
  train.batch = {768, 128, 1};
  EXPECT_DOUBLE_EQ(r.train_s, simulate_training_step(train).step_s);

  // Scoring: reward + reference forward passes, 2 x 128 x 768 tokens x forward FLOPs per token
  // over 16 GPUs at the large-GEMM efficiency.
  const double flops = 2.0 * 128 * 768 * flops_per_token(s.model, 768).forward;
  const double efficiency =
      ComputeDefaults::builtin().gemm_max_efficiency.at(GpuArch::kHopper).at(Precision::kBf16);
  EXPECT_NEAR(r.scoring_s, flops / (16 * h100().bf16_flops * efficiency), 1e-12);

  // Sync, colocated: each GPU copies its 16.06 GB BF16 shard through HBM (read + write).
  const double weights = count_parameters(s.model).total * 2.0;
  EXPECT_NEAR(
      r.sync_s,
      2.0 * weights / (h100().hbm_bw_bytes_per_s * ComputeDefaults::builtin().hbm_efficiency),
      1e-12);
  // One pool: idle only in the rollout's tail.
  EXPECT_NEAR(r.trainer_idle_fraction, r.rollout_s * (1 - r.rollout_busy_fraction) / r.iteration_s,
              1e-12);
}

TEST(RlIteration, DisaggregatedPoolsWaitForEachOtherUnlessAsync) {
  RlSetup s = small_grpo(false);
  const RlResult sync = simulate_rl_iteration(s);
  EXPECT_EQ(sync.rollout_gpus, 8);
  EXPECT_EQ(sync.trainer_gpus, 8);
  EXPECT_DOUBLE_EQ(sync.iteration_s, sync.rollout_s + sync.scoring_s + sync.train_s + sync.sync_s);
  EXPECT_NEAR(sync.trainer_idle_fraction, 1 - (sync.scoring_s + sync.train_s) / sync.iteration_s,
              1e-12);
  // The weight broadcast over EFA moves 16.06 GB into the rollout node: at least the bytes over
  // the node's 32 x 12.5 GB/s of EFA.
  EXPECT_GT(sync.sync_s, count_parameters(s.model).total * 2.0 / p5().efa_bw_bytes_per_s());
  s.workload.async = true;
  const RlResult async = simulate_rl_iteration(s);
  EXPECT_DOUBLE_EQ(async.iteration_s,
                   std::max(async.rollout_s, async.scoring_s + async.train_s) + async.sync_s);
  EXPECT_LT(async.iteration_s, sync.iteration_s);
}

TEST(RlIteration, PpoTrainsTwoModelsAndScoresWithThree) {
  RlSetup s = small_grpo(true);
  const RlResult grpo = simulate_rl_iteration(s);
  s.workload.ppo = true;
  const RlResult ppo = simulate_rl_iteration(s);
  EXPECT_DOUBLE_EQ(ppo.train_s, 2 * grpo.train_s);
  EXPECT_NEAR(ppo.scoring_s, 1.5 * grpo.scoring_s, 1e-12);
}

TEST(RlIteration, RolloutPoolThatIsNotWholeNodesIsInfeasible) {
  RlSetup s = small_grpo(false);
  s.workload.rollout_gpus = 12;
  try {
    simulate_rl_iteration(s);
    FAIL() << "expected kInfeasible";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/rollout_gpus");
  }
}

}  // namespace
}  // namespace fmsim
