#include "scenario/json_reader.h"

#include <cmath>
#include <sstream>

#include "error.h"
#include "suggest.h"

namespace fmsim {
namespace {

std::string format_number(double value) {
  std::ostringstream out;
  out.precision(15);
  out << value;
  return out.str();
}

std::string range_text(double min, double max) {
  const bool has_min = std::isfinite(min) && min > -1e300;
  const bool has_max = std::isfinite(max) && max < 1e300;
  if (has_min && has_max) return " between " + format_number(min) + " and " + format_number(max);
  if (has_min) return " >= " + format_number(min);
  if (has_max) return " <= " + format_number(max);
  return "";
}

}  // namespace

const nlohmann::json JsonReader::kEmpty = nlohmann::json::object();

std::string pointer_join(const std::string& pointer, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return pointer + "/" + escaped;
}

std::string describe_value(const nlohmann::json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

JsonReader::JsonReader(const nlohmann::json& object, std::string pointer)
    : object_(object), pointer_(std::move(pointer)) {
  if (!object_.is_object()) {
    throw bad_input(pointer_.empty() ? "/" : pointer_,
                    "expected an object, got " + describe_value(object_));
  }
}

bool JsonReader::has(const std::string& key) const {
  asked_.insert(key);  // a field a caller asks about is a known name, even when absent
  return object_.contains(key);
}

const nlohmann::json* JsonReader::raw(const std::string& key) {
  read_.insert(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

double JsonReader::number(const std::string& key, double fallback, double min, double max) {
  const nlohmann::json* value = raw(key);
  if (value == nullptr) return fallback;
  if (!value->is_number()) {
    throw bad_input(pointer(key),
                    "expected a number" + range_text(min, max) + ", got " + describe_value(*value));
  }
  const double x = value->get<double>();
  if (!(x >= min && x <= max)) {
    throw bad_input(pointer(key),
                    "expected a number" + range_text(min, max) + ", got " + describe_value(*value));
  }
  return x;
}

double JsonReader::required_number(const std::string& key, double min, double max) {
  if (!has(key)) {
    throw bad_input(pointer(key), "missing; expected a number" + range_text(min, max));
  }
  return number(key, 0.0, min, max);
}

long long JsonReader::integer(const std::string& key, long long fallback, long long min,
                              long long max) {
  const nlohmann::json* value = raw(key);
  if (value == nullptr) return fallback;
  const std::string expected =
      "expected an integer" + range_text(static_cast<double>(min), static_cast<double>(max));
  const bool integral =
      value->is_number_integer() ||
      (value->is_number_float() && std::floor(value->get<double>()) == value->get<double>() &&
       std::abs(value->get<double>()) < 9e15);
  if (!integral) throw bad_input(pointer(key), expected + ", got " + describe_value(*value));
  const long long x = value->is_number_float() ? static_cast<long long>(value->get<double>())
                                               : value->get<long long>();
  if (x < min || x > max)
    throw bad_input(pointer(key), expected + ", got " + describe_value(*value));
  return x;
}

bool JsonReader::boolean(const std::string& key, bool fallback) {
  const nlohmann::json* value = raw(key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    throw bad_input(pointer(key), "expected true or false, got " + describe_value(*value));
  }
  return value->get<bool>();
}

std::string JsonReader::string(const std::string& key, const std::string& fallback) {
  const nlohmann::json* value = raw(key);
  if (value == nullptr) return fallback;
  if (!value->is_string()) {
    throw bad_input(pointer(key), "expected a string, got " + describe_value(*value));
  }
  return value->get<std::string>();
}

std::string JsonReader::required_string(const std::string& key) {
  if (!has(key)) throw bad_input(pointer(key), "missing; expected a string");
  return string(key, "");
}

std::string JsonReader::choice(const std::string& key, const std::string& fallback,
                               const std::vector<std::string>& allowed) {
  const std::string value = string(key, fallback);
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  std::string list;
  for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
  throw bad_input(pointer(key), "unknown value \"" + value + "\"" + did_you_mean(value, allowed) +
                                    "; expected one of: " + list);
}

std::vector<std::string> JsonReader::choices(const std::string& key,
                                             const std::vector<std::string>& allowed) {
  const nlohmann::json* value = raw(key);
  std::vector<std::string> out;
  if (value == nullptr) return out;
  if (!value->is_array()) {
    throw bad_input(pointer(key), "expected an array of strings, got " + describe_value(*value));
  }
  nlohmann::json wrapper = nlohmann::json::object();
  for (std::size_t i = 0; i < value->size(); ++i) {
    wrapper = {{std::to_string(i), (*value)[i]}};
    JsonReader item(wrapper, pointer(key));
    out.push_back(item.choice(std::to_string(i), "", allowed));
  }
  return out;
}

JsonReader JsonReader::object(const std::string& key) {
  const nlohmann::json* value = raw(key);
  return JsonReader(value == nullptr ? kEmpty : *value, pointer(key));
}

void JsonReader::finish() const {
  std::set<std::string> names = read_;
  names.insert(asked_.begin(), asked_.end());
  const std::vector<std::string> known(names.begin(), names.end());
  for (const auto& [key, value] : object_.items()) {
    if (read_.count(key)) continue;
    std::string list;
    for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
    throw bad_input(pointer(key),
                    "unknown field" + did_you_mean(key, known) + "; expected one of: " + list);
  }
}

}  // namespace fmsim
