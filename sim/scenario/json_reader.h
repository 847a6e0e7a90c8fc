// Strict, typed reading of one JSON object of a scenario. Every accessor validates type and range
// and names the JSON pointer of the field on error; finish() rejects fields nobody read, with a
// "did you mean" suggestion. This is how scenario.cpp maps JSON to structs in one place.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace fmsim {

// "/cluster" + "nodes" -> "/cluster/nodes" (escaping ~ and / as RFC 6901 says).
std::string pointer_join(const std::string& pointer, const std::string& key);
// A short rendering of a JSON value for error messages ("-3", "\"eight\"", "an object").
std::string describe_value(const nlohmann::json& value);

class JsonReader {
 public:
  // `object` must outlive the reader. Throws fmsim::Error if it is not a JSON object.
  JsonReader(const nlohmann::json& object, std::string pointer);

  const std::string& pointer() const { return pointer_; }
  std::string pointer(const std::string& key) const { return pointer_join(pointer_, key); }
  bool has(const std::string& key) const;
  // The raw value (marked as read), or nullptr when absent.
  const nlohmann::json* raw(const std::string& key);

  double number(const std::string& key, double fallback, double min, double max);
  double required_number(const std::string& key, double min, double max);
  long long integer(const std::string& key, long long fallback, long long min, long long max);
  bool boolean(const std::string& key, bool fallback);
  std::string string(const std::string& key, const std::string& fallback);
  std::string required_string(const std::string& key);
  // A string that must be one of `allowed`.
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& allowed);
  // A list of strings each in `allowed`; absent means empty.
  std::vector<std::string> choices(const std::string& key, const std::vector<std::string>& allowed);
  // A nested object; absent gives an empty object.
  JsonReader object(const std::string& key);

  // Throws for the first field that no accessor read.
  void finish() const;

 private:
  const nlohmann::json& object_;
  std::string pointer_;
  std::set<std::string> read_;
  mutable std::set<std::string> asked_;  // names has() was asked about: known, for suggestions
  static const nlohmann::json kEmpty;
};

}  // namespace fmsim
