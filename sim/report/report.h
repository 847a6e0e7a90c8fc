// What a simulation produced, and its renderings: the JSON report (DESIGN.md section 5), the text
// report, CSV rows and a Chrome trace that Perfetto opens. Units inside are SI (seconds, bytes,
// bytes/s); the renderers convert to us, GB/s (1e9 bytes/s, as nccl-tests prints) and so on.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace fmsim {

// One row of the collective stage, as nccl-tests prints it plus fmsim's explanation.
struct CollectiveRow {
  double bytes = 0.0;
  long long count = 0;  // elements of `type`
  std::string type;
  std::string redop;
  double time_s = 0.0;
  double algbw_bytes_per_s = 0.0;
  double busbw_bytes_per_s = 0.0;
  std::string algorithm;
  std::string protocol;
  int channels = 0;
  std::string limited_by;         // link kind and name, or the protocol cap
  double predicted_time_s = 0.0;  // what the NCCL-like tuner expected when it chose
};

struct CollectiveResult {
  std::string op;
  int ranks = 0;
  int nodes = 0;
  int nvlink_domains = 0;
  std::vector<CollectiveRow> rows;
  double avg_busbw_bytes_per_s = 0.0;  // nccl-tests' "Avg bus bandwidth"
};

struct ExpectationResult {
  std::string name;
  double limit = 0.0;
  double value = 0.0;
  bool ok = true;
};

// A timeline for Perfetto: spans on (process, thread) tracks and counter samples.
struct TraceSpan {
  std::string name;
  std::string category;
  int pid = 0;
  int tid = 0;
  double start_s = 0.0;
  double duration_s = 0.0;
  nlohmann::json args;
};
struct TraceCounter {
  std::string name;  // one counter track per name
  int pid = 0;
  double time_s = 0.0;
  double value = 0.0;
};
struct Trace {
  std::vector<std::pair<int, std::string>> process_names;
  std::vector<std::tuple<int, int, std::string>> thread_names;
  std::vector<TraceSpan> spans;
  std::vector<TraceCounter> counters;
};

struct Report {
  std::string stage;
  std::string scenario_name;
  std::string scenario_origin;  // file path, or "embedded default (...)"
  nlohmann::json scenario;      // the resolved scenario
  std::string cluster_summary;  // one line: nodes, instance, GPUs, links
  std::optional<CollectiveResult> collective;
  std::vector<ExpectationResult> expectations;
  std::vector<std::string> notes;
  Trace trace;

  bool expectations_met() const;
};

nlohmann::json to_json(const Report& report);
std::string render_text(const Report& report);
// CSV of the stage's rows (the collective table), with a header line.
std::string render_csv(const Report& report);
// Chrome trace event format (JSON object with traceEvents), times in microseconds.
nlohmann::json render_trace(const Report& report);

}  // namespace fmsim
