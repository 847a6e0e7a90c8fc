// The scenario: what the user asks fmsim to simulate, as typed structs. JSON in (strictly
// validated, defaults filled), JSON out (the resolved scenario the report embeds). The field names
// are the contract of DESIGN.md section 4; docs/scenario.md is the reference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/profile.h"
#include "collectives/collectives.h"
#include "hardware/catalog.h"
#include "model/model.h"
#include "parallel/parallel.h"
#include "storage/storage.h"
#include "topology/topology.h"
#include "workload/inference.h"
#include "workload/rl.h"

namespace fmsim {

// `cluster.reliability`: failure rates (built-in: Llama 3's, sim/data/reliability.json),
// recovery times and how the run length is estimated. Unset optionals take the built-in values.
struct ReliabilityConfig {
  bool enabled = true;
  std::map<std::string, double> rates_per_day;  // failure class -> per unit (of its scope) per day
  double rate_scale = 1.0;                      // multiplies every class's rate
  int spare_nodes = 0;
  std::optional<double> detect_s, restart_s, replace_s, provision_s, repair_s;
  std::optional<double> planned_per_day;
  bool monte_carlo = false;  // also run the seeded Monte-Carlo estimate
  int trials = 1000;
};

struct ClusterConfig {
  std::string instance;
  int nodes = 1;
  NetworkConfig network;
  StorageConfig storage;
  ReliabilityConfig reliability;
  std::string pricing_model = "on-demand";       // on-demand, reserved, capacity-block
  std::optional<double> price_usd_per_hour;      // per node; overrides the catalog's price
  std::optional<double> price_usd_per_gpu_hour;  // per GPU; overrides both
};

// The `collective` stage: the simulated twin of nccl-tests (all_reduce_perf and friends).
struct CollectiveWorkload {
  CollectiveOp op = CollectiveOp::kAllReduce;
  double min_bytes = 8;
  double max_bytes = 8589934592.0;  // 8 GiB, as the DESIGN example sweeps
  double step_factor = 2.0;         // nccl-tests -f
  double step_bytes = 0.0;          // nccl-tests -i (used when step_factor is 1)
  std::string dtype = "float";      // float, half, bfloat16, double, int32, int8...
  std::string redop = "sum";
  int ranks = 0;              // 0: every GPU of the cluster
  CollectiveOptions options;  // enabled algorithms/protocols, channels
};

// The `pretrain` and `sft` stages.
struct TrainingWorkload {
  double tokens = 0.0;  // tokens to train; 0 with steps 0: report one step only
  long long steps = 0;  // steps to train (instead of tokens)
  BatchConfig batch;
  ParallelConfig parallel;
  Precision precision = Precision::kBf16;
  TrainingMode mode;       // sft: full fine-tune or LoRA
  bool full_mode = false;  // "simulation": "full" simulates every rank, "symmetric" one per stage
  DataConfig data;
  CheckpointConfig checkpoint;
};

struct Workload {
  std::string stage = "collective";
  CollectiveWorkload collective;
  TrainingWorkload training;
  InferenceWorkload inference;
  RlWorkload rl;
};

// One `expect` entry: "<metric>_min" or "<metric>_max" with its limit.
struct Expectation {
  std::string name;
  double limit = 0.0;
};

struct Scenario {
  std::string name = "unnamed";
  std::string description;
  ClusterConfig cluster;
  nlohmann::json model_value;  // as given: a preset name or an object
  ModelSpec model;             // resolved (training stages)
  Workload workload;
  std::vector<Expectation> expect;
  std::uint64_t seed = 1;
  std::string calibration;  // path of a calibration profile, "" for catalog defaults
  std::shared_ptr<const CalibrationProfile> profile;  // read from `calibration` (null without)
};

// Bytes of one element of an nccl-tests data type; 0 if unknown.
int dtype_bytes(const std::string& dtype);
const std::vector<std::string>& dtype_names();

// Validates and converts a scenario document. Throws fmsim::Error (kBadInput) naming the JSON
// pointer of the first problem: unknown field (with a suggestion), wrong type, out of range,
// unknown instance, ranks that do not match the cluster, a stage not available in this version.
// `base_dir` resolves relative file names inside the scenario (an inference trace, the calibration
// profile): the scenario file's folder; "" for the current directory.
Scenario parse_scenario(const nlohmann::json& document, const Catalog& catalog,
                        const std::string& base_dir = "");
// Reads an inference trace: CSV (arrival_s,input_tokens,output_tokens, header optional) or JSON
// Lines ({"arrival_s", "input_tokens", "output_tokens"}). Throws fmsim::Error (kBadInput) naming
// "path:line" for a malformed row, a negative time or a length below 1.
std::vector<TraceRequest> read_trace_file(const std::string& path);
// The resolved scenario: every field, defaults filled in.
nlohmann::json to_json(const Scenario& scenario);

// Reads a JSON file. Throws fmsim::Error (kBadInput) naming the path, and line and column for a
// syntax error.
nlohmann::json read_json_file(const std::string& path);
// Applies one `--set /pointer=VALUE`: VALUE is parsed as JSON, and taken as a string if it is
// not JSON. Missing intermediate objects are created. Throws fmsim::Error naming the pointer.
void apply_set(nlohmann::json& document, const std::string& assignment);
// Sets `value` at `pointer` the same way: missing intermediate objects are created, an array
// element must exist. Throws fmsim::Error naming the pointer.
void set_at_pointer(nlohmann::json& document, const std::string& pointer, nlohmann::json value);
// The scenario `fmsim` runs when given none (embedded at build time), and its name.
nlohmann::json default_scenario();
std::string default_scenario_file();

}  // namespace fmsim
