#include "calibration/profile.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "error.h"
#include "scenario/json_reader.h"

namespace fmsim {
namespace {

using nlohmann::json;

json value_json(const ProfileValue& v) {
  json out = {{"value", v.value}};
  if (v.standard_error > 0) out["standard_error"] = v.standard_error;
  if (v.points > 0) out["points"] = v.points;
  if (v.points > 0) out["r2"] = v.r2;
  if (v.points > 0) out["max_relative_residual"] = v.max_relative_residual;
  return out;
}

ProfileValue read_value(JsonReader& parent, const std::string& key, double min, double max) {
  JsonReader r = parent.object(key);
  ProfileValue v;
  v.value = r.required_number("value", min, max);
  v.standard_error = r.number("standard_error", 0.0, 0.0, 1e300);
  v.points = static_cast<int>(r.integer("points", 0, 0, 1 << 30));
  v.r2 = r.number("r2", 0.0, -1e300, 1.0);
  v.max_relative_residual = r.number("max_relative_residual", 0.0, 0.0, 1e300);
  r.finish();
  return v;
}

std::optional<ProfileValue> optional_value(JsonReader& parent, const std::string& key, double min,
                                           double max) {
  if (!parent.has(key)) return std::nullopt;
  return read_value(parent, key, min, max);
}

std::string percent(double x) {
  std::ostringstream out;
  out.precision(3);
  out << x;
  return out.str();
}

}  // namespace

std::optional<GpuArch> parse_gpu_arch(const std::string& name) {
  for (GpuArch arch : {GpuArch::kAmpere, GpuArch::kHopper, GpuArch::kBlackwell}) {
    if (to_string(arch) == name) return arch;
  }
  return std::nullopt;
}

json to_json(const CalibrationProfile& p) {
  json out;
  out["format"] = "fmsim-profile/1";
  const MachineDescription& m = p.machine;
  out["machine"] = {{"gpu", m.gpu},       {"instance", m.instance},
                    {"nodes", m.nodes},   {"gpus_per_node", m.gpus_per_node},
                    {"driver", m.driver}, {"cuda", m.cuda},
                    {"nccl", m.nccl},     {"hostname", m.hostname},
                    {"date", m.date}};
  if (m.gpu_arch) out["machine"]["gpu_arch"] = to_string(*m.gpu_arch);
  if (m.l2_bytes > 0) out["machine"]["l2_bytes"] = m.l2_bytes;
  if (!m.cudnn.empty()) out["machine"]["cudnn"] = m.cudnn;
  if (!m.cublaslt.empty()) out["machine"]["cublaslt"] = m.cublaslt;
  out["sources"] = p.sources;
  json compute = json::object();
  if (!p.gemm.empty()) {
    json gemm = json::object();
    for (const auto& [precision, g] : p.gemm) {
      json row = {{"max_efficiency", value_json(g.max_efficiency)}};
      if (g.k_half) row["k_half"] = value_json(*g.k_half);
      if (g.floor_s) row["floor_s"] = value_json(*g.floor_s);
      if (g.tile_m > 0) row["tile_m"] = g.tile_m;
      if (g.tile_n > 0) row["tile_n"] = g.tile_n;
      gemm[to_string(precision)] = row;
    }
    compute["gemm"] = gemm;
  }
  if (p.attention_forward_efficiency) {
    compute["attention_forward_efficiency"] = value_json(*p.attention_forward_efficiency);
  }
  if (p.attention_backward_efficiency) {
    compute["attention_backward_efficiency"] = value_json(*p.attention_backward_efficiency);
  }
  if (p.hbm_efficiency) compute["hbm_efficiency"] = value_json(*p.hbm_efficiency);
  out["compute"] = compute;
  out["nvlink"] = json::object();
  if (p.nvlink_link_bw_bytes_per_s) {
    out["nvlink"]["link_effective_bw_bytes_per_s"] = value_json(*p.nvlink_link_bw_bytes_per_s);
  }
  out["network"] = json::object();
  if (p.nic_efficiency) out["network"]["nic_efficiency"] = value_json(*p.nic_efficiency);
  out["collectives"] = json::array();
  for (const CollectiveProfile& c : p.collectives) {
    out["collectives"].push_back({{"op", c.op},
                                  {"algorithm", c.algorithm},
                                  {"protocol", c.protocol},
                                  {"ranks", c.ranks},
                                  {"nodes", c.nodes},
                                  {"latency_s", value_json(c.latency_s)},
                                  {"algbw_bytes_per_s", value_json(c.algbw_bytes_per_s)},
                                  {"busbw_bytes_per_s", c.busbw_bytes_per_s},
                                  {"source", c.source}});
  }
  out["storage"] = json::array();
  for (const StorageProfile& s : p.storage) {
    out["storage"].push_back({{"tier", s.tier},
                              {"mode", s.mode},
                              {"pattern", s.pattern},
                              {"block_bytes", s.block_bytes},
                              {"threads", s.threads},
                              {"latency_s", value_json(s.latency_s)},
                              {"bandwidth_bytes_per_s", value_json(s.bandwidth_bytes_per_s)}});
  }
  return out;
}

CalibrationProfile profile_from_json(const json& document, const std::string& source) {
  try {
    JsonReader root(document, "");
    CalibrationProfile p;
    p.path = source;
    const std::string format = root.required_string("format");
    if (format != "fmsim-profile/1") {
      throw bad_input("/format", "expected \"fmsim-profile/1\", got \"" + format + "\"");
    }
    {
      JsonReader m = root.object("machine");
      p.machine.gpu = m.string("gpu", "");
      p.machine.instance = m.string("instance", "");
      p.machine.nodes = static_cast<int>(m.integer("nodes", 0, 0, 1 << 20));
      p.machine.gpus_per_node = static_cast<int>(m.integer("gpus_per_node", 0, 0, 1 << 10));
      p.machine.driver = m.string("driver", "");
      p.machine.cuda = m.string("cuda", "");
      p.machine.nccl = m.string("nccl", "");
      p.machine.cudnn = m.string("cudnn", "");
      p.machine.cublaslt = m.string("cublaslt", "");
      p.machine.hostname = m.string("hostname", "");
      p.machine.date = m.string("date", "");
      p.machine.l2_bytes = m.number("l2_bytes", 0.0, 0.0, 1e12);
      const std::string arch = m.choice("gpu_arch", "", {"", "ampere", "hopper", "blackwell"});
      if (!arch.empty()) p.machine.gpu_arch = parse_gpu_arch(arch);
      m.finish();
    }
    if (const json* sources = root.raw("sources")) {
      if (!sources->is_array()) throw bad_input("/sources", "expected an array of file names");
      for (std::size_t i = 0; i < sources->size(); ++i) {
        if (!(*sources)[i].is_string()) {
          throw bad_input("/sources/" + std::to_string(i), "expected a file name (string)");
        }
        p.sources.push_back((*sources)[i].get<std::string>());
      }
    }
    {
      JsonReader c = root.object("compute");
      if (c.has("gemm")) {
        JsonReader g = c.object("gemm");
        for (const char* name : {"bf16", "fp16", "fp8"}) {
          if (!g.has(name)) continue;
          JsonReader row = g.object(name);
          GemmProfile gp;
          gp.max_efficiency = read_value(row, "max_efficiency", 1e-6, 1.0);
          gp.k_half = optional_value(row, "k_half", 0.0, 1e9);
          gp.floor_s = optional_value(row, "floor_s", 0.0, 1.0);
          gp.tile_m = row.number("tile_m", 0, 1, 4096);
          gp.tile_n = row.number("tile_n", 0, 1, 4096);
          row.finish();
          p.gemm[*parse_precision(name)] = gp;
        }
        g.finish();
      }
      p.attention_forward_efficiency = optional_value(c, "attention_forward_efficiency", 1e-6, 1);
      p.attention_backward_efficiency = optional_value(c, "attention_backward_efficiency", 1e-6, 1);
      p.hbm_efficiency = optional_value(c, "hbm_efficiency", 1e-6, 1);
      c.finish();
    }
    {
      JsonReader n = root.object("nvlink");
      p.nvlink_link_bw_bytes_per_s = optional_value(n, "link_effective_bw_bytes_per_s", 1.0, 1e15);
      n.finish();
    }
    {
      JsonReader n = root.object("network");
      p.nic_efficiency = optional_value(n, "nic_efficiency", 1e-6, 1);
      n.finish();
    }
    const auto array_of = [&](const char* key) -> const json* {
      const json* a = root.raw(key);
      if (a != nullptr && !a->is_array()) {
        throw bad_input(std::string("/") + key, "expected an array");
      }
      return a;
    };
    if (const json* list = array_of("collectives")) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        JsonReader r((*list)[i], "/collectives/" + std::to_string(i));
        CollectiveProfile c;
        c.op = r.required_string("op");
        c.algorithm = r.string("algorithm", "any");
        c.protocol = r.string("protocol", "any");
        c.ranks = static_cast<int>(r.integer("ranks", 0, 0, 1 << 24));
        c.nodes = static_cast<int>(r.integer("nodes", 0, 0, 1 << 20));
        c.latency_s = read_value(r, "latency_s", -1.0, 1e6);
        c.algbw_bytes_per_s = read_value(r, "algbw_bytes_per_s", 1e-300, 1e18);
        c.busbw_bytes_per_s = r.number("busbw_bytes_per_s", 0, 0, 1e18);
        c.source = r.string("source", "");
        r.finish();
        p.collectives.push_back(c);
      }
    }
    if (const json* list = array_of("storage")) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        JsonReader r((*list)[i], "/storage/" + std::to_string(i));
        StorageProfile s;
        s.tier = r.required_string("tier");
        s.mode = r.choice("mode", "read", {"read", "write"});
        s.pattern = r.choice("pattern", "sequential", {"sequential", "random"});
        s.block_bytes = r.number("block_bytes", 0, 0, 1e15);
        s.threads = static_cast<int>(r.integer("threads", 0, 0, 1 << 16));
        s.latency_s = read_value(r, "latency_s", -1.0, 1e6);
        s.bandwidth_bytes_per_s = read_value(r, "bandwidth_bytes_per_s", 1e-300, 1e18);
        r.finish();
        p.storage.push_back(s);
      }
    }
    root.finish();
    return p;
  } catch (const Error& e) {
    if (e.where().rfind(source, 0) == 0) throw;
    throw bad_input(source + ":" + e.where(), e.message());
  }
}

