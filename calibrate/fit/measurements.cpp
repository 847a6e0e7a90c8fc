#include "fit/measurements.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "error.h"
#include "scenario/json_reader.h"

namespace fmsim {
namespace {

using nlohmann::json;

constexpr double kMaxBytes = 1e18;

// The samples of a record: a non-empty array of finite times > 0.
std::vector<double> read_samples(JsonReader& r) {
  const json* samples = r.raw("time_s");
  const std::string where = r.pointer("time_s");
  if (samples == nullptr) throw bad_input(where, "missing; expected an array of seconds > 0");
  if (!samples->is_array() || samples->empty()) {
    throw bad_input(where,
                    "expected a non-empty array of seconds > 0, got " + describe_value(*samples));
  }
  std::vector<double> out;
  for (std::size_t i = 0; i < samples->size(); ++i) {
    const json& v = (*samples)[i];
    // nlohmann reads NaN and infinity written as numbers to null; strings are not numbers.
    if (!v.is_number() || !std::isfinite(v.get<double>()) || !(v.get<double>() > 0)) {
      throw bad_input(where + "/" + std::to_string(i),
                      "expected a finite time in seconds > 0, got " + describe_value(v));
    }
    out.push_back(v.get<double>());
  }
  return out;
}

// The records of one suite: an array of objects, each read by `read_one`.
template <typename Record, typename ReadOne>
std::vector<Record> read_suite(JsonReader& root, const std::string& key, ReadOne read_one) {
  std::vector<Record> out;
  const json* list = root.raw(key);
  if (list == nullptr) return out;
  if (!list->is_array()) {
    throw bad_input("/" + key, "expected an array of records, got " + describe_value(*list));
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    JsonReader r((*list)[i], "/" + key + "/" + std::to_string(i));
    Record record;
    record.pointer = r.pointer();
    read_one(r, record);
    record.time_s = read_samples(r);
    r.finish();
    out.push_back(std::move(record));
  }
  return out;
}

// Within each series (records with the same key), sizes increase from record to record.
template <typename Record>
void check_increasing(const std::vector<Record>& records, const char* what) {
  std::map<std::string, const Record*> last;
  for (const Record& r : records) {
    const std::string k = series_key(r);
    auto it = last.find(k);
    if (it != last.end() && !(r.bytes > it->second->bytes)) {
      std::ostringstream message;
      message << "expected sizes to increase within the " << what << " series " << k << ", got "
              << r.bytes << " B after " << it->second->bytes << " B (" << it->second->pointer
              << ")";
      throw bad_input(r.pointer + "/bytes", message.str());
    }
    last[k] = &r;
  }
}

}  // namespace

std::string series_key(const HbmRecord& r) { return r.kernel; }

std::string series_key(const NvlinkRecord& r) {
  return std::to_string(r.src) + "->" + std::to_string(r.dst);
}

std::string series_key(const NcclRecord& r) {
  std::ostringstream key;
  key << r.op << " " << r.algorithm << "/" << r.protocol << " " << r.ranks << " ranks " << r.nodes
      << " nodes";
  return key.str();
}

std::string series_key(const StorageRecord& r) {
  std::ostringstream key;
  key << r.tier << " " << r.mode << " " << r.pattern << " " << std::fixed << std::setprecision(0)
      << r.block_bytes << " B x " << r.threads;
  return key.str();
}

double TimedRecord::median_s() const {
  std::vector<double> sorted = time_s;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

Measurements measurements_from_json(const json& document, const std::string& source) {
  try {
    JsonReader root(document, "");
    Measurements m;
    m.source = source;
    const std::string format = root.required_string("format");
    if (format != "fmsim-measurements/1") {
      throw bad_input("/format", "expected \"fmsim-measurements/1\", got \"" + format + "\"");
    }
    {
      JsonReader e = root.object("environment");
      MachineDescription& env = m.environment;
      env.gpu = e.string("gpu", "");
      env.instance = e.string("instance", "");
      env.nodes = static_cast<int>(e.integer("nodes", 1, 1, 1 << 20));
      env.gpus_per_node = static_cast<int>(e.integer("gpus_per_node", 0, 0, 1 << 10));
      env.driver = e.string("driver", "");
      env.cuda = e.string("cuda", "");
      env.nccl = e.string("nccl", "");
      env.cudnn = e.string("cudnn", "");
      env.cublaslt = e.string("cublaslt", "");
      env.hostname = e.string("hostname", "");
      env.date = e.string("date", "");
      env.l2_bytes = e.number("l2_bytes", 0.0, 0.0, 1e12);
      const std::string arch = e.choice("gpu_arch", "", {"", "ampere", "hopper", "blackwell"});
      if (!arch.empty()) env.gpu_arch = parse_gpu_arch(arch);
      e.finish();
    }
    m.gemm = read_suite<GemmRecord>(root, "gemm", [](JsonReader& r, GemmRecord& g) {
      g.precision = *parse_precision(r.choice("precision", "bf16", {"bf16", "fp16", "fp8"}));
      g.m = r.required_number("m", 1, 1e9);
      g.n = r.required_number("n", 1, 1e9);
      g.k = r.required_number("k", 1, 1e9);
      g.count = r.number("count", 1, 1, 1e6);
    });
    m.attention =
        read_suite<AttentionRecord>(root, "attention", [](JsonReader& r, AttentionRecord& a) {
          a.backward = r.choice("direction", "forward", {"forward", "backward"}) == "backward";
          a.flops = r.required_number("flops", 1, 1e21);
          // The shape, for the report; the FLOPs are what the fit uses.
          r.integer("batch", 1, 1, 1 << 20);
          r.integer("heads", 1, 1, 1 << 16);
          r.integer("seq_len", 1, 1, 1 << 24);
          r.integer("head_dim", 128, 1, 1 << 12);
          r.boolean("causal", true);
          a.implementation = r.choice("implementation", "fused", {"fused", "unfused"});
        });
    m.hbm = read_suite<HbmRecord>(root, "hbm", [](JsonReader& r, HbmRecord& h) {
      h.kernel = r.choice("kernel", "copy", {"copy", "triad"});
      h.bytes = r.required_number("bytes", 1, kMaxBytes);
    });
    m.nvlink = read_suite<NvlinkRecord>(root, "nvlink", [](JsonReader& r, NvlinkRecord& v) {
      v.src = static_cast<int>(r.integer("src", 0, 0, 1 << 16));
      v.dst = static_cast<int>(r.integer("dst", 1, 0, 1 << 16));
      v.bytes = r.required_number("bytes", 1, kMaxBytes);
    });
    m.nccl = read_suite<NcclRecord>(root, "nccl", [](JsonReader& r, NcclRecord& c) {
      c.op = r.choice(
          "op", "",
          {"all_reduce", "all_gather", "reduce_scatter", "alltoall", "sendrecv", "broadcast"});
      if (c.op.empty()) throw bad_input(r.pointer("op"), "missing; expected a collective name");
      c.algorithm = r.string("algorithm", "any");
      c.protocol = r.string("protocol", "any");
      c.ranks = static_cast<int>(r.required_number("ranks", 1, 1 << 24));
      c.nodes = static_cast<int>(r.integer("nodes", 1, 1, 1 << 20));
      c.bytes = r.required_number("bytes", 1, kMaxBytes);
    });
    m.storage = read_suite<StorageRecord>(root, "storage", [](JsonReader& r, StorageRecord& s) {
      s.tier = r.choice("tier", "local_nvme", {"local_nvme", "fsx_lustre", "s3", "other"});
      s.path = r.string("path", "");
      s.mode = r.choice("mode", "read", {"read", "write"});
      s.pattern = r.choice("pattern", "sequential", {"sequential", "random"});
      s.block_bytes = r.number("block_bytes", 1 << 20, 512, 1e12);
      s.threads = static_cast<int>(r.integer("threads", 1, 1, 1 << 16));
      s.bytes = r.required_number("bytes", 1, kMaxBytes);
    });
    root.finish();

    check_increasing(m.hbm, "hbm");
    check_increasing(m.nvlink, "nvlink");
    check_increasing(m.nccl, "nccl");
    check_increasing(m.storage, "storage");
    return m;
  } catch (const Error& e) {
    if (e.where().rfind(source, 0) == 0) throw;
    throw bad_input(source + ":" + e.where(), e.message());
  }
}

Measurements read_measurements_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot open the measurements file");
  json document;
  try {
    document = json::parse(in);
  } catch (const json::parse_error& e) {
    throw bad_input(path, std::string("not valid JSON: ") + e.what());
  }
  return measurements_from_json(document, path);
}

}  // namespace fmsim
