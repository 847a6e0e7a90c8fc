// Storage tiers as engine resources, and the two things training does with them: read a batch of
// data every step, and save (and later restore) a checkpoint.
//
// Tiers (capacities from the scenario and sim/data/storage.json, each with its source):
//   FSx for Lustre  aggregate throughput   C_fsx = capacity_TiB x throughput_per_TiB (baseline;
//                                          the burst rate instead when the long-run demand stays
//                                          under the baseline, as FSx's burst credits allow),
//                   metadata rate          M_fsx operations/s (opens and closes),
//                   per request latency    L_fsx (submillisecond).
//   S3              request rates          5,500 GET/s and 3,500 PUT/s per prefix, x prefixes,
//                   first-byte latency     L_s3 per request, per-connection rate b_s3.
//   NVMe            per node               drives x per-drive read (write) rate.
//   host memory     per node               a cache, read at memory speed; snapshots of an
//                                          asynchronous checkpoint come over PCIe (GPUs x PCIe).
//   front end       per node, per direction the ENA path every remote tier (FSx, S3) crosses; it
//                                          is not the EFA fabric, so storage never slows
//                                          collectives (and EFA-attached FSx is not modelled).
//
// A node's read of B bytes in requests of q bytes with T reader threads is one activity:
//   work B; weight 1 on the node's resources (front end in, NVMe read); weight n on a shared
//   tier's throughput (n identical nodes reading at once, the symmetric trick of DESIGN.md);
//   weight n/q on S3's GET rate and n x ops_per_file/f on FSx's metadata rate (f = file bytes);
//   bound T x q / (L + q/b) (each thread alternates a request latency L and a transfer at its
//   stream rate b), so small files are latency-bound and many nodes are tier-bound, both out of
//   the same max-min solver as the network. Writes are the same with PUTs and front end out.
//
// Data loading (simulate_data_loading): a loader keeps up to `prefetch_depth` batches read ahead;
// training consumes one batch per step of compute time t. The simulation runs the loader and the
// steps on the engine until the pattern repeats; the steady-state stall per step is what the
// report calls data_stall_s (analytically max(0, t_read - t) when nothing else shares the tier).
//
// Checkpoints (simulate_checkpoint): the bytes to save are the trainable parameters x (weights +
// optimizer state) bytes, sharded evenly over the nodes (fully parallel save). Every save first
// pays a fixed coordination and staging time (storage.json save_fixed_s, measured by PyTorch for
// DCP). Synchronous: training then stops for the write. Asynchronous: training stops for the
// snapshot (GPU to host over PCIe), then the upload runs beside the following steps and slows them
// only where it takes bandwidth the data loader needs (same tier, same node path): the extra data
// stall it causes is simulated, not assumed. A restore reads the checkpoint back from the durable
// tier.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/simulator.h"
#include "hardware/catalog.h"

