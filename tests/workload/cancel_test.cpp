// Cooperative cancellation (sim/cancel.h): what the GUI's Cancel relies on.
#include "cancel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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

}  // namespace
}  // namespace fmsim
