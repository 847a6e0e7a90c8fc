// Dollars of a training run, by item (DESIGN.md section 5, cost.breakdown):
//   compute      cluster price per hour x wall hours (idle time in restarts included: the nodes
//                are held and paid for while the job recovers)
//   spares       spare nodes x node price x wall hours (a spare pool is paid for too)
//   fsx_lustre   capacity (GiB) x price per GB-month x months of the run (prorated per second)
//   s3_storage   bytes kept (checkpoints retained, a dataset read from S3) x price per GB-month
//                x months
//   s3_requests  PUTs (checkpoint parts) and GETs (data reads, restores) x price per 1,000
// Prices: the instance's from the catalog or the scenario, storage ones from
// sim/data/storage.json with their sources. A month is the billing month of storage.json.
#pragma once

#include <string>

#include "storage/storage.h"

namespace fmsim {

struct CostInputs {
  double wall_s = 0.0;
  double cluster_usd_per_hour = 0.0;
  double node_usd_per_hour = 0.0;
  int spare_nodes = 0;
  FsxConfig fsx;
  double s3_stored_bytes = 0.0;  // held for the whole run
  double s3_puts = 0.0, s3_gets = 0.0;
};

struct CostBreakdown {
  double compute = 0.0, spares = 0.0, fsx_lustre = 0.0, s3_storage = 0.0, s3_requests = 0.0;
  double total() const { return compute + spares + fsx_lustre + s3_storage + s3_requests; }
};

// Throws std::invalid_argument on negative or non-finite inputs.
CostBreakdown run_cost(const CostInputs& inputs, const StorageDefaults& defaults);

// Hours in the billing month storage prices are quoted for (730).
double billing_hours_per_month();

}  // namespace fmsim
