// Fitting what the calibration microbenchmarks measured to the simulator's parameters (Eigen).
//
// Every fit is a weighted linear least-squares problem, min sum_i w_i (y_i - x_i . b)^2, solved by
// a column-pivoting Householder QR of sqrt(W) X. The weights are 1 / y_i^2 wherever the data span
// orders of magnitude (times from 8 B to 8 GB): the fit then minimises relative residuals, so the
// latency is set by the small sizes and the bandwidth by the large ones, instead of the largest
// sizes deciding both. Each coefficient comes with its standard error, sqrt(s^2 (X'WX)^-1_jj) with
// s^2 = weighted RSS / (n - p), and the fit with R^2 and its largest relative residual.
//
// Models:
//  - transfer (collectives, HBM copies, NVLink peer copies, storage): t = latency + bytes / bw,
//    linear in (latency, 1 / bw);
//  - GEMM: the model in sim/execute/compute.h plus a fixed time per kernel,
//      t = floor + FLOPs / (peak x max_efficiency x wave efficiency x k / (k + k_half)),
//    where the wave efficiency is that of the output tiles over the SMs and k / (k + k_half) the
//    share of a tile's time spent in its main loop (the pipeline fill and the epilogue cost about
//    k_half of k). In units of FLOPs / peak it is linear in (floor, 1 / max_efficiency,
//    k_half / max_efficiency) for each tile shape; the tile shape is chosen from a grid by the
//    smallest residual. The floor (launch and the smallest kernel's latency, a few microseconds)
//    keeps the tiny shapes from dragging max_efficiency down; the simulator does not apply it.
//    A term that comes out negative is dropped and the rest refitted.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "fit/nccl_tests.h"

namespace fmsim {

struct LinearFit {
  std::vector<double> coefficients;
  std::vector<double> standard_errors;
  double r2 = 0.0;                     // weighted, against the weighted mean
  double max_relative_residual = 0.0;  // max_i |y_i - y_hat_i| / |y_i|
  std::vector<double> predicted;       // y_hat, in input order
  std::vector<double> covariance;      // p x p, row-major: s^2 (X'WX)^-1
  int points = 0;
  double cov(std::size_t i, std::size_t j) const { return covariance[i * coefficients.size() + j]; }
};

// Weighted least squares; `rows` are the x_i (all the same length p), `weights` empty for 1.
// Throws std::invalid_argument for fewer points than coefficients, a non-finite input or a rank-
// deficient design.
LinearFit least_squares(const std::vector<std::vector<double>>& rows, const std::vector<double>& y,
                        const std::vector<double>& weights = {});

// A fitted value and how well the data pin it down.
struct FittedValue {
  double value = 0.0;
  double standard_error = 0.0;
  double relative_error() const { return value != 0.0 ? standard_error / std::abs(value) : 0.0; }
};

// t = latency + bytes / bandwidth over (bytes, seconds) samples, relative residuals. A negative
// fitted latency (a curve that bends the other way, as caches and write-back buffers make it) is
// not physical: the fit is then t = bytes / bandwidth, latency 0.
struct TransferFit {
  FittedValue latency_s;
  FittedValue bandwidth_bytes_per_s;
  double r2 = 0.0;
  double max_relative_residual = 0.0;
  int points = 0;
};
TransferFit fit_transfer(const std::vector<double>& bytes, const std::vector<double>& seconds);

// One nccl-tests log (or the nccl suite's records of one op/algorithm/protocol/ranks): the
// transfer fit of the out-of-place times, and the bus bandwidth it implies (algorithm bandwidth x
// nccl-tests' bus factor for the op and ranks).
struct CollectiveFit {
  std::string op, algorithm, protocol;
  int ranks = 0, nodes = 0;
  TransferFit transfer;
  double busbw_bytes_per_s = 0.0;
  std::string source;
};
CollectiveFit fit_collective(const NcclTestsLog& log);

// nccl-tests' bus bandwidth factor (its PERFORMANCE.md): all_reduce 2(n-1)/n, all_gather,
// reduce_scatter and alltoall (n-1)/n, broadcast and sendrecv 1.
double nccl_tests_bus_factor(const std::string& op, int ranks);

// A GEMM measurement: shape (m x k times k x n, `count` of them in one grouped call) and the
// efficiency it reached, FLOPs / (time x dense peak of the precision).
struct GemmSample {
  double m = 0, n = 0, k = 0, count = 1;
  double efficiency = 0.0;
};
struct GemmFit {
  FittedValue max_efficiency;
  FittedValue k_half;   // 0 when the data hold no k dependence (one k, or a negative fit)
  FittedValue floor_s;  // fixed time per kernel; 0 when it fits negative
  double tile_m = 0, tile_n = 0;
  double r2 = 0.0;
  double max_relative_residual = 0.0;  // of the times
  int points = 0;
  // The model's efficiency (FLOPs / (time x peak)) for a sample, floor included.
  double efficiency(const GemmSample& s, int sms, double peak_flops) const;
};
// Fits the GEMM model over `sms` SMs and the precision's dense `peak_flops`; tiles are tried from
// {64, 128, 256}^2. Throws std::invalid_argument for fewer than 3 samples.
GemmFit fit_gemm(const std::vector<GemmSample>& samples, int sms, double peak_flops);

// The compute model's wave efficiency of a GEMM's output tiles over the SMs (compute.h).
double wave_efficiency(double m, double n, double count, double tile_m, double tile_n, int sms);

}  // namespace fmsim
