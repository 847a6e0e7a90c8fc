// One training step (pre-training or SFT) as a task graph on the cluster, and what it yields.
//
// The step, per pipeline stage, follows Megatron-LM's schedules: 1F1B (vpp = 1) or interleaved
// 1F1B (vpp > 1), Narayanan et al. SC21. Each micro-batch's forward and backward through a layer
// is a few compute tasks (attention block, MLP block: the GEMMs, attention and elementwise
// kernels timed by a roofline with efficiency curves, see compute.h) with the layer's tensor-,
// context- and expert-parallel collectives between them on the same stream (they block the
// compute stream, as in Megatron). Pipeline sends go on a p2p stream; data-parallel gradient
// reduce-scatters (or all-reduces for ZeRO-0) go on a DP stream as each layer's gradients are
// ready in the last micro-batch, overlapping the rest of the backward pass; then the optimizer.
// ZeRO-1/2 parameter all-gathers overlap the next step's forward (Megatron's
// overlap-param-gather): in steady state they run at the start of the step, beside the forward.
//
// Symmetric mode simulates one representative rank per pipeline stage (tp = cp = dp = 0); the
// collectives of the identical groups of other ranks add their load to any resource they share
// with the representative's. Full mode simulates every rank.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "calibration/profile.h"
#include "hardware/catalog.h"
#include "model/model.h"
#include "parallel/parallel.h"
#include "report/report.h"
#include "topology/topology.h"

namespace fmsim {

struct TrainingSetup {
  const InstanceSpec* instance = nullptr;
  const GpuSpec* gpu = nullptr;
  int nodes = 1;
  NetworkConfig network;
  ModelSpec model;
  ParallelConfig parallel;
  BatchConfig batch;
  Precision precision = Precision::kBf16;
  TrainingMode mode;
  bool full_mode = false;  // simulate every rank instead of one per stage
  bool trace = false;
  // A calibration profile applied (compute and network defaults; `gpu` then points at its GPU);
  // null for the built-in defaults.
  std::shared_ptr<const CalibratedParameters> calibrated;
};

struct TrainingStepResult {
  Layout layout;
  MemoryBreakdown memory;
  double step_s = 0.0;
  double compute_s = 0.0;
  std::map<std::string, double> exposed_comm_s;  // by kind: tp, cp, ep, pp, dp
  double bubble_s = 0.0;
  double optimizer_s = 0.0;
  double model_flops_per_step = 0.0;     // 6N + attention per token x tokens (no recompute)
  double hardware_flops_per_step = 0.0;  // with recomputation
  double tokens_per_step = 0.0;
  int simulated_ranks = 0;
  std::size_t tasks = 0;
  Trace trace;

  double exposed_comm_total() const;
};

// Resolves the layout and memory, then (when it fits) simulates one step. A layout that cannot
// run throws fmsim::Error(kInfeasible); memory that does not fit returns with step_s = 0 and
// memory.fits() false.
TrainingStepResult simulate_training_step(const TrainingSetup& setup);

// A lower bound on simulate_training_step(setup).step_s for `layout` (resolved and fitting),
// without simulating: over the pipeline stages, the longest of a stage's compute kernels back to
// back at their roofline times, after a micro-batch's forward has reached the stage, and before
// the last backward's way back through the earlier stages and their optimizer steps.
// Communication, contention and any other wait only lengthen the simulated step. Costs the
// per-layer kernel model only (no simulation).
double training_step_lower_bound_s(const TrainingSetup& setup, const Layout& layout);

}  // namespace fmsim
