#include "suggest.h"

#include <algorithm>
#include <numeric>

namespace fmsim {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  // Score: the edit distance, except that a candidate `name` starts (at least 3 characters) ranks
  // before every typo: "H100" means "H100-SXM" rather than "H200", and among such prefixes the
  // closest wins ("expert" -> "experts", not "expert_ffn_hidden").
  std::string best;
  double best_score = static_cast<double>(std::max<std::size_t>(2, name.size() / 3)) + 0.5;
  for (const auto& candidate : candidates) {
    const double distance = static_cast<double>(edit_distance(name, candidate));
    const bool prefix = name.size() >= 3 && candidate.rfind(name, 0) == 0;
    const double score = prefix ? 0.5 + distance / 1e6 : distance;
    if (score < best_score) {
      best = candidate;
      best_score = score;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string best = closest_name(name, candidates);
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

}  // namespace fmsim
