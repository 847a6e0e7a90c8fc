// `mpirun -n K fmsim plan PLAN.json`: the plan's points are dealt out over the MPI ranks (point i
// to rank i mod K, so that the expensive corners of the space spread evenly), each rank evaluates
// its share on its own threads, and rank 0 gathers every point and summarizes them exactly as a
// single process would. Built only when MPI is found; libfmsim never sees MPI.
#pragma once

#include <optional>

#include "plan/plan.h"

namespace fmsim::cli {

// True when this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI/PMIx).
bool launched_by_mpi();

// Runs the plan over MPI_COMM_WORLD. Returns the result on rank 0 and nothing on the others.
// `ranks` is set to the number of ranks.
std::optional<PlanResult> run_plan_distributed(const PlanSpec& spec, const Catalog& catalog,
                                               const PlanOptions& options, int& ranks);

}  // namespace fmsim::cli
