#include "fit/fit.h"

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace fmsim {

LinearFit least_squares(const std::vector<std::vector<double>>& rows, const std::vector<double>& y,
                        const std::vector<double>& weights) {
  const auto n = static_cast<Eigen::Index>(rows.size());
  if (n == 0 || rows.size() != y.size() || (!weights.empty() && weights.size() != y.size())) {
    throw std::invalid_argument("least_squares: rows, y and weights must have the same length");
  }
  const auto p = static_cast<Eigen::Index>(rows.front().size());
  if (p == 0 || n < p) {
    throw std::invalid_argument("least_squares: " + std::to_string(n) + " points for " +
                                std::to_string(p) + " coefficients");
  }
  Eigen::MatrixXd a(n, p);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto& row = rows[static_cast<std::size_t>(i)];
    const double w = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(i)];
    const double yi = y[static_cast<std::size_t>(i)];
    if (static_cast<Eigen::Index>(row.size()) != p || !std::isfinite(yi) || !(w >= 0) ||
        !std::isfinite(w)) {
      throw std::invalid_argument("least_squares: row " + std::to_string(i) +
                                  " has the wrong length or a non-finite value or weight");
    }
    const double s = std::sqrt(w);
    for (Eigen::Index j = 0; j < p; ++j) {
      if (!std::isfinite(row[static_cast<std::size_t>(j)])) {
        throw std::invalid_argument("least_squares: non-finite x in row " + std::to_string(i));
      }
      a(i, j) = s * row[static_cast<std::size_t>(j)];
    }
    b(i) = s * yi;
  }
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a);
  if (qr.rank() < p) throw std::invalid_argument("least_squares: the design is rank deficient");
  const Eigen::VectorXd coef = qr.solve(b);

  LinearFit fit;
  fit.points = static_cast<int>(n);
  fit.coefficients.assign(coef.data(), coef.data() + p);
  const Eigen::VectorXd residual = b - a * coef;
  const double rss = residual.squaredNorm();
  const double s2 = n > p ? rss / static_cast<double>(n - p) : 0.0;
  // (A'A)^-1 from R: A P = Q R, so (A'A)^-1 = P (R'R)^-1 P'.
  const Eigen::MatrixXd r = qr.matrixR().topLeftCorner(p, p).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd r_inv = r.inverse();
  const Eigen::MatrixXd cov_permuted = r_inv * r_inv.transpose();
  const Eigen::MatrixXd cov =
      qr.colsPermutation() * cov_permuted * qr.colsPermutation().transpose();
  for (Eigen::Index j = 0; j < p; ++j) fit.standard_errors.push_back(std::sqrt(s2 * cov(j, j)));
  for (Eigen::Index i = 0; i < p; ++i) {
    for (Eigen::Index j = 0; j < p; ++j) fit.covariance.push_back(s2 * cov(i, j));
  }

  // Weighted R^2 against the weighted mean of y.
  double sw = 0, swy = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double w = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(i)];
    sw += w;
    swy += w * y[static_cast<std::size_t>(i)];
  }
  const double mean = sw > 0 ? swy / sw : 0.0;
  double tss = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double w = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(i)];
    const double d = y[static_cast<std::size_t>(i)] - mean;
    tss += w * d * d;
  }
  fit.r2 = tss > 0 ? 1.0 - rss / tss : 1.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    double predicted = 0;
    for (Eigen::Index j = 0; j < p; ++j) {
      predicted += rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] * coef(j);
    }
    fit.predicted.push_back(predicted);
    const double yi = y[static_cast<std::size_t>(i)];
    if (yi != 0.0) {
      fit.max_relative_residual =
          std::max(fit.max_relative_residual, std::abs(yi - predicted) / std::abs(yi));
    }
  }
  return fit;
}

TransferFit fit_transfer(const std::vector<double>& bytes, const std::vector<double>& seconds) {
  if (bytes.size() != seconds.size()) {
    throw std::invalid_argument("fit_transfer: bytes and seconds differ in length");
  }
  std::vector<std::vector<double>> rows;
  std::vector<double> weights;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (!(seconds[i] > 0)) {
      throw std::invalid_argument("fit_transfer: a time is not > 0 at point " + std::to_string(i));
    }
    rows.push_back({1.0, bytes[i]});
    weights.push_back(1.0 / (seconds[i] * seconds[i]));
  }
  LinearFit lf = least_squares(rows, seconds, weights);
  bool with_latency = true;
  if (lf.coefficients[0] < 0) {
    for (auto& row : rows) row.erase(row.begin());
    lf = least_squares(rows, seconds, weights);
    with_latency = false;
  }
  const std::size_t b = with_latency ? 1 : 0;  // the bandwidth term's column
  TransferFit fit;
  fit.points = lf.points;
  fit.r2 = lf.r2;
  fit.max_relative_residual = lf.max_relative_residual;
  if (with_latency) fit.latency_s = {lf.coefficients[0], lf.standard_errors[0]};
  // bw = 1 / beta; its standard error by the delta method, se(beta) / beta^2.
  const double beta = lf.coefficients[b];
  if (!(beta > 0)) {
    throw std::invalid_argument("fit_transfer: time does not grow with size (no bandwidth term)");
  }
  fit.bandwidth_bytes_per_s = {1.0 / beta, lf.standard_errors[b] / (beta * beta)};
  return fit;
}

double nccl_tests_bus_factor(const std::string& op, int ranks) {
  const double n = ranks;
  if (ranks < 1) return 1.0;
  if (op == "all_reduce") return 2.0 * (n - 1) / n;
  if (op == "all_gather" || op == "reduce_scatter" || op == "alltoall") return (n - 1) / n;
  return 1.0;
}

