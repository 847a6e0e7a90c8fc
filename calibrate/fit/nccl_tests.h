// Reads the logs that NVIDIA's nccl-tests print (all_reduce_perf, all_gather_perf,
// reduce_scatter_perf, alltoall_perf, sendrecv_perf, broadcast_perf), so that operators can fit a
// calibration profile from what they already measured.
//
// The format, as nccl-tests' src/common.cu prints it:
//   # nThread 1 nGpus 1 minBytes 8 maxBytes 8589934592 step: 2(factor) warmup iters: 5 iters: 20
//   ... #  Rank  0 Group  0 Pid  4242 on   host-1 device  0 [0x53] NVIDIA H100 80GB HBM3 #
//   out-of-place                       in-place #       size         count      type   redop root
//   time   algbw   busbw #wrong     time   algbw   busbw #wrong #        (B)    (elements) (us)
//   (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
//            8             2     float     sum      -1    28.53    0.00    0.00      0    27.90
//            0.00    0.00      0
//   # Out of bounds values : 0 OK
//   # Avg bus bandwidth    : 123.456
// Data rows have 13 columns (size, count, type, redop, root, then time, algbw, busbw and #wrong for
// out-of-place and again for in-place); #wrong is "N/A" when validation is off (-c 0). Everything
// else is skipped: "#" comments, NCCL INFO lines, blank lines. Lines may carry a launcher's rank
// prefix ("0: ", as srun --label writes). Which collective it was comes from the "Collective test
// starting:" line or the "<op>_perf" name in the log; the algorithm and protocol from NCCL's
// "NCCL_ALGO set by environment to ..." INFO lines when NCCL_DEBUG=INFO was on, else "any".
#pragma once

#include <string>
#include <vector>

namespace fmsim {

struct NcclTestsTiming {
  double time_us = 0.0;
  double algbw_gbps = 0.0;  // GB/s = 1e9 B/s
  double busbw_gbps = 0.0;
  long long wrong = 0;  // -1: not checked ("N/A")
};

struct NcclTestsRow {
  double bytes = 0.0;
  double count = 0.0;
  std::string type, redop;
  int root = -1;
  NcclTestsTiming out_of_place, in_place;
  int line = 0;  // 1-based line in the log
};

struct NcclTestsLog {
  std::string source;     // the file name (or what the caller named the text)
  std::string op;         // all_reduce, all_gather, reduce_scatter, alltoall, sendrecv, broadcast
  std::string algorithm;  // from NCCL_ALGO in the log, else "any"
  std::string protocol;   // from NCCL_PROTO in the log, else "any"
  int ranks = 0;          // "#  Rank" lines
  int nodes = 0;          // distinct hosts on those lines
  std::string gpu;        // the device name of rank 0
  std::vector<NcclTestsRow> rows;
  double avg_busbw_gbps = -1.0;  // the summary line; -1 if absent
  long long out_of_bounds = -1;  // "Out of bounds values"; -1 if absent
};

// Parses one log. `op_hint` overrides the collective when the log does not name it ("" = infer).
// Throws fmsim::Error(kBadInput) naming `source:line` for a malformed data row, sizes that do not
// increase, a non-finite or negative time, a log with no data row, or no way to tell the op.
NcclTestsLog parse_nccl_tests(const std::string& text, const std::string& source,
                              const std::string& op_hint = "");
NcclTestsLog read_nccl_tests_file(const std::string& path, const std::string& op_hint = "");

}  // namespace fmsim
