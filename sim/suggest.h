// "Did you mean" suggestions for misspelt names (fields, instances, GPUs, presets).
#pragma once

#include <string>
#include <vector>

namespace fmsim {

// Levenshtein distance between two strings (case-sensitive).
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `name`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, |name|/3), or `name` is a prefix of at least 3 characters).
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);
// " (did you mean \"x\"?)" or "" when nothing is close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace fmsim
