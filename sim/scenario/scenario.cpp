#include "scenario/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "data/embedded.h"
#include "error.h"
#include "reliability/reliability.h"
#include "scenario/json_reader.h"
#include "suggest.h"

namespace fmsim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr long long kMaxNodes = 1 << 20;
constexpr double kMaxSweepSizes = 10000;  // a sweep longer than this is a typo, not a plan

std::string format_count(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = {"pretrain", "sft", "rl", "inference",
                                                 "collective"};
  return names;
}

// Metrics a stage's `expect` may bound, each "<metric>_min" or "<metric>_max".
const std::vector<std::string>& expectations_of(const std::string& stage) {
  static const std::vector<std::string> collective = {"busbw_gbps_min", "algbw_gbps_min",
                                                      "latency_us_max"};
  static const std::vector<std::string> training = {"mfu_min",
                                                    "hfu_min",
                                                    "tflops_per_gpu_min",
                                                    "tokens_per_s_min",
                                                    "step_time_s_max",
                                                    "days_max",
                                                    "cost_usd_max",
                                                    "memory_gib_max",
                                                    "goodput_min",
                                                    "data_stall_s_max",
                                                    "usd_per_million_tokens_max"};
  static const std::vector<std::string> inference = {
      "ttft_p99_s_max",          "tpot_p99_s_max",     "e2e_p99_s_max",
      "output_tokens_per_s_min", "requests_per_s_min", "usd_per_million_tokens_max"};
  static const std::vector<std::string> rl = {"iteration_s_max", "samples_per_s_min",
                                              "trainer_idle_fraction_max", "days_max",
                                              "cost_usd_max"};
  if (stage == "inference") return inference;
  if (stage == "rl") return rl;
  return stage == "collective" ? collective : training;
}

Precision parse_precision_at(JsonReader& reader, const std::string& key) {
  const std::string name = reader.choice(key, "bf16", {"bf16", "fp16", "fp8"});
  return name == "fp8" ? Precision::kFp8 : name == "fp16" ? Precision::kFp16 : Precision::kBf16;
}

