// Loading, merging, lookup and display of the hardware catalog (see catalog.h).
//
// File format. sim/data/sources.json is {"sources": {id: {"title", "url", "status"}}};
// sim/data/gpus.json is {"gpus": [entry, ...]} and sim/data/instances.json is
// {"instances": [entry, ...]}. An entry has a plain "name" (and plain "arch", "price_date",
// "price_region"); every other field is {"value": x, "source": id, "note": "..."} in the display
// unit its name carries: "bf16_dense_tflops" in TFLOP/s, "hbm_gib" in 2^30 bytes (GPU memory is
// binary), "hbm_bw_gbps" in 1e9 bytes/s, "efa_nic_gbps" in Gbit/s, "host_memory_gib" in GiB,
// "nvme_tb_total" in 1e12 bytes.
//
// One mapping table per struct (gpu_fields(), instance_fields()) names, for every field, the
// member it fills, the factor from its display unit to SI, and whether it may be null or left
// out. Parsing, catalog_json() and catalog_table() all go through these tables, so each unit
// conversion is written once and catalog_json() output merges back into an equal catalog.
//
// The embedded files are read strictly: every value names a source that sources.json defines, and
// no name repeats. User documents (Catalog::merge) may give plain values (attributed to "user"),
// and an entry whose name exists overrides only the fields it gives; a new entry needs them all.
#include "hardware/catalog.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"
#include "scenario/json_reader.h"
#include "suggest.h"

namespace fmsim {
namespace {

using nlohmann::json;

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;
constexpr double kGibi = 1024.0 * 1024.0 * 1024.0;
constexpr double kGigabitInBytes = 1e9 / 8.0;

constexpr std::string_view kCpuVendors[] = {"amd", "intel", "arm"};

constexpr std::pair<GpuArch, std::string_view> kArchNames[] = {
    {GpuArch::kAmpere, "ampere"},
    {GpuArch::kHopper, "hopper"},
    {GpuArch::kBlackwell, "blackwell"},
};

// ---------------------------------------------------------------------------------------------
// Locations and errors

// A place inside a document, printed "origin#/json/pointer" as error messages name it.
class Where {
 public:
  Where(std::string origin, std::string pointer)
      : origin_(std::move(origin)), pointer_(std::move(pointer)) {}

  Where operator/(std::string_view key) const {
    return Where(origin_, pointer_join(pointer_, std::string(key)));
  }
  Where operator/(std::size_t index) const {
    return Where(origin_, pointer_ + "/" + std::to_string(index));
  }

  std::string str() const {
    if (pointer_.empty()) return origin_.empty() ? "/" : origin_;
    return origin_.empty() ? pointer_ : origin_ + "#" + pointer_;
  }