CollectiveFit fit_collective(const NcclTestsLog& log) {
  std::vector<double> bytes, seconds;
  for (const NcclTestsRow& row : log.rows) {
    // Rows too small to time (0.00 us) carry no information about either term.
    if (!(row.out_of_place.time_us > 0)) continue;
    bytes.push_back(row.bytes);
    seconds.push_back(row.out_of_place.time_us * 1e-6);
  }
  CollectiveFit fit;
  fit.op = log.op;
  fit.algorithm = log.algorithm;
  fit.protocol = log.protocol;
  fit.ranks = log.ranks;
  fit.nodes = log.nodes;
  fit.source = log.source;
  fit.transfer = fit_transfer(bytes, seconds);
  fit.busbw_bytes_per_s =
      fit.transfer.bandwidth_bytes_per_s.value * nccl_tests_bus_factor(log.op, log.ranks);
  return fit;
}

double wave_efficiency(double m, double n, double count, double tile_m, double tile_n, int sms) {
  const double tiles = std::ceil(m / tile_m) * std::ceil(n / tile_n) * count;
  const double waves = std::ceil(tiles / sms);
  return tiles / (waves * sms);
}

double GemmFit::efficiency(const GemmSample& s, int sms, double peak_flops) const {
  const double flops = 2.0 * s.m * s.n * s.k * s.count;
  const double main_loop = s.k / (s.k + k_half.value);
  const double compute_s =
      flops / (peak_flops * max_efficiency.value *
               wave_efficiency(s.m, s.n, s.count, tile_m, tile_n, sms) * main_loop);
  return flops / ((floor_s.value + compute_s) * peak_flops);
}

namespace {

// One tile shape's fit: y = 1 / efficiency (time in units of FLOPs / peak) against the columns
// floor (x = peak / FLOPs), 1 / max_efficiency (x = 1 / wave) and k_half / max_efficiency
// (x = 1 / (wave k)), dropping a column whose coefficient comes out negative.
GemmFit fit_gemm_tile(const std::vector<GemmSample>& samples, int sms, double peak_flops,
                      double tile_m, double tile_n) {
  bool k_varies = false;
  for (const GemmSample& s : samples) k_varies = k_varies || s.k != samples.front().k;
  bool with_floor = true, with_k = k_varies;
  for (;;) {
    std::vector<std::vector<double>> rows;
    std::vector<double> y, weights;
    for (const GemmSample& s : samples) {
      const double flops = 2.0 * s.m * s.n * s.k * s.count;
      const double wave = wave_efficiency(s.m, s.n, s.count, tile_m, tile_n, sms);
      std::vector<double> row;
      if (with_floor) row.push_back(peak_flops / flops);
      row.push_back(1.0 / wave);
      if (with_k) row.push_back(1.0 / (wave * s.k));
      rows.push_back(row);
      y.push_back(1.0 / s.efficiency);
      weights.push_back(s.efficiency * s.efficiency);
    }
    const LinearFit lf = least_squares(rows, y, weights);
    const std::size_t f = 0, a = with_floor ? 1 : 0, b = a + 1;
    if (with_floor && lf.coefficients[f] < 0) {
      with_floor = false;
      continue;
    }
    if (with_k && lf.coefficients[b] < 0) {
      with_k = false;
      continue;
    }
    const double inv = lf.coefficients[a];
    if (!(inv > 0)) throw std::invalid_argument("fit_gemm: time does not grow with FLOPs");
    GemmFit fit;
    fit.tile_m = tile_m;
    fit.tile_n = tile_n;
    fit.r2 = lf.r2;
    fit.max_relative_residual = lf.max_relative_residual;
    fit.points = lf.points;
    // max_efficiency = 1 / a, k_half = b / a, errors by the delta method; the floor is its
    // column's.
    fit.max_efficiency = {1.0 / inv, lf.standard_errors[a] / (inv * inv)};
    if (with_k) {
      const double kb = lf.coefficients[b];
      const double var = lf.cov(b, b) / (inv * inv) + kb * kb * lf.cov(a, a) / std::pow(inv, 4) -
                         2.0 * kb * lf.cov(a, b) / std::pow(inv, 3);
      fit.k_half = {kb / inv, std::sqrt(std::max(0.0, var))};
    }
    if (with_floor) {
      fit.floor_s = {lf.coefficients[f], lf.standard_errors[f]};
    }
    return fit;
  }
}

}  // namespace

GemmFit fit_gemm(const std::vector<GemmSample>& samples, int sms, double peak_flops) {
  if (samples.size() < 3) {
    throw std::invalid_argument("fit_gemm: " + std::to_string(samples.size()) +
                                " samples; expected at least 3 shapes");
  }
  for (const GemmSample& s : samples) {
    if (!(s.efficiency > 0) || !(s.m > 0) || !(s.n > 0) || !(s.k > 0) || !(s.count > 0)) {
      throw std::invalid_argument("fit_gemm: a sample has a non-positive shape or efficiency");
    }
  }
  GemmFit best;
  double best_rss = std::numeric_limits<double>::infinity();
  for (double tile_m : {64.0, 128.0, 256.0}) {
    for (double tile_n : {64.0, 128.0, 256.0}) {
      const GemmFit fit = fit_gemm_tile(samples, sms, peak_flops, tile_m, tile_n);
      double rss = 0;
      for (const GemmSample& s : samples) {
        const double d =
            (1.0 / s.efficiency - 1.0 / fit.efficiency(s, sms, peak_flops)) * s.efficiency;
        rss += d * d;
      }
      // Strictly better only: on ties the earlier (smaller) tile is kept, so the result does not
      // depend on floating-point noise between equivalent tilings.
      if (rss < best_rss * (1 - 1e-12)) {
        best_rss = rss;
        best = fit;
      }
    }
  }
  return best;
}

}  // namespace fmsim
