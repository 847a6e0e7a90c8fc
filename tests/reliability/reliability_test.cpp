// Failure rates, the Young/Daly interval, the analytic run estimate and its Monte Carlo twin,
// checked against numbers worked by hand from the Llama 3 counts (arXiv:2407.21783, Table 5) and
// the renewal formula E[s] = (e^{lambda s} - 1)(1/lambda + R) of reliability.h.
#include "reliability/reliability.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "error.h"

namespace fmsim {
namespace {

constexpr double kMinute = 60.0;
constexpr double kHour = 3600.0;
constexpr double kDay = 86400.0;

// One class of failures on whole GPUs, `per_gpu_per_day` each, that needs no replacement.
std::vector<FailureClass> gpu_class(double per_gpu_per_day) {
  return {{"gpu", FailureScope::kGpu, per_gpu_per_day, false, "test"}};
}

FailureRate rate_with_mtbf(double mtbf_s, double replace_fraction = 0.0) {
  FailureRate rate;
  rate.per_s = 1.0 / mtbf_s;
  rate.replace_fraction = replace_fraction;
  return rate;
}

double breakdown_sum(const RunEstimate& r) {
  return r.checkpoint_s + r.rework_s + r.detect_s + r.replace_s + r.restart_s + r.reload_s +
         r.planned_s;
}

void expect_all_finite(const RunEstimate& r) {
  for (double x :
       {r.useful_s, r.wall_s, r.expected_failures, r.expected_planned, r.checkpoint_s, r.rework_s,
        r.detect_s, r.replace_s, r.restart_s, r.reload_s, r.planned_s, r.goodput()}) {
    EXPECT_TRUE(std::isfinite(x)) << x;
  }
}

// A 100-hour run on a job with a 3-hour MTBF, 80% of failures needing a new node, one planned
// interruption a day; 40-minute checkpoints with a 2-minute stall.
RunInputs hundred_hour_run(int spare_nodes) {
  RunInputs in;
  in.useful_s = 100 * kHour;
  in.interval_s = 40 * kMinute;
  in.checkpoint_stall_s = 2 * kMinute;
  in.failures = rate_with_mtbf(3 * kHour, 0.8);
  in.planned_per_s = 1.0 / kDay;
  in.recovery.detect_s = 5 * kMinute;
  in.recovery.restart_s = 10 * kMinute;
  in.recovery.reload_s = 3 * kMinute;
  in.recovery.replace_with_spare_s = 5 * kMinute;
  in.recovery.provision_s = 60 * kMinute;
  in.recovery.repair_s = 24 * kHour;
  in.recovery.spare_nodes = spare_nodes;
  return in;
}

// ---------------------------------------------------------------------------------------------
// Failure rates

TEST(YoungDaly, IntervalIsSqrtOfTwiceCostTimesMtbf) {
  // sqrt(2 x 600 s x 36,000 s) = sqrt(43,200,000) = 6,572.67 s.
  EXPECT_NEAR(young_daly_interval_s(600.0, 10 * kHour), 6572.67, 0.01);
  EXPECT_DOUBLE_EQ(young_daly_interval_s(0.0, 10 * kHour), 0.0);
  // A job that never fails never needs a checkpoint, unless checkpoints are free (0, not NaN).
  const double never = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isinf(young_daly_interval_s(600.0, never)));
  EXPECT_EQ(young_daly_interval_s(0.0, never), 0.0);
}

TEST(ReliabilityRate, ExpectedFailuresScaleLinearlyWithGpus) {
  // 1e-3 failures per GPU-day: 1,024 GPUs fail 1.024 times a day, 16,384 GPUs 16.384 times,
  // 16 times as often.
  const auto classes = gpu_class(1e-3);
  const FailureRate small = job_failure_rate(classes, {1024, 128, 1024});
  const FailureRate large = job_failure_rate(classes, {16384, 2048, 16384});
  EXPECT_DOUBLE_EQ(small.per_s, 1.024 / kDay);
  EXPECT_DOUBLE_EQ(large.per_s / small.per_s, 16.0);
  EXPECT_DOUBLE_EQ(large.mtbf_s(), kDay / 16.384);
  EXPECT_DOUBLE_EQ(large.per_s_by_class.at("gpu"), large.per_s);
}

TEST(ReliabilityRate, EachScopeCountsItsOwnUnits) {
  // 1 failure per unit-day of each scope on 8 GPUs, 2 nodes, 4 links: 8 + 2 + 4 + 1 = 15 a day;
  // the node and link classes need replacement: (2 + 4) / 15 = 0.4.
  const std::vector<FailureClass> classes = {{"g", FailureScope::kGpu, 1.0, false, ""},
                                             {"n", FailureScope::kNode, 1.0, true, ""},
                                             {"l", FailureScope::kLink, 1.0, true, ""},
                                             {"j", FailureScope::kJob, 1.0, false, ""}};
  const FailureRate rate = job_failure_rate(classes, {8, 2, 4});
  EXPECT_DOUBLE_EQ(rate.per_s * kDay, 15.0);
  EXPECT_DOUBLE_EQ(rate.replace_fraction, 0.4);
  EXPECT_DOUBLE_EQ(rate.per_s_by_class.at("j") * kDay, 1.0);
}

TEST(ReliabilityRate, NoClassesNeverFail) {
  const FailureRate rate = job_failure_rate({}, {16384, 2048, 16384});
  EXPECT_EQ(rate.per_s, 0.0);
  EXPECT_EQ(rate.replace_fraction, 0.0);
  EXPECT_TRUE(std::isinf(rate.mtbf_s()));
}

TEST(ReliabilityDefaults, LlamaThreeRatesReproduceTheReferenceCluster) {
  // Table 5 of arXiv:2407.21783: 419 unexpected interruptions in 54 days on 16,384 GPUs, 2,048
  // nodes and 16,384 links -> 419 / 54 = 7.759 a day (MTBF 86,400 x 54 / 419 = 11,135 s). GPU
  // 268 + host 53 + network 35 need a new node: 356 / 419 = 0.8496. Planned: 47 / 54 a day.
  const ReliabilityDefaults& d = ReliabilityDefaults::builtin();
  ASSERT_EQ(d.classes.size(), 4u);
  const FailureRate rate = job_failure_rate(d.classes, {16384, 2048, 16384});
  EXPECT_NEAR(rate.per_s * kDay, 419.0 / 54.0, 1e-12);
  EXPECT_NEAR(rate.mtbf_s(), 11135.08, 0.01);
  EXPECT_NEAR(rate.replace_fraction, 356.0 / 419.0, 1e-12);
  EXPECT_NEAR(rate.per_s_by_class.at("gpu") * kDay, 268.0 / 54.0, 1e-12);
  EXPECT_NEAR(rate.per_s_by_class.at("software") * kDay, 63.0 / 54.0, 1e-12);
  EXPECT_DOUBLE_EQ(d.planned_per_node_day, 47.0 / (2048.0 * 54.0));
  // Per-unit rates: 268 GPU failures / (16,384 GPUs x 54 days) = 3.029e-4 per GPU-day.
  EXPECT_DOUBLE_EQ(d.classes[0].per_unit_per_day, 268.0 / (16384.0 * 54.0));
}

TEST(ReliabilityDefaults, RecoveryTimesAreInSeconds) {
  // reliability.json: detect 5 min, restart 10 min, spare swap 5 min, provision 60 min, repair
  // 24 h; reload and the spare pool are the caller's.
  const RecoveryTimes& r = ReliabilityDefaults::builtin().recovery;
  EXPECT_DOUBLE_EQ(r.detect_s, 300.0);
  EXPECT_DOUBLE_EQ(r.restart_s, 600.0);
  EXPECT_DOUBLE_EQ(r.replace_with_spare_s, 300.0);
  EXPECT_DOUBLE_EQ(r.provision_s, 3600.0);
  EXPECT_DOUBLE_EQ(r.repair_s, 86400.0);
  EXPECT_EQ(r.reload_s, 0.0);
  EXPECT_EQ(r.spare_nodes, 0);
}

// ---------------------------------------------------------------------------------------------
// Analytic mean

TEST(ReliabilityRun, WithoutFailuresWallIsWorkPlusOneStallPerSegment) {
  // 10.5 h of work in 1 h segments: ceil(10.5) = 11 segments, 11 x 300 s of stalls:
  // 37,800 + 3,300 = 41,100 s.
  RunInputs in;
  in.useful_s = 10.5 * kHour;
  in.interval_s = kHour;
  in.checkpoint_stall_s = 300.0;
  const RunEstimate r = expected_run(in);
  EXPECT_DOUBLE_EQ(r.wall_s, 41100.0);
  EXPECT_DOUBLE_EQ(r.checkpoint_s, 3300.0);
  EXPECT_EQ(r.expected_failures, 0.0);
  EXPECT_EQ(r.rework_s, 0.0);
  // An exact multiple has no remainder segment: 10 h -> 10 stalls.
  in.useful_s = 10 * kHour;
  EXPECT_DOUBLE_EQ(expected_run(in).wall_s, 36000.0 + 3000.0);
}

TEST(ReliabilityRun, MatchesDalyRenewalFormula) {
  // lambda = 1/h, tau = 1 h, delta = 0, R = 0: E[s] = (e - 1) h = 6,185.96 s per segment and
  // e - 1 = 1.71828 failures; 10 segments: 61,859.6 s, 17.1828 failures.
  RunInputs in;
  in.useful_s = 10 * kHour;
  in.interval_s = kHour;
  in.failures = rate_with_mtbf(kHour);
  const RunEstimate r = expected_run(in);
  EXPECT_NEAR(r.wall_s, 10 * (std::numbers::e - 1) * kHour, 1e-6);
  EXPECT_NEAR(r.expected_failures, 10 * (std::numbers::e - 1), 1e-12);
  // Each failure loses E[X | X < s] = 1/lambda - s/(e - 1) = 3,600 - 2,095.07 = 1,504.93 s;
  // 17.1828 of them lose (e - 2) h x 10 = 25,859.6 s.
  EXPECT_NEAR(r.rework_s, 10 * (std::numbers::e - 2) * kHour, 1e-6);

  // With a 10-minute recovery (detect): (e - 1)(3,600 + 600) = 7,216.8 s per segment.
  in.recovery.detect_s = 600.0;
  EXPECT_NEAR(expected_run(in).wall_s, 10 * (std::numbers::e - 1) * 4200.0, 1e-6);
}

TEST(ReliabilityRun, SmallFailureRateMatchesFirstOrderEstimate) {
  // MTBF 100 h, tau 1 h, delta 60 s, R = detect 300 + restart 600 = 900 s, W = 100 h.
  // First order: W (1 + delta/tau) = 366,000 s, plus lambda wall (R + (tau + delta)/2), i.e.
  // wall = 366,000 / (1 - (900 + 1,830) / 360,000) = 366,000 / 0.992417 = 368,797 s.
  RunInputs in;
  in.useful_s = 100 * kHour;
  in.interval_s = kHour;
  in.checkpoint_stall_s = 60.0;
  in.failures = rate_with_mtbf(100 * kHour);
  in.recovery.detect_s = 300.0;
  in.recovery.restart_s = 600.0;
  const double first_order_s = 366000.0 / (1.0 - 2730.0 / 360000.0);
  EXPECT_NEAR(expected_run(in).wall_s, first_order_s, 0.01 * first_order_s);
}

TEST(ReliabilityRun, BreakdownAddsUpToWallMinusUseful) {
  // Every term nonzero, W not a multiple of tau (100 h + 17 min over 40 min: 150 + 1 segments).
  RunInputs in = hundred_hour_run(0);
  in.useful_s += 17 * kMinute;
  const RunEstimate r = expected_run(in);
  EXPECT_GT(r.rework_s, 0.0);
  EXPECT_GT(r.replace_s, 0.0);
  EXPECT_GT(r.planned_s, 0.0);
  EXPECT_DOUBLE_EQ(r.checkpoint_s, 151 * 2 * kMinute);
  EXPECT_NEAR(breakdown_sum(r), r.wall_s - r.useful_s, 1e-9 * r.wall_s);
  // Every failure pays detect, restart and reload; 80% pay provisioning (no spares).
  EXPECT_DOUBLE_EQ(r.detect_s, r.expected_failures * 300.0);
  EXPECT_DOUBLE_EQ(r.replace_s, r.expected_failures * 0.8 * 3600.0);
  // Planned: mu T interruptions at restart + reload = 780 s each.
  EXPECT_DOUBLE_EQ(r.expected_planned, r.wall_s / kDay);
  EXPECT_NEAR(r.planned_s, r.expected_planned * 780.0, 1e-9 * r.planned_s);
  expect_all_finite(r);
}

TEST(ReliabilityRun, PlannedInterruptionsStretchTheRunByOneOverOneMinusLoad) {
  // No failures, W = 10 h in one segment, mu = 1/h, restart 6 min: load mu c = 0.1,
  // T = 36,000 / 0.9 = 40,000 s with 40,000 / 3,600 = 11.11 planned interruptions.
  RunInputs in;
  in.useful_s = 10 * kHour;
  in.interval_s = 10 * kHour;
  in.planned_per_s = 1.0 / kHour;
  in.recovery.restart_s = 6 * kMinute;
  const RunEstimate r = expected_run(in);
  EXPECT_NEAR(r.wall_s, 40000.0, 1e-6);
  EXPECT_NEAR(r.expected_planned, 40000.0 / 3600.0, 1e-9);
  EXPECT_NEAR(r.planned_s, 4000.0, 1e-6);
}

TEST(ReliabilityRun, HopelessIntervalIsInfeasible) {
  // Checkpoint every 100 h with a 1-hour MTBF: lambda s = 100 > 30.
  RunInputs in;
  in.useful_s = 200 * kHour;
  in.interval_s = 100 * kHour;
  in.failures = rate_with_mtbf(kHour);
  try {
    expected_run(in);
    FAIL() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/workload/checkpoint/every_minutes");
  }
  EXPECT_THROW(monte_carlo_run(in, 10, 1), Error);
  // Just inside the guard (lambda s = 29) the estimate is huge but finite.
  in.interval_s = 29 * kHour;
  in.useful_s = 29 * kHour;
  const RunEstimate r = expected_run(in);
  expect_all_finite(r);
  EXPECT_NEAR(r.expected_failures, std::expm1(29.0), 1e-3 * std::expm1(29.0));
}

TEST(ReliabilityRun, PlannedInterruptionsCostingMoreThanTheirSpacingAreInfeasible) {
  // One an hour, each costing a 1-hour restart: mu c = 1, the run never finishes.
  RunInputs in;
  in.useful_s = kHour;
  in.interval_s = kHour;
  in.planned_per_s = 1.0 / kHour;
  in.recovery.restart_s = kHour;
  try {
    expected_run(in);
    FAIL() << "expected fmsim::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInfeasible);
    EXPECT_EQ(e.where(), "/cluster/reliability");
  }
}

TEST(ReliabilityRun, EdgeCasesStayFinite) {
  // An empty run takes no time; goodput is 1 by convention.
  RunInputs in;
  in.interval_s = kHour;
  in.failures = rate_with_mtbf(kHour);
  const RunEstimate empty = expected_run(in);
  EXPECT_EQ(empty.wall_s, 0.0);
  EXPECT_EQ(empty.goodput(), 1.0);
  expect_all_finite(empty);
  // A tiny failure rate (lambda s = 3.6e-12) takes the series branch: no cancellation to 0 or
  // below. Rework per segment ~ s x lambda s / 2 = 3,600 x 1.8e-12 s.
  in.useful_s = kHour;
  in.failures = rate_with_mtbf(1e15);
  const RunEstimate tiny = expected_run(in);
  EXPECT_NEAR(tiny.rework_s, 3600.0 * 1.8e-12, 1e-20);
  expect_all_finite(tiny);
}

TEST(ReliabilityRun, ProgrammingErrorsThrowInvalidArgument) {
  RunInputs in = hundred_hour_run(0);
  in.useful_s = -1.0;
  EXPECT_THROW(expected_run(in), std::invalid_argument);
  in = hundred_hour_run(0);
  in.interval_s = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(expected_run(in), std::invalid_argument);
  in = hundred_hour_run(0);
  in.interval_s = 0.0;
  EXPECT_THROW(expected_run(in), std::invalid_argument);
  in = hundred_hour_run(0);
  in.failures.replace_fraction = 1.5;
  EXPECT_THROW(expected_run(in), std::invalid_argument);
  in = hundred_hour_run(0);
  in.recovery.detect_s = -5.0;
  EXPECT_THROW(expected_run(in), std::invalid_argument);
  EXPECT_THROW(monte_carlo_run(hundred_hour_run(0), 0, 1), std::invalid_argument);
  EXPECT_THROW(job_failure_rate(gpu_class(-1.0), {1, 1, 1}), std::invalid_argument);
  EXPECT_THROW(young_daly_interval_s(-1.0, kHour), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Monte Carlo

// |MC mean - analytic mean| < 4 standard errors (stdev / sqrt(trials)).
void expect_agrees(const MonteCarloResult& mc, const RunEstimate& analytic) {
  const double standard_error = mc.stdev_wall_s / std::sqrt(mc.trials);
  EXPECT_GT(standard_error, 0.0);
  EXPECT_NEAR(mc.mean_wall_s, analytic.wall_s, 4 * standard_error);
}

TEST(ReliabilityMonteCarlo, AgreesWithAnalyticMeanWithoutSpares) {
  // About 40 failures and 4 planned interruptions a trial; every replacement provisions.
  const RunInputs in = hundred_hour_run(0);
  const MonteCarloResult mc = monte_carlo_run(in, 400, 42);
  const RunEstimate analytic = expected_run(in);
  expect_agrees(mc, analytic);
  EXPECT_NEAR(mc.mean_failures, analytic.expected_failures, 0.1 * analytic.expected_failures);
  EXPECT_NEAR(breakdown_sum(mc.mean), mc.mean.wall_s - mc.mean.useful_s, 1e-9 * mc.mean.wall_s);
  EXPECT_DOUBLE_EQ(mc.mean.checkpoint_s, 150 * 2 * kMinute);
  expect_all_finite(mc.mean);
}

TEST(ReliabilityRun, DurabilityLagAddsItsLengthOfReworkPerFailure) {
  // A checkpoint durable only 10 min after its stall: each failure adds 10 min of rework on
  // average (a failure in that window, probability L / s, loses one more segment s), so the wall
  // time grows by exactly expected failures x 600 s and nothing else changes.
  const RunInputs base = hundred_hour_run(0);
  RunInputs lagged = base;
  lagged.durability_lag_s = 10 * kMinute;
  const RunEstimate a = expected_run(base);
  const RunEstimate b = expected_run(lagged);
  EXPECT_DOUBLE_EQ(b.expected_failures, a.expected_failures);
  EXPECT_NEAR(b.rework_s - a.rework_s, a.expected_failures * 600.0, 1e-9 * b.wall_s);
  EXPECT_NEAR(breakdown_sum(b), b.wall_s - b.useful_s, 1e-9 * b.wall_s);
  // The Monte Carlo pays the same per failure.
  expect_agrees(monte_carlo_run(lagged, 400, 3), b);
}

TEST(ReliabilityMonteCarlo, AgreesWithAnalyticMeanWithAmpleSpares) {
  // A pool larger than any trial's failure count always has a spare: 5-minute swaps, as the
  // analytic mean assumes for spare_nodes > 0.
  const RunInputs in = hundred_hour_run(1000000);
  expect_agrees(monte_carlo_run(in, 400, 7), expected_run(in));
}

TEST(ReliabilityMonteCarlo, ScarceSparePoolIsSlowerThanAmplePool) {
  // One spare that takes a week to come back from repair: after the first replacement every
  // other one provisions (60 min) instead of swapping (5 min); ~32 replacements x 55 min more.
  RunInputs scarce = hundred_hour_run(1);
  scarce.recovery.repair_s = 7 * kDay;
  RunInputs ample = scarce;
  ample.recovery.spare_nodes = 1000;
  const MonteCarloResult slow = monte_carlo_run(scarce, 100, 3);
  const MonteCarloResult fast = monte_carlo_run(ample, 100, 3);
  EXPECT_GT(slow.mean_wall_s, fast.mean_wall_s + 10 * kHour);
  EXPECT_GT(slow.mean.replace_s, fast.mean.replace_s);
}

TEST(ReliabilityMonteCarlo, RepairedSparesReturnToThePool) {
  // Repair takes no time: the single spare is always back, so one spare behaves as many.
  RunInputs quick = hundred_hour_run(1);
  quick.recovery.repair_s = 0.0;
  RunInputs ample = quick;
  ample.recovery.spare_nodes = 1000;
  EXPECT_DOUBLE_EQ(monte_carlo_run(quick, 50, 9).mean_wall_s,
                   monte_carlo_run(ample, 50, 9).mean_wall_s);
}

TEST(ReliabilityMonteCarlo, SameSeedIsBitIdenticalAndOtherSeedsDiffer) {
  const RunInputs in = hundred_hour_run(2);
  const MonteCarloResult a = monte_carlo_run(in, 50, 1234);
  const MonteCarloResult b = monte_carlo_run(in, 50, 1234);
  const MonteCarloResult c = monte_carlo_run(in, 50, 1235);
  EXPECT_EQ(a.mean_wall_s, b.mean_wall_s);
  EXPECT_EQ(a.stdev_wall_s, b.stdev_wall_s);
  EXPECT_EQ(a.p99_wall_s, b.p99_wall_s);
  EXPECT_EQ(a.mean.replace_s, b.mean.replace_s);
  EXPECT_NE(a.mean_wall_s, c.mean_wall_s);
  EXPECT_EQ(a.seed, 1234u);
  EXPECT_EQ(a.trials, 50);
}

TEST(ReliabilityMonteCarlo, PercentilesAreOrdered) {
  const MonteCarloResult mc = monte_carlo_run(hundred_hour_run(0), 100, 5);
  EXPECT_LE(mc.p50_wall_s, mc.p90_wall_s);
  EXPECT_LE(mc.p90_wall_s, mc.p99_wall_s);
  EXPECT_GE(mc.p50_wall_s, 100 * kHour + 150 * 2 * kMinute);
}

TEST(ReliabilityMonteCarlo, WithoutFailuresEveryTrialIsTheSame) {
  // lambda = mu = 0: every trial takes W + ceil(W/tau) delta = 41,100 s (see above); stdev 0.
  RunInputs in;
  in.useful_s = 10.5 * kHour;
  in.interval_s = kHour;
  in.checkpoint_stall_s = 300.0;
  const MonteCarloResult mc = monte_carlo_run(in, 3, 1);
  EXPECT_DOUBLE_EQ(mc.mean_wall_s, 41100.0);
  EXPECT_EQ(mc.stdev_wall_s, 0.0);
  EXPECT_DOUBLE_EQ(mc.p50_wall_s, 41100.0);
  EXPECT_DOUBLE_EQ(mc.p99_wall_s, 41100.0);
  EXPECT_EQ(mc.mean_failures, 0.0);
}

}  // namespace
}  // namespace fmsim
