// measurements.json: what `fmsim-calibrate` measured on a machine ("format":
// "fmsim-measurements/1"; docs/calibration.md gives the schema with an example). Every record
// holds its timed samples, warm-up already excluded; the fit uses their median.
//
//   environment: {gpu, gpu_arch, instance, nodes, gpus_per_node, l2_bytes, driver, cuda, nccl,
//                 cudnn, cublaslt, hostname, date}; `instance` (a catalog instance) gives the GPU's
//                 peaks and links, `l2_bytes` which HBM sizes the L2 cache would hold
//   gemm:      [{precision, m, n, k, count, time_s: [...]}]
//   attention: [{direction: forward|backward, flops, batch, heads, seq_len, head_dim, causal,
//                implementation: fused|unfused, time_s}]
//   hbm:       [{kernel: copy|triad, bytes (read + written), time_s}]
//   nvlink:    [{src, dst, bytes, time_s}]
//   nccl:      [{op, algorithm, protocol, ranks, nodes, bytes, time_s}]
//   storage:   [{tier, path, mode: read|write, pattern: sequential|random, block_bytes, threads,
//                bytes, time_s}]
// Sizes must increase from record to record within a series (one kernel, one GPU pair, one
// collective configuration, one storage configuration); a record that breaks that, a missing
// field, a NaN or non-positive time is bad input naming the record's JSON pointer.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/profile.h"

namespace fmsim {

struct TimedRecord {
  std::string pointer;  // "/nccl/12", for messages and reports
  std::vector<double> time_s;
  double median_s() const;
};

struct GemmRecord : TimedRecord {
  Precision precision = Precision::kBf16;
  double m = 0, n = 0, k = 0, count = 1;
};
struct AttentionRecord : TimedRecord {
  bool backward = false;
  double flops = 0;            // executed
  std::string implementation;  // "fused" (FlashAttention-style) or "unfused"
};
struct HbmRecord : TimedRecord {
  std::string kernel;
  double bytes = 0;
};
struct NvlinkRecord : TimedRecord {
  int src = 0, dst = 0;
  double bytes = 0;
};
struct NcclRecord : TimedRecord {
  std::string op, algorithm, protocol;
  int ranks = 0, nodes = 0;
  double bytes = 0;
};
struct StorageRecord : TimedRecord {
  std::string tier, path, mode, pattern;
  double block_bytes = 0;
  int threads = 1;
  double bytes = 0;
};

struct Measurements {
  std::string source;
  MachineDescription environment;
  std::vector<GemmRecord> gemm;
  std::vector<AttentionRecord> attention;
  std::vector<HbmRecord> hbm;
  std::vector<NvlinkRecord> nvlink;
  std::vector<NcclRecord> nccl;
  std::vector<StorageRecord> storage;
};

// The series a record belongs to: records with the same key are one size sweep (sizes must grow
// within it) and one fit, and the key names it in the fit report ("copy", "0->1",
// "all_reduce any/any 16 ranks 2 nodes", "fsx_lustre read sequential 1048576 B x 16").
std::string series_key(const HbmRecord& r);
std::string series_key(const NvlinkRecord& r);
std::string series_key(const NcclRecord& r);
std::string series_key(const StorageRecord& r);

// Throws fmsim::Error(kBadInput) naming `source` and the record's pointer.
Measurements measurements_from_json(const nlohmann::json& document, const std::string& source);
Measurements read_measurements_file(const std::string& path);

}  // namespace fmsim