 private:
  std::string origin_;
  std::string pointer_;
};

[[noreturn]] void fail(const Where& where, const std::string& message) {
  throw bad_input(where.str(), message);
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// " (did you mean ...?)" for a misspelt name. suggest.h's closest_name() scores "one is a prefix of
// the other" like a one-letter typo and keeps the first of equals, so candidates go to it ranked:
// names that extend `name` first ("p5.48xl" -> "p5.48xlarge"), then by edit distance. Unranked,
// "gpu_per_node" would suggest "gpu" rather than "gpus_per_node".
std::string nearest_name_hint(const std::string& name, std::vector<std::string> candidates) {
  const auto rank = [&](const std::string& candidate) {
    return candidate.starts_with(name) ? 0 : edit_distance(name, candidate);
  };
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return did_you_mean(name, candidates);
}

// ---------------------------------------------------------------------------------------------
// The mapping tables

enum class Presence {
  kRequired,  // a new entry must give it, and not as null
  kNullable,  // a new entry must give it; null means "none" (0, or an empty optional)
  kOptional,  // may be left out; absent means an empty string
};
enum class Bound { kPositive, kNonNegative };

template <class Spec>
using Member = std::variant<double Spec::*, int Spec::*, bool Spec::*, std::string Spec::*,
                            std::optional<double> Spec::*, GpuArch Spec::*>;

template <class Spec>
struct Field {
  std::string_view key;  // JSON name, with its display unit
  Member<Spec> member;
  double si_per_unit = 1.0;  // SI value of one display unit (1e12 for TFLOP/s)
  Presence presence = Presence::kRequired;
  Bound bound = Bound::kPositive;
  bool sourced = true;  // written {"value", "source"}; false for plain strings such as "arch"
  std::span<const std::string_view> choices = {};  // allowed strings, when limited
};

const std::vector<Field<GpuSpec>>& gpu_fields() {
  using S = GpuSpec;
  static const std::vector<Field<S>> fields = {
      {.key = "arch", .member = &S::arch, .sourced = false},
      {.key = "bf16_dense_tflops", .member = &S::bf16_flops, .si_per_unit = kTera},
      {.key = "fp16_dense_tflops", .member = &S::fp16_flops, .si_per_unit = kTera},
      {.key = "fp8_dense_tflops",
       .member = &S::fp8_flops,
       .si_per_unit = kTera,
       .presence = Presence::kNullable,
       .bound = Bound::kNonNegative},
      {.key = "tf32_dense_tflops", .member = &S::tf32_flops, .si_per_unit = kTera},
      {.key = "hbm_gib", .member = &S::hbm_bytes, .si_per_unit = kGibi},
      {.key = "hbm_bw_gbps", .member = &S::hbm_bw_bytes_per_s, .si_per_unit = kGiga},
      {.key = "nvlink_links", .member = &S::nvlink_links, .bound = Bound::kNonNegative},
      {.key = "nvlink_gbps_per_direction",
       .member = &S::nvlink_bw_bytes_per_s,
       .si_per_unit = kGiga,
       .bound = Bound::kNonNegative},
      {.key = "nvlink_link_effective_gbps",
       .member = &S::nvlink_link_effective_bw_bytes_per_s,
       .si_per_unit = kGiga,
       .bound = Bound::kNonNegative},
      {.key = "pcie_gbps_per_direction", .member = &S::pcie_bw_bytes_per_s, .si_per_unit = kGiga},
      {.key = "tdp_w", .member = &S::tdp_w},
      {.key = "nvls", .member = &S::nvls},
  };
  return fields;
}

const std::vector<Field<InstanceSpec>>& instance_fields() {
  using S = InstanceSpec;
  static const std::vector<Field<S>> fields = {
      {.key = "gpu", .member = &S::gpu},
      {.key = "gpus_per_node", .member = &S::gpus_per_node},
      {.key = "nvlink_domain_gpus", .member = &S::nvlink_domain_gpus},
      {.key = "efa_nics", .member = &S::efa_nics, .bound = Bound::kNonNegative},
      {.key = "efa_nic_gbps",
       .member = &S::efa_nic_bw_bytes_per_s,
       .si_per_unit = kGigabitInBytes,
       .bound = Bound::kNonNegative},
      {.key = "efa_generation", .member = &S::efa_generation},
      {.key = "cpu_vendor", .member = &S::cpu_vendor, .choices = kCpuVendors},
      {.key = "vcpus", .member = &S::vcpus},
      {.key = "host_memory_gib", .member = &S::host_memory_bytes, .si_per_unit = kGibi},
      {.key = "nvme_drives",
       .member = &S::nvme_drives,
       .presence = Presence::kNullable,
       .bound = Bound::kNonNegative},
      {.key = "nvme_tb_total",
       .member = &S::nvme_bytes,
       .si_per_unit = kTera,
       .bound = Bound::kNonNegative},
      {.key = "price_usd_per_hour",
       .member = &S::price_usd_per_hour,
       .presence = Presence::kNullable},
      {.key = "price_date", .member = &S::price_date, .sourced = false},
      {.key = "price_region", .member = &S::price_region, .sourced = false},
      {.key = "ultraserver", .member = &S::ultraserver, .presence = Presence::kOptional},
  };
  return fields;
}

template <class Spec>
const Field<Spec>& field_named(const std::vector<Field<Spec>>& fields, std::string_view key) {
  for (const auto& field : fields) {
    if (field.key == key) return field;
  }
  throw std::logic_error("catalog: no field " + std::string(key));
}

template <class Spec>
std::vector<std::string> field_keys(const std::vector<Field<Spec>>& fields) {
  std::vector<std::string> keys = {"name"};
  for (const auto& field : fields) keys.emplace_back(field.key);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Reading one value (display units in, SI out)

template <class Spec>
std::string expected(const Field<Spec>& field, std::string_view what) {
  std::string text = "expected ";
  text += field.bound == Bound::kPositive ? "a positive " : "a non-negative ";
  text += what;
  if (field.presence == Presence::kNullable) text += " or null";
  return text;
}

bool within(double x, Bound bound) {
  if (!std::isfinite(x)) return false;
  return bound == Bound::kPositive ? x > 0.0 : x >= 0.0;
}

template <class Spec>
bool null_allowed(const Field<Spec>& field, const json& value) {
  return value.is_null() && field.presence == Presence::kNullable;
}

template <class Spec>
void read_value(double& out, const Field<Spec>& field, const json& value, const Where& where) {
  if (null_allowed(field, value)) {
    out = 0.0;
    return;
  }
  if (!value.is_number() || !within(value.get<double>(), field.bound)) {
    fail(where, expected(field, "number"));
  }
  out = value.get<double>() * field.si_per_unit;
}

template <class Spec>
void read_value(std::optional<double>& out, const Field<Spec>& field, const json& value,
                const Where& where) {
  if (null_allowed(field, value)) {
    out.reset();
    return;
  }
  double number = 0.0;
  read_value(number, field, value, where);
  out = number;
}

template <class Spec>
void read_value(int& out, const Field<Spec>& field, const json& value, const Where& where) {
  if (null_allowed(field, value)) {
    out = 0;
    return;
  }
  const bool fits = value.is_number_unsigned()
                        ? value.get<std::uint64_t>() <= INT_MAX
                        : value.is_number_integer() && value.get<std::int64_t>() <= INT_MAX;
  if (!fits || !within(value.get<double>(), field.bound)) fail(where, expected(field, "integer"));
  out = static_cast<int>(value.get<std::int64_t>());
}

template <class Spec>
void read_value(bool& out, const Field<Spec>&, const json& value, const Where& where) {
  if (!value.is_boolean()) fail(where, "expected true or false");
  out = value.get<bool>();
}

template <class Spec>
void read_value(std::string& out, const Field<Spec>& field, const json& value, const Where& where) {
  if (!value.is_string() || value.get<std::string>().empty()) {
    fail(where, "expected a non-empty string");
  }
  out = value.get<std::string>();
  if (field.choices.empty()) return;
  if (std::find(field.choices.begin(), field.choices.end(), out) != field.choices.end()) return;
  std::vector<std::string> choices(field.choices.begin(), field.choices.end());
  fail(where, "expected one of " + join(choices, ", "));
}

template <class Spec>
void read_value(GpuArch& out, const Field<Spec>&, const json& value, const Where& where) {
  for (const auto& [arch, name] : kArchNames) {
    if (value.is_string() && value.get<std::string>() == name) {
      out = arch;
      return;
    }
  }
  std::vector<std::string> names;
  for (const auto& [arch, name] : kArchNames) names.emplace_back(name);
  fail(where, "expected one of " + join(names, ", "));
}

// ---------------------------------------------------------------------------------------------
// Writing one value (SI in, display units out)

// `si` in display units, rounded to 12 significant digits so that 989.4e12 / 1e12 prints 989.4.
double in_display_units(double si, double si_per_unit) {
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", si / si_per_unit);
  return std::strtod(text, nullptr);
}

template <class Spec>
bool is_absent(const Spec& spec, const Field<Spec>& field) {
  if (field.presence != Presence::kOptional) return false;
  const auto* member = std::get_if<std::string Spec::*>(&field.member);
  return member != nullptr && (spec.**member).empty();
}

template <class Spec>
json display_value(const Spec& spec, const Field<Spec>& field) {
  const bool nullable = field.presence == Presence::kNullable;
  return std::visit(
      [&](auto member) -> json {
        const auto& value = spec.*member;
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, double>) {
          if (nullable && value == 0.0) return nullptr;
          return in_display_units(value, field.si_per_unit);
        } else if constexpr (std::is_same_v<T, int>) {
          if (nullable && value == 0) return nullptr;
          return value;
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          if (!value) return nullptr;
          return in_display_units(*value, field.si_per_unit);
        } else if constexpr (std::is_same_v<T, GpuArch>) {
          return to_string(value);
        } else {
          return value;
        }
      },
      field.member);
}

// ---------------------------------------------------------------------------------------------
// Merging documents

enum class Mode {
  kEmbedded,  // sim/data: every value sourced, no duplicate names
  kUser,      // user catalog files: plain values allowed, existing names overridden
};

struct Parts {
  std::vector<GpuSpec>& gpus;
  std::vector<InstanceSpec>& instances;
  std::map<std::string, SourceRef>& sources;
};

struct MergeContext {
  Mode mode;
  std::string origin;
  Parts parts;
  bool used_user_source = false;
};

constexpr std::string_view kUserSource = "user";

void reject_unknown_keys(const json& object, const std::vector<std::string>& known,
                         const Where& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    fail(where / key, "unknown field" + nearest_name_hint(key, known) + "; expected one of " +
                          join(known, ", "));
  }
}

std::vector<std::string> source_ids(const std::map<std::string, SourceRef>& sources) {
  std::vector<std::string> ids;
  for (const auto& [id, source] : sources) ids.push_back(id);
  return ids;
}

// SourceRef <-> {"title", "url", "status"}.
SourceRef source_from_json(const std::string& id, const json& entry, const Where& where) {
  if (!entry.is_object()) fail(where, "expected {\"title\", \"url\", \"status\"}");
  reject_unknown_keys(entry, {"title", "url", "status", "note"}, where);
  const auto text = [&](std::string_view key, bool may_be_empty) {
    const auto it = entry.find(key);
    if (it == entry.end()) fail(where, "missing field " + in_quotes(key));
    if (!it->is_string() || (!may_be_empty && it->get<std::string>().empty())) {
      fail(where / key, may_be_empty ? "expected a string" : "expected a non-empty string");
    }
    return it->get<std::string>();
  };
  SourceRef source{.id = id,
                   .title = text("title", false),
                   .url = text("url", true),
                   .status = text("status", false)};
  if (source.status != "confirmed" && source.status != "third-party" &&
      source.status != "unconfirmed") {
    fail(where / "status", "expected one of confirmed, third-party, unconfirmed");
  }
  return source;
}

json source_to_json(const SourceRef& source) {
  return {{"title", source.title}, {"url", source.url}, {"status", source.status}};
}

void merge_sources(const json& sources, const Where& where, MergeContext& context) {
  if (!sources.is_object()) {
    fail(where, "expected an object of sources: {\"<id>\": {\"title\", \"url\", \"status\"}}");
  }
  for (const auto& [id, entry] : sources.items()) {
    if (id.empty()) fail(where, "expected non-empty source ids");
    context.parts.sources[id] = source_from_json(id, entry, where / id);
  }
}

// A field as written: a plain value, or {"value", "source", "note"} for sourced fields.
struct Written {
  const json* value = nullptr;
  std::string source = {};  // empty when none was given
  std::string note = {};
};

Written unwrap(const json& field, bool sourced, const Where& where) {
  if (!sourced || !field.is_object()) return Written{.value = &field};
  reject_unknown_keys(field, {"value", "source", "note"}, where);
  const auto value = field.find("value");
  if (value == field.end()) fail(where, "expected {\"value\": ..., \"source\": ...}");
  Written written{.value = &*value};
  if (const auto source = field.find("source"); source != field.end()) {
    if (!source->is_string()) fail(where / "source", "expected a source id (a string)");
    written.source = source->get<std::string>();
  }
  if (const auto note = field.find("note"); note != field.end()) {
    if (!note->is_string()) fail(where / "note", "expected a string");
    written.note = note->get<std::string>();
  }
  return written;
}

std::string resolve_source(const Written& written, const Where& where, MergeContext& context) {
  if (written.source.empty()) {
    if (context.mode == Mode::kEmbedded) {
      fail(where, "expected {\"value\": ..., \"source\": ...}: embedded values need a source");
    }
    context.used_user_source = true;
    return std::string(kUserSource);
  }
  if (context.parts.sources.contains(written.source)) return written.source;
  const auto ids = source_ids(context.parts.sources);
  fail(where / "source", "unknown source " + in_quotes(written.source) +
                             nearest_name_hint(written.source, ids) +
                             "; define it under /sources or leave \"source\" out");
}

// Merges one entry into `specs` and returns its index there.
template <class Spec>
std::size_t merge_entry(const json& entry, const Where& where, std::string_view noun,
                        const std::vector<Field<Spec>>& fields, std::vector<Spec>& specs,
                        MergeContext& context) {
  if (!entry.is_object()) {
    fail(where, "expected an object with a \"name\" and the fields of a " + std::string(noun));
  }
  const auto name = entry.find("name");
  if (name == entry.end()) fail(where, "missing field \"name\"");
  if (!name->is_string() || name->get<std::string>().empty()) {
    fail(where / "name", "expected a non-empty string");
  }
  reject_unknown_keys(entry, field_keys(fields), where);

  const std::string entry_name = name->get<std::string>();
  auto existing = std::find_if(specs.begin(), specs.end(),
                               [&](const Spec& spec) { return spec.name == entry_name; });
  if (existing != specs.end() && context.mode == Mode::kEmbedded) {
    fail(where / "name", "duplicate " + std::string(noun) + " name " + in_quotes(existing->name));
  }
  Spec spec = existing != specs.end() ? *existing : Spec{};
  spec.name = entry_name;

  std::vector<std::string> missing;
  for (const auto& field : fields) {
    const auto it = entry.find(field.key);
    if (it == entry.end()) {
      if (field.presence != Presence::kOptional) missing.push_back(in_quotes(field.key));
      continue;
    }
    const Where field_where = where / field.key;
    const Written written = unwrap(*it, field.sourced, field_where);
    const Where value_where =
        it->is_object() && field.sourced ? field_where / "value" : field_where;
    std::visit([&](auto member) { read_value(spec.*member, field, *written.value, value_where); },
               field.member);
    const std::string key(field.key);
    if (field.sourced) spec.sources[key] = resolve_source(written, field_where, context);
    if (written.note.empty()) {
      spec.notes.erase(key);
    } else {
      spec.notes[key] = written.note;
    }
  }

  if (existing == specs.end() && !missing.empty()) {
    fail(where, "missing field" + std::string(missing.size() > 1 ? "s " : " ") +
                    join(missing, ", ") + " (a new " + std::string(noun) + " needs every field)");
  }
  if (existing != specs.end()) {
    *existing = std::move(spec);
    return static_cast<std::size_t>(existing - specs.begin());
  }
  specs.push_back(std::move(spec));
  return specs.size() - 1;
}

std::vector<std::string> gpu_names(const std::vector<GpuSpec>& gpus) {
  std::vector<std::string> names;
  for (const auto& gpu : gpus) names.push_back(gpu.name);
  return names;
}

// Checks that relate an instance to the rest of the catalog or its own other fields.
void check_instance(const InstanceSpec& instance, const Where& where, const Parts& parts) {
  const bool known_gpu = std::any_of(parts.gpus.begin(), parts.gpus.end(),
                                     [&](const GpuSpec& gpu) { return gpu.name == instance.gpu; });
  if (!known_gpu) {
    const auto names = gpu_names(parts.gpus);
    fail(where / "gpu", "unknown GPU " + in_quotes(instance.gpu) +
                            nearest_name_hint(instance.gpu, names) +
                            "; known GPUs: " + join(names, ", "));
  }
  if (instance.nvlink_domain_gpus % instance.gpus_per_node != 0) {
    fail(where / "nvlink_domain_gpus",
         "expected a multiple of gpus_per_node (" + std::to_string(instance.gpus_per_node) + ")");
  }
}

template <class Spec>
void merge_list(const json& document, std::string_view list_key, std::string_view noun,
                const std::vector<Field<Spec>>& fields, std::vector<Spec>& specs,
                MergeContext& context) {
  const auto list = document.find(list_key);
  if (list == document.end()) return;
  const Where where = Where(context.origin, "") / list_key;
  if (!list->is_array()) fail(where, "expected an array of " + std::string(noun) + " entries");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::size_t index = merge_entry((*list)[i], where / i, noun, fields, specs, context);
    if constexpr (std::is_same_v<Spec, InstanceSpec>) {
      check_instance(specs[index], where / i, context.parts);
    }
  }
}

void note_user_origin(MergeContext& context) {
  auto [it, added] = context.parts.sources.try_emplace(std::string(kUserSource));
  SourceRef& user = it->second;
  if (added) {
    user = SourceRef{.id = std::string(kUserSource),
                     .title = "value given without a source in a user catalog file",
                     .url = context.origin,
                     .status = "unconfirmed"};
    return;
  }
  if (user.url.find(context.origin) == std::string::npos) user.url += ", " + context.origin;
}

// Sources first, then GPUs, then instances, so that an instance may use a GPU of the same
// document and a value may cite a source of the same document.
void merge_document(const json& document, const std::string& origin, Mode mode, Parts parts) {
  const Where root(origin, "");
  if (!document.is_object()) {
    fail(root, "expected a catalog object {\"gpus\": [...], \"instances\": [...]}");
  }
  reject_unknown_keys(document, {"sources", "gpus", "instances", "note"}, root);
  MergeContext context{.mode = mode, .origin = origin, .parts = parts};
  if (const auto sources = document.find("sources"); sources != document.end()) {
    merge_sources(*sources, root / "sources", context);
  }
  merge_list(document, "gpus", "GPU", gpu_fields(), parts.gpus, context);
  merge_list(document, "instances", "instance", instance_fields(), parts.instances, context);
  if (context.used_user_source) note_user_origin(context);
}

json parse_embedded(const std::string& name) {
  try {
    return json::parse(embedded_file(name));
  } catch (const json::parse_error& error) {
    throw bad_input(name, std::string("not valid JSON: ") + error.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Display

template <class Spec>
json entry_to_json(const Spec& spec, const std::vector<Field<Spec>>& fields) {
  json entry = {{"name", spec.name}};
  for (const auto& field : fields) {
    if (is_absent(spec, field)) continue;
    const std::string key(field.key);
    json value = display_value(spec, field);
    if (!field.sourced) {
      entry[key] = std::move(value);
      continue;
    }
    json written = {{"value", std::move(value)}};
    if (const auto source = spec.sources.find(key); source != spec.sources.end()) {
      written["source"] = source->second;
    }
    if (const auto note = spec.notes.find(key); note != spec.notes.end()) {
      written["note"] = note->second;
    }
    entry[key] = std::move(written);
  }
  return entry;
}

// `value` with at most `decimals` decimals and no trailing zeros: 989.4, 55.04, 312.
std::string format_number(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  std::string out(text);
  if (out.find('.') == std::string::npos) return out;
  out.erase(out.find_last_not_of('0') + 1);
  if (out.back() == '.') out.pop_back();
  return out;
}

// A display value as a table cell: "-" for null, "yes"/"no" for booleans.
std::string cell_text(const json& value, int decimals) {
  if (value.is_null()) return "-";
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number()) return format_number(value.get<double>(), decimals);
  return value.get<std::string>();
}

template <class Spec>
std::string cell(const Spec& spec, const std::vector<Field<Spec>>& fields, std::string_view key,
                 int decimals = 2) {
  const auto& field = field_named(fields, key);
  if (is_absent(spec, field)) return "-";
  return cell_text(display_value(spec, field), decimals);
}

template <class Spec>
double display_number(const Spec& spec, const std::vector<Field<Spec>>& fields,
                      std::string_view key) {
  const json value = display_value(spec, field_named(fields, key));
  return value.is_number() ? value.get<double>() : 0.0;
}

// Values of `spec` whose source is marked unconfirmed.
template <class Spec>
int unconfirmed_values(const Spec& spec, const std::map<std::string, SourceRef>& sources) {
  int count = 0;
  for (const auto& [field, id] : spec.sources) {
    const auto source = sources.find(id);
    if (source != sources.end() && source->second.status == "unconfirmed") ++count;
  }
  return count;
}

// An aligned text table: text columns left-aligned, numeric columns right-aligned.
class TextTable {
 public:
  struct Column {
    std::string header;
    bool numeric = false;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  std::string render() const {
    std::vector<std::size_t> widths;
    for (const auto& column : columns_) widths.push_back(column.header.size());
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
    }
    std::vector<std::string> headers;
    std::vector<std::string> rules;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      headers.push_back(columns_[c].header);
      rules.emplace_back(widths[c], '-');
    }
    std::string out = render_row(headers, widths) + render_row(rules, widths);
    for (const auto& row : rows_) out += render_row(row, widths);
    return out;
  }

 private:
  std::string render_row(const std::vector<std::string>& cells,
                         const std::vector<std::size_t>& widths) const {
    std::string line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string padding(widths[c] - cells[c].size(), ' ');
      if (c > 0) line += "  ";
      line += columns_[c].numeric ? padding + cells[c] : cells[c] + padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    return line + "\n";
  }

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string gpu_table(const Catalog& catalog) {
  const auto& f = gpu_fields();
  TextTable table({{"GPU"},
                   {"Arch"},
                   {"BF16 TFLOP/s", true},
                   {"FP16 TFLOP/s", true},
                   {"FP8 TFLOP/s", true},
                   {"TF32 TFLOP/s", true},
                   {"HBM GiB", true},
                   {"HBM GB/s", true},
                   {"NVLinks", true},
                   {"NVLink GB/s/dir", true},
                   {"NCCL GB/s/link", true},
                   {"PCIe GB/s/dir", true},
                   {"TDP W", true},
                   {"NVLS"},
                   {"Unconfirmed", true}});
  for (const auto& gpu : catalog.gpus()) {
    table.add_row({gpu.name, cell(gpu, f, "arch"), cell(gpu, f, "bf16_dense_tflops", 1),
                   cell(gpu, f, "fp16_dense_tflops", 1), cell(gpu, f, "fp8_dense_tflops", 1),
                   cell(gpu, f, "tf32_dense_tflops", 1), cell(gpu, f, "hbm_gib", 1),
                   cell(gpu, f, "hbm_bw_gbps", 0), cell(gpu, f, "nvlink_links"),
                   cell(gpu, f, "nvlink_gbps_per_direction", 1),
                   cell(gpu, f, "nvlink_link_effective_gbps", 1),
                   cell(gpu, f, "pcie_gbps_per_direction", 1), cell(gpu, f, "tdp_w", 0),
                   cell(gpu, f, "nvls"),
                   std::to_string(unconfirmed_values(gpu, catalog.sources()))});
  }
  return table.render();
}

std::string instance_table(const Catalog& catalog) {
  const auto& f = instance_fields();
  TextTable table({{"Instance"},
                   {"GPU"},
                   {"GPUs", true},
                   {"NVLink domain", true},
                   {"EFA NICs x Gbps", true},
                   {"EFA Gbps", true},
                   {"EFA gen"},
                   {"CPU"},
                   {"vCPU", true},
                   {"Memory GiB", true},
                   {"NVMe drives", true},
                   {"NVMe TB", true},
                   {"$/h", true},
                   {"Price date"},
                   {"Region"},
                   {"UltraServer"},
                   {"Unconfirmed", true}});
  for (const auto& instance : catalog.instances()) {
    const double efa_gbps = instance.efa_nics * display_number(instance, f, "efa_nic_gbps");
    table.add_row({instance.name, cell(instance, f, "gpu"), cell(instance, f, "gpus_per_node"),
                   cell(instance, f, "nvlink_domain_gpus"),
                   cell(instance, f, "efa_nics") + " x " + cell(instance, f, "efa_nic_gbps"),
                   format_number(efa_gbps, 0), cell(instance, f, "efa_generation"),
                   cell(instance, f, "cpu_vendor"), cell(instance, f, "vcpus"),
                   cell(instance, f, "host_memory_gib", 0), cell(instance, f, "nvme_drives"),
                   cell(instance, f, "nvme_tb_total"), cell(instance, f, "price_usd_per_hour", 6),
                   cell(instance, f, "price_date"), cell(instance, f, "price_region"),
                   cell(instance, f, "ultraserver"),
                   std::to_string(unconfirmed_values(instance, catalog.sources()))});
  }
  return table.render();
}

std::string source_table(const Catalog& catalog) {
  TextTable table({{"Source"}, {"Status"}, {"Title"}, {"URL"}});
  for (const auto& [id, source] : catalog.sources()) {
    table.add_row({id, source.status, source.title, source.url.empty() ? "-" : source.url});
  }
  return table.render();
}

}  // namespace

std::string to_string(GpuArch arch) {
  for (const auto& [value, name] : kArchNames) {
    if (value == arch) return std::string(name);
  }
  return "unknown";
}

const Catalog& Catalog::builtin() {
  // Function-local static: parsed once, thread-safe since C++11.
  static const Catalog catalog = [] {
    Catalog loaded;
    for (const std::string name : {"sources.json", "gpus.json", "instances.json"}) {
      merge_document(parse_embedded(name), name, Mode::kEmbedded,
                     Parts{loaded.gpus_, loaded.instances_, loaded.sources_});
    }
    return loaded;
  }();
  return catalog;
}

void Catalog::merge(const nlohmann::json& document, const std::string& origin) {
  Catalog merged = *this;
  merge_document(document, origin, Mode::kUser,
                 Parts{merged.gpus_, merged.instances_, merged.sources_});
  *this = std::move(merged);
}

void Catalog::merge_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw bad_input(path, "cannot open the catalog file");
  json document;
  try {
    document = json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& error) {
    throw bad_input(path, std::string("not valid JSON: ") + error.what());
  }
  merge(document, path);
}

const GpuSpec* Catalog::find_gpu(const std::string& name) const {
  const auto it = std::find_if(gpus_.begin(), gpus_.end(),
                               [&](const GpuSpec& gpu) { return gpu.name == name; });
  return it == gpus_.end() ? nullptr : &*it;
}

const InstanceSpec* Catalog::find_instance(const std::string& name) const {
  const auto it = std::find_if(instances_.begin(), instances_.end(),
                               [&](const InstanceSpec& instance) { return instance.name == name; });
  return it == instances_.end() ? nullptr : &*it;
}

const GpuSpec& Catalog::gpu(const std::string& name, const std::string& where) const {
  if (const GpuSpec* found = find_gpu(name)) return *found;
  const auto names = gpu_names(gpus_);
  throw bad_input(where, "unknown GPU " + in_quotes(name) + nearest_name_hint(name, names) +
                             "; known GPUs: " + join(names, ", "));
}

const InstanceSpec& Catalog::instance(const std::string& name, const std::string& where) const {
  if (const InstanceSpec* found = find_instance(name)) return *found;
  std::vector<std::string> names;
  for (const auto& instance : instances_) names.push_back(instance.name);
  throw bad_input(where, "unknown instance type " + in_quotes(name) +
                             nearest_name_hint(name, names) +
                             "; known instance types: " + join(names, ", "));
}

const GpuSpec& Catalog::gpu_of(const InstanceSpec& instance) const {
  return gpu(instance.gpu, "/instances/" + instance.name + "/gpu");
}

std::string catalog_table(const Catalog& catalog) {
  return "GPUs (dense tensor-core peaks, without 2:4 sparsity)\n" + gpu_table(catalog) +
         "\nInstances (EFA line rate; on-demand Linux price, \"-\" where AWS lists none)\n" +
         instance_table(catalog) + "\nSources (\"Unconfirmed\" above counts values citing an " +
         "unconfirmed source)\n" + source_table(catalog);
}

nlohmann::json catalog_json(const Catalog& catalog) {
  json gpus = json::array();
  for (const auto& gpu : catalog.gpus()) gpus.push_back(entry_to_json(gpu, gpu_fields()));
  json instances = json::array();
  for (const auto& instance : catalog.instances()) {
    instances.push_back(entry_to_json(instance, instance_fields()));
  }
  json sources = json::object();
  for (const auto& [id, source] : catalog.sources()) sources[id] = source_to_json(source);
  return {{"gpus", std::move(gpus)},
          {"instances", std::move(instances)},
          {"sources", std::move(sources)}};
}

}  // namespace fmsim
