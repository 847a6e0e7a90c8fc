// Kernel times on one GPU: a roofline (FLOPs at the peak of the precision times an efficiency,
// or bytes at HBM bandwidth, whichever takes longer) with an efficiency curve for GEMM shapes.
// Defaults come from sim/data/compute_defaults.json (assumptions until a calibration profile
// replaces them; see that file).
//
// GEMM efficiency = max_efficiency(arch, precision) x wave efficiency x k / (k + k_half), where
// the output is cut into tile_m x tile_n tiles, tiles run in waves of one tile per SM, and a
// partial last wave idles SMs:
//   tiles = ceil(m/tile_m) * ceil(n/tile_n), waves = ceil(tiles / SMs),
//   wave efficiency = tiles / (waves * SMs);
// and each tile spends k / (k + k_half) of its time in the main loop, the rest filling the
// pipeline and writing the output (k_half 0: no such term; a calibration profile fits it).
// Limits: no split-K, no stream-K, no L2 effects; the memory side counts A, B and C once.
#pragma once

#include "hardware/catalog.h"
#include "model/model.h"
#include "parallel/parallel.h"

namespace fmsim {

struct ComputeDefaults {
  std::map<GpuArch, std::map<Precision, double>> gemm_max_efficiency;
  std::map<GpuArch, std::map<Precision, double>> gemm_k_half;  // absent: 0
  double tile_m = 128, tile_n = 256;
  std::map<GpuArch, int> sms;
  double attention_forward_efficiency = 0.6;
  double attention_backward_efficiency = 0.45;
  double hbm_efficiency = 0.8;
  double optimizer_bytes_per_param = 32;
  double grad_reduce_bytes_per_param = 4;

  static const ComputeDefaults& builtin();
};

// Dense peak FLOP/s of `gpu` for GEMMs in `precision` (FP8 falls back to BF16 where absent).
double peak_flops(const GpuSpec& gpu, Precision precision);
double gemm_efficiency(const GpuSpec& gpu, Precision precision, const GemmShape& shape,
                       const ComputeDefaults& defaults);
double gemm_time_s(const GpuSpec& gpu, Precision precision, const GemmShape& shape,
                   double bytes_per_element, const ComputeDefaults& defaults);
// FlashAttention-style kernel: BF16 peak times the forward or backward efficiency.
double attention_time_s(const GpuSpec& gpu, double flops, bool backward,
                        const ComputeDefaults& defaults);
// A memory-bound kernel moving `bytes` through HBM.
double memory_time_s(const GpuSpec& gpu, double bytes, const ComputeDefaults& defaults);

}  // namespace fmsim
