#include "storage/storage.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"

namespace fmsim {
namespace {

constexpr double kMB = 1e6;
constexpr double kGB = 1e9;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kTiB = 1024.0 * 1024.0 * 1024.0 * 1024.0;

std::string format_rate(double bytes_per_s) {
  char text[64];
  if (bytes_per_s >= kGB) {
    std::snprintf(text, sizeof text, "%.3g GB/s", bytes_per_s / kGB);
  } else {
    std::snprintf(text, sizeof text, "%.3g MB/s", bytes_per_s / kMB);
  }
  return text;
}

std::string format_number(double value, const char* unit) {
  char text[64];
  std::snprintf(text, sizeof text, "%.4g %s", value, unit);
  return text;
}

}  // namespace

// --- tiers -------------------------------------------------------------------------------------

const std::vector<std::string>& tier_names() {
  static const std::vector<std::string> names = {"nvme", "fsx_lustre", "s3", "host_memory"};
  return names;
}

std::string to_string(Tier tier) { return tier_names()[static_cast<int>(tier)]; }

std::optional<Tier> parse_tier(const std::string& name) {
  const auto& names = tier_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<Tier>(it - names.begin());
}

bool StorageConfig::has(Tier tier) const {
  switch (tier) {
    case Tier::kFsxLustre:
      return fsx.present;
    case Tier::kS3:
      return s3.present;
    case Tier::kNvme:
    case Tier::kHostMemory:
      return true;
  }
  return false;
}

// --- defaults ----------------------------------------------------------------------------------

const StorageDefaults& StorageDefaults::builtin() {
  static const StorageDefaults defaults = [] {
    const auto doc = nlohmann::json::parse(embedded_file("storage.json"));
    const auto value = [](const nlohmann::json& node, const char* key) -> const nlohmann::json& {
      return node.at(key).at("value");
    };
    StorageDefaults d;
    const auto& fsx = doc.at("fsx_lustre");
    for (const auto& [name, entry] : fsx.at("deployments").items()) {
      FsxDeployment deployment;
      deployment.throughput_per_tib_mbps =
          value(entry, "throughput_per_tib_mbps").get<std::vector<double>>();
      for (const auto& [tier, burst] : value(entry, "burst_per_tib_mbps").items()) {
        deployment.burst_per_tib_mbps.emplace_back(std::stod(tier), burst.get<double>());
      }
      deployment.min_capacity_tib = value(entry, "min_capacity_tib").get<double>();
      for (const auto& [tier, price] : value(entry, "price_usd_per_gb_month").items()) {
        deployment.price_usd_per_gb_month.emplace_back(std::stod(tier), price.get<double>());
      }
      d.fsx_deployments.emplace_back(name, deployment);
    }
    d.fsx_latency_s = value(fsx, "latency_ms").get<double>() * 1e-3;
    const auto& metadata = value(fsx, "metadata_iops_automatic");
    for (const auto& step : metadata.at("steps_tib_iops")) {
      d.fsx_metadata_steps.emplace_back(step.at(0).get<double>(), step.at(1).get<double>());
    }
    d.fsx_metadata_iops_per_tib_beyond = metadata.at("iops_per_tib_beyond").get<double>();
    d.fsx_metadata_max_iops = metadata.at("max_iops").get<double>();
    d.fsx_metadata_ops_per_file = value(fsx, "metadata_ops_per_file").get<double>();
    d.fsx_stream_bw_bytes_per_s = value(fsx, "stream_bw_gbps").get<double>() * kGB;
    const auto& s3 = doc.at("s3");
    d.s3_get_per_s_per_prefix = value(s3, "get_per_s_per_prefix").get<double>();
    d.s3_put_per_s_per_prefix = value(s3, "put_per_s_per_prefix").get<double>();
    d.s3_first_byte_latency_s = value(s3, "first_byte_latency_ms").get<double>() * 1e-3;
    d.s3_connection_bw_bytes_per_s = value(s3, "connection_bw_mbps").get<double>() * kMB;
    d.s3_upload_connection_bw_bytes_per_s =
        value(s3, "upload_connection_bw_mbps").get<double>() * kMB;
    d.s3_part_bytes = value(s3, "part_mib").get<double>() * kMiB;
    d.s3_usd_per_gb_month = value(s3, "price_usd_per_gb_month").get<double>();
    d.s3_put_usd_per_1000 = value(s3, "put_usd_per_1000").get<double>();
    d.s3_get_usd_per_1000 = value(s3, "get_usd_per_1000").get<double>();
    const auto& nvme = doc.at("nvme");
    d.nvme_read_bw_per_drive_bytes_per_s = value(nvme, "read_gbps_per_drive").get<double>() * kGB;
    d.nvme_write_bw_per_drive_bytes_per_s = value(nvme, "write_gbps_per_drive").get<double>() * kGB;
    d.nvme_latency_s = value(nvme, "latency_ms").get<double>() * 1e-3;
    const auto& frontend = doc.at("frontend");
    // Gbit/s to bytes/s.
    d.frontend_default_bw_bytes_per_s = value(frontend, "default_gbps").get<double>() * kGB / 8;
    for (const auto& [name, gbps] : value(frontend, "by_instance_gbps").items()) {
      d.frontend_bw_by_instance.emplace_back(name, gbps.get<double>() * kGB / 8);
    }
    const auto& host = doc.at("host_memory");
    d.host_snapshot_fraction = value(host, "snapshot_fraction").get<double>();
    d.host_cache_fraction = value(host, "cache_fraction").get<double>();
    d.pcie_copy_efficiency = value(host, "pcie_copy_efficiency").get<double>();
    const auto& data = doc.at("data");
    d.tokenized_bytes_per_token = value(data, "tokenized_bytes_per_token").get<double>();
    d.raw_bytes_per_token = value(data, "raw_bytes_per_token").get<double>();
    d.tokenized_file_bytes = value(data, "tokenized_file_mib").get<double>() * kMiB;
    d.raw_file_bytes = value(data, "raw_file_mib").get<double>() * kMiB;
    d.reader_threads = value(data, "reader_threads").get<int>();
    d.prefetch_depth = value(data, "prefetch_depth").get<int>();
    d.staging_threads = value(data, "staging_threads").get<int>();
    const auto& checkpoint = doc.at("checkpoint");
    d.checkpoint_keep = value(checkpoint, "keep").get<int>();
    d.upload_threads = value(checkpoint, "upload_threads").get<int>();
    d.checkpoint_save_fixed_s = value(checkpoint, "save_fixed_s").get<double>();
    return d;
  }();
  return defaults;
}

const FsxDeployment* StorageDefaults::deployment(const std::string& name) const {
  for (const auto& [key, deployment] : fsx_deployments) {
    if (key == name) return &deployment;
  }
  return nullptr;
}

std::vector<std::string> StorageDefaults::deployment_names() const {
  std::vector<std::string> names;
  for (const auto& [key, deployment] : fsx_deployments) names.push_back(key);
  return names;
}

double StorageDefaults::frontend_bw_bytes_per_s(const std::string& instance) const {
  for (const auto& [name, bw] : frontend_bw_by_instance) {
    if (name == instance) return bw;
  }
  return frontend_default_bw_bytes_per_s;
}

double StorageDefaults::fsx_automatic_metadata_iops(double capacity_tib) const {
  double iops = fsx_metadata_steps.front().second;
  for (const auto& [tib, step_iops] : fsx_metadata_steps) {
    if (capacity_tib >= tib) iops = step_iops;
  }
  const double last_tib = fsx_metadata_steps.back().first;
  if (capacity_tib > last_tib) {
    iops = fsx_metadata_steps.back().second +
           (capacity_tib - last_tib) * fsx_metadata_iops_per_tib_beyond;
  }
  return std::min(iops, fsx_metadata_max_iops);
}

double StorageDefaults::fsx_burst_per_tib_mbps(const std::string& name, double per_tib) const {
  const FsxDeployment* d = deployment(name);
  if (d == nullptr) return per_tib;
  for (const auto& [tier, burst] : d->burst_per_tib_mbps) {
    if (tier == per_tib) return std::max(burst, per_tib);
  }
  return per_tib;
}

double StorageDefaults::fsx_usd_per_gb_month(const std::string& name, double per_tib) const {
  const FsxDeployment* d = deployment(name);
  if (d == nullptr) return 0.0;
  for (const auto& [tier, price] : d->price_usd_per_gb_month) {
    if (tier == per_tib) return price;
  }
  return 0.0;
}

// --- the storage system on the engine ----------------------------------------------------------

StorageSystem::StorageSystem(const StorageConfig& config, const StorageDefaults& defaults,
                             const InstanceSpec& instance, const GpuSpec& gpu, Simulator& sim,
                             bool fsx_burst)
    : config_(config), defaults_(defaults), sim_(sim) {
  if (config.fsx.present) {
    fsx_baseline_ = config.fsx.capacity_tib * config.fsx.throughput_per_tib_mbps * kMB;
    fsx_burst_ =
        config.fsx.capacity_tib *
        defaults.fsx_burst_per_tib_mbps(config.fsx.deployment, config.fsx.throughput_per_tib_mbps) *
        kMB;
    const double capacity = fsx_burst && config.fsx.burst ? fsx_burst_ : fsx_baseline_;
    fsx_ = add("fsx_lustre.throughput", capacity,
               std::string("FSx for Lustre throughput (") + format_rate(capacity) +
                   (capacity > fsx_baseline_ ? ", burst)" : ", baseline)"));
    const double metadata = config.fsx.metadata_ops_per_s.value_or(
        defaults.fsx_automatic_metadata_iops(config.fsx.capacity_tib));
    fsx_metadata_ = add("fsx_lustre.metadata", metadata,
                        "FSx for Lustre metadata rate (" + format_number(metadata, "ops/s") + ")");
  }
  if (config.s3.present) {
    const double get = defaults.s3_get_per_s_per_prefix * config.s3.prefixes;
    const double put = defaults.s3_put_per_s_per_prefix * config.s3.prefixes;
    s3_get_ = add("s3.get_rate", get,
                  "S3 GET request rate (" + format_number(get, "requests/s") + " over " +
                      std::to_string(config.s3.prefixes) + " prefix(es))");
    s3_put_ = add("s3.put_rate", put,
                  "S3 PUT request rate (" + format_number(put, "requests/s") + " over " +
                      std::to_string(config.s3.prefixes) + " prefix(es))");
  }
  const double nvme_read = instance.nvme_drives * defaults.nvme_read_bw_per_drive_bytes_per_s;
  const double nvme_write = instance.nvme_drives * defaults.nvme_write_bw_per_drive_bytes_per_s;
  if (nvme_read > 0) {
    nvme_read_ =
        add("node.nvme_read", nvme_read, "node NVMe read (" + format_rate(nvme_read) + ")");
    nvme_write_ =
        add("node.nvme_write", nvme_write, "node NVMe write (" + format_rate(nvme_write) + ")");
  }
  const double frontend = defaults.frontend_bw_bytes_per_s(instance.name);
  frontend_in_ = add("node.frontend_in", frontend,
                     "node front-end network in (ENA, " + format_rate(frontend) + ")");
  frontend_out_ = add("node.frontend_out", frontend,
                      "node front-end network out (ENA, " + format_rate(frontend) + ")");
  const double pcie =
      instance.gpus_per_node * gpu.pcie_bw_bytes_per_s * defaults.pcie_copy_efficiency;
  pcie_ = add("node.pcie_d2h", pcie, "node GPU-to-host PCIe (" + format_rate(pcie) + ")");
}

ResourceId StorageSystem::add(const std::string& name, double capacity, const std::string& text) {
  const ResourceId id = sim_.add_resource(name, capacity);
  names_.push_back({id, text});
  return id;
}

double StorageSystem::fsx_baseline_bytes_per_s() const { return fsx_baseline_; }
double StorageSystem::fsx_burst_bytes_per_s() const { return fsx_burst_; }

std::string StorageSystem::describe(ResourceId resource) const {
  for (const auto& named : names_) {
    if (named.id == resource) return named.text;
  }
  return sim_.resource(resource).name;
}

// Each reader thread alternates a request latency and a transfer at its stream rate; T threads
// give T q / (L + q / b). An unbounded stream rate leaves T q / L.
static double threads_bound(int threads, double request_bytes, double latency_s,
                            double stream_bytes_per_s) {
  const double per_request_s =
      latency_s + (std::isfinite(stream_bytes_per_s) ? request_bytes / stream_bytes_per_s : 0.0);
  if (per_request_s <= 0.0) return kUnbounded;
  return threads * request_bytes / per_request_s;
}

ActivitySpec StorageSystem::read(Tier tier, const ReadPattern& p, int copies) const {
  if (p.bytes < 0 || p.request_bytes <= 0 || p.threads < 1 || copies < 1) {
    throw std::invalid_argument("StorageSystem::read: bad read pattern");
  }
  ActivitySpec spec;
  spec.work = p.bytes;
  const double n = copies;
  switch (tier) {
    case Tier::kNvme:
      if (nvme_read_ == kNoResource) throw std::invalid_argument("instance has no NVMe");
      spec.uses = {{nvme_read_, 1.0}};
      spec.bound = threads_bound(p.threads, p.request_bytes, defaults_.nvme_latency_s, kUnbounded);
      break;
    case Tier::kFsxLustre: {
      if (fsx_ == kNoResource) throw std::invalid_argument("cluster has no FSx");
      const double files_per_byte = p.file_bytes > 0 ? 1.0 / p.file_bytes : 0.0;
      spec.uses = {{frontend_in_, 1.0},
                   {fsx_, n},
                   {fsx_metadata_, n * defaults_.fsx_metadata_ops_per_file * files_per_byte}};
      spec.bound = threads_bound(p.threads, p.request_bytes, defaults_.fsx_latency_s,
                                 defaults_.fsx_stream_bw_bytes_per_s);
      break;
    }
    case Tier::kS3:
      if (s3_get_ == kNoResource) throw std::invalid_argument("cluster has no S3");
      spec.uses = {{frontend_in_, 1.0}, {s3_get_, n / p.request_bytes}};
      spec.bound = threads_bound(p.threads, p.request_bytes, defaults_.s3_first_byte_latency_s,
                                 defaults_.s3_connection_bw_bytes_per_s);
      break;
    case Tier::kHostMemory:
      // Page-cache reads: memory bandwidth is far above any loader's need; the bound is the
      // loader's own copy rate, taken as the PCIe rate of the node (the batch goes to the GPUs).
      spec.uses = {{pcie_, 1.0}};
      break;
  }
  return spec;
}

ActivitySpec StorageSystem::write(Tier tier, double bytes, int threads, int copies) const {
  if (bytes < 0 || threads < 1 || copies < 1) {
    throw std::invalid_argument("StorageSystem::write: bad arguments");
  }
  ActivitySpec spec;
  spec.work = bytes;
  const double n = copies;
  switch (tier) {
    case Tier::kNvme:
      if (nvme_write_ == kNoResource) throw std::invalid_argument("instance has no NVMe");
      spec.uses = {{nvme_write_, 1.0}};
      break;
    case Tier::kFsxLustre:
      if (fsx_ == kNoResource) throw std::invalid_argument("cluster has no FSx");
      spec.uses = {{frontend_out_, 1.0}, {fsx_, n}};
      spec.bound = threads * defaults_.fsx_stream_bw_bytes_per_s;
      break;
    case Tier::kS3:
      if (s3_put_ == kNoResource) throw std::invalid_argument("cluster has no S3");
      spec.uses = {{frontend_out_, 1.0}, {s3_put_, n / defaults_.s3_part_bytes}};
      spec.bound =
          threads_bound(threads, defaults_.s3_part_bytes, defaults_.s3_first_byte_latency_s,
                        defaults_.s3_upload_connection_bw_bytes_per_s);
      break;
    case Tier::kHostMemory:
      spec.uses = {{pcie_, 1.0}};
      break;
  }
  return spec;
}

ActivitySpec StorageSystem::snapshot(double bytes_per_node) const {
  ActivitySpec spec;
  spec.work = bytes_per_node;
  spec.uses = {{pcie_, 1.0}};
  return spec;
}

// --- data loading and checkpoints on the engine -----------------------------------------------

namespace {

constexpr std::uint64_t kReadTag = 1;
constexpr std::uint64_t kStepTag = 2;
constexpr std::uint64_t kPauseTag = 3;
constexpr std::uint64_t kBackgroundTag = 4;

// The loader and the training loop on a Simulator. The loader keeps up to `depth` batches read
// or being read ahead of training; a step starts when the previous one ended and a batch is
// ready. Optionally, before step `pause_step` training stops for a `pause` activity (a sync write
// or a snapshot) and then `background` activities run one after the other beside the steps.
class LoaderPipeline : public EventHandler {
 public:
  LoaderPipeline(Simulator& sim, ActivitySpec read, int depth, double step_s, int steps)
      : sim_(sim), read_(std::move(read)), depth_(depth), step_s_(step_s), steps_(steps) {
    read_.tag = kReadTag;
    sim.set_handler(this);
  }

