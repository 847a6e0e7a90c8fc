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
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    // A name cut short ("p5.48xl" for "p5.48xlarge") is as plausible as a one-letter typo.
    const bool prefix = name.size() >= 3 && candidate.rfind(name, 0) == 0;
    // A real one-letter typo (distance 1) beats a prefix: "expert" -> "experts", not
    // "expert_ffn_hidden".
    const std::size_t distance =
        std::min(edit_distance(name, candidate), prefix ? std::size_t{2} : std::size_t(-1));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string best = closest_name(name, candidates);
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

}  // namespace fmsim
