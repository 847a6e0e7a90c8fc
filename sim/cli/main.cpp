// `fmsim`: the command line. Thin on purpose: parse arguments, call the library, print, and map
// fmsim::Error to its exit code (0 ok, 1 expectation failed, 2 bad input, 3 infeasible).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "error.h"
#include "fit/measurements.h"
#include "fit/nccl_tests.h"
#include "fit/profile_fit.h"
#include "hardware/catalog.h"
#include "plan/plan.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "version.h"
#include "workload/run.h"
#ifdef FMSIM_WITH_MPI
#include "cli/distributed_plan.h"
#endif

namespace {

using fmsim::bad_input;
using fmsim::ExitCode;

struct Outputs {
  std::string json, csv, trace, plot;
  bool force = false;
};

// Refuses to overwrite a file that exists unless --force, and never overwrites the scenario.
void check_output(const std::string& path, const Outputs& outputs, const std::string& scenario) {
  if (path.empty() || path == "-") return;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!scenario.empty() && fs::exists(path, ec) && fs::equivalent(path, scenario, ec)) {
    throw bad_input(path, "is the input file itself; choose another output path");
  }
  if (fs::exists(path, ec) && !outputs.force) {
    throw bad_input(path, "exists; pass --force to overwrite it");
  }
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw bad_input(path, "its folder does not exist");
  }
}

void write_output(const std::string& path, const std::string& contents) {
  if (path.empty()) return;
  if (path == "-") {
    std::cout << contents;
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw bad_input(path, "could not be written");
}

fmsim::Catalog load_catalog(const std::vector<std::string>& extra_files) {
  fmsim::Catalog catalog = fmsim::Catalog::builtin();
  for (const auto& path : extra_files) catalog.merge_file(path);
  return catalog;
}

// The scenario document after --set overrides, and where it came from.
// The folder of a scenario file, for the relative paths inside it.
std::string base_dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

nlohmann::json load_scenario(const std::string& path, const std::vector<std::string>& sets,
                             std::string& origin, const std::string& calibration = "") {
  nlohmann::json doc;
  if (path.empty()) {
    doc = fmsim::default_scenario();
    origin = "embedded default " + fmsim::default_scenario_file();
  } else {
    doc = fmsim::read_json_file(path);
    origin = path;
  }
  for (const auto& assignment : sets) fmsim::apply_set(doc, assignment);
  // --calibration names a file from the current directory, not from the scenario's.
  if (!calibration.empty()) doc["calibration"] = std::filesystem::absolute(calibration).string();
  return doc;
}

int run_main(const std::string& scenario_path, const std::vector<std::string>& sets,
             const std::vector<std::string>& catalogs, const std::string& calibration,
             const Outputs& outputs) {
  for (const auto* path : {&outputs.json, &outputs.csv, &outputs.trace}) {
    check_output(*path, outputs, scenario_path);
  }
  const fmsim::Catalog catalog = load_catalog(catalogs);
  std::string origin;
  const nlohmann::json doc = load_scenario(scenario_path, sets, origin, calibration);
  const fmsim::Scenario scenario = fmsim::parse_scenario(doc, catalog, base_dir_of(scenario_path));
  if (scenario_path.empty()) {
    std::cerr << "fmsim: no scenario given; running the " << origin << "\n";
  }
  fmsim::RunOptions options;
  options.trace = !outputs.trace.empty();
  options.scenario_origin = origin;
  const fmsim::Report report = fmsim::run_scenario(scenario, catalog, options);

  const bool stdout_taken = outputs.json == "-" || outputs.csv == "-" || outputs.trace == "-";
  (stdout_taken ? std::cerr : std::cout) << fmsim::render_text(report);
  write_output(outputs.json, fmsim::to_json(report).dump(2) + "\n");
  write_output(outputs.csv, fmsim::render_csv(report));
  write_output(outputs.trace, fmsim::render_trace(report).dump() + "\n");

  if (!report.infeasible.empty()) {
    std::cerr << "fmsim: infeasible: " << report.infeasible << "\n";
    return static_cast<int>(ExitCode::kInfeasible);
  }
  if (!report.expectations_met()) {
    for (const auto& e : report.expectations) {
      if (!e.ok) {
        std::cerr << "fmsim: expectation " << e.name << " failed: " << e.value << " vs limit "
                  << e.limit << "\n";
      }
    }
    return static_cast<int>(ExitCode::kExpectationFailed);
  }
  return 0;
}

// fmsim calibrate fit: measurements.json files and nccl-tests logs -> profile.json, the fit
// table on stdout, one SVG per suite in --plots DIR.
int calibrate_fit_main(const std::vector<std::string>& inputs, const std::string& out_path,
                       const std::string& plots_dir, const std::string& op,
                       const std::vector<std::string>& catalogs, bool force) {
  namespace fs = std::filesystem;
  Outputs outputs;
  outputs.force = force;
  for (const std::string& input : inputs) check_output(out_path, outputs, input);
  std::error_code ec;
  if (!plots_dir.empty() && !fs::is_directory(plots_dir, ec)) {
    throw bad_input(plots_dir, "is not a folder; create it first");
  }
  const fmsim::Catalog catalog = load_catalog(catalogs);
  std::vector<fmsim::Measurements> measurements;
  std::vector<fmsim::NcclTestsLog> logs;
  for (const std::string& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    if (!in) throw bad_input(input, "cannot open");
    char first = ' ';
    while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
    }
    // A JSON object is a measurements file; anything else is read as an nccl-tests log.
    if (first == '{') {
      measurements.push_back(fmsim::read_measurements_file(input));
    } else {
      logs.push_back(fmsim::read_nccl_tests_file(input, op));
    }
  }
  const fmsim::ProfileFit fit = fmsim::fit_profile(measurements, logs, catalog);
  std::cout << fmsim::render_fit_table(fit);
  if (!plots_dir.empty()) {
    std::map<std::string, int> seen;
    for (const fmsim::SuitePlot& plot : fit.plots) {
      const int n = seen[plot.suite]++;
      const fs::path path =
          fs::path(plots_dir) / (plot.suite + (n > 0 ? "-" + std::to_string(n) : "") + ".svg");
      check_output(path.string(), outputs, "");
      write_output(path.string(), fmsim::render_fit_svg(plot));
      std::cerr << "fmsim: wrote " << path.string() << "\n";
    }
  }
  write_output(out_path, fmsim::to_json(fit.profile).dump(2) + "\n");
  std::cerr << "fmsim: wrote " << out_path << "\n";
  return 0;
}