  void set_pause(int step, ActivitySpec pause, std::vector<ActivitySpec> background) {
    pause_step_ = step;
    pause_ = std::move(pause);
    pause_.tag = kPauseTag;
    background_ = std::move(background);
    for (auto& b : background_) b.tag = kBackgroundTag;
  }

  void start() {
    maybe_read();
    maybe_step();
  }

  void on_activity_done(ActivityId /*id*/, std::uint64_t tag) override {
    if (tag == kReadTag) {
      reading_ = false;
      ++ready_;
      if (first_ready_s_ < 0) first_ready_s_ = sim_.now();
      maybe_read();
      maybe_step();
    } else if (tag == kPauseTag) {
      paused_ = false;
      pause_end_s_ = sim_.now();
      next_background();
      maybe_step();
    } else if (tag == kBackgroundTag) {
      next_background();
    }
  }

  void on_timer(std::uint64_t tag) override {
    if (tag != kStepTag) return;
    step_running_ = false;
    last_step_end_s_ = sim_.now();
    maybe_step();
  }

  // Runs to the end, noting the bottleneck of the pause and background activities as it goes.
  void run(const StorageSystem& storage) {
    while (sim_.step()) {
      for (ActivityId id : watched_) {
        if (sim_.finished(id) || sim_.rate(id) <= 0) continue;
        const ResourceId b = sim_.bottleneck(id);
        limited_by_[id] = b == kNoResource ? "writer threads" : storage.describe(b);
      }
    }
  }

