#include "fit/profile_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "error.h"
#include "execute/compute.h"
#include "report/report.h"

namespace fmsim {
namespace {

ProfileValue profile_value(const FittedValue& v, int points, double r2, double max_residual) {
  return {v.value, v.standard_error, points, r2, max_residual};
}

FitRow row_of(const std::string& suite, const std::string& item, const std::string& parameter,
              const std::string& unit, const FittedValue& v, double r2, double residual,
              int points) {
  return {suite, item, parameter, unit, v.value, v.standard_error, r2, residual, points, ""};
}

// A collective's fit as the profile records it.
CollectiveProfile collective_profile(const CollectiveFit& fit) {
  const TransferFit& t = fit.transfer;
  return {fit.op,
          fit.algorithm,
          fit.protocol,
          fit.ranks,
          fit.nodes,
          profile_value(t.latency_s, t.points, t.r2, t.max_relative_residual),
          profile_value(t.bandwidth_bytes_per_s, t.points, t.r2, t.max_relative_residual),
          fit.busbw_bytes_per_s,
          fit.source};
}

// A transfer fit's curve at the measured sizes.
FitSeries transfer_series(const std::string& name, const std::vector<double>& bytes,
                          const std::vector<double>& seconds, const TransferFit& fit) {
  FitSeries s;
  s.name = name;
  s.x = bytes;
  s.measured = seconds;
  for (double b : bytes) {
    s.fitted.push_back(fit.latency_s.value + b / fit.bandwidth_bytes_per_s.value);
  }
  return s;
}

void add_transfer_rows(ProfileFit& out, const std::string& suite, const std::string& item,
                       const TransferFit& fit) {
  out.rows.push_back(row_of(suite, item, "latency", "s", fit.latency_s, fit.r2,
                            fit.max_relative_residual, fit.points));
  out.rows.push_back(row_of(suite, item, "bandwidth", "B/s", fit.bandwidth_bytes_per_s, fit.r2,
                            fit.max_relative_residual, fit.points));
}

// Series of records with the same series_key (measurements.h), in record order.
template <typename Record>
std::vector<std::pair<std::string, std::vector<const Record*>>> series_of(
    const std::vector<Record>& records) {
  std::vector<std::pair<std::string, std::vector<const Record*>>> out;
  std::map<std::string, std::size_t> index;
  for (const Record& r : records) {
    const std::string k = series_key(r);
    auto [it, fresh] = index.emplace(k, out.size());
    if (fresh) out.push_back({k, {}});
    out[it->second].second.push_back(&r);
  }
  return out;
}

template <typename Record>
TransferFit fit_records(const std::vector<const Record*>& records, std::vector<double>& bytes,
                        std::vector<double>& seconds) {
  for (const Record* r : records) {
    bytes.push_back(r->bytes);
    seconds.push_back(r->median_s());
  }
  if (records.size() < 3) {
    throw bad_input(records.front()->pointer,
                    "a series needs at least 3 sizes to fit a latency and a bandwidth, got " +
                        std::to_string(records.size()));
  }
  try {
    return fit_transfer(bytes, seconds);
  } catch (const std::invalid_argument& e) {
    throw bad_input(records.front()->pointer, std::string("cannot fit this series: ") + e.what());
  }
}

std::string format_number(double v, const char* fmt = "%.4g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, v);
  return buffer;
}

}  // namespace

ProfileFit fit_profile(const std::vector<Measurements>& measurements,
                       const std::vector<NcclTestsLog>& logs, const Catalog& catalog) {
  ProfileFit out;
  CalibrationProfile& p = out.profile;
  // The machine: the first measurement file's environment; every other file must agree on it.
  for (const Measurements& m : measurements) {
    p.sources.push_back(m.source);
    if (p.machine.gpu.empty() && p.machine.instance.empty()) {
      p.machine = m.environment;
    } else if ((!m.environment.instance.empty() && m.environment.instance != p.machine.instance) ||
               (!m.environment.gpu.empty() && m.environment.gpu != p.machine.gpu)) {
      throw bad_input(m.source + ":/environment",
                      "measured on " + m.environment.gpu + " (" + m.environment.instance +
                          "), but " + measurements.front().source + " on " + p.machine.gpu + " (" +
                          p.machine.instance + "): fit one machine per profile");
    }
  }
  for (const NcclTestsLog& log : logs) {
    p.sources.push_back(log.source);
    if (p.machine.gpu.empty()) p.machine.gpu = log.gpu;
    p.machine.nodes = std::max(p.machine.nodes, log.nodes);
  }

  const InstanceSpec* instance = nullptr;
  const GpuSpec* gpu = nullptr;
  if (!p.machine.instance.empty()) {
    const std::string where =
        (measurements.empty() ? std::string("") : measurements.front().source + ":") +
        "/environment/instance";
    instance = &catalog.instance(p.machine.instance, where);
    gpu = &catalog.gpu_of(*instance);
    p.machine.gpu_arch = gpu->arch;
    if (p.machine.gpus_per_node == 0) p.machine.gpus_per_node = instance->gpus_per_node;
  }
  const auto need_gpu = [&](const Measurements& m, const char* suite) {
    if (gpu == nullptr) {
      throw bad_input(m.source + ":/environment/instance",
                      std::string("missing; the ") + suite +
                          " suite needs the GPU's peaks: expected a catalog instance type such "
                          "as p5.48xlarge");
    }
  };

  // GEMM, per precision, pooled over every measurement file (repeated runs add samples).
  std::map<Precision, std::vector<GemmSample>> gemm;
  for (const Measurements& m : measurements) {
    for (const GemmRecord& g : m.gemm) {
      need_gpu(m, "gemm");
      if (g.precision == Precision::kFp8 && gpu->fp8_flops <= 0) {
        throw bad_input(m.source + ":" + g.pointer + "/precision",
                        "an FP8 GEMM on " + gpu->name + ", which has no FP8 tensor cores");
      }
      const double flops = 2.0 * g.m * g.n * g.k * g.count;
      gemm[g.precision].push_back(
          {g.m, g.n, g.k, g.count, flops / (g.median_s() * peak_flops(*gpu, g.precision))});
    }
  }
  for (const auto& [precision, samples] : gemm) {
    const int sms = ComputeDefaults::builtin().sms.at(gpu->arch);
    const double peak = peak_flops(*gpu, precision);
    const GemmFit fit = fit_gemm(samples, sms, peak);
    const auto value = [&](const FittedValue& v) {
      return profile_value(v, fit.points, fit.r2, fit.max_relative_residual);
    };
    GemmProfile& profile = p.gemm[precision];
    profile.max_efficiency = value(fit.max_efficiency);
    profile.k_half = value(fit.k_half);
    profile.floor_s = value(fit.floor_s);
    profile.tile_m = fit.tile_m;
    profile.tile_n = fit.tile_n;
    const std::string item = to_string(precision);
    out.rows.push_back(row_of("gemm", item, "max efficiency", "", fit.max_efficiency, fit.r2,
                              fit.max_relative_residual, fit.points));
    out.rows.push_back(row_of("gemm", item, "k half", "", fit.k_half, fit.r2,
                              fit.max_relative_residual, fit.points));
    out.rows.push_back(row_of("gemm", item, "floor, not applied", "s", fit.floor_s, fit.r2,
                              fit.max_relative_residual, fit.points));
    out.rows.push_back(
        {"gemm", item, "output tile", "", 0, 0, fit.r2, fit.max_relative_residual, fit.points,
         format_number(fit.tile_m, "%.0f") + "x" + format_number(fit.tile_n, "%.0f")});
    SuitePlot plot{"gemm-" + item,
                   "GEMM efficiency, " + item + ", " + gpu->name,
                   "FLOPs per call",
                   "efficiency (of dense peak)",
                   {}};
    FitSeries series;
    series.name = item;
    for (const GemmSample& g : samples) {
      series.x.push_back(2.0 * g.m * g.n * g.k * g.count);
      series.measured.push_back(g.efficiency);
      series.fitted.push_back(fit.efficiency(g, sms, peak));
    }
    plot.series.push_back(series);
    out.plots.push_back(plot);
  }

  for (const Measurements& m : measurements) {
    // Attention: the mean efficiency per direction and implementation, with the standard error of
    // the mean. Only fused (FlashAttention-style) kernels set the profile: the simulator models
    // attention as one fused kernel, and the unfused path (GEMM, softmax, GEMM through HBM) is
    // slower, so its efficiency is reported as a floor and not applied.
    for (const bool fused : {true, false}) {
      for (const bool backward : {false, true}) {
        std::vector<double> eff;
        for (const AttentionRecord& a : m.attention) {
          if (a.backward != backward || (a.implementation != "unfused") != fused) continue;
          need_gpu(m, "attention");
          eff.push_back(a.flops / (a.median_s() * gpu->bf16_flops));
        }
        if (eff.empty()) continue;
        double mean = 0;
        for (double e : eff) mean += e;
        mean /= static_cast<double>(eff.size());
        double var = 0;
        for (double e : eff) var += (e - mean) * (e - mean);
        const double se = eff.size() > 1 ? std::sqrt(var / static_cast<double>(eff.size() - 1) /
                                                     static_cast<double>(eff.size()))
                                         : 0.0;
        double worst = 0;
        for (double e : eff) worst = std::max(worst, std::abs(e - mean) / e);
        const std::string item =
            std::string(backward ? "backward" : "forward") + (fused ? "" : " (unfused)");
        // A mean, not a regression: no R^2 (-1 prints as "-").
        out.rows.push_back(row_of("attention", item, "efficiency", "", {mean, se}, -1.0, worst,
                                  static_cast<int>(eff.size())));
        if (!fused) continue;
        const ProfileValue v{mean, se, static_cast<int>(eff.size()), 0.0, worst};
        (backward ? p.attention_backward_efficiency : p.attention_forward_efficiency) = v;
      }
    }
    for (const AttentionRecord& a : m.attention) {
      if (a.implementation == "unfused") {
        out.notes.push_back(
            "attention measured unfused (GEMM, softmax, GEMM): reported as a "
            "floor, not applied; the simulator's attention is a fused kernel");
        break;
      }
    }

    // HBM: the copy kernel's bandwidth (triad when there is no copy).
    if (!m.hbm.empty()) {
      need_gpu(m, "hbm");
      SuitePlot plot{"hbm", "HBM kernels, " + gpu->name, "bytes moved", "time (s)", {}};
      bool copy_seen = false;
      TransferFit hbm_fit;
      for (const auto& [kernel, records] : series_of(m.hbm)) {
        // Sizes the L2 cache could hold measure the cache, not HBM: the fit takes the sizes whose
        // bytes moved are at least 4x the L2 (as recorded, else 128 MiB, above every catalog
        // GPU's), or the 3 largest when the sweep stops short of that.
        const double l2 = m.environment.l2_bytes > 0 ? m.environment.l2_bytes : 128.0 * (1 << 20);
        std::vector<const HbmRecord*> beyond_l2;
        for (const HbmRecord* r : records) {
          if (r->bytes >= 4 * l2) beyond_l2.push_back(r);
        }
        if (beyond_l2.size() < 3 && records.size() >= 3) {
          beyond_l2.assign(records.end() - 3, records.end());
          out.notes.push_back("hbm " + kernel + ": fewer than 3 sizes move 4x the L2 cache (" +
                              format_number(l2 / (1 << 20)) +
                              " MiB); fitted the 3 largest: raise fmsim-calibrate's --max-bytes");
        }
        std::vector<double> bytes, seconds;
        const TransferFit fit = fit_records(beyond_l2, bytes, seconds);
        add_transfer_rows(out, "hbm", kernel, fit);
        std::vector<double> all_bytes, all_seconds;
        for (const HbmRecord* r : records) {
          all_bytes.push_back(r->bytes);
          all_seconds.push_back(r->median_s());
        }
        plot.series.push_back(transfer_series(kernel, all_bytes, all_seconds, fit));
        if (kernel == "copy" || !copy_seen) {
          hbm_fit = fit;
          copy_seen = copy_seen || kernel == "copy";
        }
      }
      const FittedValue eff{hbm_fit.bandwidth_bytes_per_s.value / gpu->hbm_bw_bytes_per_s,
                            hbm_fit.bandwidth_bytes_per_s.standard_error / gpu->hbm_bw_bytes_per_s};
      out.rows.push_back(row_of("hbm", copy_seen ? "copy" : "triad", "efficiency", "", eff,
                                hbm_fit.r2, hbm_fit.max_relative_residual, hbm_fit.points));
      if (eff.value > 1.0) {
        out.notes.push_back("hbm: measured " + format_number(eff.value) + "x the catalog's " +
                            gpu->name + " HBM bandwidth; not applied: check the instance type");
      } else {
        p.hbm_efficiency =
            profile_value(eff, hbm_fit.points, hbm_fit.r2, hbm_fit.max_relative_residual);
      }
      out.plots.push_back(plot);
    }

    // NVLink: per pair, then the median pair per link.
    if (!m.nvlink.empty()) {
      need_gpu(m, "nvlink");
      if (gpu->nvlink_links <= 0) {
        throw bad_input(m.source + ":/nvlink", gpu->name + " has no NVLink in the catalog");
      }
      SuitePlot plot{"nvlink", "NVLink peer copies, " + gpu->name, "bytes", "time (s)", {}};
      std::vector<std::pair<double, double>> per_link;  // (bandwidth, its standard error)
      int points = 0;
      double r2 = 1, worst = 0;
      for (const auto& [pair, records] : series_of(m.nvlink)) {
        std::vector<double> bytes, seconds;
        const TransferFit fit = fit_records(records, bytes, seconds);
        add_transfer_rows(out, "nvlink", pair, fit);
        plot.series.push_back(transfer_series(pair, bytes, seconds, fit));
        per_link.push_back({fit.bandwidth_bytes_per_s.value / gpu->nvlink_links,
                            fit.bandwidth_bytes_per_s.standard_error / gpu->nvlink_links});
        points += fit.points;
        r2 = std::min(r2, fit.r2);
        worst = std::max(worst, fit.max_relative_residual);
      }
      std::sort(per_link.begin(), per_link.end());
      const auto median = per_link[per_link.size() / 2];
      p.nvlink_link_bw_bytes_per_s = ProfileValue{median.first, median.second, points, r2, worst};
      out.rows.push_back(row_of("nvlink", "median pair", "per-link bandwidth", "B/s",
                                {median.first, median.second}, r2, worst, points));
      out.plots.push_back(plot);
    }

    // NCCL records, per configuration.
    if (!m.nccl.empty()) {
      SuitePlot plot{"nccl", "NCCL collectives", "bytes", "time (s)", {}};
      for (const auto& [key, records] : series_of(m.nccl)) {
        std::vector<double> bytes, seconds;
        const TransferFit fit = fit_records(records, bytes, seconds);
        const NcclRecord& c = *records.front();
        add_transfer_rows(out, "nccl", key, fit);
        plot.series.push_back(transfer_series(key, bytes, seconds, fit));
        p.collectives.push_back(collective_profile(
            {c.op, c.algorithm, c.protocol, c.ranks, c.nodes, fit,
             fit.bandwidth_bytes_per_s.value * nccl_tests_bus_factor(c.op, c.ranks), m.source}));
      }
      out.plots.push_back(plot);
    }

    // Storage, per configuration.
    if (!m.storage.empty()) {
      SuitePlot plot{"storage", "Storage", "bytes", "time (s)", {}};
      for (const auto& [key, records] : series_of(m.storage)) {
        std::vector<double> bytes, seconds;
        const TransferFit fit = fit_records(records, bytes, seconds);
        const StorageRecord& s = *records.front();
        add_transfer_rows(out, "storage", key, fit);
        plot.series.push_back(transfer_series(key, bytes, seconds, fit));
        p.storage.push_back(
            {s.tier, s.mode, s.pattern, s.block_bytes, s.threads,
             profile_value(fit.latency_s, fit.points, fit.r2, fit.max_relative_residual),
             profile_value(fit.bandwidth_bytes_per_s, fit.points, fit.r2,
                           fit.max_relative_residual)});
      }
      out.plots.push_back(plot);
    }
  }

  // nccl-tests logs, one configuration each.
  if (!logs.empty()) {
    SuitePlot plot{"nccl-tests", "nccl-tests logs", "bytes", "time (s)", {}};
    for (const NcclTestsLog& log : logs) {
      const CollectiveFit fit = fit_collective(log);
      const std::string key = log.op + " " + log.algorithm + "/" + log.protocol + " " +
                              std::to_string(log.ranks) + " ranks " + std::to_string(log.nodes) +
                              " nodes";
      add_transfer_rows(out, "nccl-tests", key, fit.transfer);
      std::vector<double> bytes, seconds;
      for (const NcclTestsRow& row : log.rows) {
        if (!(row.out_of_place.time_us > 0)) continue;
        bytes.push_back(row.bytes);
        seconds.push_back(row.out_of_place.time_us * 1e-6);
      }
      plot.series.push_back(transfer_series(key, bytes, seconds, fit.transfer));
      p.collectives.push_back(collective_profile(fit));
    }
    out.plots.push_back(plot);
  }

  // NIC efficiency from the best inter-node all-reduce.
  if (instance != nullptr && instance->efa_nics > 0) {
    const double per_gpu_line =
        instance->efa_nic_bw_bytes_per_s * instance->efa_nics / instance->gpus_per_node;
    const CollectiveProfile* best = nullptr;
    for (const CollectiveProfile& c : p.collectives) {
      if (c.op == "all_reduce" && c.nodes >= 2 &&
          (best == nullptr || c.busbw_bytes_per_s > best->busbw_bytes_per_s)) {
        best = &c;
      }
    }
    if (best != nullptr) {
      double eff = best->busbw_bytes_per_s / per_gpu_line;
      if (eff > 1.0) {
        out.notes.push_back("the inter-node all_reduce bus bandwidth (" +
                            format_number(best->busbw_bytes_per_s / 1e9) +
                            " GB/s) exceeds the per-GPU EFA line rate (" +
                            format_number(per_gpu_line / 1e9) +
                            " GB/s), so it is not NIC-bound (NVLS or tree over few nodes?): "
                            "NIC efficiency capped at 1");
        eff = 1.0;
      }
      const double rel =
          best->algbw_bytes_per_s.value > 0
              ? best->algbw_bytes_per_s.standard_error / best->algbw_bytes_per_s.value
              : 0.0;
      p.nic_efficiency =
          ProfileValue{eff, eff * rel, best->algbw_bytes_per_s.points, best->algbw_bytes_per_s.r2,
                       best->algbw_bytes_per_s.max_relative_residual};
      out.rows.push_back(row_of("network", best->op + " " + std::to_string(best->nodes) + " nodes",
                                "NIC efficiency", "", {eff, eff * rel}, best->algbw_bytes_per_s.r2,
                                best->algbw_bytes_per_s.max_relative_residual,
                                best->algbw_bytes_per_s.points));
    }
  }

  if (out.rows.empty()) {
    throw bad_input(
        measurements.empty() ? std::string("fmsim calibrate fit") : measurements.front().source,
        "nothing to fit: expected measurement records (gemm, attention, hbm, nvlink, "
        "nccl, storage) or nccl-tests logs");
  }
  return out;
}

std::string render_fit_table(const ProfileFit& fit) {
  std::ostringstream out;
  const MachineDescription& m = fit.profile.machine;
  out << "# fmsim calibrate fit: " << (m.gpu.empty() ? "unknown GPU" : m.gpu)
      << (m.instance.empty() ? "" : " on " + m.instance) << ", " << fit.profile.sources.size()
      << " source(s)\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-42s %-18s %12s %10s %8s %8s %6s\n", "suite", "item",
                "parameter", "value", "+-rel", "R^2", "max res", "points");
  out << line;
  for (const FitRow& r : fit.rows) {
    std::string value;
    if (!r.display.empty()) {
      value = r.display;
    } else if (r.unit == "B/s") {
      value = format_number(r.value / 1e9) + " GB/s";
    } else if (r.unit == "s") {
      value = format_number(r.value * 1e6) + " us";
    } else {
      value = format_number(r.value);
    }
    const double rel = r.value != 0 ? r.standard_error / std::abs(r.value) : 0.0;
    const std::string r2 = r.r2 < 0 ? "-" : format_number(r.r2, "%.5f");
    std::snprintf(line, sizeof line, "%-10s %-42s %-18s %12s %9.2f%% %8s %7.2f%% %6d\n",
                  r.suite.c_str(), r.item.substr(0, 42).c_str(), r.parameter.c_str(), value.c_str(),
                  100 * rel, r2.c_str(), 100 * r.max_relative_residual, r.points);
    out << line;
  }
  for (const std::string& note : fit.notes) out << "# note: " << note << "\n";
  return out.str();
}

