// A calibration profile (DESIGN.md section 4c): what `fmsim calibrate fit` fitted from one
// machine's microbenchmarks, each value with its fit quality, and how the simulator applies it.
//
// File format (profile.json, "format": "fmsim-profile/1"):
//   machine: {gpu, gpu_arch, instance, nodes, gpus_per_node, driver, cuda, nccl, cudnn, cublaslt,
//             hostname, date, l2_bytes}
//   sources: [the measurement files and nccl-tests logs it was fitted from]
//   compute: {gemm: {bf16|fp16|fp8: {max_efficiency, k_half, floor_s, tile_m, tile_n}},
//             attention_forward_efficiency, attention_backward_efficiency, hbm_efficiency}
//   nvlink:  {link_effective_bw_bytes_per_s}
//   network: {nic_efficiency}
//   collectives: [{op, algorithm, protocol, ranks, nodes, latency_s, algbw_bytes_per_s,
//                  busbw_bytes_per_s, r2, max_relative_residual, points, source}]
//   storage:     [{tier, mode, pattern, block_bytes, threads, latency_s, bandwidth_bytes_per_s,
//                  r2, max_relative_residual, points}]
// A fitted value is {"value", "standard_error", "points", "r2", "max_relative_residual"}; only
// "value" is required. Anything absent keeps the catalog's default.
//
// What the simulator applies, and when: the compute values (GEMM efficiency and tile, attention
// and HBM efficiencies) to scenarios whose GPU has the profile's architecture; the NVLink per-link
// bandwidth to the same GPU model (the catalog GPU name, or failing that the architecture); the
// NIC efficiency to every cluster. The per-collective and storage fits are recorded for the
// operator (the fit report) and not applied: the simulator derives collectives from the topology
// and storage from its tier model. apply_profile() says which parts it applied.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "execute/compute.h"
#include "hardware/catalog.h"
#include "parallel/parallel.h"
#include "topology/topology.h"

namespace fmsim {

struct ProfileValue {
  double value = 0.0;
  double standard_error = 0.0;
  int points = 0;
  double r2 = 0.0;
  double max_relative_residual = 0.0;
};

struct GemmProfile {
  ProfileValue max_efficiency;
  std::optional<ProfileValue> k_half;   // main-loop term (compute.h); applied
  std::optional<ProfileValue> floor_s;  // fixed time per kernel; recorded, not applied
  double tile_m = 0, tile_n = 0;        // 0: keep the default
};

struct CollectiveProfile {
  std::string op, algorithm, protocol;
  int ranks = 0, nodes = 0;
  ProfileValue latency_s, algbw_bytes_per_s;
  double busbw_bytes_per_s = 0.0;
  std::string source;
};

struct StorageProfile {
  std::string tier, mode, pattern;
  double block_bytes = 0;
  int threads = 0;
  ProfileValue latency_s, bandwidth_bytes_per_s;
};

struct MachineDescription {
  std::string gpu, instance, driver, cuda, nccl, cudnn, cublaslt, hostname, date;
  std::optional<GpuArch> gpu_arch;
  int nodes = 0, gpus_per_node = 0;
  double l2_bytes = 0;  // the GPU's L2 cache (0: not recorded)
};

struct CalibrationProfile {
  std::string path;  // where it was read from ("" when built in memory)
  MachineDescription machine;
  std::vector<std::string> sources;
  std::map<Precision, GemmProfile> gemm;
  std::optional<ProfileValue> attention_forward_efficiency, attention_backward_efficiency;
  std::optional<ProfileValue> hbm_efficiency;
  std::optional<ProfileValue> nvlink_link_bw_bytes_per_s;
  std::optional<ProfileValue> nic_efficiency;
  std::vector<CollectiveProfile> collectives;
  std::vector<StorageProfile> storage;
};

nlohmann::json to_json(const CalibrationProfile& profile);
// Validates as scenarios are validated: a wrong type or value throws fmsim::Error(kBadInput)
// naming `source` and the JSON pointer.
CalibrationProfile profile_from_json(const nlohmann::json& document, const std::string& source);
CalibrationProfile read_profile_file(const std::string& path);

// The parameters a run uses after a profile: the compute defaults, the GPU and the network
// defaults, plus one line per part saying what was applied or why not.
struct CalibratedParameters {
  ComputeDefaults compute;
  GpuSpec gpu;
  NetworkDefaults network;
  std::vector<std::string> applied;  // "GEMM bf16 max efficiency 0.70 (default 0.75)", ...
  std::vector<std::string> skipped;  // "compute: profile measured on hopper, GPU is blackwell"
};
CalibratedParameters apply_profile(const CalibrationProfile* profile, const GpuSpec& gpu,
                                   const ComputeDefaults& compute, const NetworkDefaults& network);

// What a simulation uses: the calibrated parameters when it has some, else the built-in defaults.
inline const ComputeDefaults& compute_defaults(const CalibratedParameters* p) {
  return p != nullptr ? p->compute : ComputeDefaults::builtin();
}
inline const NetworkDefaults& network_defaults(const CalibratedParameters* p) {
  return p != nullptr ? p->network : network_defaults();
}

std::optional<GpuArch> parse_gpu_arch(const std::string& name);  // "ampere", "hopper", ...

}  // namespace fmsim