// Ctrl-C during a plan: the first stops the search (the best found so far is still reported),
// a second one kills the process as usual.
std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}

// A one-line progress bar with an estimate of the time left, redrawn in place on a terminal.
class ProgressBar {
 public:
  void operator()(std::size_t done, std::size_t total) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double fraction = total > 0 ? static_cast<double>(done) / total : 1.0;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    char text[160];
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    const double left = rate > 0 ? (total - done) / rate : 0.0;
    std::snprintf(text, sizeof text, "\r[%s] %3.0f%%  %zu/%zu points  %.1f/s  ~%.0f s left ",
                  bar.c_str(), 100.0 * fraction, done, total, rate, left);
    std::cerr << text << std::flush;
    drawn_ = true;
  }
  ~ProgressBar() {
    if (drawn_) std::cerr << "\r" << std::string(78, ' ') << "\r" << std::flush;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool drawn_ = false;
};

int plan_main(const std::string& plan_path, const std::vector<std::string>& catalogs,
              const Outputs& outputs, int jobs, bool quiet, bool dry_run) {
  for (const auto* path : {&outputs.json, &outputs.csv, &outputs.plot}) {
    check_output(*path, outputs, plan_path);
  }
  const fmsim::Catalog catalog = load_catalog(catalogs);
  const nlohmann::json doc = fmsim::read_json_file(plan_path);
  const fmsim::PlanSpec spec = fmsim::parse_plan(doc, catalog, base_dir_of(plan_path));
  if (dry_run) {
    std::cout << "plan " << spec.name << ": base " << spec.base_origin << " (" << spec.stage
              << "), " << spec.size() << " point(s)";
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      std::cout << (a == 0 ? " over " : " x ") << spec.axes[a].pointer << " ("
                << spec.axes[a].values.size() << ")";
    }
    std::cout << "; objective " << fmsim::to_string(spec.objective) << "\n";
    std::cerr << "fmsim: " << plan_path << " is valid\n";
    return 0;
  }

  fmsim::PlanOptions options;
  options.jobs = jobs;
  options.cancel = &g_interrupted;
  std::signal(SIGINT, on_interrupt);
  std::optional<ProgressBar> bar;
  if (!quiet && isatty(STDERR_FILENO)) {
    bar.emplace();
    options.progress = [&bar](std::size_t done, std::size_t total) { (*bar)(done, total); };
  }
  fmsim::PlanResult result;