  const std::vector<double>& stalls() const { return stalls_; }
  double first_ready_s() const { return first_ready_s_; }
  double pause_s() const { return pause_end_s_ - pause_start_s_; }
  int background_done_step() const { return background_done_step_; }
  // Duration of background activity k.
  double background_s(std::size_t k) const {
    return k + 1 < background_marks_.size() ? background_marks_[k + 1] - background_marks_[k] : 0;
  }
  std::string limited_by(std::size_t watched_index) const {
    if (watched_index >= watched_.size()) return "";
    const auto it = limited_by_.find(watched_[watched_index]);
    return it == limited_by_.end() ? "" : it->second;
  }

 private:
  // Steps go on until `steps_`, and while a checkpoint's background work is still running (up to
  // kMaxSteps), then `kTail` more so that the loader catches up.
  bool more(int count) const {
    if (count < steps_) return true;
    if (count >= kMaxSteps) return false;
    if (!pause_done_ || pause_step_ < 0) return false;
    if (background_end_s_ < 0) return true;
    return count < background_done_step_ + depth_ + kTail;
  }

  void maybe_read() {
    if (reading_ || !more(reads_started_) || ready_ + 1 > depth_) return;
    reading_ = true;
    ++reads_started_;
    sim_.start(read_);
  }

  void maybe_step() {
    if (step_running_ || paused_ || ready_ == 0 || !more(steps_started_)) return;
    if (steps_started_ == pause_step_ && !pause_done_) {
      pause_done_ = true;
      paused_ = true;
      pause_start_s_ = sim_.now();
      watched_.push_back(sim_.start(pause_));
      return;
    }
    --ready_;
    stalls_.push_back(sim_.now() - last_step_end_s_);
    last_step_end_s_ = sim_.now();
    ++steps_started_;
    step_running_ = true;
    sim_.schedule_timer(sim_.now() + step_s_, kStepTag);
    maybe_read();
  }

