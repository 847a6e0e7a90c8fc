// fmsim-calibrate (calibrate/bench), built wherever the CUDA toolkit is: without a GPU it must say
// so and exit 2; with one, a small hbm run must write measurements that `fmsim calibrate fit`
// reads and fits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli/fmsim_process.h"
#include "fit/measurements.h"
#include "fit/profile_fit.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;

TEST(CalibrateBench, RunsOnAGpuOrSaysThereIsNoneAndExits2) {
#ifndef FMSIM_CALIBRATE_EXE
  GTEST_SKIP() << "fmsim-calibrate is not built (no CUDA toolkit)";
#else
  const fs::path dir =
      fs::path(testing::TempDir()) / ("fmsim_calibrate_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "m.json", err = dir / "err.txt";
  const std::string command = testing_support::shell_quote(FMSIM_CALIBRATE_EXE) +
                              " --suite hbm --reps 2 --iters 2 --warmup 1 --max-bytes 16777216"
                              " --instance p5.48xlarge -o " +
                              testing_support::shell_quote(out.string()) + " 2>" +
                              testing_support::shell_quote(err.string());
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  const std::string message = testing_support::read_file(err);
  if (WEXITSTATUS(status) == 2) {
    EXPECT_TRUE(testing_support::contains(message, "no CUDA GPU")) << message;
    EXPECT_FALSE(fs::exists(out));
  } else {
    ASSERT_EQ(WEXITSTATUS(status), 0) << message;
    const Measurements m = read_measurements_file(out.string());
    EXPECT_FALSE(m.hbm.empty());
    // The fit needs the instance's GPU to match the one measured; only check it parses and fits
    // when this machine is a p5 (H100).
    if (testing_support::contains(m.environment.gpu, "H100")) {
      const ProfileFit fit = fit_profile({m}, {}, Catalog::builtin());
      EXPECT_TRUE(fit.profile.hbm_efficiency.has_value());
    }
  }
  fs::remove_all(dir);
#endif
}

}  // namespace
}  // namespace fmsim
