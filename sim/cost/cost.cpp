#include "cost/cost.h"

#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/embedded.h"

namespace fmsim {
namespace {

constexpr double kGB = 1e9;
constexpr double kGiBPerTiB = 1024.0;

bool bad(double value) { return !std::isfinite(value) || value < 0; }

}  // namespace

double billing_hours_per_month() {
  static const double hours = nlohmann::json::parse(embedded_file("storage.json"))
                                  .at("billing")
                                  .at("hours_per_month")
                                  .at("value")
                                  .get<double>();
  return hours;
}

CostBreakdown run_cost(const CostInputs& in, const StorageDefaults& defaults) {
  if (bad(in.wall_s) || bad(in.cluster_usd_per_hour) || bad(in.node_usd_per_hour) ||
      in.spare_nodes < 0 || bad(in.s3_stored_bytes) || bad(in.s3_puts) || bad(in.s3_gets)) {
    throw std::invalid_argument("run_cost: negative or non-finite input");
  }
  const double hours = in.wall_s / 3600.0;
  const double months = hours / billing_hours_per_month();
  CostBreakdown cost;
  cost.compute = in.cluster_usd_per_hour * hours;
  cost.spares = in.spare_nodes * in.node_usd_per_hour * hours;
  if (in.fsx.present) {
    // FSx bills provisioned storage in GB-months; the capacity is given in TiB (1,024 GiB).
    const double price =
        defaults.fsx_usd_per_gb_month(in.fsx.deployment, in.fsx.throughput_per_tib_mbps);
    cost.fsx_lustre = in.fsx.capacity_tib * kGiBPerTiB * price * months;
  }
  cost.s3_storage = in.s3_stored_bytes / kGB * defaults.s3_usd_per_gb_month * months;
  cost.s3_requests = in.s3_puts / 1000.0 * defaults.s3_put_usd_per_1000 +
                     in.s3_gets / 1000.0 * defaults.s3_get_usd_per_1000;
  return cost;
}

}  // namespace fmsim