#ifdef FMSIM_WITH_MPI
  if (fmsim::cli::launched_by_mpi()) {
    int ranks = 1;
    auto gathered = fmsim::cli::run_plan_distributed(spec, catalog, options, ranks);
    if (!gathered) return 0;  // not rank 0: rank 0 reports
    result = std::move(*gathered);
    std::cerr << "fmsim: plan evaluated on " << ranks << " MPI rank(s)\n";
  } else {
    result = fmsim::run_plan(spec, catalog, options);
  }
#else
  result = fmsim::run_plan(spec, catalog, options);
#endif
  bar.reset();
  std::signal(SIGINT, SIG_DFL);

  const bool stdout_taken = outputs.json == "-" || outputs.csv == "-" || outputs.plot == "-";
  (stdout_taken ? std::cerr : std::cout) << fmsim::render_text(spec, result);
  write_output(outputs.json, fmsim::to_json(spec, result, catalog).dump(2) + "\n");
  write_output(outputs.csv, fmsim::render_csv(spec, result));
  write_output(outputs.plot, fmsim::render_svg(spec, result));
  if (result.interrupted) {
    std::cerr << "fmsim: plan interrupted: reported the best of the points evaluated so far\n";
    return 130;
  }
  if (result.feasible == 0) {
    std::cerr << "fmsim: infeasible: " << result.empty_message << "\n";
    return static_cast<int>(ExitCode::kInfeasible);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fmsim: discrete-event GPU cluster simulator and capacity planner"};
  app.set_version_flag("--version", std::string("fmsim ") + fmsim::kVersion);
  app.require_subcommand(0, 1);

  std::string scenario_path, calibration;
  std::vector<std::string> sets, catalogs;
  Outputs outputs;
  app.add_option(
      "scenario", scenario_path,
      "Scenario JSON file (default: the embedded Llama 3 70B pre-training on 64 p5.48xlarge)");
  app.add_option("--json", outputs.json, "Write the JSON report to FILE ('-' for stdout)");
  app.add_option("--csv", outputs.csv, "Write the result rows as CSV to FILE ('-' for stdout)");
  app.add_option("--trace", outputs.trace, "Write a Chrome/Perfetto trace to FILE");
  app.add_flag("--force", outputs.force, "Overwrite output files that exist");
  app.add_option("--set", sets, "Override a scenario field: /json/pointer=VALUE (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--catalog", catalogs, "Extra catalog file with GPUs/instances (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--calibration", calibration,
                 "Calibration profile (fmsim calibrate fit) instead of the catalog defaults");

  auto* validate = app.add_subcommand("validate", "Check a scenario and print it resolved");
  std::string validate_path;
  validate->add_option("scenario", validate_path, "Scenario JSON file")->required();
  validate->add_option("--set", sets, "Override a scenario field: /json/pointer=VALUE")
      ->allow_extra_args(false);
  validate->add_option("--catalog", catalogs, "Extra catalog file")->allow_extra_args(false);
  validate->add_option("--calibration", calibration, "Calibration profile");

  auto* plan_cmd = app.add_subcommand(
      "plan", "Search instances, node counts and parallelism for the best plan (docs/plan.md)");
  std::string plan_path;
  int jobs = 0;
  bool quiet = false, dry_run = false;
  plan_cmd->add_option("plan", plan_path, "Plan JSON file")->required();
  plan_cmd->add_flag("--dry-run", dry_run,
                     "Validate the plan and print its space; simulate nothing");
  plan_cmd->add_option("--jobs,-j", jobs, "Worker threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  plan_cmd->add_option("--json", outputs.json, "Write the JSON result to FILE ('-' for stdout)");
  plan_cmd->add_option("--csv", outputs.csv, "Write every evaluated point as CSV to FILE");
  plan_cmd->add_option("--plot", outputs.plot, "Write the Pareto front as an SVG plot to FILE");
  plan_cmd->add_flag("--force", outputs.force, "Overwrite output files that exist");
  plan_cmd->add_flag("--quiet,-q", quiet, "No progress bar");
  plan_cmd->add_option("--catalog", catalogs, "Extra catalog file")->allow_extra_args(false);

  auto* calibrate_cmd =
      app.add_subcommand("calibrate", "Calibration profiles (docs/calibration.md)");
  calibrate_cmd->require_subcommand(1);
  auto* fit_cmd = calibrate_cmd->add_subcommand(
      "fit", "Fit measurements.json files and nccl-tests logs into a profile.json");
  std::vector<std::string> fit_inputs;
  std::string fit_out, fit_plots, fit_op;
  bool fit_force = false;
  fit_cmd->add_option("inputs", fit_inputs, "measurements.json files and nccl-tests logs")
      ->required();
  fit_cmd->add_option("--out,-o", fit_out, "The profile to write")->required();
  fit_cmd->add_option("--plots", fit_plots, "Folder for one SVG per suite (measured vs fitted)");
  fit_cmd->add_option("--op", fit_op,
                      "Collective of nccl-tests logs that do not name it (all_reduce, ...)");
  fit_cmd->add_flag("--force", fit_force, "Overwrite files that exist");
  fit_cmd->add_option("--catalog", catalogs, "Extra catalog file")->allow_extra_args(false);

  auto* catalog_cmd = app.add_subcommand("catalog", "Print the GPU and instance catalog");
  bool catalog_json = false;
  catalog_cmd->add_flag("--json", catalog_json, "Print the catalog as JSON");
  catalog_cmd->add_option("--catalog", catalogs, "Extra catalog file")->allow_extra_args(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "fmsim: " << e.what() << " (see fmsim --help)\n";
    return static_cast<int>(ExitCode::kBadInput);
  }

  try {
    if (*validate) {
      const fmsim::Catalog catalog = load_catalog(catalogs);
      std::string origin;
      const auto doc = load_scenario(validate_path, sets, origin, calibration);
      const auto scenario = fmsim::parse_scenario(doc, catalog, base_dir_of(validate_path));
      fmsim::check_feasible(scenario, catalog);  // layout and memory: exit 3 when it cannot run
      std::cout << fmsim::to_json(scenario).dump(2) << "\n";
      std::cerr << "fmsim: " << validate_path << " is valid\n";
      return 0;
    }
    if (*plan_cmd) return plan_main(plan_path, catalogs, outputs, jobs, quiet, dry_run);
    if (*fit_cmd) {
      return calibrate_fit_main(fit_inputs, fit_out, fit_plots, fit_op, catalogs, fit_force);
    }
    if (*catalog_cmd) {
      const fmsim::Catalog catalog = load_catalog(catalogs);
      std::cout << (catalog_json ? fmsim::catalog_json(catalog).dump(2) + "\n"
                                 : fmsim::catalog_table(catalog));
      return 0;
    }
    return run_main(scenario_path, sets, catalogs, calibration, outputs);
  } catch (const fmsim::Error& e) {
    std::cerr << "fmsim: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    // A failure fmsim did not anticipate is a bug; say so plainly rather than crash.
    std::cerr << "fmsim: internal error: " << e.what() << "\n";
    return 70;
  }
}
