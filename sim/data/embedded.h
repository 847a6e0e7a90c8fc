// Data files from sim/data/, embedded into the library at build time (cmake/EmbedFiles.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace fmsim {

// The contents of the embedded file `name` (e.g. "gpus.json"); throws std::out_of_range if absent.
std::string_view embedded_file(std::string_view name);
// Names of every embedded file, sorted.
std::vector<std::string_view> embedded_file_names();

}  // namespace fmsim
