// No NaN or infinity ever reaches a report (issue 5 acceptance): every scenario shipped in
// scenarios/ and scenarios/validation/ is parsed and run in-process, and every number of its JSON
// report must be finite and no value null (nlohmann writes NaN and infinity as null, so a null in
// a report is a NaN that escaped). The text and CSV renderings must not print "nan" or "inf"
// either. The scenario list is read from the source tree when the test binary starts, so a new
// scenario is covered without touching this file.
//
// The validation scenarios (up to 384 nodes of full pipeline simulation) take about 70 s
// together in a Debug build (27 s for the 1008B one alone), the examples about 30 s; ASan makes
// both two to four times slower. They are two suites, FiniteReport and FiniteReportSlow, so that
// the slow one can be labelled `slow` as scenarios/CMakeLists.txt labels the validation runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.h"
#include "hardware/catalog.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The *.json files directly in `folder` (relative to the source tree), sorted by name.
std::vector<fs::path> scenario_files(const std::string& folder) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(FMSIM_SOURCE_DIR) / folder, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The built-in catalog plus the validation catalogs (Meta's Grand Teton, NVIDIA's Selene) that
// the validation scenarios name, as `fmsim --catalog` would merge them.
const Catalog& catalog_with_validation_machines() {
  static const Catalog catalog = [] {
    Catalog merged = Catalog::builtin();
    for (const auto& file : scenario_files("scenarios/validation/catalog")) {
      merged.merge_file(file.string());
    }
    return merged;
  }();
  return catalog;
}

// "megatron-table1-gpt-1.7b-p4de-4node" -> "megatron_table1_gpt_1_7b_p4de_4node".
std::string test_name(const testing::TestParamInfo<fs::path>& info) {
  std::string name = info.param.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Appends the JSON pointer of every null and every non-finite number under `value`.
void collect_non_finite(const json& value, const json::json_pointer& at,
                        std::vector<std::string>& offenders) {
  if (value.is_null()) {
    offenders.push_back(at.to_string() + " is null (a NaN or infinity written by nlohmann)");
    return;
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    offenders.push_back(at.to_string() + " = " + std::to_string(value.get<double>()));
    return;
  }
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) collect_non_finite(child, at / key, offenders);
    return;
  }
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      collect_non_finite(value[i], at / i, offenders);
    }
  }
}

testing::AssertionResult EveryNumberIsFinite(const json& report) {
  std::vector<std::string> offenders;
  collect_non_finite(report, json::json_pointer(), offenders);
  if (offenders.empty()) return testing::AssertionSuccess();
  testing::AssertionResult failure = testing::AssertionFailure();
  failure << offenders.size() << " value(s) not finite:";
  for (const auto& offender : offenders) failure << "\n  " << offender;
  return failure;
}

// printf renders NaN as "nan"/"-nan" and infinity as "inf"; a word boundary keeps "infeasible"
// and "infiniband" out of it.
testing::AssertionResult PrintsNoNanOrInfinity(const std::string& text) {
  // A hand-written scan (GCC 12's <regex> trips -Wmaybe-uninitialized at -O2 -Werror): every
  // maximal run of letters is a word; "nan", "inf" and "infinity" in any case are offenders.
  const auto is_letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = 0; i < text.size();) {
    if (!is_letter(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_letter(text[end])) ++end;
    std::string word = text.substr(i, end - i);
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word == "nan" || word == "inf" || word == "infinity") {
      const auto line_start = text.rfind('\n', i);
      const auto line_end = text.find('\n', i);
      const std::size_t from = line_start == std::string::npos ? 0 : line_start + 1;
      return testing::AssertionFailure()
             << "prints a non-finite number: " << text.substr(from, line_end - from);
    }
    i = end;
  }
  return testing::AssertionSuccess();
}

void expect_finite_report(const fs::path& file) {
  json document = read_json_file(file.string());
  const Catalog& catalog = catalog_with_validation_machines();
  const Scenario scenario = parse_scenario(document, catalog);
  RunOptions options;
  options.scenario_origin = file.string();
  Report report;
  try {
    report = run_scenario(scenario, catalog, options);
  } catch (const Error& e) {
    FAIL() << file << " did not run: " << e.what();
  }
  EXPECT_TRUE(EveryNumberIsFinite(to_json(report))) << file;
  EXPECT_TRUE(PrintsNoNanOrInfinity(render_text(report))) << file;
  EXPECT_TRUE(PrintsNoNanOrInfinity(render_csv(report))) << file;
}

class FiniteReport : public testing::TestWithParam<fs::path> {};
class FiniteReportSlow : public testing::TestWithParam<fs::path> {};

TEST_P(FiniteReport, EveryNumberOfTheReportIsFinite) { expect_finite_report(GetParam()); }
TEST_P(FiniteReportSlow, EveryNumberOfTheReportIsFinite) { expect_finite_report(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Examples, FiniteReport, testing::ValuesIn(scenario_files("scenarios")),
                         test_name);
INSTANTIATE_TEST_SUITE_P(Validation, FiniteReportSlow,
                         testing::ValuesIn(scenario_files("scenarios/validation")), test_name);

TEST(FiniteReportScan, FindsTheExampleAndValidationScenarios) {
  // The scan must not silently cover nothing (a moved folder would instantiate no test at all):
  // the storage examples of issue 5 and the Llama 3 reliability validation are among them.
  const auto examples = scenario_files("scenarios");
  const auto validation = scenario_files("scenarios/validation");
  const auto has = [](const std::vector<fs::path>& files, const std::string& name) {
    return std::any_of(files.begin(), files.end(),
                       [&](const fs::path& file) { return file.filename() == name; });
  };
  EXPECT_TRUE(has(examples, "vlm-8b-pretrain-p5-64node-fsx-shards.json"));
  EXPECT_TRUE(has(examples, "vlm-8b-pretrain-p5-16node-s3-smallfiles.json"));
  EXPECT_TRUE(has(examples, "llama3-405b-pretrain-p5-16k-goodput.json"));
  EXPECT_TRUE(has(validation, "llama3-405b-reliability-16k.json"));
}

TEST(FiniteReportScan, FlagsNullsAndNonFiniteNumbersWithTheirPointer) {
  // The checker itself: a NaN stored in a json value, an infinity in an array and an explicit
  // null are each reported with their JSON pointer; finite numbers and strings are not.
  json report = {{"training", {{"step", {{"time_s", std::nan("")}}}}},
                 {"rows", {1.0, std::numeric_limits<double>::infinity()}},
                 {"missing", nullptr},
                 {"fine", {{"value", 2.5}, {"text", "inf"}}}};
  std::vector<std::string> offenders;
  collect_non_finite(report, json::json_pointer(), offenders);
  ASSERT_EQ(offenders.size(), 3u);
  const std::string all = offenders[0] + offenders[1] + offenders[2];
  EXPECT_NE(all.find("/training/step/time_s"), std::string::npos) << all;
  EXPECT_NE(all.find("/rows/1"), std::string::npos) << all;
  EXPECT_NE(all.find("/missing"), std::string::npos) << all;
  EXPECT_FALSE(PrintsNoNanOrInfinity("  step   nan  100%\n"));
  EXPECT_FALSE(PrintsNoNanOrInfinity("goodput -inf\n"));
  EXPECT_TRUE(PrintsNoNanOrInfinity("# INFEASIBLE: HDR InfiniBand, 1 info\n"));
}

}  // namespace
}  // namespace fmsim