std::string join(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::string format_value(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

StorageConfig parse_storage(JsonReader reader) {
  const StorageDefaults& defaults = StorageDefaults::builtin();
  StorageConfig storage;
  if (reader.has("fsx_lustre")) {
    JsonReader fsx = reader.object("fsx_lustre");
    storage.fsx.present = true;
    storage.fsx.deployment = fsx.choice("deployment", "PERSISTENT_2", defaults.deployment_names());
    const FsxDeployment& deployment = *defaults.deployment(storage.fsx.deployment);
    if (!fsx.has("capacity_tib")) {
      throw bad_input(fsx.pointer("capacity_tib"), "missing; expected the file system's TiB");
    }
    storage.fsx.capacity_tib = fsx.number("capacity_tib", 0.0, 0.0, 1e6);
    if (storage.fsx.capacity_tib < deployment.min_capacity_tib) {
      throw bad_input(fsx.pointer("capacity_tib"),
                      "expected at least " + format_value(deployment.min_capacity_tib) +
                          " TiB for " + storage.fsx.deployment + ", got " +
                          format_value(storage.fsx.capacity_tib));
    }
    const auto& allowed = deployment.throughput_per_tib_mbps;
    storage.fsx.throughput_per_tib_mbps =
        fsx.number("throughput_per_tib_mbps", allowed.front(), 0.0, 1e6);
    if (std::find(allowed.begin(), allowed.end(), storage.fsx.throughput_per_tib_mbps) ==
        allowed.end()) {
      std::vector<std::string> values;
      for (double v : allowed) values.push_back(format_value(v));
      throw bad_input(fsx.pointer("throughput_per_tib_mbps"),
                      "expected one of " + join(values) + " MB/s per TiB for " +
                          storage.fsx.deployment + ", got " +
                          format_value(storage.fsx.throughput_per_tib_mbps));
    }
    if (fsx.has("metadata_iops")) {
      storage.fsx.metadata_ops_per_s = fsx.number("metadata_iops", 0.0, 1.0, 1e9);
    }
    storage.fsx.burst = fsx.boolean("burst", true);
    fsx.finish();
  }
  // S3 needs no provisioning: it is always there; "s3": {"prefixes": N} spreads the request rate.
  storage.s3.present = true;
  JsonReader s3 = reader.object("s3");
  storage.s3.prefixes = static_cast<int>(s3.integer("prefixes", 1, 1, 1 << 20));
  s3.finish();
  reader.finish();
  return storage;
}

ReliabilityConfig parse_reliability(JsonReader reader) {
  const ReliabilityDefaults& defaults = ReliabilityDefaults::builtin();
  ReliabilityConfig r;
  r.enabled = reader.boolean("enabled", true);
  std::vector<std::string> classes;
  for (const auto& c : defaults.classes) classes.push_back(c.name);
  JsonReader rates = reader.object("rates_per_day");
  for (const auto& name : classes) {
    if (rates.has(name)) r.rates_per_day[name] = rates.number(name, 0.0, 0.0, 1e3);
  }
  rates.finish();
  r.rate_scale = reader.number("rate_scale", 1.0, 0.0, 1e6);
  r.spare_nodes = static_cast<int>(reader.integer("spare_nodes", 0, 0, kMaxNodes));
  const auto minutes = [&](const char* key, std::optional<double>& out, double unit_s) {
    if (reader.has(key)) out = reader.number(key, 0.0, 0.0, 1e7) * unit_s;
  };
  minutes("detect_minutes", r.detect_s, 60.0);
  minutes("restart_minutes", r.restart_s, 60.0);
  minutes("replace_minutes", r.replace_s, 60.0);
  minutes("provision_minutes", r.provision_s, 60.0);
  minutes("repair_hours", r.repair_s, 3600.0);
  if (reader.has("planned_per_day"))
    r.planned_per_day = reader.number("planned_per_day", 0, 0, 1e4);
  r.monte_carlo = reader.choice("mode", "analytic", {"analytic", "monte-carlo"}) == "monte-carlo";
  r.trials = static_cast<int>(reader.integer("trials", 1000, 1, 1000000));
  reader.finish();
  return r;
}

Tier parse_tier_at(JsonReader& reader, const std::string& key, Tier fallback,
                   const StorageConfig& storage, const std::vector<std::string>& allowed) {
  const Tier tier = *parse_tier(reader.choice(key, to_string(fallback), allowed));
  if (!storage.has(tier)) {
    throw bad_input(reader.pointer(key), "the cluster has no " + to_string(tier) +
                                             "; expected a tier of /cluster/storage (add \"" +
                                             to_string(tier) + "\" there) or one of: nvme, s3");
  }
  return tier;
}

DataConfig parse_data(JsonReader reader, const StorageConfig& storage) {
  const StorageDefaults& defaults = StorageDefaults::builtin();
  DataConfig d;
  const Tier fallback = storage.fsx.present ? Tier::kFsxLustre : Tier::kS3;
  d.tier = parse_tier_at(reader, "tier", fallback, storage, tier_names());
  d.raw = reader.choice("format", "tokenized", {"tokenized", "raw"}) == "raw";
  d.bytes_per_token = reader.number(
      "bytes_per_token", d.raw ? defaults.raw_bytes_per_token : defaults.tokenized_bytes_per_token,
      1e-3, 1e9);
  d.file_bytes = reader.number(
      "file_bytes", d.raw ? defaults.raw_file_bytes : defaults.tokenized_file_bytes, 1.0, 1e15);
  d.reader_threads =
      static_cast<int>(reader.integer("reader_threads", defaults.reader_threads, 1, 1 << 16));
  d.prefetch_depth =
      static_cast<int>(reader.integer("prefetch_depth", defaults.prefetch_depth, 1, 1024));
  const std::string cache = reader.choice("cache", "none", {"none", "nvme", "host_memory"});
  if (cache != "none") {
    d.cache = *parse_tier(cache);
    if (*d.cache == d.tier) {
      throw bad_input(reader.pointer("cache"), "the data is already read from " + cache +
                                                   "; expected \"none\" or a faster "
                                                   "tier than /workload/data/tier");
    }
  }
  d.dataset_tokens = reader.number("dataset_tokens", 0.0, 0.0, 1e18);
  reader.finish();
  return d;
}

CheckpointConfig parse_checkpoint(JsonReader reader, const StorageConfig& storage) {
  const StorageDefaults& defaults = StorageDefaults::builtin();
  CheckpointConfig c;
  c.enabled = reader.boolean("enabled", true);
  const Tier fallback = storage.fsx.present ? Tier::kFsxLustre : Tier::kS3;
  c.tier = parse_tier_at(reader, "tier", fallback, storage, {"nvme", "fsx_lustre", "s3"});
  if (reader.has("upload_to")) {
    c.upload_to = parse_tier_at(reader, "upload_to", Tier::kS3, storage, {"fsx_lustre", "s3"});
    if (*c.upload_to == c.tier) {
      throw bad_input(reader.pointer("upload_to"),
                      "expected a different tier than /workload/checkpoint/tier");
    }
  } else if (c.tier == Tier::kNvme) {
    throw bad_input(reader.pointer("upload_to"),
                    "missing: a checkpoint only on NVMe is lost with the node that holds it; "
                    "expected \"upload_to\": \"fsx_lustre\" or \"s3\"");
  }
  c.async = reader.choice("mode", "async", {"sync", "async"}) == "async";
  if (const nlohmann::json* every = reader.raw("every_minutes")) {
    if (every->is_string() && every->get<std::string>() == "auto") {
      c.every_s.reset();
    } else if (every->is_number() && every->get<double>() > 0 && every->get<double>() <= 1e7) {
      c.every_s = every->get<double>() * 60.0;
    } else {
      throw bad_input(reader.pointer("every_minutes"),
                      "expected minutes > 0 or \"auto\" (the Young/Daly interval), got " +
                          describe_value(*every));
    }
  }
  c.keep = static_cast<int>(reader.integer("keep", defaults.checkpoint_keep, 1, 1 << 20));
  reader.finish();
  return c;
}

TrainingWorkload parse_training(JsonReader& reader, const std::string& stage,
                                const StorageConfig& storage) {
  TrainingWorkload w;
  w.tokens = reader.number("tokens", 0.0, 0.0, 1e18);
  w.steps = reader.integer("steps", 0, 0, 1LL << 40);
  if (w.tokens > 0 && w.steps > 0) {
    throw bad_input(reader.pointer("steps"), "give tokens or steps, not both");
  }
  w.batch.seq_len = static_cast<int>(reader.integer("seq_len", 4096, 1, 1 << 24));
  if (!reader.has("global_batch")) {
    throw bad_input(reader.pointer("global_batch"), "missing; expected the sequences per step");
  }
  w.batch.global_batch = static_cast<int>(reader.integer("global_batch", 1, 1, 1 << 30));
  w.batch.micro_batch = static_cast<int>(reader.integer("micro_batch", 1, 1, 1 << 20));
  w.precision = parse_precision_at(reader, "precision");
  if (const nlohmann::json* p = reader.raw("parallelism")) {
    w.parallel = parse_parallel(*p, reader.pointer("parallelism"));
  }
  const std::string simulation = reader.choice("simulation", "symmetric", {"symmetric", "full"});
  w.full_mode = simulation == "full";
  if (stage == "sft") {
    const std::string method = reader.choice("method", "full", {"full", "lora"});
    if (method == "full" && reader.has("lora")) {
      throw bad_input(reader.pointer("lora"), "only used with \"method\": \"lora\"");
    }
    JsonReader lora = reader.object("lora");
    w.mode.lora = method == "lora";
    w.mode.lora_rank = static_cast<int>(lora.integer("rank", 16, 1, 1 << 16));
    lora.finish();
  }
  w.data = parse_data(reader.object("data"), storage);
  w.checkpoint = parse_checkpoint(reader.object("checkpoint"), storage);
  return w;
}

TokenLength parse_length(JsonReader& reader, const std::string& key, double fallback) {
  const nlohmann::json* value = reader.raw(key);
  if (value == nullptr) return {fallback, 0.0};
  if (value->is_number()) {
    const double tokens = value->get<double>();
    if (tokens < 1 || tokens > 1e8) {
      throw bad_input(reader.pointer(key),
                      "expected a length of 1 to 1e8 tokens, got " + describe_value(*value));
    }
    return {tokens, 0.0};
  }
  if (!value->is_object()) {
    throw bad_input(reader.pointer(key), "expected tokens or {\"mean\": m, \"stdev\": s}, got " +
                                             describe_value(*value));
  }
  JsonReader length(*value, reader.pointer(key));
  TokenLength out;
  out.mean = length.required_number("mean", 1, 1e8);
  out.stdev = length.number("stdev", 0.0, 0.0, 1e8);
  length.finish();
  return out;
}

InferenceWorkload parse_inference(JsonReader& reader, const ModelSpec& model, const GpuSpec& gpu,
                                  const std::string& base_dir) {
  InferenceWorkload w;
  w.precision = parse_precision_at(reader, "precision");
  if (w.precision == Precision::kFp8 && gpu.fp8_flops <= 0) {
    throw bad_input(reader.pointer("precision"),
                    gpu.name + " has no FP8 tensor cores; expected \"bf16\" or \"fp16\"");
  }
  w.replicas = static_cast<int>(reader.integer("replicas", 0, 0, 1 << 24));
  JsonReader parallel = reader.object("parallelism");
  w.tp = static_cast<int>(parallel.integer("tp", 1, 1, 1024));
  w.pp = static_cast<int>(parallel.integer("pp", 1, 1, 1024));
  w.ep = static_cast<int>(parallel.integer("ep", 1, 1, 1024));
  if (w.pp > model.layers) {
    throw bad_input(parallel.pointer("pp"),
                    "expected at most the model's " + std::to_string(model.layers) + " layers");
  }
  if (w.ep > 1 && !model.moe) {
    throw bad_input(
        parallel.pointer("ep"),
        "expert parallelism needs a mixture-of-experts model; expected 1 for " + model.name);
  }
  if (const std::string problem = sharding_problem(model, w.tp, w.ep); !problem.empty()) {
    throw bad_input(
        parallel.pointer(w.ep > 1 && sharding_problem(model, w.tp).empty() ? "ep" : "tp"), problem);
  }
  parallel.finish();

  JsonReader requests = reader.object("requests");
  requests.choice("arrival", "poisson", {"poisson"});
  if (const nlohmann::json* rate = requests.raw("rate_per_s")) {
    if (rate->is_string() && rate->get<std::string>() == "inf") {
      w.all_at_once = true;
    } else if (rate->is_number() && rate->get<double>() > 0 && rate->get<double>() <= 1e9) {
      w.rate_per_s = rate->get<double>();
    } else {
      throw bad_input(requests.pointer("rate_per_s"),
                      "expected requests per second > 0, or \"inf\" to queue every request at "
                      "time 0, got " +
                          describe_value(*rate));
    }
  }
  w.count = static_cast<int>(requests.integer("count", 1000, 1, 10000000));
  w.input_tokens = parse_length(requests, "input_tokens", 512);
  w.output_tokens = parse_length(requests, "output_tokens", 256);
  w.samples_per_prompt = static_cast<int>(requests.integer("samples_per_prompt", 1, 1, 1024));
  if (const nlohmann::json* trace = requests.raw("trace"); trace != nullptr && !trace->is_null()) {
    if (!trace->is_string()) {
      throw bad_input(
          requests.pointer("trace"),
          "expected the path of a CSV or JSON Lines file, or null, got " + describe_value(*trace));
    }
    w.trace_file = trace->get<std::string>();
    const std::string path = base_dir.empty() || (!w.trace_file.empty() && w.trace_file[0] == '/')
                                 ? w.trace_file
                                 : base_dir + "/" + w.trace_file;
    w.trace = read_trace_file(path);
  }
  requests.finish();

  JsonReader batching = reader.object("batching");
  w.max_batch = static_cast<int>(batching.integer("max_batch", 256, 1, 1 << 20));
  w.max_tokens_per_step =
      static_cast<int>(batching.integer("max_tokens_per_step", 8192, 1, 1 << 24));
  w.chunked_prefill = batching.boolean("chunked_prefill", true);
  w.reserve_full_request =
      batching.choice("scheduler", "preempt", {"preempt", "reserve"}) == "reserve";
  batching.finish();

  JsonReader disaggregation = reader.object("disaggregation");
  w.prefill_replicas = static_cast<int>(disaggregation.integer("prefill_replicas", 0, 0, 1 << 24));
  disaggregation.finish();

  JsonReader kv = reader.object("kv_cache");
  w.block_tokens = static_cast<int>(kv.integer("block_tokens", 16, 1, 1 << 16));
  w.memory_fraction = kv.number("memory_fraction", 0.9, 0.01, 1.0);
  const std::string kv_precision = kv.choice("precision", "bf16", {"bf16", "fp8"});
  w.kv_precision = kv_precision == "fp8" ? Precision::kFp8 : Precision::kBf16;
  kv.finish();
  return w;
}

RlWorkload parse_rl(JsonReader& reader, const ModelSpec& model, const GpuSpec& gpu,
                    int cluster_gpus, int gpus_per_node) {
  RlWorkload w;
  w.ppo = reader.choice("algorithm", "grpo", {"grpo", "ppo"}) == "ppo";
  w.group_size = static_cast<int>(reader.integer("group_size", 8, 1, 4096));
  w.prompts_per_iteration =
      static_cast<int>(reader.integer("prompts_per_iteration", 512, 1, 1 << 20));
  w.colocated =
      reader.choice("placement", "colocated", {"colocated", "disaggregated"}) == "colocated";
  w.async = reader.boolean("async", false);
  if (w.async && w.colocated) {
    throw bad_input(reader.pointer("async"),
                    "only with \"placement\": \"disaggregated\" (colocated phases share the GPUs)");
  }
  w.rollout_gpus = static_cast<int>(reader.integer("rollout_gpus", 0, 0, cluster_gpus));
  if (!w.colocated && w.rollout_gpus == 0) {
    throw bad_input(reader.pointer("rollout_gpus"),
                    "missing: a disaggregated placement needs the GPUs that generate (whole "
                    "nodes of " +
                        std::to_string(gpus_per_node) + ")");
  }
  w.iterations = reader.number("iterations", 0.0, 0.0, 1e9);

  JsonReader policy = reader.object("policy");
  w.train_precision = parse_precision_at(policy, "precision");
  w.micro_batch = static_cast<int>(policy.integer("micro_batch", 1, 1, 1 << 20));
  if (const nlohmann::json* p = policy.raw("parallelism")) {
    w.train_parallel = parse_parallel(*p, policy.pointer("parallelism"));
  }
  policy.finish();

  if (!reader.has("rollout")) {
    throw bad_input(reader.pointer("rollout"),
                    "missing; expected the generation engine: parallelism, precision, requests "
                    "{input_tokens, output_tokens}, batching, kv_cache");
  }
  const nlohmann::json* rollout = reader.raw("rollout");
  JsonReader rollout_reader(*rollout, reader.pointer("rollout"));
  // The loop sets how many prompts and samples the engine gets, and all at once.
  if (rollout->contains("replicas")) {
    throw bad_input(rollout_reader.pointer("replicas"),
                    "set by the RL loop (the rollout GPUs / tp); remove it");
  }
  if (rollout->contains("requests") && (*rollout)["requests"].is_object()) {
    for (const char* key : {"arrival", "rate_per_s", "count", "samples_per_prompt", "trace"}) {
      if ((*rollout)["requests"].contains(key)) {
        throw bad_input(pointer_join(rollout_reader.pointer("requests"), key),
                        "set by the RL loop (prompts_per_iteration, group_size, all at once); "
                        "expected only input_tokens and output_tokens");
      }
    }
  }
  w.rollout = parse_inference(rollout_reader, model, gpu, "");
  rollout_reader.finish();
  if (w.rollout.tp > (w.colocated ? cluster_gpus : w.rollout_gpus)) {
    throw bad_input(rollout_reader.pointer("parallelism") + "/tp",
                    "expected at most the rollout GPUs");
  }
  return w;
}

ClusterConfig parse_cluster(JsonReader reader, const Catalog& catalog) {
  ClusterConfig cluster;
  cluster.instance = reader.required_string("instance");
  catalog.instance(cluster.instance, reader.pointer("instance"));
  cluster.nodes = static_cast<int>(reader.integer("nodes", 1, 1, kMaxNodes));

  JsonReader network = reader.object("network");
  cluster.network.topology = network.choice("topology", "rail-fat-tree", {"rail-fat-tree"});
  cluster.network.oversubscription = network.number("oversubscription", 1.0, 1.0, 1e6);
  cluster.network.nodes_per_leaf =
      static_cast<int>(network.integer("nodes_per_leaf", 0, 0, kMaxNodes));
  cluster.network.spines = static_cast<int>(network.integer("spines", 0, 0, 1 << 16));
  network.finish();
  cluster.storage = parse_storage(reader.object("storage"));
  cluster.reliability = parse_reliability(reader.object("reliability"));

  JsonReader pricing = reader.object("pricing");
  cluster.pricing_model =
      pricing.choice("model", "on-demand", {"on-demand", "reserved", "capacity-block"});
  if (pricing.has("usd_per_hour")) {
    cluster.price_usd_per_hour = pricing.number("usd_per_hour", 0.0, 0.0, 1e7);
  }
  if (pricing.has("usd_per_gpu_hour") && pricing.has("usd_per_hour")) {
    throw bad_input(pricing.pointer("usd_per_gpu_hour"),
                    "give usd_per_hour (per node) or usd_per_gpu_hour, not both");
  }
  if (pricing.has("usd_per_gpu_hour")) {
    cluster.price_usd_per_gpu_hour = pricing.number("usd_per_gpu_hour", 0.0, 0.0, 1e6);
  }
  if (cluster.pricing_model != "on-demand" && !cluster.price_usd_per_hour &&
      !cluster.price_usd_per_gpu_hour) {
    throw bad_input(pricing.pointer("usd_per_hour"),
                    "missing: the catalog has on-demand prices only; expected the " +
                        cluster.pricing_model +
                        " price as usd_per_hour (per node) or "
                        "usd_per_gpu_hour");
  }
  pricing.finish();
  reader.finish();
  return cluster;
}

template <typename Enum>
std::vector<Enum> parse_enum_list(JsonReader& reader, const std::string& key,
                                  const std::vector<std::string>& names) {
  std::vector<Enum> out;
  for (const auto& name : reader.choices(key, names)) {
    out.push_back(static_cast<Enum>(std::find(names.begin(), names.end(), name) - names.begin()));
  }
  return out;
}

CollectiveWorkload parse_collective(JsonReader& reader, int cluster_gpus,
                                    const std::string& cluster_text) {
  CollectiveWorkload w;
  w.op = *parse_collective_op(reader.choice("op", "all_reduce", collective_op_names()));
  w.min_bytes = reader.number("min_bytes", w.min_bytes, 1, 1e15);
  w.max_bytes = reader.number("max_bytes", w.max_bytes, 1, 1e15);
  if (w.max_bytes < w.min_bytes) {
    throw bad_input(reader.pointer("max_bytes"),
                    "expected max_bytes >= min_bytes (" + format_count(w.min_bytes) + ")");
  }
  w.step_factor = reader.number("step_factor", w.step_factor, 1.0, 1e6);
  w.step_bytes = reader.number("step_bytes", 0.0, 0.0, 1e15);
  if (w.step_factor == 1.0 && w.step_bytes <= 0.0 && w.max_bytes > w.min_bytes) {
    throw bad_input(reader.pointer("step_factor"),
                    "expected a factor > 1, or step_bytes > 0 to step linearly");
  }
  const double steps = w.step_factor > 1.0
                           ? std::log(w.max_bytes / w.min_bytes) / std::log(w.step_factor)
                           : (w.step_bytes > 0 ? (w.max_bytes - w.min_bytes) / w.step_bytes : 0);
  if (steps > kMaxSweepSizes) {
    throw bad_input(reader.pointer(w.step_factor > 1.0 ? "step_factor" : "step_bytes"),
                    "the sweep would have " + format_count(steps + 1) +
                        " sizes; expected at most " + format_count(kMaxSweepSizes));
  }
  w.dtype = reader.choice("dtype", "float", dtype_names());
  w.redop = reader.choice("redop", "sum", {"sum", "prod", "min", "max", "avg"});
  w.ranks = static_cast<int>(reader.integer("ranks", 0, 0, kMaxNodes * 72));
  if (w.ranks > cluster_gpus) {
    throw bad_input(reader.pointer("ranks"), "expected at most " + std::to_string(cluster_gpus) +
                                                 " ranks (the GPUs of " + cluster_text + "), got " +
                                                 std::to_string(w.ranks));
  }
  w.options.algorithms = parse_enum_list<Algorithm>(reader, "algorithms", algorithm_names());
  w.options.protocols = parse_enum_list<Protocol>(reader, "protocols", protocol_names());
  w.options.channels = static_cast<int>(reader.integer("channels", 0, 0, 64));
  return w;
}

}  // namespace

const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names = {"float", "half",  "bfloat16", "double", "int32",
                                                 "int8",  "uint8", "int64",    "uint32", "uint64"};
  return names;
}

