// The nccl-tests importer (calibrate/fit/nccl_tests.h) on logs written in nccl-tests' exact
// format (tests/data/nccl-tests): comment and header lines, NCCL INFO lines, srun's rank labels,
// out-of-place and in-place columns, "N/A" in #wrong when validation is off, the summary lines.
// The logs' times were generated from t = latency + bytes / algbw with the parameters named in
// each test, rounded as nccl-tests prints them (2 decimals below 100 us, 1 below 10,000, none
// above) with a multiplicative noise of at most 0.5 %, so the fits below have a known answer.
#include "fit/nccl_tests.h"

#include <gtest/gtest.h>

#include <string>

#include "error.h"
#include "fit/fit.h"

namespace fmsim {
namespace {

std::string data(const std::string& name) {
  return std::string(FMSIM_SOURCE_DIR) + "/tests/data/nccl-tests/" + name;
}

TEST(NcclTestsImport, ReadsAnAllReduceLogWithRankLabelsAndNcclInfoLines) {
  // all_reduce_perf on 2 p5 nodes x 8 GPUs under srun --label, NCCL_ALGO=Ring NCCL_PROTO=Simple,
  // sizes 1 KiB to 8 GiB by factor 2 (24 rows).
  const NcclTestsLog log = read_nccl_tests_file(data("all_reduce_perf-2x8-ring-simple.log"));
  EXPECT_EQ(log.op, "all_reduce");
  EXPECT_EQ(log.algorithm, "Ring");
  EXPECT_EQ(log.protocol, "Simple");
  EXPECT_EQ(log.ranks, 16);
  EXPECT_EQ(log.nodes, 2);
  EXPECT_EQ(log.gpu, "NVIDIA H100 80GB HBM3");
  ASSERT_EQ(log.rows.size(), 24u);
  EXPECT_EQ(log.rows.front().bytes, 1024);
  EXPECT_EQ(log.rows.back().bytes, 8589934592.0);
  EXPECT_EQ(log.rows.front().count, 256);
  EXPECT_EQ(log.rows.front().type, "float");
  EXPECT_EQ(log.rows.front().redop, "sum");
  EXPECT_EQ(log.rows.front().root, -1);
  EXPECT_DOUBLE_EQ(log.rows.front().out_of_place.time_us, 40.17);
  EXPECT_DOUBLE_EQ(log.rows.front().in_place.time_us, 40.29);
  EXPECT_EQ(log.rows.front().out_of_place.wrong, 0);
  EXPECT_DOUBLE_EQ(log.avg_busbw_gbps, 151.337);
  EXPECT_EQ(log.out_of_bounds, 0);
  // Every row's busbw is algbw x 2 (n - 1) / n = 1.875 algbw, both printed to 2 decimals: within
  // 0.005 + 1.875 x 0.005 = 0.014.
  for (const NcclTestsRow& row : log.rows) {
    EXPECT_NEAR(row.out_of_place.busbw_gbps, 1.875 * row.out_of_place.algbw_gbps, 0.0141)
        << "line " << row.line;
  }
}

TEST(NcclTestsImport, TakesTheOpFromTheFileNameAndReadsNotApplicableWrongCounts) {
  // all_gather_perf, one node, validation off (#wrong "N/A"), no "Collective test starting" line.
  const NcclTestsLog log = read_nccl_tests_file(data("all_gather_perf-1x8.log"));
  EXPECT_EQ(log.op, "all_gather");
  EXPECT_EQ(log.algorithm, "any");
  EXPECT_EQ(log.ranks, 8);
  EXPECT_EQ(log.nodes, 1);
  ASSERT_EQ(log.rows.size(), 28u);  // 8 B to 1 GiB
  EXPECT_EQ(log.rows.front().redop, "none");
  EXPECT_EQ(log.rows.front().out_of_place.wrong, -1);
  // An explicit op wins over the name.
  EXPECT_EQ(read_nccl_tests_file(data("all_gather_perf-1x8.log"), "broadcast").op, "broadcast");
}

TEST(NcclTestsImport, FitRecoversTheLatencyAndBandwidthTheLogWasMadeWith) {
  // all_reduce log: 40 us + bytes / 180 GB/s; all_gather log: 12 us + bytes / 320 GB/s. Bus
  // bandwidth: 180 x 2 x 15 / 16 = 337.5 GB/s and 320 x 7 / 8 = 280 GB/s.
  const CollectiveFit reduce =
      fit_collective(read_nccl_tests_file(data("all_reduce_perf-2x8-ring-simple.log")));
  EXPECT_NEAR(reduce.transfer.latency_s.value, 40e-6, 0.02 * 40e-6);
  EXPECT_NEAR(reduce.transfer.bandwidth_bytes_per_s.value, 180e9, 0.02 * 180e9);
  EXPECT_NEAR(reduce.busbw_bytes_per_s, 337.5e9, 0.02 * 337.5e9);
  EXPECT_EQ(reduce.ranks, 16);
  EXPECT_EQ(reduce.algorithm, "Ring");
  EXPECT_LT(reduce.transfer.max_relative_residual, 0.02);
  EXPECT_GT(reduce.transfer.r2, 0.999);

  const CollectiveFit gather =
      fit_collective(read_nccl_tests_file(data("all_gather_perf-1x8.log")));
  EXPECT_NEAR(gather.transfer.latency_s.value, 12e-6, 0.02 * 12e-6);
  EXPECT_NEAR(gather.transfer.bandwidth_bytes_per_s.value, 320e9, 0.02 * 320e9);
  EXPECT_NEAR(gather.busbw_bytes_per_s, 280e9, 0.02 * 280e9);
}

// Expects reading `name` to fail with exit code 2 naming `where`; returns the message.
std::string expect_bad(const std::string& name, const std::string& where) {
  try {
    read_nccl_tests_file(data(name));
    ADD_FAILURE() << name << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(e.where(), where) << e.what();
    return e.message();
  }
  return "";
}

TEST(NcclTestsImport, BadLogsExit2NamingTheLine) {
  // The table's header is lines 1 to 4 of these files; rows start on line 5. Row 4 and 5 swapped
  // (16 KiB before 8 KiB), a NaN time in row 3, 10 columns in row 6.
  EXPECT_NE(expect_bad("bad-nonmonotonic_all_reduce_perf.log",
                       data("bad-nonmonotonic_all_reduce_perf.log") + ":9")
                .find("increase"),
            std::string::npos);
  EXPECT_NE(expect_bad("bad-nan_all_reduce_perf.log", data("bad-nan_all_reduce_perf.log") + ":7")
                .find("out-of-place time"),
            std::string::npos);
  EXPECT_NE(
      expect_bad("bad-columns_all_reduce_perf.log", data("bad-columns_all_reduce_perf.log") + ":10")
          .find("13 columns"),
      std::string::npos);
}

TEST(NcclTestsImport, TextWithoutRowsOrOpIsBadInput) {
  EXPECT_THROW(parse_nccl_tests("# nothing here\n", "empty_all_reduce_perf.log"), Error);
  EXPECT_THROW(
      parse_nccl_tests("  1024  256  float  sum  -1  10.0  0.1  0.1  0  10.0  0.1  0.1  0\n",
                       "unnamed.log"),
      Error);
  EXPECT_THROW(
      parse_nccl_tests("  1024  256  float  sum  -1  10.0  0.1  0.1  0  10.0  0.1  0.1  0\n",
                       "x.log", "all_to_everyone"),
      Error);
  const NcclTestsLog ok =
      parse_nccl_tests("  1024  256  float  sum  -1  10.0  0.1  0.1  0  10.0  0.1  0.1  0\r\n",
                       "x.log", "all_reduce");
  EXPECT_EQ(ok.rows.size(), 1u);
}

}  // namespace
}  // namespace fmsim
