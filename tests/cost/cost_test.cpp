// Dollars of a run (sim/cost/cost.h), checked against hand arithmetic with the prices of
// sim/data/storage.json read back from StorageDefaults (never retyped).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "cost/cost.h"

namespace fmsim {
namespace {

const StorageDefaults& defaults() { return StorageDefaults::builtin(); }

TEST(RunCost, BillingMonthIs730Hours) {
  // AWS prorates GB-month prices over a 730-hour month (storage.json, billing).
  EXPECT_DOUBLE_EQ(billing_hours_per_month(), 730.0);
}

TEST(RunCost, ComputeAndSparesArePricePerHourTimesWallHours) {
  // 10 days of wall time on 64 nodes at $55.04 per node-hour: 64 x 55.04 x 240 = $845,414.40;
  // 4 spares at the same node price: 4 x 55.04 x 240 = $52,838.40.
  CostInputs in;
  in.wall_s = 10 * 86400.0;
  in.node_usd_per_hour = 55.04;
  in.cluster_usd_per_hour = 64 * 55.04;
  in.spare_nodes = 4;
  const CostBreakdown cost = run_cost(in, defaults());
  EXPECT_NEAR(cost.compute, 845414.40, 1e-6);
  EXPECT_NEAR(cost.spares, 52838.40, 1e-6);
  EXPECT_DOUBLE_EQ(cost.fsx_lustre, 0.0);
  EXPECT_DOUBLE_EQ(cost.s3_storage, 0.0);
  EXPECT_DOUBLE_EQ(cost.s3_requests, 0.0);
  EXPECT_NEAR(cost.total(), 845414.40 + 52838.40, 1e-6);
}

TEST(RunCost, FsxIsCapacityTimesPricePerGbMonthProrated) {
  // 480 TiB PERSISTENT_2 at 250 MB/s/TiB for 730 hours (one billing month):
  // 480 x 1,024 GiB x price(250) x 1 month.
  CostInputs in;
  in.wall_s = 730 * 3600.0;
  in.fsx.present = true;
  in.fsx.deployment = "PERSISTENT_2";
  in.fsx.capacity_tib = 480;
  in.fsx.throughput_per_tib_mbps = 250;
  const double price = defaults().fsx_usd_per_gb_month("PERSISTENT_2", 250);
  ASSERT_GT(price, 0.0);
  EXPECT_NEAR(run_cost(in, defaults()).fsx_lustre, 480 * 1024 * price, 1e-6);
  // Half a month costs half.
  in.wall_s /= 2;
  EXPECT_NEAR(run_cost(in, defaults()).fsx_lustre, 480 * 1024 * price / 2, 1e-6);
}

TEST(RunCost, S3IsStoragePlusRequests) {
  // 2 x 5.68 TB of checkpoints for 73 hours (a tenth of a month), 1.2M PUTs and 5M GETs:
  // storage 11,360 GB x $/GB-month x 0.1; requests 1,200 x $/1000 PUT + 5,000 x $/1000 GET.
  CostInputs in;
  in.wall_s = 73 * 3600.0;
  in.s3_stored_bytes = 2 * 5.68e12;
  in.s3_puts = 1.2e6;
  in.s3_gets = 5e6;
  const CostBreakdown cost = run_cost(in, defaults());
  EXPECT_NEAR(cost.s3_storage, 11360 * defaults().s3_usd_per_gb_month * 0.1, 1e-6);
  EXPECT_NEAR(cost.s3_requests,
              1200 * defaults().s3_put_usd_per_1000 + 5000 * defaults().s3_get_usd_per_1000, 1e-9);
}

TEST(RunCost, RejectsNegativeOrNonFiniteInputs) {
  CostInputs in;
  in.wall_s = -1;
  EXPECT_THROW(run_cost(in, defaults()), std::invalid_argument);
  in.wall_s = std::numeric_limits<double>::infinity();
  EXPECT_THROW(run_cost(in, defaults()), std::invalid_argument);
  in.wall_s = 1;
  in.s3_puts = std::nan("");
  EXPECT_THROW(run_cost(in, defaults()), std::invalid_argument);
}

}  // namespace
}  // namespace fmsim