int dtype_bytes(const std::string& dtype) {
  if (dtype == "half" || dtype == "bfloat16") return 2;
  if (dtype == "float" || dtype == "int32" || dtype == "uint32") return 4;
  if (dtype == "double" || dtype == "int64" || dtype == "uint64") return 8;
  if (dtype == "int8" || dtype == "uint8") return 1;
  return 0;
}

Scenario parse_scenario(const nlohmann::json& document, const Catalog& catalog,
                        const std::string& base_dir) {
  JsonReader root(document, "");
  // Unknown top-level fields first, so that "clusters" is reported as a typo of "cluster"
  // rather than as a missing "cluster".
  for (const char* key :
       {"name", "description", "cluster", "model", "workload", "expect", "seed", "calibration"}) {
    root.raw(key);
  }
  root.finish();
  Scenario s;
  s.name = root.string("name", "unnamed");
  s.description = root.string("description", "");
  if (!root.has("cluster")) throw bad_input("/cluster", "missing; expected an object");
  s.cluster = parse_cluster(root.object("cluster"), catalog);
  if (const nlohmann::json* model = root.raw("model")) {
    s.model_value = *model;
    s.model = parse_model(s.model_value, "/model");  // validated whatever the stage
  }
  s.seed = static_cast<std::uint64_t>(root.integer("seed", 1, 0, (1LL << 53)));
  s.calibration = root.string("calibration", "");
  if (!s.calibration.empty()) {
    const std::string path = base_dir.empty() || s.calibration[0] == '/'
                                 ? s.calibration
                                 : base_dir + "/" + s.calibration;
    try {
      s.profile = std::make_shared<const CalibrationProfile>(read_profile_file(path));
    } catch (const Error& e) {
      std::ostringstream what;
      what << "cannot use the calibration profile: " << e.what()
           << "; expected a profile.json written by 'fmsim calibrate fit'";
      throw bad_input("/calibration", what.str());
    }
  }

  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  const int cluster_gpus = s.cluster.nodes * instance.gpus_per_node;
  const std::string cluster_text = std::to_string(s.cluster.nodes) + " x " + instance.name;

  if (!root.has("workload")) throw bad_input("/workload", "missing; expected an object");
  JsonReader workload = root.object("workload");
  s.workload.stage = workload.choice("stage", "collective", stage_names());
  const std::string& stage = s.workload.stage;
  if (stage == "collective") {
    s.workload.collective = parse_collective(workload, cluster_gpus, cluster_text);
  } else if (stage == "rl") {
    if (s.model_value.is_null()) {
      throw bad_input("/model", "missing; expected a preset name or a model object");
    }
    s.workload.rl =
        parse_rl(workload, s.model, catalog.gpu_of(instance), cluster_gpus, instance.gpus_per_node);
  } else if (stage == "inference") {
    if (s.model_value.is_null())
      throw bad_input("/model", "missing; expected a preset name or a model object");
    s.workload.inference = parse_inference(workload, s.model, catalog.gpu_of(instance), base_dir);
  } else {
    if (s.model_value.is_null()) {
      throw bad_input(
          "/model", "missing; expected a preset name (" + [] {
            std::string list;
            for (const auto& name : model_preset_names()) list += (list.empty() ? "" : ", ") + name;
            return list;
          }() + ") or a model object");
    }
    s.workload.training = parse_training(workload, stage, s.cluster.storage);
    const GpuSpec& gpu = catalog.gpu_of(instance);
    if (s.workload.training.precision == Precision::kFp8 && gpu.fp8_flops <= 0) {
      throw bad_input("/workload/precision",
                      gpu.name + " has no FP8 tensor cores; expected \"bf16\" or \"fp16\"");
    }
  }
  workload.finish();

  JsonReader expect = root.object("expect");
  for (const auto& name : expectations_of(stage)) {
    if (!expect.has(name)) {
      expect.raw(name);
      continue;
    }
    s.expect.push_back({name, expect.number(name, 0.0, -kInf, kInf)});
  }
  expect.finish();
  root.finish();
  return s;
}