CalibrationProfile read_profile_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot open the calibration profile");
  json document;
  try {
    document = json::parse(in);
  } catch (const json::parse_error& e) {
    throw bad_input(path, std::string("not valid JSON: ") + e.what());
  }
  return profile_from_json(document, path);
}

CalibratedParameters apply_profile(const CalibrationProfile* profile, const GpuSpec& gpu,
                                   const ComputeDefaults& compute, const NetworkDefaults& network) {
  CalibratedParameters out{compute, gpu, network, {}, {}};
  if (profile == nullptr) return out;
  const MachineDescription& m = profile->machine;
  const bool same_arch = !m.gpu_arch || *m.gpu_arch == gpu.arch;
  const bool has_compute = !profile->gemm.empty() || profile->attention_forward_efficiency ||
                           profile->attention_backward_efficiency || profile->hbm_efficiency;
  if (has_compute && !same_arch) {
    out.skipped.push_back("compute: profile measured on " + to_string(*m.gpu_arch) +
                          ", the scenario's GPU (" + gpu.name + ") is " + to_string(gpu.arch));
  } else if (has_compute) {
    for (const auto& [precision, g] : profile->gemm) {
      double& eff = out.compute.gemm_max_efficiency[gpu.arch][precision];
      out.applied.push_back("GEMM " + to_string(precision) + " max efficiency " +
                            percent(g.max_efficiency.value) + " (default " + percent(eff) + ")");
      eff = g.max_efficiency.value;
      if (g.k_half) {
        double& k_half = out.compute.gemm_k_half[gpu.arch][precision];
        out.applied.push_back("GEMM " + to_string(precision) + " k_half " +
                              percent(g.k_half->value) + " (default " + percent(k_half) + ")");
        k_half = g.k_half->value;
      }
      if (g.tile_m > 0 && g.tile_n > 0 && precision == Precision::kBf16) {
        out.applied.push_back("GEMM output tile " + percent(g.tile_m) + "x" + percent(g.tile_n) +
                              " (default " + percent(out.compute.tile_m) + "x" +
                              percent(out.compute.tile_n) + ")");
        out.compute.tile_m = g.tile_m;
        out.compute.tile_n = g.tile_n;
      }
    }
    const auto apply = [&](const std::optional<ProfileValue>& v, double& target,
                           const std::string& what) {
      if (!v) return;
      out.applied.push_back(what + " " + percent(v->value) + " (default " + percent(target) + ")");
      target = v->value;
    };
    apply(profile->attention_forward_efficiency, out.compute.attention_forward_efficiency,
          "attention forward efficiency");
    apply(profile->attention_backward_efficiency, out.compute.attention_backward_efficiency,
          "attention backward efficiency");
    apply(profile->hbm_efficiency, out.compute.hbm_efficiency, "HBM efficiency");
  }
  if (profile->nvlink_link_bw_bytes_per_s) {
    const bool same_gpu = m.gpu.empty() ? same_arch : (m.gpu == gpu.name || same_arch);
    if (same_gpu && gpu.nvlink_links > 0) {
      out.applied.push_back(
          "NVLink per-link bandwidth " + percent(profile->nvlink_link_bw_bytes_per_s->value / 1e9) +
          " GB/s (default " + percent(gpu.nvlink_link_effective_bw_bytes_per_s / 1e9) + ")");
      out.gpu.nvlink_link_effective_bw_bytes_per_s = profile->nvlink_link_bw_bytes_per_s->value;
    } else {
      out.skipped.push_back("NVLink: profile measured on another GPU");
    }
  }
  if (profile->nic_efficiency) {
    out.applied.push_back("NIC efficiency " + percent(profile->nic_efficiency->value) +
                          " (default " + percent(network.nic_efficiency) + ")");
    out.network.nic_efficiency = profile->nic_efficiency->value;
  }
  return out;
}

}  // namespace fmsim