  void next_background() {
    if (next_background_ > 0 || pause_done_) background_marks_.push_back(sim_.now());
    if (next_background_ < background_.size()) {
      watched_.push_back(sim_.start(background_[next_background_++]));
      return;
    }
    if (background_end_s_ < 0) {
      background_end_s_ = sim_.now();
      background_done_step_ = steps_started_;
    }
  }

  static constexpr int kMaxSteps = 200000;
  static constexpr int kTail = 4;

  Simulator& sim_;
  ActivitySpec read_;
  int depth_;
  double step_s_;
  int steps_;
  int ready_ = 0, reads_started_ = 0, steps_started_ = 0;
  bool reading_ = false, step_running_ = false, paused_ = false, pause_done_ = false;
  double last_step_end_s_ = 0.0, first_ready_s_ = -1.0;
  std::vector<double> stalls_;
  int pause_step_ = -1;
  ActivitySpec pause_;
  std::vector<ActivitySpec> background_;
  std::size_t next_background_ = 0;
  double pause_start_s_ = 0.0, pause_end_s_ = 0.0, background_end_s_ = -1.0;
  int background_done_step_ = -1;
  std::vector<ActivityId> watched_;
  std::map<ActivityId, std::string> limited_by_;
  std::vector<double> background_marks_;  // start of each background activity, then the end
};

Tier reading_tier(const DataConfig& data) { return data.cache ? *data.cache : data.tier; }

ReadPattern step_read(const DataConfig& data, const DataDemand& demand, const StorageDefaults& d) {
  ReadPattern p;
  p.bytes = demand.bytes_per_node;
  p.request_bytes = demand.request_bytes;
  p.file_bytes = data.file_bytes;
  p.threads = data.reader_threads;
  (void)d;
  return p;
}

// Steps enough for the loader's buffer to fill or drain and the pattern to repeat.
int steady_steps(int depth) { return 2 * depth + 6; }

struct SteadyState {
  double stall_s = 0.0;
  double first_batch_s = 0.0;
  double read_s = 0.0;
  std::string limited_by;
};

SteadyState run_steady(const StorageConfig& storage, const StorageDefaults& defaults,
                       const InstanceSpec& instance, const GpuSpec& gpu, const DataConfig& data,
                       const DataDemand& demand, double step_s, bool fsx_burst) {
  SteadyState out;
  const Tier tier = reading_tier(data);
  const ReadPattern pattern = step_read(data, demand, defaults);
  {
    // One read alone: its time and what limits it.
    Simulator sim;
    StorageSystem system(storage, defaults, instance, gpu, sim, fsx_burst);
    const ActivityId id = sim.start(system.read(tier, pattern, demand.reading_nodes));
    sim.step();  // the solve at time 0 sets its rate
    const ResourceId b = sim.bottleneck(id);
    out.limited_by = b == kNoResource
                         ? to_string(tier) + " request latency with " +
                               std::to_string(data.reader_threads) + " reader threads per node"
                         : system.describe(b);
    sim.run();
    out.read_s = sim.now();
  }
  Simulator sim;
  StorageSystem system(storage, defaults, instance, gpu, sim, fsx_burst);
  const int steps = steady_steps(data.prefetch_depth);
  LoaderPipeline pipeline(sim, system.read(tier, pattern, demand.reading_nodes),
                          data.prefetch_depth, step_s, steps);
  pipeline.start();
  pipeline.run(system);
  const auto& stalls = pipeline.stalls();
  out.first_batch_s = stalls.front();
  out.stall_s = stalls.back();
  return out;
}

// A dataset on a node's own tier (NVMe or host memory, as the data tier or as a cache) must fit
// there, each node holding its share.
void check_local_dataset_fits(const DataConfig& data, const DataDemand& demand,
                              const InstanceSpec& instance, const StorageDefaults& defaults) {
  const Tier local = data.cache ? *data.cache : data.tier;
  if (local != Tier::kNvme && local != Tier::kHostMemory) return;
  const bool nvme = local == Tier::kNvme;
  const double room =
      nvme ? instance.nvme_bytes : instance.host_memory_bytes * defaults.host_cache_fraction;
  if (demand.dataset_bytes_per_node <= room) return;
  char text[256];
  std::snprintf(text, sizeof text,
                "the dataset needs %.4g TB per node but %s holds %.4g TB; expected a smaller "
                "dataset (/workload/data/dataset_tokens), more nodes or a shared tier",
                demand.dataset_bytes_per_node / 1e12,
                nvme ? "the node's NVMe" : "the host-memory cache", room / 1e12);
  throw Error(ExitCode::kInfeasible, data.cache ? "/workload/data/cache" : "/workload/data/tier",
              text);
}

}  // namespace

DataLoadResult simulate_data_loading(const StorageConfig& storage, const StorageDefaults& defaults,
                                     const InstanceSpec& instance, const GpuSpec& gpu,
                                     const DataConfig& data, const DataDemand& demand,
                                     double step_compute_s) {
  if (!(step_compute_s > 0) || demand.reading_nodes < 1 || data.prefetch_depth < 1) {
    throw std::invalid_argument("simulate_data_loading: bad arguments");
  }
  check_local_dataset_fits(data, demand, instance, defaults);
  DataLoadResult result;
  result.tier = reading_tier(data);
  SteadyState steady =
      run_steady(storage, defaults, instance, gpu, data, demand, step_compute_s, false);
  // Burst credits: when the long-run demand on FSx stays under its baseline, reads run at the
  // burst rate (the credits refill between steps).
  if (result.tier == Tier::kFsxLustre && storage.fsx.burst) {
    // What training asks for, not what it got: at the baseline a stall would stretch the period
    // until the demand met the baseline exactly.
    const double demand_rate = demand.bytes_per_node * demand.reading_nodes / step_compute_s;
    const double baseline = storage.fsx.capacity_tib * storage.fsx.throughput_per_tib_mbps * kMB;
    if (demand_rate <= baseline) {
      steady = run_steady(storage, defaults, instance, gpu, data, demand, step_compute_s, true);
    }
  }
  result.read_s = steady.read_s;
  result.stall_s = steady.stall_s;
  result.first_batch_s = steady.first_batch_s;
  result.limited_by = steady.limited_by;

  if (data.cache && demand.dataset_bytes_per_node > 0) {
    // Staging: every reading node copies its share of the dataset from the source tier into the
    // cache, many requests in flight.
    Simulator sim;
    StorageSystem system(storage, defaults, instance, gpu, sim, false);
    ReadPattern copy;
    copy.bytes = demand.dataset_bytes_per_node;
    copy.file_bytes = data.file_bytes;
    copy.request_bytes = data.tier == Tier::kS3 ? std::min(data.file_bytes, defaults.s3_part_bytes)
                                                : data.file_bytes;
    copy.threads = defaults.staging_threads;
    ActivitySpec spec = system.read(data.tier, copy, demand.reading_nodes);
    if (*data.cache == Tier::kNvme) {
      const ActivitySpec write = system.write(Tier::kNvme, copy.bytes, 1, 1);
      spec.uses.insert(spec.uses.end(), write.uses.begin(), write.uses.end());
    }
    const ActivityId id = sim.start(spec);
    sim.step();
    const ResourceId b = sim.bottleneck(id);
    result.staging_limited_by = b == kNoResource ? to_string(data.tier) + " request latency with " +
                                                       std::to_string(copy.threads) +
                                                       " requests in flight per node"
                                                 : system.describe(b);
    sim.run();
    result.staging_s = sim.now();
  }
  return result;
}

CheckpointResult simulate_checkpoint(const StorageConfig& storage, const StorageDefaults& defaults,
                                     const InstanceSpec& instance, const GpuSpec& gpu, int nodes,
                                     const CheckpointConfig& checkpoint, double checkpoint_bytes,
                                     const DataConfig& data, const DataDemand& demand,
                                     double step_compute_s) {
  if (nodes < 1 || checkpoint_bytes < 0 || !(step_compute_s > 0)) {
    throw std::invalid_argument("simulate_checkpoint: bad arguments");
  }
  if (!durable(checkpoint.tier) && !(checkpoint.upload_to && durable(*checkpoint.upload_to))) {
    throw std::invalid_argument("simulate_checkpoint: a checkpoint needs a durable tier");
  }
  CheckpointResult result;
  result.bytes = checkpoint_bytes;
  result.bytes_per_node = checkpoint_bytes / nodes;
  if (checkpoint.async) {
    const double room = instance.host_memory_bytes * defaults.host_snapshot_fraction;
    if (result.bytes_per_node > room) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "an asynchronous snapshot needs %.4g GB of host memory per node, more than "
                    "the %.4g GB allowed; expected \"sync\" or more nodes",
                    result.bytes_per_node / kGB, room / kGB);
      throw Error(ExitCode::kInfeasible, "/workload/checkpoint/mode", text);
    }
  }

  const int threads = defaults.upload_threads;
  const SteadyState steady =
      run_steady(storage, defaults, instance, gpu, data, demand, step_compute_s, false);

  // Save: training stops for the first tier's write (sync) or the snapshot (async); the rest
  // runs beside the following steps.
  Simulator sim;
  StorageSystem system(storage, defaults, instance, gpu, sim, false);
  const Tier read_tier = reading_tier(data);
  const int warmup = steady_steps(data.prefetch_depth);
  const int steps = warmup + 1;
  LoaderPipeline pipeline(
      sim, system.read(read_tier, step_read(data, demand, defaults), demand.reading_nodes),
      data.prefetch_depth, step_compute_s, steps);
  const ActivitySpec first_write =
      system.write(checkpoint.tier, result.bytes_per_node, threads, nodes);
  std::vector<ActivitySpec> background;
  auto upload = [&] {
    ActivitySpec spec = system.write(*checkpoint.upload_to, result.bytes_per_node, threads, nodes);
    // The copy reads the first tier back (the node copies it, as s5cmd or a data-repository
    // export would).
    ReadPattern p{result.bytes_per_node, defaults.s3_part_bytes, result.bytes_per_node, threads};
    const ActivitySpec source = system.read(checkpoint.tier, p, nodes);
    spec.uses.insert(spec.uses.end(), source.uses.begin(), source.uses.end());
    spec.bound = std::min(spec.bound, source.bound);
    return spec;
  };
  ActivitySpec pause;
  if (checkpoint.async) {
    pause = system.snapshot(result.bytes_per_node);
    background.push_back(first_write);
  } else {
    pause = first_write;
  }
  pause.latency_s += defaults.checkpoint_save_fixed_s;
  if (checkpoint.upload_to) background.push_back(upload());
  pipeline.set_pause(warmup, pause, background);
  pipeline.start();
  pipeline.run(system);

  // What the checkpoint cost the steps: the pause, and the stalls beyond the steady ones from the
  // pause until the background work ended and the loader caught up again.
  const auto& stalls = pipeline.stalls();
  double extra_s = 0.0;
  for (std::size_t k = warmup; k < stalls.size(); ++k) {
    extra_s += std::max(0.0, stalls[k] - steady.stall_s);
  }
  const double paused_s = pipeline.pause_s();
  // The stall of step `warmup` includes the pause itself.
  extra_s = std::max(0.0, extra_s - paused_s);
  result.fixed_s = defaults.checkpoint_save_fixed_s;
  if (checkpoint.async) {
    result.snapshot_s = paused_s - result.fixed_s;
  } else {
    result.write_s = paused_s - result.fixed_s;
  }
  if (checkpoint.async) {
    result.write_s = pipeline.background_s(0);
    if (checkpoint.upload_to) result.upload_s = pipeline.background_s(1);
  } else if (checkpoint.upload_to) {
    result.upload_s = pipeline.background_s(0);
  }
  result.write_limited_by = pipeline.limited_by(checkpoint.async ? 1 : 0);
  if (result.write_limited_by.empty()) result.write_limited_by = pipeline.limited_by(0);
  result.stall_s = paused_s + extra_s;

  // Restore: every node reads its shard back. From a durable tier: all nodes at once. From the
  // local NVMe copy (tiered): the surviving nodes read locally while the replacement node reads
  // from the durable tier.
  const Tier durable_tier = durable(checkpoint.tier) ? checkpoint.tier : *checkpoint.upload_to;
  ReadPattern shard{result.bytes_per_node,
                    durable_tier == Tier::kS3 ? defaults.s3_part_bytes : 64 * kMiB,
                    result.bytes_per_node, threads};
  auto timed_read = [&](Tier tier, int copies, std::string& limited) {
    Simulator rsim;
    StorageSystem rsystem(storage, defaults, instance, gpu, rsim, false);
    const ActivityId id = rsim.start(rsystem.read(tier, shard, copies));
    rsim.step();
    const ResourceId b = rsim.bottleneck(id);
    limited = b == kNoResource ? "reader threads" : rsystem.describe(b);
    rsim.run();
    return rsim.now();
  };
  if (checkpoint.tier == Tier::kNvme) {
    std::string local_limit, remote_limit;
    const double local_s = timed_read(Tier::kNvme, nodes, local_limit);
    const double remote_s = timed_read(durable_tier, 1, remote_limit);
    result.restore_s = std::max(local_s, remote_s);
    result.restore_limited_by =
        remote_s >= local_s ? remote_limit + " (replacement node)" : local_limit;
  } else {
    result.restore_s = timed_read(durable_tier, nodes, result.restore_limited_by);
  }
  return result;
}

}  // namespace fmsim
