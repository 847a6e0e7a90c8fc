// Seeded random numbers that are the same on every standard library (std::mt19937_64 is fully
// specified; its distributions are not, so fmsim derives its own), and nearest-rank percentiles.
// Used by the Monte-Carlo run length (reliability/) and the request generator (workload/).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace fmsim {

class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) from the top 53 bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Exponential with `rate` (-log(1 - u) / rate); +infinity for a rate of 0.
  double exponential(double rate) {
    if (rate == 0.0) return std::numeric_limits<double>::infinity();
    return -std::log1p(-uniform()) / rate;
  }

  // Standard normal by Box-Muller, one value per call.
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

// Nearest-rank percentile of sorted values: the ceil(p n / 100)-th smallest; 0 when empty.
inline double nearest_rank(const std::vector<double>& sorted, int percent) {
  if (sorted.empty()) return 0.0;
  const auto n = static_cast<std::int64_t>(sorted.size());
  const std::int64_t rank = std::max<std::int64_t>(1, (percent * n + 99) / 100);
  return sorted[static_cast<std::size_t>(std::min(rank, n) - 1)];
}

}  // namespace fmsim