namespace fmsim {

enum class Tier { kNvme, kFsxLustre, kS3, kHostMemory };
std::string to_string(Tier tier);  // "nvme", "fsx_lustre", "s3", "host_memory"
std::optional<Tier> parse_tier(const std::string& name);
const std::vector<std::string>& tier_names();
// Tiers that survive the loss of a node (FSx, S3).
inline bool durable(Tier tier) { return tier == Tier::kFsxLustre || tier == Tier::kS3; }

// `cluster.storage` of a scenario. NVMe and host memory come with every instance.
struct FsxConfig {
  bool present = false;
  std::string deployment = "PERSISTENT_2";
  double capacity_tib = 0.0;
  double throughput_per_tib_mbps = 0.0;      // MB/s (1e6 bytes/s) per TiB, one of the deployment's
  std::optional<double> metadata_ops_per_s;  // else the automatic mode for the capacity
  bool burst = true;                         // use burst credits when the demand allows
};
struct S3Config {
  bool present = false;
  int prefixes = 1;  // partitioned prefixes the objects are spread over
};
struct StorageConfig {
  FsxConfig fsx;
  S3Config s3;
  bool has(Tier tier) const;
};

// Constants of sim/data/storage.json in SI units.
struct FsxDeployment {
  std::vector<double> throughput_per_tib_mbps;                // allowed values
  std::vector<std::pair<double, double>> burst_per_tib_mbps;  // (throughput per TiB, burst)
  double min_capacity_tib = 0.0;
  std::vector<std::pair<double, double>> price_usd_per_gb_month;  // (throughput per TiB, price)
};
struct StorageDefaults {
  std::vector<std::pair<std::string, FsxDeployment>> fsx_deployments;
  double fsx_latency_s = 0.0;
  // Automatic metadata mode: (capacity TiB, IOPS) steps, then IOPS per TiB beyond the last step.
  std::vector<std::pair<double, double>> fsx_metadata_steps;
  double fsx_metadata_iops_per_tib_beyond = 0.0, fsx_metadata_max_iops = 0.0;
  double fsx_metadata_ops_per_file = 0.0;
  double fsx_stream_bw_bytes_per_s = 0.0;
  double s3_get_per_s_per_prefix = 0.0, s3_put_per_s_per_prefix = 0.0;
  double s3_first_byte_latency_s = 0.0;
  double s3_connection_bw_bytes_per_s = 0.0, s3_upload_connection_bw_bytes_per_s = 0.0;
  double s3_part_bytes = 0.0;
  double s3_usd_per_gb_month = 0.0, s3_put_usd_per_1000 = 0.0, s3_get_usd_per_1000 = 0.0;
  double nvme_read_bw_per_drive_bytes_per_s = 0.0, nvme_write_bw_per_drive_bytes_per_s = 0.0;
  double nvme_latency_s = 0.0;
  double frontend_default_bw_bytes_per_s = 0.0;
  std::vector<std::pair<std::string, double>> frontend_bw_by_instance;
  double host_snapshot_fraction = 0.0, host_cache_fraction = 0.0, pcie_copy_efficiency = 0.0;
  double tokenized_bytes_per_token = 0.0, raw_bytes_per_token = 0.0;
  double tokenized_file_bytes = 0.0, raw_file_bytes = 0.0;
  int reader_threads = 0, prefetch_depth = 0, staging_threads = 0;
  int checkpoint_keep = 0, upload_threads = 0;
  double checkpoint_save_fixed_s = 0.0;  // coordination and staging every save pays

  static const StorageDefaults& builtin();
  const FsxDeployment* deployment(const std::string& name) const;
  std::vector<std::string> deployment_names() const;
  double frontend_bw_bytes_per_s(const std::string& instance) const;
  // FSx metadata operations per second of the automatic mode for a capacity.
  double fsx_automatic_metadata_iops(double capacity_tib) const;
  // FSx burst throughput per TiB for a deployment's tier (the tier itself when none is known).
  double fsx_burst_per_tib_mbps(const std::string& deployment, double throughput_per_tib) const;
  // FSx price per GB-month for a deployment and throughput tier; 0 when unknown.
  double fsx_usd_per_gb_month(const std::string& deployment, double throughput_per_tib) const;
};

// How one node reads: `bytes` in requests of `request_bytes` from files of `file_bytes`, with
// `threads` requests in flight.
struct ReadPattern {
  double bytes = 0.0;
  double request_bytes = 0.0;
  double file_bytes = 0.0;
  int threads = 1;
};

// The storage tiers of a cluster on a Simulator: the shared tiers once, the per-node resources of
// one representative node (the symmetric model: `copies` nodes do the same at once).
class StorageSystem {
 public:
  StorageSystem(const StorageConfig& config, const StorageDefaults& defaults,
                const InstanceSpec& instance, const GpuSpec& gpu, Simulator& sim,
                bool fsx_burst = false);

  ActivitySpec read(Tier tier, const ReadPattern& pattern, int copies) const;
  ActivitySpec write(Tier tier, double bytes, int threads, int copies) const;
  // GPU memory to host memory over every GPU's PCIe link of the node.
  ActivitySpec snapshot(double bytes_per_node) const;
  // FSx aggregate throughput at baseline (bytes/s); 0 without FSx.
  double fsx_baseline_bytes_per_s() const;
  double fsx_burst_bytes_per_s() const;
  // "FSx for Lustre throughput (120 GB/s)" for a resource id of this system.
  std::string describe(ResourceId resource) const;