// A token length as the scenario writes it: a number, or {"mean", "stdev"}.
static nlohmann::json length_json(const TokenLength& l) {
  return l.stdev > 0 ? nlohmann::json{{"mean", l.mean}, {"stdev", l.stdev}}
                     : nlohmann::json(l.mean);
}

nlohmann::json to_json(const Scenario& s) {
  const CollectiveWorkload& c = s.workload.collective;
  nlohmann::json cluster = {{"instance", s.cluster.instance},
                            {"nodes", s.cluster.nodes},
                            {"network",
                             {{"topology", s.cluster.network.topology},
                              {"oversubscription", s.cluster.network.oversubscription},
                              {"nodes_per_leaf", s.cluster.network.nodes_per_leaf},
                              {"spines", s.cluster.network.spines}}},
                            {"pricing", {{"model", s.cluster.pricing_model}}}};
  nlohmann::json storage = {{"s3", {{"prefixes", s.cluster.storage.s3.prefixes}}}};
  if (s.cluster.storage.fsx.present) {
    const FsxConfig& f = s.cluster.storage.fsx;
    storage["fsx_lustre"] = {{"deployment", f.deployment},
                             {"capacity_tib", f.capacity_tib},
                             {"throughput_per_tib_mbps", f.throughput_per_tib_mbps},
                             {"burst", f.burst}};
    if (f.metadata_ops_per_s) storage["fsx_lustre"]["metadata_iops"] = *f.metadata_ops_per_s;
  }
  cluster["storage"] = storage;
  const ReliabilityConfig& r = s.cluster.reliability;
  nlohmann::json reliability = {{"enabled", r.enabled},
                                {"rate_scale", r.rate_scale},
                                {"spare_nodes", r.spare_nodes},
                                {"mode", r.monte_carlo ? "monte-carlo" : "analytic"},
                                {"trials", r.trials}};
  if (!r.rates_per_day.empty()) reliability["rates_per_day"] = r.rates_per_day;
  const auto put = [&](const char* key, const std::optional<double>& value, double unit_s) {
    if (value) reliability[key] = *value / unit_s;
  };
  put("detect_minutes", r.detect_s, 60.0);
  put("restart_minutes", r.restart_s, 60.0);
  put("replace_minutes", r.replace_s, 60.0);
  put("provision_minutes", r.provision_s, 60.0);
  put("repair_hours", r.repair_s, 3600.0);
  if (r.planned_per_day) reliability["planned_per_day"] = *r.planned_per_day;
  cluster["reliability"] = reliability;
  if (s.cluster.price_usd_per_hour) {
    cluster["pricing"]["usd_per_hour"] = *s.cluster.price_usd_per_hour;
  }
  nlohmann::json algorithms = nlohmann::json::array(), protocols = nlohmann::json::array();
  for (Algorithm a : c.options.algorithms) algorithms.push_back(to_string(a));
  for (Protocol p : c.options.protocols) protocols.push_back(to_string(p));
  nlohmann::json workload = {{"stage", s.workload.stage},
                             {"op", to_string(c.op)},
                             {"min_bytes", c.min_bytes},
                             {"max_bytes", c.max_bytes},
                             {"step_factor", c.step_factor},
                             {"step_bytes", c.step_bytes},
                             {"dtype", c.dtype},
                             {"redop", c.redop},
                             {"ranks", c.ranks},
                             {"algorithms", algorithms},
                             {"protocols", protocols},
                             {"channels", c.options.channels}};
  if (s.workload.stage != "collective") {
    const TrainingWorkload& t = s.workload.training;
    workload = {{"stage", s.workload.stage},
                {"tokens", t.tokens},
                {"steps", t.steps},
                {"seq_len", t.batch.seq_len},
                {"global_batch", t.batch.global_batch},
                {"micro_batch", t.batch.micro_batch},
                {"precision", to_string(t.precision)},
                {"parallelism", to_json(t.parallel)},
                {"simulation", t.full_mode ? "full" : "symmetric"}};
    const DataConfig& d = t.data;
    workload["data"] = {{"tier", to_string(d.tier)},
                        {"format", d.raw ? "raw" : "tokenized"},
                        {"bytes_per_token", d.bytes_per_token},
                        {"file_bytes", d.file_bytes},
                        {"reader_threads", d.reader_threads},
                        {"prefetch_depth", d.prefetch_depth},
                        {"cache", d.cache ? to_string(*d.cache) : "none"},
                        {"dataset_tokens", d.dataset_tokens}};
    const CheckpointConfig& c = t.checkpoint;
    workload["checkpoint"] = {{"enabled", c.enabled},
                              {"tier", to_string(c.tier)},
                              {"mode", c.async ? "async" : "sync"},
                              {"keep", c.keep}};
    if (c.upload_to) workload["checkpoint"]["upload_to"] = to_string(*c.upload_to);
    workload["checkpoint"]["every_minutes"] =
        c.every_s ? nlohmann::json(*c.every_s / 60.0) : nlohmann::json("auto");
    if (s.workload.stage == "sft") {
      workload["method"] = t.mode.lora ? "lora" : "full";
      workload["lora"] = {{"rank", t.mode.lora_rank}};
    }
  }
  if (s.workload.stage == "inference") {
    const InferenceWorkload& i = s.workload.inference;
    workload = {
        {"stage", "inference"},
        {"precision", to_string(i.precision)},
        {"replicas", i.replicas},
        {"parallelism", {{"tp", i.tp}, {"pp", i.pp}, {"ep", i.ep}}},
        {"requests",
         {{"arrival", "poisson"},
          {"rate_per_s", i.all_at_once ? nlohmann::json("inf") : nlohmann::json(i.rate_per_s)},
          {"count", i.count},
          {"input_tokens", length_json(i.input_tokens)},
          {"output_tokens", length_json(i.output_tokens)},
          {"samples_per_prompt", i.samples_per_prompt}}},
        {"batching",
         {{"max_batch", i.max_batch},
          {"max_tokens_per_step", i.max_tokens_per_step},
          {"chunked_prefill", i.chunked_prefill},
          {"scheduler", i.reserve_full_request ? "reserve" : "preempt"}}},
        {"kv_cache",
         {{"block_tokens", i.block_tokens},
          {"memory_fraction", i.memory_fraction},
          {"precision", to_string(i.kv_precision)}}}};
    if (i.prefill_replicas > 0) {
      workload["disaggregation"] = {{"prefill_replicas", i.prefill_replicas}};
    }
    // An absent trace stays absent (the report never holds a null).
    if (!i.trace_file.empty()) workload["requests"]["trace"] = i.trace_file;
  }
  if (s.workload.stage == "rl") {
    const RlWorkload& r = s.workload.rl;
    const InferenceWorkload& g = r.rollout;
    workload = {{"stage", "rl"},
                {"algorithm", r.ppo ? "ppo" : "grpo"},
                {"group_size", r.group_size},
                {"prompts_per_iteration", r.prompts_per_iteration},
                {"placement", r.colocated ? "colocated" : "disaggregated"},
                {"async", r.async},
                {"rollout_gpus", r.rollout_gpus},
                {"iterations", r.iterations},
                {"policy",
                 {{"precision", to_string(r.train_precision)},
                  {"micro_batch", r.micro_batch},
                  {"parallelism", to_json(r.train_parallel)}}},
                {"rollout",
                 {{"precision", to_string(g.precision)},
                  {"parallelism", {{"tp", g.tp}, {"pp", g.pp}, {"ep", g.ep}}},
                  {"requests",
                   {{"input_tokens", length_json(g.input_tokens)},
                    {"output_tokens", length_json(g.output_tokens)}}},
                  {"batching",
                   {{"max_batch", g.max_batch},
                    {"max_tokens_per_step", g.max_tokens_per_step},
                    {"chunked_prefill", g.chunked_prefill},
                    {"scheduler", g.reserve_full_request ? "reserve" : "preempt"}}},
                  {"kv_cache",
                   {{"block_tokens", g.block_tokens},
                    {"memory_fraction", g.memory_fraction},
                    {"precision", to_string(g.kv_precision)}}}}}};
  }
  if (s.cluster.price_usd_per_gpu_hour) {
    cluster["pricing"]["usd_per_gpu_hour"] = *s.cluster.price_usd_per_gpu_hour;
  }
  nlohmann::json expect = nlohmann::json::object();
  for (const auto& e : s.expect) expect[e.name] = e.limit;
  nlohmann::json out = {{"name", s.name},
                        {"description", s.description},
                        {"cluster", cluster},
                        {"workload", workload},
                        {"expect", expect},
                        {"seed", s.seed},
                        {"calibration", s.calibration}};
  if (s.workload.stage != "collective") {
    out["model"] = to_json(s.model);
  } else if (!s.model_value.is_null()) {
    out["model"] = s.model_value;
  }
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot open file (does it exist and is it readable?)");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Turn the byte offset into line and column for the user.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line L, column C:
    // syntax error while parsing value - invalid literal; last read: '@'". Keep from "syntax".
    std::string reason = e.what();
    const auto syntax = reason.find("syntax error");
    const auto column_colon = reason.find(": ", reason.find("column"));
    if (syntax != std::string::npos) {
      reason = reason.substr(syntax);
    } else if (column_colon != std::string::npos) {
      reason = reason.substr(column_colon + 2);
    }
    throw bad_input(path, "invalid JSON at line " + std::to_string(line) + ", column " +
                              std::to_string(column) + ": " + reason);
  }
}

