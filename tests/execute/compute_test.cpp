// The GEMM kernel model (sim/execute/compute.h) against efficiencies worked out by hand.
#include "execute/compute.h"

#include <gtest/gtest.h>

#include "hardware/catalog.h"

namespace fmsim {
namespace {

const GpuSpec& h100() { return Catalog::builtin().gpu("H100-SXM", ""); }

TEST(ComputeModel, GemmEfficiencyIsMaxTimesWaveTimesMainLoopShare) {
  ComputeDefaults d = ComputeDefaults::builtin();
  d.gemm_max_efficiency[GpuArch::kHopper][Precision::kBf16] = 0.72;
  d.tile_m = 128;
  d.tile_n = 256;
  d.sms[GpuArch::kHopper] = 132;
  // 4096 x 4096 output: 32 x 16 = 512 tiles on 132 SMs = 4 waves (528 slots); k_half 0: no term.
  d.gemm_k_half[GpuArch::kHopper][Precision::kBf16] = 0;
  GemmShape shape;
  shape.m = 4096;
  shape.n = 4096;
  shape.k = 1024;
  EXPECT_NEAR(gemm_efficiency(h100(), Precision::kBf16, shape, d), 0.72 * 512 / 528, 1e-12);
  // k_half 200: k = 1024 spends 1024 / 1224 of each tile in the main loop.
  d.gemm_k_half[GpuArch::kHopper][Precision::kBf16] = 200;
  EXPECT_NEAR(gemm_efficiency(h100(), Precision::kBf16, shape, d), 0.72 * 512 / 528 * 1024 / 1224,
              1e-12);
  // The time follows: 2 x 4096^2 x 1024 FLOPs at 989.4 TFLOP/s x that efficiency (compute-bound:
  // 48 MiB of BF16 operands at 3.35 TB/s x 0.8 take 19 us, the GEMM about 60 us).
  const double flops = 2.0 * 4096 * 4096 * 1024;
  EXPECT_NEAR(gemm_time_s(h100(), Precision::kBf16, shape, 2, d),
              flops / (989.4e12 * 0.72 * 512 / 528 * 1024 / 1224), 1e-12);
  // The built-in defaults carry no k term (0 until a calibration profile fits one).
  EXPECT_EQ(ComputeDefaults::builtin().gemm_k_half.at(GpuArch::kHopper).at(Precision::kBf16), 0);
}

}  // namespace
}  // namespace fmsim