 private:
  struct Named {
    ResourceId id = kNoResource;
    std::string text;
  };
  ResourceId add(const std::string& name, double capacity, const std::string& text);

  const StorageConfig& config_;
  const StorageDefaults& defaults_;
  Simulator& sim_;
  std::vector<Named> names_;
  ResourceId fsx_ = kNoResource, fsx_metadata_ = kNoResource;
  ResourceId s3_get_ = kNoResource, s3_put_ = kNoResource;
  ResourceId nvme_read_ = kNoResource, nvme_write_ = kNoResource;
  ResourceId frontend_in_ = kNoResource, frontend_out_ = kNoResource, pcie_ = kNoResource;
  double fsx_baseline_ = 0.0, fsx_burst_ = 0.0;
  double host_read_bw_ = 0.0;
};

// --- data loading -----------------------------------------------------------------------------

// `workload.data`.
struct DataConfig {
  Tier tier = Tier::kS3;
  bool raw = false;  // raw documents (bytes_per_token from text) or tokenized, packed shards
  double bytes_per_token = 0.0;
  double file_bytes = 0.0;
  int reader_threads = 0;
  int prefetch_depth = 0;
  std::optional<Tier> cache;    // kNvme or kHostMemory: the dataset is staged there first
  double dataset_tokens = 0.0;  // 0: the tokens of the run (one epoch)
};

// Who reads what each step (from the training layout).
struct DataDemand {
  double bytes_per_step = 0.0;          // all reading nodes together
  int reading_nodes = 1;                // nodes that host a reading rank
  double bytes_per_node = 0.0;          // the busiest reading node, per step
  double request_bytes = 0.0;           // bytes per read request
  double dataset_bytes_per_node = 0.0;  // for staging to a cache
};

struct DataLoadResult {
  Tier tier = Tier::kS3;       // the tier reads come from (the cache when staged)
  double read_s = 0.0;         // one node's read of one step's data, alone
  double stall_s = 0.0;        // steady-state stall per step
  double first_batch_s = 0.0;  // wait for the very first batch
  std::string limited_by;      // the resource (or "reader threads: request latency")
  double staging_s = 0.0;      // copying the dataset to the cache before training
  std::string staging_limited_by;
};

DataLoadResult simulate_data_loading(const StorageConfig& storage, const StorageDefaults& defaults,
                                     const InstanceSpec& instance, const GpuSpec& gpu,
                                     const DataConfig& data, const DataDemand& demand,
                                     double step_compute_s);

// --- checkpoints -------------------------------------------------------------------------------

// `workload.checkpoint`.
struct CheckpointConfig {
  bool enabled = true;
  Tier tier = Tier::kFsxLustre;
  std::optional<Tier> upload_to;  // a second, durable tier written from the first in background
  bool async = true;              // snapshot to host memory, then write in background
  std::optional<double> every_s;  // training time between checkpoints; empty: Young/Daly
  int keep = 0;
};

struct CheckpointResult {
  double bytes = 0.0;  // whole checkpoint
  double bytes_per_node = 0.0;
  double fixed_s = 0.0;     // coordination and staging before training resumes
  double snapshot_s = 0.0;  // GPU -> host (async)
  double write_s = 0.0;     // first tier write (all nodes at once)
  double upload_s = 0.0;    // background write to upload_to (async or tiered), 0 if none
  double stall_s = 0.0;     // what training loses per checkpoint (Young/Daly's delta)
  double restore_s = 0.0;   // reading it back after a failure
  std::string write_limited_by, restore_limited_by;
};

// Simulates one checkpoint save beside the data loader (its upload contends with data reads) and
// one restore. `data_*` describe the steady data loading (simulate_data_loading's inputs).
CheckpointResult simulate_checkpoint(const StorageConfig& storage, const StorageDefaults& defaults,
                                     const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
                                     const CheckpointConfig& checkpoint, double checkpoint_bytes,
                                     const DataConfig& data, const DataDemand& demand,
                                     double step_compute_s);

}  // namespace fmsim