void apply_set(nlohmann::json& document, const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || assignment.empty() || assignment[0] != '/') {
    throw bad_input("--set " + assignment,
                    "expected /json/pointer=VALUE, e.g. --set /cluster/nodes=16");
  }
  const std::string pointer = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;  // not JSON: a plain string such as p5.48xlarge
  }
  set_at_pointer(document, pointer, std::move(value));
}

void set_at_pointer(nlohmann::json& document, const std::string& pointer, nlohmann::json value) {
  nlohmann::json::json_pointer target;
  try {
    target = nlohmann::json::json_pointer(pointer);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(pointer,
                    "not a valid JSON pointer (RFC 6901): use /a/b with ~0 for ~ and ~1 "
                    "for /");
  }
  // Walk to the parent, creating missing objects but never writing through a scalar or past the
  // end of an array.
  nlohmann::json* node = &document;
  std::string walked;
  std::vector<std::string> tokens;
  for (auto p = target; !p.empty(); p = p.parent_pointer()) tokens.insert(tokens.begin(), p.back());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    const bool last = i + 1 == tokens.size();
    walked = pointer_join(walked, token);
    if (node->is_null()) *node = nlohmann::json::object();
    if (node->is_object()) {
      if (last) {
        (*node)[token] = value;
        return;
      }
      node = &(*node)[token];
      continue;
    }
    if (node->is_array()) {
      std::size_t index = 0;
      // Array indices: decimal digits, short enough not to overflow (RFC 6901 section 4).
      const bool numeric = !token.empty() && token.size() <= 9 &&
                           token.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) index = std::stoul(token);
      if (!numeric || index >= node->size()) {
        throw bad_input(walked, "no such array element (the array has " +
                                    std::to_string(node->size()) +
                                    (node->size() == 1 ? " element)" : " elements)"));
      }
      if (last) {
        (*node)[index] = value;
        return;
      }
      node = &(*node)[index];
      continue;
    }
    throw bad_input(walked, "cannot set a field inside " + describe_value(*node));
  }
  document = std::move(value);  // the empty pointer "" replaces the whole document
}

