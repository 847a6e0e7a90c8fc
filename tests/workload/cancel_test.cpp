// Cooperative cancellation and progress (sim/cancel.h): what the GUI's Cancel and progress bar
// rely on.
#include "cancel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "hardware/catalog.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim {
namespace {

TEST(Cancel, ASetFlagStopsARunWithCancelled) {
  const Catalog& catalog = Catalog::builtin();
  const Scenario s = parse_scenario(default_scenario(), catalog);
  std::atomic<bool> cancel{true};
  RunOptions options;
  options.cancel = &cancel;
  EXPECT_THROW(run_scenario(s, catalog, options), Cancelled);
  // The flag belongs to that run only: the next one on this thread runs to the end.
  EXPECT_NO_THROW(throw_if_cancelled());
}

TEST(Cancel, ScopesNestAndRestoreTheEnclosingFlag) {
  std::atomic<bool> outer{false}, inner{true};
  {
    const CancelScope a(&outer);
    EXPECT_NO_THROW(throw_if_cancelled());
    {
      const CancelScope b(&inner);
      EXPECT_THROW(throw_if_cancelled(), Cancelled);
      const CancelScope none(nullptr);  // keeps `inner`
      EXPECT_THROW(throw_if_cancelled(), Cancelled);
    }
    EXPECT_NO_THROW(throw_if_cancelled());
    outer = true;
    EXPECT_THROW(throw_if_cancelled(), Cancelled);
  }
  EXPECT_NO_THROW(throw_if_cancelled());
}

TEST(Cancel, AFlagOnAnotherThreadDoesNotReachThisOne) {
  std::atomic<bool> flag{true};
  std::thread other([&] {
    const CancelScope scope(&flag);
    EXPECT_THROW(throw_if_cancelled(), Cancelled);
  });
  other.join();
  EXPECT_NO_THROW(throw_if_cancelled());
}

TEST(Progress, AScopeTakesDoneOverTotalClampedNeverBackAndNests) {
  report_progress(1, 2);  // no scope: nothing to write, nothing happens
  std::atomic<double> outer{0}, inner{0};
  {
    const ProgressScope a(&outer);
    report_progress(3, 12);
    EXPECT_DOUBLE_EQ(outer.load(), 0.25);
    report_progress(1, 12);  // never back
    EXPECT_DOUBLE_EQ(outer.load(), 0.25);
    {
      const ProgressScope b(&inner);
      const ProgressScope none(nullptr);  // keeps `inner`
      report_progress(5, 4);
      EXPECT_DOUBLE_EQ(inner.load(), 1.0);  // clamped
    }
    report_progress(1, 0);  // no total: ignored
    EXPECT_DOUBLE_EQ(outer.load(), 0.25);
  }
  EXPECT_DOUBLE_EQ(outer.load(), 0.25);
}

TEST(Progress, PartsMapIntoTheEnclosingRange) {
  std::atomic<double> fraction{0};
  const ProgressScope scope(&fraction);
  {
    const ProgressPart first(0.0, 0.5);
    report_progress(1, 2);
    EXPECT_DOUBLE_EQ(fraction.load(), 0.25);
    report_progress(2, 2);
    EXPECT_DOUBLE_EQ(fraction.load(), 0.5);
  }
  {
    const ProgressPart second(0.5, 1.0);
    const ProgressPart third_of_it(0.5, 1.0);  // [0.75, 1]
    report_progress(0, 4);
    EXPECT_DOUBLE_EQ(fraction.load(), 0.75);
    report_progress(2, 4);
    EXPECT_DOUBLE_EQ(fraction.load(), 0.875);
  }
  report_progress(1, 1);
  EXPECT_DOUBLE_EQ(fraction.load(), 1.0);
}

// Serving reports prompts served over prompts, and the SLO sizing (this scenario has TTFT and
// TPOT objectives) its probes: read from another thread while it runs, the fraction never goes
// back, and the finished run leaves it at 1.
TEST(Progress, AServingRunReportsMonotoneProgressEndingAtOne) {
  const Catalog& catalog = Catalog::builtin();
  const std::filesystem::path path =
      std::filesystem::path(FMSIM_SOURCE_DIR) / "scenarios" / "llama3-8b-serve-p5-1node.json";
  const Scenario s = parse_scenario(read_json_file(path.string()), catalog);
  std::atomic<double> progress{0};
  std::atomic<bool> done{false};
  std::vector<double> seen;
  std::thread watcher([&] {
    while (!done.load()) {
      seen.push_back(progress.load(std::memory_order_relaxed));
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  RunOptions options;
  options.progress = &progress;
  const Report report = run_scenario(s, catalog, options);
  done = true;
  watcher.join();
  ASSERT_TRUE(report.inference.has_value());
  EXPECT_DOUBLE_EQ(progress.load(), 1.0);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]) << i;
}

TEST(Progress, ACollectiveSweepEndsAtOne) {
  const Catalog& catalog = Catalog::builtin();
  const Scenario s = parse_scenario(default_scenario(), catalog);
  std::atomic<double> progress{0};
  RunOptions options;
  options.progress = &progress;
  run_scenario(s, catalog, options);
  EXPECT_DOUBLE_EQ(progress.load(), 1.0);
}

}  // namespace
}  // namespace fmsim
