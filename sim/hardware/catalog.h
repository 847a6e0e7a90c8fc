// The hardware catalog: GPUs and AWS instance types with the public facts fmsim simulates them
// from. Values come from sim/data/gpus.json and sim/data/instances.json (embedded at build time);
// every value there names its source (sim/data/sources.json). Users add or override entries with
// their own catalog file (`fmsim --catalog extra.json`), whose values need no source.
//
// Units inside the core are SI: FLOP/s, bytes, bytes/s, watts, USD per hour.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fmsim {

enum class GpuArch { kAmpere, kHopper, kBlackwell };
std::string to_string(GpuArch arch);

// A public source: where a value came from and how far it was confirmed.
struct SourceRef {
  std::string id;  // key used by catalog entries, e.g. "klockwood-h100"
  std::string title;
  std::string url;
  std::string status;  // "confirmed", "third-party" or "unconfirmed"
};

struct GpuSpec {
  std::string name;  // "H100-SXM"
  GpuArch arch = GpuArch::kHopper;
  double bf16_flops = 0.0;  // dense tensor-core peak (no 2:4 sparsity)
  double fp16_flops = 0.0;
  double fp8_flops = 0.0;  // 0 when the GPU has no FP8 tensor cores
  double tf32_flops = 0.0;
  double hbm_bytes = 0.0;
  double hbm_bw_bytes_per_s = 0.0;
  int nvlink_links = 0;
  double nvlink_bw_bytes_per_s = 0.0;  // nominal, per GPU, per direction (450e9 for H100)
  // Usable bandwidth of one NVLink per direction as NCCL's topology model assumes it
  // (src/graph/topo.h: SM80 20.0, SM90 20.6, SM100 40.1 GB/s).
  double nvlink_link_effective_bw_bytes_per_s = 0.0;
  double pcie_bw_bytes_per_s = 0.0;  // GPU to host/NIC path, per direction
  double tdp_w = 0.0;
  bool nvls = false;  // NVLink SHARP: NVSwitch multicast and in-switch reduction
  std::map<std::string, std::string> sources;  // field name -> SourceRef id ("user" for user files)
  std::map<std::string, std::string> notes;    // field name -> derivation or caveat, when given

  // NVLink bandwidth per GPU and direction as NCCL's topology model sees it: links x per-link
  // figure (H100: 18 x 20.6 GB/s = 370.8 GB/s, against 450 GB/s nominal).
  double nvlink_effective_bw_bytes_per_s() const {
    return nvlink_links * nvlink_link_effective_bw_bytes_per_s;
  }
};

struct InstanceSpec {
  std::string name;  // "p5.48xlarge"
  std::string gpu;   // GpuSpec name
  int gpus_per_node = 0;
  int nvlink_domain_gpus = 0;  // GPUs that share one NVLink/NVSwitch domain (8; 72 for NVL72)
  int efa_nics = 0;
  double efa_nic_bw_bytes_per_s = 0.0;  // per NIC, per direction, line rate
  std::string efa_generation;           // "EFAv2", ...
  std::string cpu_vendor;               // "amd", "intel" or "arm" (NCCL's net overhead differs)
  int vcpus = 0;
  double host_memory_bytes = 0.0;
  int nvme_drives = 0;
  double nvme_bytes = 0.0;                   // total local instance storage
  std::optional<double> price_usd_per_hour;  // on-demand; absent when AWS lists none
  std::string price_date;                    // "2026-07-20"
  std::string price_region;                  // "us-east-1"
  std::string ultraserver;                   // e.g. "u-p6e-gb200x72" (empty for ordinary nodes)
  std::map<std::string, std::string> sources;
  std::map<std::string, std::string> notes;  // field name -> derivation or caveat, when given

  double efa_bw_bytes_per_s() const { return efa_nics * efa_nic_bw_bytes_per_s; }
  // Nodes that share one NVLink domain (18 for p6e-gb200.36xlarge in u-p6e-gb200x72, else 1).
  int nvlink_domain_nodes() const { return nvlink_domain_gpus / gpus_per_node; }
};

class Catalog {
 public:
  // The catalog embedded in the library.
  static const Catalog& builtin();

  // Adds or replaces entries from a user catalog document: {"gpus": [...], "instances": [...]}
  // with the same fields as the embedded files (plain numbers; sources optional). An instance may
  // name a GPU defined in the same document. Throws fmsim::Error (exit 2) naming the JSON
  // pointer inside `origin` (a file path) on a bad entry.
  // Rules: a value is a plain number/string/boolean or {"value", "source", "note"}; a source must
  // be in the catalog or in the document's own "sources" object (same shape as sources.json), and
  // a value without one is attributed to "user". A new name needs every field; an existing name is
  // overridden field by field (only the fields given change). Unknown fields are errors. The merge
  // is all or nothing: on error the catalog is unchanged.
  void merge(const nlohmann::json& document, const std::string& origin);
  // Reads and merges a user catalog file; throws fmsim::Error naming the path if it is missing
  // or not JSON.
  void merge_file(const std::string& path);

  const GpuSpec* find_gpu(const std::string& name) const;
  const InstanceSpec* find_instance(const std::string& name) const;
  // As find_*, but throws fmsim::Error(kBadInput, where, "unknown ... (did you mean ...?)").
  const GpuSpec& gpu(const std::string& name, const std::string& where) const;
  const InstanceSpec& instance(const std::string& name, const std::string& where) const;
  const GpuSpec& gpu_of(const InstanceSpec& instance) const;

  const std::vector<GpuSpec>& gpus() const { return gpus_; }
  const std::vector<InstanceSpec>& instances() const { return instances_; }
  const std::map<std::string, SourceRef>& sources() const { return sources_; }

 private:
  std::vector<GpuSpec> gpus_;
  std::vector<InstanceSpec> instances_;
  std::map<std::string, SourceRef> sources_;
};

// The catalog as the tables `fmsim catalog` prints (GPUs, then instances, then sources), and as
// JSON (`fmsim catalog --json`) in display units: TFLOP/s, GB, GB/s, Gbps.
std::string catalog_table(const Catalog& catalog);
nlohmann::json catalog_json(const Catalog& catalog);

}  // namespace fmsim
