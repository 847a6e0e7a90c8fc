// Runs a validated scenario: builds the cluster, the stage's work, simulates it and fills a
// Report. The CLI and the GUI both call this.
#pragma once

#include <atomic>
#include <string>

#include "hardware/catalog.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "workload/training.h"

namespace fmsim {

struct RunOptions {
  bool trace = false;           // record the timeline for --trace
  std::string scenario_origin;  // shown in the report: a path or "embedded default"
  // Set from another thread to stop the run: run_scenario then throws fmsim::Cancelled (cancel.h).
  const std::atomic<bool>* cancel = nullptr;
  // Where the run writes how far it is, 0 to 1, for another thread to read (cancel.h); it stays
  // where it was for parts of unknown length (a training step).
  std::atomic<double>* progress = nullptr;
};

Report run_scenario(const Scenario& scenario, const Catalog& catalog, const RunOptions& options);

// Checks, without simulating, that a training scenario's layout resolves and fits in memory.
// Throws fmsim::Error(kInfeasible) naming the pointer (or the memory shortfall) when it does not.
void check_feasible(const Scenario& scenario, const Catalog& catalog);

// The sizes an nccl-tests sweep visits: min, min*factor, ... <= max (or min + k*step_bytes when
// step_factor is 1), each rounded down to a whole number of elements per rank as nccl-tests does
// (to a multiple of dtype_bytes * ranks for ops that split the buffer over ranks).
std::vector<double> sweep_sizes(const CollectiveWorkload& workload, int ranks);

// The step simulation's inputs for a pre-training or SFT scenario (no trace).
TrainingSetup training_setup(const Scenario& scenario, const Catalog& catalog);

// Optimizer steps of a training run: `steps`, else ceil(tokens / tokens per step); 0 with neither.
double training_steps(const TrainingWorkload& workload);

// The cluster's price per hour: the scenario's own per GPU or per node, else the catalog's
// on-demand price; 0 with `source` saying no price is known.
double cluster_price_per_hour(const Scenario& s, const InstanceSpec& instance, std::string& source);

}  // namespace fmsim