std::string render_fit_svg(const SuitePlot& plot) {
  const double width = 760, height = 480, left = 80, right = 220, top = 40, bottom = 56;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double xmin = std::numeric_limits<double>::infinity(), xmax = 0, ymin = xmin, ymax = 0;
  for (const FitSeries& s : plot.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      for (double y : {s.measured[i], s.fitted[i]}) {
        if (!(y > 0) || !(s.x[i] > 0)) continue;
        xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, y), ymax = std::max(ymax, y);
      }
    }
  }
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left + plot_w / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">"
      << xml_escape(plot.title) << ": measured (points) and fitted (lines)</text>\n";
  if (!(xmax > 0) || !(ymax > 0)) return svg.str() + "</svg>\n";
  // Log axes over whole decades.
  const double lx0 = std::floor(std::log10(xmin)),
               lx1 = std::max(lx0 + 1, std::ceil(std::log10(xmax)));
  const double ly0 = std::floor(std::log10(ymin)),
               ly1 = std::max(ly0 + 1, std::ceil(std::log10(ymax)));
  const auto px = [&](double x) { return left + plot_w * (std::log10(x) - lx0) / (lx1 - lx0); };
  const auto py = [&](double y) {
    return top + plot_h * (1 - (std::log10(y) - ly0) / (ly1 - ly0));
  };
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double d = lx0; d <= lx1; ++d) {
    svg << "<line x1=\"" << px(std::pow(10, d)) << "\" y1=\"" << top << "\" x2=\""
        << px(std::pow(10, d)) << "\" y2=\"" << top + plot_h << "\" stroke=\"#ddd\"/>\n"
        << "<text x=\"" << px(std::pow(10, d)) << "\" y=\"" << top + plot_h + 16
        << "\" text-anchor=\"middle\">1e" << d << "</text>\n";
  }
  for (double d = ly0; d <= ly1; ++d) {
    svg << "<line x1=\"" << left << "\" y1=\"" << py(std::pow(10, d)) << "\" x2=\"" << left + plot_w
        << "\" y2=\"" << py(std::pow(10, d)) << "\" stroke=\"#ddd\"/>\n"
        << "<text x=\"" << left - 6 << "\" y=\"" << py(std::pow(10, d)) + 4
        << "\" text-anchor=\"end\">1e" << d << "</text>\n";
  }
  svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 14
      << "\" text-anchor=\"middle\">" << plot.x_label << "</text>\n"
      << "<text x=\"18\" y=\"" << top + plot_h / 2
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " << top + plot_h / 2 << ")\">"
      << plot.y_label << "</text>\n";
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                           "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const FitSeries& s = plot.series[k];
    const char* colour = colours[k % 8];
    // The fitted curve, in x order.
    std::vector<std::size_t> order(s.x.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return s.x[a] < s.x[b]; });
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i : order) {
      if (s.x[i] > 0 && s.fitted[i] > 0) svg << px(s.x[i]) << "," << py(s.fitted[i]) << " ";
    }
    svg << "\"/>\n";
    for (std::size_t i : order) {
      if (s.x[i] > 0 && s.measured[i] > 0) {
        svg << "<circle cx=\"" << px(s.x[i]) << "\" cy=\"" << py(s.measured[i])
            << "\" r=\"3\" fill=\"" << colour << "\"/>\n";
      }
    }
    svg << "<text x=\"" << left + plot_w + 12 << "\" y=\"" << top + 14 + 16 * k << "\" fill=\""
        << colour << "\">" << xml_escape(s.name.substr(0, 30)) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace fmsim
