#include "fit/nccl_tests.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "error.h"

namespace fmsim {
namespace {

const char* const kOps[] = {"all_reduce", "all_gather", "reduce_scatter",
                            "alltoall",   "sendrecv",   "broadcast"};

std::vector<std::string> tokens_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string token; in >> token;) out.push_back(token);
  return out;
}

bool parse_double(const std::string& text, double& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

bool is_integer(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Drops a launcher's rank label ("0: ", "12: ") from the front of a line.
std::string without_rank_label(const std::string& line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  const std::size_t digits = i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i > digits && i < line.size() && line[i] == ':') return line.substr(i + 1);
  return line;
}

// The op an "<op>_perf" name in `text` gives, or "".
std::string op_named_in(const std::string& text) {
  for (const char* op : kOps) {
    if (text.find(std::string(op) + "_perf") != std::string::npos) return op;
  }
  return "";
}

// The value after "set by environment to" on a NCCL INFO line, or "".
std::string environment_value(const std::string& line, const std::string& variable) {
  const std::string marker = variable + " set by environment to ";
  const std::size_t at = line.find(marker);
  if (at == std::string::npos) return "";
  const auto rest = tokens_of(line.substr(at + marker.size()));
  return rest.empty() ? "" : rest.front();
}

std::string trimmed_after(const std::string& line, const std::string& marker) {
  const std::size_t at = line.find(marker);
  if (at == std::string::npos) return "";
  const auto rest = tokens_of(line.substr(at + marker.size()));
  return rest.empty() ? "" : rest.front();
}

}  // namespace

NcclTestsLog parse_nccl_tests(const std::string& text, const std::string& source,
                              const std::string& op_hint) {
  NcclTestsLog log;
  log.source = source;
  log.algorithm = "any";
  log.protocol = "any";
  std::set<std::string> hosts;
  std::string op_in_log;
  std::istringstream in(text);
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = without_rank_label(raw);
    const auto where = [&] { return source + ":" + std::to_string(number); };
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;

    if (line[first] == '#') {
      if (line.find("Collective test starting:") != std::string::npos) {
        op_in_log = op_named_in(line);
      } else if (line.find("Avg bus bandwidth") != std::string::npos) {
        double value = 0;
        const std::string text_value = trimmed_after(line, ":");
        if (!parse_double(text_value, value) || !std::isfinite(value)) {
          throw bad_input(
              where(), "expected a number after 'Avg bus bandwidth :', got '" + text_value + "'");
        }
        log.avg_busbw_gbps = value;
      } else if (line.find("Out of bounds values") != std::string::npos) {
        double value = 0;
        if (parse_double(trimmed_after(line, ":"), value)) {
          log.out_of_bounds = static_cast<long long>(value);
        }
      } else {
        // "#  Rank  0 Group  0 Pid  4242 on   host-1 device  0 [0x53] NVIDIA H100 80GB HBM3"
        const auto t = tokens_of(line.substr(first + 1));
        if (t.size() >= 10 && t[0] == "Rank" && t[2] == "Group" && t[6] == "on" &&
            t[8] == "device") {
          ++log.ranks;
          hosts.insert(t[7]);
          if (t[1] == "0") {
            std::string name;
            for (std::size_t i = 11; i < t.size(); ++i) name += (name.empty() ? "" : " ") + t[i];
            log.gpu = name;
          }
        }
      }
      continue;
    }

    if (const std::string a = environment_value(line, "NCCL_ALGO"); !a.empty()) log.algorithm = a;
    if (const std::string p = environment_value(line, "NCCL_PROTO"); !p.empty()) log.protocol = p;
    if (op_in_log.empty()) {
      if (const std::string op = op_named_in(line); !op.empty()) op_in_log = op;
    }

    const auto t = tokens_of(line);
    // A data row starts with two integers (size, count); anything else is not nccl-tests' table.
    if (t.size() < 2 || !is_integer(t[0]) || !is_integer(t[1])) continue;
    // 13 columns today (size count type redop root, then 4 out-of-place and 4 in-place); 12 in
    // nccl-tests before the root column.
    if (t.size() != 13 && t.size() != 12) {
      throw bad_input(where(),
                      "expected a data row of 13 columns (size count type redop root, "
                      "then time algbw busbw #wrong out-of-place and in-place), got " +
                          std::to_string(t.size()));
    }
    const std::size_t timing = t.size() == 13 ? 5 : 4;
    NcclTestsRow row;
    row.line = number;
    parse_double(t[0], row.bytes);
    parse_double(t[1], row.count);
    row.type = t[2];
    row.redop = t[3];
    if (t.size() == 13) {
      double root = 0;
      if (!parse_double(t[4], root)) {
        throw bad_input(where(), "expected an integer root column, got '" + t[4] + "'");
      }
      row.root = static_cast<int>(root);
    }
    const auto read_timing = [&](std::size_t at, const char* which) {
      NcclTestsTiming out;
      const char* names[] = {"time", "algbw", "busbw"};
      double* values[] = {&out.time_us, &out.algbw_gbps, &out.busbw_gbps};
      for (int i = 0; i < 3; ++i) {
        if (!parse_double(t[at + i], *values[i]) || !std::isfinite(*values[i]) || *values[i] < 0) {
          throw bad_input(where(), std::string("expected a finite number >= 0 for the ") + which +
                                       " " + names[i] + ", got '" + t[at + i] + "'");
        }
      }
      double wrong = 0;
      out.wrong = t[at + 3] == "N/A"               ? -1
                  : parse_double(t[at + 3], wrong) ? static_cast<long long>(wrong)
                                                   : -1;
      return out;
    };
    row.out_of_place = read_timing(timing, "out-of-place");
    row.in_place = read_timing(timing + 4, "in-place");
    if (!log.rows.empty() && !(row.bytes > log.rows.back().bytes)) {
      std::ostringstream what;
      what << "expected sizes to increase from row to row, got " << row.bytes << " B after "
           << log.rows.back().bytes << " B (line " << log.rows.back().line << ")";
      throw bad_input(where(), what.str());
    }
    log.rows.push_back(row);
  }

  log.nodes = static_cast<int>(hosts.size());
  log.op = !op_hint.empty() ? op_hint : !op_in_log.empty() ? op_in_log : op_named_in(source);
  if (!log.op.empty() && op_named_in(log.op + "_perf").empty()) {
    throw bad_input(source, "unknown collective '" + log.op +
                                "': expected one of all_reduce, all_gather, reduce_scatter, "
                                "alltoall, sendrecv, broadcast");
  }
  if (log.op.empty()) {
    throw bad_input(source,
                    "cannot tell which collective this nccl-tests log measured: it has "
                    "no 'Collective test starting:' line and its name has no "
                    "'<op>_perf'; expected one of all_reduce, all_gather, "
                    "reduce_scatter, alltoall, sendrecv, broadcast (give it with --op)");
  }
  if (log.rows.empty()) {
    throw bad_input(source,
                    "no data rows: expected nccl-tests' table of size, count, type, redop, "
                    "root, time, algbw, busbw, #wrong (out-of-place and in-place)");
  }
  return log;
}

NcclTestsLog read_nccl_tests_file(const std::string& path, const std::string& op_hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot open the nccl-tests log");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_nccl_tests(text.str(), path, op_hint);
}

}  // namespace fmsim
