#include "execute/compute.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "data/embedded.h"

namespace fmsim {

const ComputeDefaults& ComputeDefaults::builtin() {
  static const ComputeDefaults defaults = [] {
    const auto doc = nlohmann::json::parse(embedded_file("compute_defaults.json"));
    ComputeDefaults d;
    for (GpuArch arch : {GpuArch::kAmpere, GpuArch::kHopper, GpuArch::kBlackwell}) {
      const auto& row = doc.at("gemm").at("max_efficiency").at(to_string(arch));
      d.gemm_max_efficiency[arch][Precision::kBf16] = row.at("bf16").get<double>();
      d.gemm_max_efficiency[arch][Precision::kFp16] = row.at("fp16").get<double>();
      d.gemm_max_efficiency[arch][Precision::kFp8] = row.at("fp8").get<double>();
      const auto& k_half = doc.at("gemm").at("k_half").at(to_string(arch));
      for (Precision p : {Precision::kBf16, Precision::kFp16, Precision::kFp8}) {
        d.gemm_k_half[arch][p] = k_half.at(to_string(p)).get<double>();
      }
      d.sms[arch] = doc.at("sms").at(to_string(arch)).at("value").get<int>();
    }
    d.tile_m = doc.at("gemm").at("tile_m").get<double>();
    d.tile_n = doc.at("gemm").at("tile_n").get<double>();
    d.attention_forward_efficiency = doc.at("attention").at("forward_efficiency").get<double>();
    d.attention_backward_efficiency = doc.at("attention").at("backward_efficiency").get<double>();
    d.hbm_efficiency = doc.at("memory_bound").at("hbm_efficiency").get<double>();
    d.optimizer_bytes_per_param = doc.at("optimizer").at("bytes_per_param").get<double>();
    d.grad_reduce_bytes_per_param = doc.at("grad_reduce_bytes_per_param").at("value").get<double>();
    return d;
  }();
  return defaults;
}

double peak_flops(const GpuSpec& gpu, Precision precision) {
  if (precision == Precision::kFp8 && gpu.fp8_flops > 0) return gpu.fp8_flops;
  if (precision == Precision::kFp16) return gpu.fp16_flops;
  return gpu.bf16_flops;
}

double gemm_efficiency(const GpuSpec& gpu, Precision precision, const GemmShape& shape,
                       const ComputeDefaults& defaults) {
  Precision effective = precision;
  if (precision == Precision::kFp8 && gpu.fp8_flops <= 0) effective = Precision::kBf16;
  const double max_eff = defaults.gemm_max_efficiency.at(gpu.arch).at(effective);
  const double sms = defaults.sms.at(gpu.arch);
  // `count` identical GEMMs (the experts of a grouped GEMM) share the waves.
  const double tiles =
      std::ceil(shape.m / defaults.tile_m) * std::ceil(shape.n / defaults.tile_n) * shape.count;
  const double waves = std::ceil(tiles / sms);
  double k_half = 0.0;
  if (const auto arch = defaults.gemm_k_half.find(gpu.arch); arch != defaults.gemm_k_half.end()) {
    if (const auto it = arch->second.find(effective); it != arch->second.end()) k_half = it->second;
  }
  return max_eff * tiles / (waves * sms) * shape.k / (shape.k + k_half);
}

double gemm_time_s(const GpuSpec& gpu, Precision precision, const GemmShape& shape,
                   double bytes_per_element, const ComputeDefaults& defaults) {
  if (shape.m <= 0 || shape.n <= 0 || shape.k <= 0) return 0.0;
  const double compute_s = shape.flops() / (peak_flops(gpu, precision) *
                                            gemm_efficiency(gpu, precision, shape, defaults));
  const double bytes =
      (shape.m * shape.k + shape.k * shape.n + shape.m * shape.n) * bytes_per_element * shape.count;
  return std::max(compute_s, memory_time_s(gpu, bytes, defaults));
}

double attention_time_s(const GpuSpec& gpu, double flops, bool backward,
                        const ComputeDefaults& defaults) {
  const double efficiency =
      backward ? defaults.attention_backward_efficiency : defaults.attention_forward_efficiency;
  return flops / (gpu.bf16_flops * efficiency);
}

double memory_time_s(const GpuSpec& gpu, double bytes, const ComputeDefaults& defaults) {
  return bytes / (gpu.hbm_bw_bytes_per_s * defaults.hbm_efficiency);
}

}  // namespace fmsim
