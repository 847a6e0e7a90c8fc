// The capacity planner (`fmsim plan PLAN.json`, DESIGN.md section 4b): a base scenario, search
// axes that are JSON pointers into it, an objective and constraints. The planner enumerates the
// axes' Cartesian product, prunes what cannot work before simulating it (a scenario that is not
// valid, a layout that does not divide the cluster, a footprint that does not fit, a lower bound on
// the run that already breaks a constraint), simulates the rest with run_scenario (the function
// `fmsim` itself calls) and keeps the top-k for the objective and the Pareto front of time against
// cost.
//
// Every point is evaluated on its own, from its index alone, so the result does not depend on how
// the points are shared out: one thread, many threads (run_plan) or many MPI ranks (the CLI's
// distributed runner, which calls evaluate_points on its share and summarize_plan on rank 0).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hardware/catalog.h"

namespace fmsim {

enum class PlanObjective { kMinCost, kMinTime, kMaxMfu, kMinGpus };
std::string to_string(PlanObjective objective);

// One search axis: a JSON pointer into the base scenario and the values it takes, in order.
struct PlanAxis {
  std::string pointer;
  std::vector<nlohmann::json> values;
  std::string given;  // how the plan gave it: "list", "range" or "auto"
};

// "<metric>_max" or "<metric>_min" (the metrics of PlanMetrics, see docs/plan.md).
struct PlanConstraint {
  std::string name;
  double limit = 0.0;
};

struct PlanSpec {
  std::string name;
  nlohmann::json base;      // the base scenario document
  std::string base_origin;  // its path, or "inline"
  std::string base_dir;     // relative paths inside the base (an inference trace) start here
  std::string stage;        // the base's stage: pretrain, sft, inference or rl
  std::vector<PlanAxis> axes;
  PlanObjective objective = PlanObjective::kMinCost;
  std::vector<PlanConstraint> constraints;
  int top_k = 10;

  // Points in the space: the product of the axes' sizes (1 with no axes).
  std::size_t size() const;
  // The axis values of point `index`: axis 0 varies slowest.
  std::vector<const nlohmann::json*> values_at(std::size_t index) const;
  // The base with point `index`'s values set at their pointers.
  nlohmann::json scenario_at(std::size_t index) const;
};

// Validates a plan document. `plan_dir` is the plan file's folder: a `base` path is relative to
// it. Throws fmsim::Error(kBadInput) naming the JSON pointer of the first problem (in the plan,
// or in the base scenario prefixed by where the base came from).
PlanSpec parse_plan(const nlohmann::json& document, const Catalog& catalog,
                    const std::string& plan_dir);

// What one simulated point achieved (zeros where its stage has no such figure).
struct PlanMetrics {
  std::string instance;
  int nodes = 0, gpus = 0;
  // layout
  int tp = 1, pp = 1, cp = 1, ep = 1, dp = 1, vpp = 1, micro_batch = 0, zero = 0, replicas = 0;
  std::string recompute;
  // training
  double step_s = 0.0, mfu = 0.0, tokens_per_s = 0.0, memory_gib = 0.0;
  double step_lower_bound_s = 0.0;  // the bound the planner pruned with
  // serving
  double ttft_p99_s = 0.0, tpot_p99_s = 0.0, e2e_p99_s = 0.0, output_tokens_per_s = 0.0;
  // rl
  double iteration_s = 0.0;
  // run and cost
  double days = 0.0, usd = 0.0, usd_per_hour = 0.0, usd_per_million_tokens = 0.0;
  bool priced = false;  // a price per hour was known
  // The front's two axes: training and rl: days and dollars of the run; inference: e2e p99 latency
  // (seconds) and dollars per million tokens.
  double time = 0.0, cost = 0.0;
};

struct PlanPoint {
  std::size_t index = 0;
  // "feasible"; "pruned" (removed before or after simulating it, `reason` says why); "skipped"
  // (never evaluated: the search was interrupted).
  std::string status = "skipped";
  // Why a point was removed: "invalid", "layout", "memory", "no price", a constraint's name
  // ("days_max"), or a constraint's name and " (lower bound)" when the bound removed it
  // unsimulated.
  std::string reason;
  std::string detail;      // the error or the value against the limit
  bool simulated = false;  // run_scenario ran for it
  PlanMetrics metrics;
};

struct PlanResult {
  std::size_t space = 0;      // points in the space
  std::size_t evaluated = 0;  // points simulated
  std::size_t feasible = 0;
  std::size_t skipped = 0;                    // not evaluated (interrupted)
  std::map<std::string, std::size_t> pruned;  // by reason
  std::vector<PlanPoint> points;              // every point, in index order
  std::vector<std::size_t> best;              // top-k point indices, best first
  std::vector<std::size_t> front;             // Pareto front of (time, cost), by time
  bool interrupted = false;
  // With no feasible point: the constraint (or reason) that removed the most points, and a
  // sentence saying so.
  std::string dominant_reason, empty_message;
};

struct PlanOptions {
  int jobs = 0;                               // worker threads; 0: every core
  const std::atomic<bool>* cancel = nullptr;  // set (by a signal handler) to stop early
  std::function<void(std::size_t done, std::size_t total)> progress;  // from the calling thread
};

// Evaluates one point: builds its scenario, prunes or simulates it, checks the constraints.
PlanPoint evaluate_point(const PlanSpec& spec, const Catalog& catalog, std::size_t index);
// Evaluates `indices` on options.jobs threads; results in the order of `indices`. Points not
// reached before options.cancel was set come back "skipped".
std::vector<PlanPoint> evaluate_points(const PlanSpec& spec, const Catalog& catalog,
                                       const std::vector<std::size_t>& indices,
                                       const PlanOptions& options);
// Counts, top-k and front from every point of the space (any order; sorted by index here).
PlanResult summarize_plan(const PlanSpec& spec, std::vector<PlanPoint> points);
// The whole search on this process's threads.
PlanResult run_plan(const PlanSpec& spec, const Catalog& catalog, const PlanOptions& options);

// A point as JSON and back (the distributed runner ships points between ranks this way).
nlohmann::json to_json(const PlanPoint& point);
PlanPoint plan_point_from_json(const nlohmann::json& value);

// Renderings: the JSON result (DESIGN.md 4b: evaluated, feasible, pruned, best with each plan's
// resolved scenario and summary, front), a text table, CSV of every point, an SVG of the front.
nlohmann::json to_json(const PlanSpec& spec, const PlanResult& result, const Catalog& catalog);
std::string render_text(const PlanSpec& spec, const PlanResult& result);
std::string render_csv(const PlanSpec& spec, const PlanResult& result);
std::string render_svg(const PlanSpec& spec, const PlanResult& result);
// One sentence on why the best plan beat the runner-up: the objective's figures, the axis values
// that differ and the figures behind the difference ("" with no feasible plan).
std::string explain_best(const PlanSpec& spec, const PlanResult& result);

}  // namespace fmsim