std::vector<TraceRequest> read_trace_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw bad_input(path, "cannot open the trace file (does it exist and is it readable?)");
  std::vector<TraceRequest> rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    double values[3] = {0, 0, 0};
    const auto first = line.find_first_not_of(" \t");
    if (line[first] == '{') {
      nlohmann::json row;
      try {
        row = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error&) {
        throw bad_input(where,
                        "invalid JSON line; expected {\"arrival_s\", \"input_tokens\", "
                        "\"output_tokens\"}");
      }
      const char* keys[3] = {"arrival_s", "input_tokens", "output_tokens"};
      for (int k = 0; k < 3; ++k) {
        if (!row.contains(keys[k]) || !row[keys[k]].is_number()) {
          throw bad_input(where, std::string("expected a number for \"") + keys[k] + "\"");
        }
        values[k] = row[keys[k]].get<double>();
      }
    } else {
      std::stringstream fields(line);
      std::string field;
      int k = 0;
      bool numeric = true;
      while (std::getline(fields, field, ',') && k < 3) {
        try {
          std::size_t used = 0;
          values[k] = std::stod(field, &used);
          if (field.find_first_not_of(" \t\r", used) != std::string::npos) numeric = false;
        } catch (const std::exception&) {
          numeric = false;
        }
        ++k;
      }
      if (!numeric && number == 1 && rows.empty()) continue;  // a header line
      if (!numeric || k != 3) {
        throw bad_input(where, "expected arrival_s,input_tokens,output_tokens (three numbers)");
      }
    }
    if (!(values[0] >= 0) || !std::isfinite(values[0])) {
      throw bad_input(where,
                      "expected an arrival time >= 0 seconds, got " + format_value(values[0]));
    }
    for (int k = 1; k < 3; ++k) {
      if (!(values[k] >= 1) || values[k] > 1e8 || values[k] != std::floor(values[k])) {
        throw bad_input(where, std::string("expected ") + (k == 1 ? "input" : "output") +
                                   "_tokens to be a whole number >= 1, got " +
                                   format_value(values[k]));
      }
    }
    rows.push_back({values[0], static_cast<int>(values[1]), static_cast<int>(values[2])});
  }
  if (rows.empty()) throw bad_input(path, "the trace has no requests");
  std::stable_sort(rows.begin(), rows.end(), [](const TraceRequest& a, const TraceRequest& b) {
    return a.arrival_s < b.arrival_s;
  });
  return rows;
}

std::string default_scenario_file() { return "llama3-70b-pretrain-p5-64node.json"; }

nlohmann::json default_scenario() {
  return nlohmann::json::parse(embedded_file(default_scenario_file()));
}

}  // namespace fmsim
