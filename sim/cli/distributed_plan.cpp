#include "cli/distributed_plan.h"

#include <mpi.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>

namespace fmsim::cli {
namespace {

// Initializes MPI once and finalizes it at exit.
struct MpiSession {
  MpiSession() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::optional<PlanResult> run_plan_distributed(const PlanSpec& spec, const Catalog& catalog,
                                               const PlanOptions& options, int& ranks) {
  static MpiSession session;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(rank); i < spec.size();
       i += static_cast<std::size_t>(ranks)) {
    mine.push_back(i);
  }
  PlanOptions local = options;
  if (rank != 0) local.progress = nullptr;  // one progress bar, rank 0's share
  std::vector<std::uint8_t> bytes;
  try {
    nlohmann::json points = nlohmann::json::array();
    for (const PlanPoint& p : evaluate_points(spec, catalog, mine, local)) {
      points.push_back(to_json(p));
    }
    bytes = nlohmann::json::to_cbor(points);  // doubles travel bit for bit
  } catch (const std::exception& e) {
    std::cerr << "fmsim: rank " << rank << ": internal error: " << e.what() << "\n";
    MPI_Abort(MPI_COMM_WORLD, 70);
  }

  const int size = static_cast<int>(bytes.size());
  std::vector<int> sizes(rank == 0 ? ranks : 0), offsets(rank == 0 ? ranks : 0);
  MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<std::uint8_t> all;
  if (rank == 0) {
    long long total = 0;
    for (int r = 0; r < ranks; ++r) {
      offsets[r] = static_cast<int>(total);
      total += sizes[r];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(bytes.data(), size, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
              MPI_COMM_WORLD);
  if (rank != 0) return std::nullopt;

  std::vector<PlanPoint> points;
  points.reserve(spec.size());
  for (int r = 0; r < ranks; ++r) {
    const auto begin = all.begin() + offsets[r];
    const nlohmann::json part = nlohmann::json::from_cbor(begin, begin + sizes[r]);
    for (const auto& p : part) points.push_back(plan_point_from_json(p));
  }
  return summarize_plan(spec, std::move(points));
}

}  // namespace fmsim::cli
