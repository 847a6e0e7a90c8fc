#include "report/report.h"

#include <cstdio>
#include <sstream>

#include "version.h"

namespace fmsim {
namespace {

constexpr double kGB = 1e9;
constexpr double kUs = 1e-6;

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

nlohmann::json row_json(const CollectiveRow& row) {
  return {{"bytes", row.bytes},
          {"count", row.count},
          {"type", row.type},
          {"redop", row.redop},
          {"time_us", row.time_s / kUs},
          {"algbw_gbps", row.algbw_bytes_per_s / kGB},
          {"busbw_gbps", row.busbw_bytes_per_s / kGB},
          {"algorithm", row.algorithm},
          {"protocol", row.protocol},
          {"channels", row.channels},
          {"limited_by", row.limited_by},
          {"predicted_time_us", row.predicted_time_s / kUs}};
}

}  // namespace

bool Report::expectations_met() const {
  for (const auto& e : expectations) {
    if (!e.ok) return false;
  }
  return true;
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json out = {{"fmsim_version", kVersion},
                        {"scenario", report.scenario},
                        {"scenario_origin", report.scenario_origin},
                        {"stage", report.stage},
                        {"cluster_summary", report.cluster_summary}};
  if (report.collective) {
    const auto& c = *report.collective;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : c.rows) rows.push_back(row_json(row));
    out["collective"] = {{"op", c.op},
                         {"ranks", c.ranks},
                         {"nodes", c.nodes},
                         {"nvlink_domains", c.nvlink_domains},
                         {"avg_busbw_gbps", c.avg_busbw_bytes_per_s / kGB},
                         {"rows", rows}};
  }
  nlohmann::json expectations = nlohmann::json::array();
  for (const auto& e : report.expectations) {
    expectations.push_back(
        {{"name", e.name}, {"limit", e.limit}, {"value", e.value}, {"ok", e.ok}});
  }
  out["expectations"] = expectations;
  out["notes"] = report.notes;
  return out;
}

std::string render_text(const Report& report) {
  std::ostringstream out;
  out << "# fmsim " << kVersion << "  scenario: " << report.scenario_name << "  ("
      << report.scenario_origin << ")\n";
  out << "# cluster: " << report.cluster_summary << "\n";
  if (report.collective) {
    const auto& c = *report.collective;
    out << "# " << c.op << ": " << c.ranks << " ranks on " << c.nodes << " node(s), "
        << c.nvlink_domains << " NVLink domain(s)\n#\n";
    char line[512];
    std::snprintf(line, sizeof line, "# %12s %12s %9s %6s %11s %8s %8s  %-9s %-6s %3s  %s\n",
                  "size", "count", "type", "redop", "time", "algbw", "busbw", "algorithm", "proto",
                  "ch", "limited by");
    out << line;
    std::snprintf(line, sizeof line, "# %12s %12s %9s %6s %11s %8s %8s\n", "(B)", "(elements)", "",
                  "", "(us)", "(GB/s)", "(GB/s)");
    out << line;
    for (const auto& row : c.rows) {
      std::snprintf(line, sizeof line,
                    "  %12.0f %12lld %9s %6s %11.2f %8.2f %8.2f  %-9s %-6s %3d  %s\n", row.bytes,
                    row.count, row.type.c_str(), row.redop.c_str(), row.time_s / kUs,
                    row.algbw_bytes_per_s / kGB, row.busbw_bytes_per_s / kGB, row.algorithm.c_str(),
                    row.protocol.c_str(), row.channels, row.limited_by.c_str());
      out << line;
    }
    out << "# Avg bus bandwidth    : " << format("%.3f", c.avg_busbw_bytes_per_s / kGB)
        << " GB/s\n";
  }
  for (const auto& note : report.notes) out << "# note: " << note << "\n";
  for (const auto& e : report.expectations) {
    out << "# expect " << e.name << " " << format("%g", e.limit) << ": " << format("%.6g", e.value)
        << (e.ok ? "  ok" : "  FAILED") << "\n";
  }
  return out.str();
}

std::string render_csv(const Report& report) {
  std::ostringstream out;
  if (!report.collective) return out.str();
  out << "size_bytes,count,type,redop,time_us,algbw_gbps,busbw_gbps,algorithm,protocol,channels,"
         "limited_by\n";
  for (const auto& row : report.collective->rows) {
    out << format("%.0f", row.bytes) << ',' << row.count << ',' << row.type << ',' << row.redop
        << ',' << format("%.3f", row.time_s / kUs) << ','
        << format("%.3f", row.algbw_bytes_per_s / kGB) << ','
        << format("%.3f", row.busbw_bytes_per_s / kGB) << ',' << row.algorithm << ','
        << row.protocol << ',' << row.channels << ",\"" << row.limited_by << "\"\n";
  }
  return out.str();
}

nlohmann::json render_trace(const Report& report) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& [pid, name] : report.trace.process_names) {
    events.push_back(
        {{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"args", {{"name", name}}}});
  }
  for (const auto& [pid, tid, name] : report.trace.thread_names) {
    events.push_back({{"ph", "M"},
                      {"name", "thread_name"},
                      {"pid", pid},
                      {"tid", tid},
                      {"args", {{"name", name}}}});
  }
  for (const auto& span : report.trace.spans) {
    nlohmann::json event = {{"ph", "X"},
                            {"name", span.name},
                            {"cat", span.category},
                            {"pid", span.pid},
                            {"tid", span.tid},
                            {"ts", span.start_s / kUs},
                            {"dur", span.duration_s / kUs}};
    if (!span.args.is_null()) event["args"] = span.args;
    events.push_back(std::move(event));
  }
  for (const auto& counter : report.trace.counters) {
    events.push_back({{"ph", "C"},
                      {"name", counter.name},
                      {"pid", counter.pid},
                      {"ts", counter.time_s / kUs},
                      {"args", {{"utilization", counter.value}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

}  // namespace fmsim
