#include "plan/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include "error.h"
#include "execute/compute.h"
#include "model/model.h"
#include "parallel/parallel.h"
#include "scenario/json_reader.h"
#include "scenario/scenario.h"
#include "suggest.h"
#include "workload/run.h"

namespace fmsim {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr std::size_t kMaxPoints = 10'000'000;  // a bigger space is a typo, not a plan
constexpr std::size_t kMaxAxisValues = 10'000;

const std::vector<std::string>& objective_names() {
  static const std::vector<std::string> names = {"min_cost", "min_time", "max_mfu", "min_gpus"};
  return names;
}

// Constraints by stage: "<metric>_max" / "<metric>_min" over PlanMetrics.
const std::vector<std::string>& constraints_of(const std::string& stage) {
  static const std::vector<std::string> training = {
      "days_max",       "cost_usd_max",     "usd_per_hour_max",
      "gpus_max",       "mfu_min",          "step_time_s_max",
      "memory_gib_max", "tokens_per_s_min", "usd_per_million_tokens_max"};
  static const std::vector<std::string> inference = {
      "ttft_p99_s_max",   "tpot_p99_s_max",
      "e2e_p99_s_max",    "output_tokens_per_s_min",
      "usd_per_hour_max", "usd_per_million_tokens_max",
      "gpus_max"};
  static const std::vector<std::string> rl = {"days_max", "cost_usd_max", "usd_per_hour_max",
                                              "gpus_max", "iteration_s_max"};
  if (stage == "inference") return inference;
  if (stage == "rl") return rl;
  return training;
}

// The figure a constraint bounds.
double metric_of(const PlanMetrics& m, const std::string& constraint) {
  const std::string metric = constraint.substr(0, constraint.rfind('_'));
  if (metric == "days") return m.days;
  if (metric == "cost_usd") return m.usd;
  if (metric == "usd_per_hour") return m.usd_per_hour;
  if (metric == "gpus") return m.gpus;
  if (metric == "mfu") return m.mfu;
  if (metric == "step_time_s") return m.step_s;
  if (metric == "memory_gib") return m.memory_gib;
  if (metric == "tokens_per_s") return m.tokens_per_s;
  if (metric == "usd_per_million_tokens") return m.usd_per_million_tokens;
  if (metric == "ttft_p99_s") return m.ttft_p99_s;
  if (metric == "tpot_p99_s") return m.tpot_p99_s;
  if (metric == "e2e_p99_s") return m.e2e_p99_s;
  if (metric == "output_tokens_per_s") return m.output_tokens_per_s;
  if (metric == "iteration_s") return m.iteration_s;
  return 0.0;
}

bool is_max(const std::string& constraint) {
  return constraint.size() > 4 && constraint.compare(constraint.size() - 4, 4, "_max") == 0;
}

bool needs_price(const std::string& constraint) {
  return constraint == "cost_usd_max" || constraint == "usd_per_hour_max" ||
         constraint == "usd_per_million_tokens_max";
}

std::string format_g(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

// Ranges: {"from": a, "to": b, "factor": f} (geometric) or {"from", "to", "step"} (arithmetic).
std::vector<nlohmann::json> expand_range(const nlohmann::json& value, const std::string& where) {
  JsonReader reader(value, where);
  const double from = reader.required_number("from", -1e15, 1e15);
  const double to = reader.required_number("to", from, 1e15);
  const bool has_factor = reader.has("factor"), has_step = reader.has("step");
  if (has_factor == has_step) {
    throw bad_input(where,
                    "a range needs exactly one of \"factor\" (from, from*factor, ...) or "
                    "\"step\" (from, from+step, ...)");
  }
  const bool integral = std::floor(from) == from;
  std::vector<nlohmann::json> values;
  if (has_factor) {
    const double factor = reader.number("factor", 2.0, 1.0 + 1e-9, 1e6);
    if (from <= 0) throw bad_input(pointer_join(where, "from"), "must be > 0 with a factor");
    for (double v = from; v <= to * (1 + 1e-12) && values.size() <= kMaxAxisValues; v *= factor) {
      const double rounded = std::round(v);
      values.emplace_back(integral && std::abs(rounded - v) < 1e-9 * v
                              ? nlohmann::json(static_cast<long long>(rounded))
                              : nlohmann::json(v));
    }
  } else {
    const double step = reader.number("step", 1.0, 1e-12, 1e15);
    const bool integral_step = integral && std::floor(step) == step;
    for (double k = 0; from + k * step <= to * (1 + 1e-12) && values.size() <= kMaxAxisValues;
         ++k) {
      const double v = from + k * step;
      values.emplace_back(integral_step ? nlohmann::json(static_cast<long long>(v))
                                        : nlohmann::json(v));
    }
  }
  reader.finish();
  if (values.size() > kMaxAxisValues) {
    throw bad_input(where, "the range has more than " + std::to_string(kMaxAxisValues) + " values");
  }
  return values;
}

std::vector<nlohmann::json> powers_of_two(int max) {
  std::vector<nlohmann::json> values;
  for (int v = 1; v <= max; v *= 2) values.emplace_back(v);
  return values;
}

// "auto": every value worth trying for the fields that have an obvious candidate set.
std::vector<nlohmann::json> expand_auto(const std::string& pointer, const std::string& stage,
                                        const ModelSpec& model, int max_domain_gpus,
                                        const std::string& where) {
  const std::string field = pointer.substr(pointer.rfind('/') + 1);
  const bool parallelism = pointer.rfind("/workload/parallelism/", 0) == 0;
  if (parallelism && field == "tp") {
    return powers_of_two(std::min(max_domain_gpus, model.heads > 0 ? model.heads : 1));
  }
  if (parallelism && field == "pp") return powers_of_two(std::max(1, model.layers / 2));
  if (parallelism && field == "ep") return powers_of_two(model.moe ? model.moe->experts : 1);
  if (stage != "inference") {
    if (parallelism && field == "cp") return powers_of_two(16);
    if (parallelism && field == "vpp") return powers_of_two(4);
    if (parallelism && field == "zero") return {0, 1, 2, 3};
    if (parallelism && field == "recompute") return {"none", "selective", "full"};
    if (pointer == "/workload/micro_batch") return powers_of_two(8);
  }
  throw bad_input(where, "\"auto\" is known for /workload/parallelism/{tp,pp,ep}" +
                             std::string(stage == "inference"
                                             ? ""
                                             : ", /workload/parallelism/{cp,vpp,zero,recompute} "
                                               "and /workload/micro_batch") +
                             "; give a list or a range for " + pointer);
}

// Re-anchors an error raised inside the base scenario so that it names where the base came from.
Error in_base(const Error& e, const std::string& origin) {
  const std::string where = origin == "inline"
                                ? "/base" + e.where()
                                : origin + (e.where().empty() ? "" : ": ") + e.where();
  return Error(e.code(), where, e.message());
}

ModelSpec base_model(const Scenario& s) {
  if (s.workload.stage == "inference" || s.workload.stage == "rl") {
    return parse_model(s.model_value, "/model");
  }
  return s.model;
}

}  // namespace

std::string to_string(PlanObjective objective) {
  return objective_names().at(static_cast<std::size_t>(objective));
}

std::size_t PlanSpec::size() const {
  std::size_t n = 1;
  for (const auto& axis : axes) n *= axis.values.size();
  return n;
}

std::vector<const nlohmann::json*> PlanSpec::values_at(std::size_t index) const {
  std::vector<const nlohmann::json*> values(axes.size());
  for (std::size_t a = axes.size(); a-- > 0;) {
    const std::size_t n = axes[a].values.size();
    values[a] = &axes[a].values[index % n];
    index /= n;
  }
  return values;
}

nlohmann::json PlanSpec::scenario_at(std::size_t index) const {
  nlohmann::json doc = base;
  const auto values = values_at(index);
  for (std::size_t a = 0; a < axes.size(); ++a) set_at_pointer(doc, axes[a].pointer, *values[a]);
  return doc;
}

PlanSpec parse_plan(const nlohmann::json& document, const Catalog& catalog,
                    const std::string& plan_dir) {
  JsonReader reader(document, "");
  PlanSpec spec;
  spec.name = reader.string("name", "plan");

  // The base scenario: a path (relative to the plan's folder) or inline.
  const nlohmann::json* base = reader.raw("base");
  if (base == nullptr) {
    throw bad_input("/base", "required: a scenario file's path or an inline scenario object");
  }
  if (base->is_string()) {
    namespace fs = std::filesystem;
    fs::path path = base->get<std::string>();
    if (path.is_relative() && !plan_dir.empty()) path = fs::path(plan_dir) / path;
    spec.base_origin = path.string();
    try {
      spec.base = read_json_file(spec.base_origin);
    } catch (const Error& e) {
      throw bad_input("/base", e.what());
    }
    spec.base_dir = path.parent_path().string();
  } else if (base->is_object()) {
    spec.base = *base;
    spec.base_origin = "inline";
    spec.base_dir = plan_dir;
  } else {
    throw bad_input("/base", "expected a scenario file's path or an inline scenario object, got " +
                                 describe_value(*base));
  }
  // `set`: fixed changes to the base before the axes vary it, {pointer: value}.
  if (const nlohmann::json* set = reader.raw("set")) {
    if (!set->is_object()) {
      throw bad_input("/set",
                      "expected an object of JSON pointer -> value, got " + describe_value(*set));
    }
    for (const auto& [pointer, value] : set->items()) {
      try {
        set_at_pointer(spec.base, pointer, value);
      } catch (const Error& e) {
        throw bad_input(pointer_join("/set", pointer), e.what());
      }
    }
  }
  Scenario base_scenario;
  try {
    base_scenario = parse_scenario(spec.base, catalog, spec.base_dir);
  } catch (const Error& e) {
    throw in_base(e, spec.base_origin);
  }
  spec.stage = base_scenario.workload.stage;
  if (spec.stage == "collective") {
    throw in_base(bad_input("/workload/stage",
                            "the planner searches the pretrain, sft, inference and rl stages"),
                  spec.base_origin);
  }
  if ((spec.stage == "pretrain" || spec.stage == "sft") &&
      base_scenario.workload.training.tokens <= 0 && base_scenario.workload.training.steps <= 0) {
    throw in_base(
        bad_input("/workload/tokens", "a plan needs the run's length: set tokens or steps"),
        spec.base_origin);
  }
  const ModelSpec model = base_model(base_scenario);

  // Objective and constraints.
  const std::string objective = reader.choice("objective", "min_cost", objective_names());
  spec.objective = static_cast<PlanObjective>(
      std::find(objective_names().begin(), objective_names().end(), objective) -
      objective_names().begin());
  if (spec.objective == PlanObjective::kMaxMfu && spec.stage == "inference") {
    throw bad_input("/objective",
                    "max_mfu applies to the training and rl stages; for inference "
                    "choose min_cost, min_time or min_gpus");
  }
  if (const nlohmann::json* constraints = reader.raw("constraints")) {
    if (!constraints->is_object()) {
      throw bad_input("/constraints", "expected an object such as {\"days_max\": 60}, got " +
                                          describe_value(*constraints));
    }
    const auto& allowed = constraints_of(spec.stage);
    for (const auto& [name, value] : constraints->items()) {
      const std::string where = pointer_join("/constraints", name);
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        throw bad_input(where, "unknown constraint for the " + spec.stage + " stage" +
                                   did_you_mean(name, allowed) + "; expected one of: " + list);
      }
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
        throw bad_input(where, "expected a number >= 0, got " + describe_value(value));
      }
      spec.constraints.push_back({name, value.get<double>()});
    }
  }
  spec.top_k = static_cast<int>(reader.integer("top_k", 10, 1, 1000));

  // Axes: pointer -> list | range | "auto".
  const nlohmann::json* axes = reader.raw("axes");
  if (axes != nullptr && !axes->is_object()) {
    throw bad_input("/axes",
                    "expected an object of JSON pointer -> values, got " + describe_value(*axes));
  }
  int max_domain_gpus = 1;
  const auto note_instance = [&](const std::string& name) {
    if (const InstanceSpec* i = catalog.find_instance(name)) {
      max_domain_gpus =
          std::max(max_domain_gpus, std::max(i->gpus_per_node, i->nvlink_domain_gpus));
    }
  };
  note_instance(base_scenario.cluster.instance);
  if (axes != nullptr && axes->contains("/cluster/instance") &&
      (*axes)["/cluster/instance"].is_array()) {
    for (const auto& v : (*axes)["/cluster/instance"]) {
      if (v.is_string()) note_instance(v.get<std::string>());
    }
  }
  std::size_t points = 1;
  static const nlohmann::json kNoAxes = nlohmann::json::object();
  for (const auto& [pointer, given] : (axes != nullptr ? *axes : kNoAxes).items()) {
    const std::string where = pointer_join("/axes", pointer);
    if (pointer.empty() || pointer[0] != '/') {
      throw bad_input(where,
                      "an axis is a JSON pointer into the base scenario, such as "
                      "/cluster/nodes");
    }
    try {
      (void)nlohmann::json::json_pointer(pointer);
    } catch (const nlohmann::json::exception&) {
      throw bad_input(where,
                      "not a valid JSON pointer (RFC 6901): use /a/b with ~0 for ~ and ~1 "
                      "for /");
    }
    PlanAxis axis;
    axis.pointer = pointer;
    if (given.is_array()) {
      axis.given = "list";
      axis.values.assign(given.begin(), given.end());
    } else if (given.is_object()) {
      axis.given = "range";
      axis.values = expand_range(given, where);
    } else if (given == "auto") {
      axis.given = "auto";
      axis.values = expand_auto(pointer, spec.stage, model, max_domain_gpus, where);
    } else {
      throw bad_input(where,
                      "expected a list of values, a range {\"from\", \"to\", \"factor\" or "
                      "\"step\"} or \"auto\", got " +
                          describe_value(given));
    }
    if (axis.values.empty()) throw bad_input(where, "the axis has no values");
    // Each value on its own against the base: a value the scenario itself rejects at this
    // pointer (wrong type, unknown instance, out of range) is a mistake in the plan.
    for (std::size_t i = 0; i < axis.values.size(); ++i) {
      const std::string value_where = where + "/" + std::to_string(i);
      nlohmann::json doc = spec.base;
      try {
        set_at_pointer(doc, pointer, axis.values[i]);
      } catch (const Error& e) {
        throw bad_input(value_where, e.what());
      }
      try {
        (void)parse_scenario(doc, catalog, spec.base_dir);
      } catch (const Error& e) {
        if (e.code() == ExitCode::kBadInput && e.where().rfind(pointer, 0) == 0) {
          throw bad_input(value_where,
                          describe_value(axis.values[i]) + " at " + e.where() + ": " + e.message());
        }
      }
    }
    points *= axis.values.size();
    if (points > kMaxPoints) {
      throw bad_input("/axes", "the space has more than " + std::to_string(kMaxPoints) +
                                   " points; narrow an axis");
    }
    spec.axes.push_back(std::move(axis));
  }
  reader.finish();
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Evaluating one point

namespace {

// A lower bound on a training step, the larger of two:
//  - the model's FLOPs spread evenly over every GPU, each running at the fastest rate any kernel
//    reaches in the compute model (the GEMM efficiency cap at the precision's peak, or
//    attention's efficiency at the BF16 peak);
//  - training_step_lower_bound_s: the busiest stage's kernels at their roofline times, with
//    recomputation, the output layer, the optimizer and the pipeline's fill and drain.
// The simulated step also waits on communication and contention, so it is never shorter.
double training_step_lower_bound(const Scenario& s, const Catalog& catalog, const Layout& layout) {
  const TrainingSetup setup = training_setup(s, catalog);  // with the calibration profile, if any
  const GpuSpec& gpu = *setup.gpu;
  const TrainingWorkload& w = s.workload.training;
  const ComputeDefaults& d = compute_defaults(setup.calibrated.get());
  Precision effective = w.precision;
  if (effective == Precision::kFp8 && gpu.fp8_flops <= 0) effective = Precision::kBf16;
  const double gemm_rate =
      peak_flops(gpu, w.precision) * d.gemm_max_efficiency.at(gpu.arch).at(effective);
  const double attention_rate =
      gpu.bf16_flops * std::max(d.attention_forward_efficiency, d.attention_backward_efficiency);
  const FlopsPerToken per_token = flops_per_token(s.model, w.batch.seq_len);
  const double flops_per_token =
      w.mode.lora ? per_token.forward + 0.5 * per_token.backward : per_token.total();
  const double tokens_per_step = static_cast<double>(w.batch.global_batch) * w.batch.seq_len;
  const double flops_bound =
      flops_per_token * tokens_per_step / (layout.gpus * std::max(gemm_rate, attention_rate));
  return std::max(flops_bound, training_step_lower_bound_s(setup, layout));
}

void fill_layout(PlanMetrics& m, const Scenario& s) {
  m.instance = s.cluster.instance;
  m.nodes = s.cluster.nodes;
  if (s.workload.stage == "inference") {
    m.tp = s.workload.inference.tp;
    m.pp = s.workload.inference.pp;
    m.ep = s.workload.inference.ep;
    return;
  }
  const ParallelConfig& p =
      s.workload.stage == "rl" ? s.workload.rl.train_parallel : s.workload.training.parallel;
  m.tp = p.tp, m.pp = p.pp, m.cp = p.cp, m.ep = p.ep, m.vpp = p.vpp, m.zero = p.zero;
  m.recompute = p.recompute;
  m.micro_batch =
      s.workload.stage == "rl" ? s.workload.rl.micro_batch : s.workload.training.batch.micro_batch;
}

void fill_metrics(PlanMetrics& m, const Report& report) {
  if (report.training) {
    const TrainingReport& t = *report.training;
    m.gpus = t.gpus;
    m.tp = t.tp, m.pp = t.pp, m.cp = t.cp, m.ep = t.ep, m.dp = t.dp, m.vpp = t.vpp;
    m.step_s = t.step_s;
    m.mfu = t.mfu;
    m.tokens_per_s = t.tokens_per_s;
    m.memory_gib = t.memory_total() / kGiB;
    m.days = t.days;
    m.usd = t.usd;
    m.usd_per_hour = t.usd_per_hour;
    m.usd_per_million_tokens = t.usd_per_million_tokens;
    m.time = t.days;
    m.cost = t.usd;
  } else if (report.inference) {
    const InferenceResult& r = *report.inference;
    m.gpus = r.gpus;
    m.tp = r.tp, m.pp = r.pp, m.ep = r.ep;
    m.replicas = r.replicas;
    m.ttft_p99_s = r.ttft_s.p99;
    m.tpot_p99_s = r.tpot_s.p99;
    m.e2e_p99_s = r.e2e_s.p99;
    m.output_tokens_per_s = r.output_tokens_per_s;
    m.usd = r.usd;
    m.usd_per_hour = r.usd_per_hour;
    m.usd_per_million_tokens = r.usd_per_million_tokens;
    m.time = r.e2e_s.p99;
    m.cost = r.usd_per_million_tokens;
  } else if (report.rl) {
    const RlResult& r = *report.rl;
    m.gpus = r.trainer_gpus + (r.placement == "colocated" ? 0 : r.rollout_gpus);
    m.mfu = r.train_mfu;
    m.iteration_s = r.iteration_s;
    m.days = r.days;
    m.usd = r.usd;
    m.usd_per_hour = r.usd_per_hour;
    m.time = r.days > 0 ? r.days : r.iteration_s;
    m.cost = r.usd > 0 ? r.usd : r.usd_per_iteration;
  }
  m.priced = m.usd_per_hour > 0;
}

bool objective_needs_price(PlanObjective objective) { return objective == PlanObjective::kMinCost; }

// The first constraint the metrics break, or "".
std::string broken_constraint(const PlanSpec& spec, const PlanMetrics& m, std::string& detail) {
  for (const PlanConstraint& c : spec.constraints) {
    const double value = metric_of(m, c.name);
    if (is_max(c.name) ? value > c.limit : value < c.limit) {
      detail =
          c.name + ": " + format_g(value) + (is_max(c.name) ? " > " : " < ") + format_g(c.limit);
      return c.name;
    }
  }
  return "";
}

void prune(PlanPoint& point, std::string reason, std::string detail) {
  point.status = "pruned";
  point.reason = std::move(reason);
  point.detail = std::move(detail);
}

}  // namespace

PlanPoint evaluate_point(const PlanSpec& spec, const Catalog& catalog, std::size_t index) {
  PlanPoint point;
  point.index = index;
  Scenario s;
  try {
    s = parse_scenario(spec.scenario_at(index), catalog, spec.base_dir);
  } catch (const Error& e) {
    prune(point, e.code() == ExitCode::kInfeasible ? "layout" : "invalid", e.what());
    return point;
  }
  fill_layout(point.metrics, s);
  const InstanceSpec& instance = catalog.instance(s.cluster.instance, "/cluster/instance");
  point.metrics.gpus = s.cluster.nodes * instance.gpus_per_node;

  // Before simulating a training point: its layout, its footprint, and a lower bound on the run
  // against the constraints.
  if (s.workload.stage == "pretrain" || s.workload.stage == "sft") {
    const TrainingWorkload& w = s.workload.training;
    Layout layout;
    try {
      layout = resolve_layout(w.parallel, w.batch, s.model, point.metrics.gpus);
    } catch (const Error& e) {
      prune(point, e.code() == ExitCode::kInfeasible ? "layout" : "invalid", e.what());
      return point;
    }
    point.metrics.dp = layout.dp;
    const MemoryBreakdown memory = memory_per_gpu(s.model, layout, w.parallel, w.batch, w.precision,
                                                  w.mode, catalog.gpu_of(instance));
    if (!memory.fits()) {
      prune(point, "memory", "does not fit in memory: " + describe_fit(memory));
      return point;
    }
    std::string price_source;
    PlanMetrics bound = point.metrics;
    bound.step_s = training_step_lower_bound(s, catalog, layout);
    const double steps = training_steps(w);
    bound.days = steps * bound.step_s / 86400.0;
    bound.usd_per_hour = cluster_price_per_hour(s, instance, price_source);
    bound.usd = bound.usd_per_hour * steps * bound.step_s / 3600.0;
    point.metrics.step_lower_bound_s = bound.step_s;
    for (const PlanConstraint& c : spec.constraints) {
      // Only constraints the bound can break: the run is at least this long and this costly.
      if (c.name != "days_max" && c.name != "cost_usd_max" && c.name != "step_time_s_max") {
        continue;
      }
      if (c.name == "cost_usd_max" && bound.usd_per_hour <= 0) continue;
      const double value = metric_of(bound, c.name);
      if (value > c.limit) {
        prune(point, c.name + " (lower bound)",
              c.name + ": at least " + format_g(value) + " > " + format_g(c.limit));
        return point;
      }
    }
  }

  Report report;
  try {
    report = run_scenario(s, catalog, RunOptions{});
  } catch (const Error& e) {
    prune(point, e.code() == ExitCode::kInfeasible ? "layout" : "invalid", e.what());
    return point;
  }
  if (!report.infeasible.empty()) {
    const bool memory = report.infeasible.find("memory") != std::string::npos ||
                        report.infeasible.find("KV cache") != std::string::npos;
    prune(point, memory ? "memory" : "layout", report.infeasible);
    return point;
  }
  point.simulated = true;
  fill_metrics(point.metrics, report);
  bool price_needed = objective_needs_price(spec.objective);
  for (const PlanConstraint& c : spec.constraints) price_needed |= needs_price(c.name);
  if (price_needed && !point.metrics.priced) {
    prune(point, "no price",
          "no price known for " + s.cluster.instance +
              ": set /cluster/pricing/usd_per_hour or usd_per_gpu_hour (an axis may)");
    return point;
  }
  std::string detail;
  if (const std::string broken = broken_constraint(spec, point.metrics, detail); !broken.empty()) {
    prune(point, broken, detail);
    return point;
  }
  point.status = "feasible";
  return point;
}

std::vector<PlanPoint> evaluate_points(const PlanSpec& spec, const Catalog& catalog,
                                       const std::vector<std::size_t>& indices,
                                       const PlanOptions& options) {
  std::vector<PlanPoint> points(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) points[i].index = indices[i];
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto cancelled = [&] { return options.cancel != nullptr && options.cancel->load(); };
  const auto work = [&] {
    for (;;) {
      if (cancelled()) return;
      const std::size_t i = next.fetch_add(1);
      if (i >= indices.size()) return;
      try {
        points[i] = evaluate_point(spec, catalog, indices[i]);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = indices.size();  // stop every worker
      }
      ++done;
    }
  };
  int jobs =
      options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(indices.size())));
  std::vector<std::thread> workers;
  workers.reserve(jobs - 1);
  for (int j = 1; j < jobs; ++j) workers.emplace_back(work);
  if (options.progress) {
    // The calling thread reports progress while the workers run.
    workers.emplace_back(work);
    while (done.load() < indices.size() && !cancelled()) {
      {
        const std::lock_guard lock(error_mutex);
        if (error) break;
      }
      options.progress(done.load(), indices.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } else {
    work();
  }
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
  if (options.progress) options.progress(done.load(), indices.size());
  return points;
}

namespace {

// Lexicographic keys for the objective: smaller is better; the index breaks the last tie so the
// order is total and the same whatever evaluated the points.
std::tuple<double, double, double, std::size_t> objective_key(PlanObjective objective,
                                                              const PlanPoint& p) {
  const PlanMetrics& m = p.metrics;
  switch (objective) {
    case PlanObjective::kMinCost:
      return {m.cost, m.time, m.gpus, p.index};
    case PlanObjective::kMinTime:
      return {m.time, m.cost, m.gpus, p.index};
    case PlanObjective::kMaxMfu:
      return {-m.mfu, m.cost, m.time, p.index};
    case PlanObjective::kMinGpus:
      return {static_cast<double>(m.gpus), m.cost, m.time, p.index};
  }
  return {0, 0, 0, p.index};
}

}  // namespace

PlanResult summarize_plan(const PlanSpec& spec, std::vector<PlanPoint> points) {
  std::sort(points.begin(), points.end(),
            [](const PlanPoint& a, const PlanPoint& b) { return a.index < b.index; });
  PlanResult result;
  result.space = spec.size();
  std::vector<std::size_t> feasible;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const PlanPoint& p = points[i];
    if (p.simulated) ++result.evaluated;
    if (p.status == "feasible") {
      feasible.push_back(i);
    } else if (p.status == "pruned") {
      ++result.pruned[p.reason];
    } else {
      ++result.skipped;
    }
  }
  result.feasible = feasible.size();
  result.interrupted = result.skipped > 0;

  // Top-k for the objective.
  std::vector<std::size_t> ranked = feasible;
  std::sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) {
    return objective_key(spec.objective, points[a]) < objective_key(spec.objective, points[b]);
  });
  ranked.resize(std::min<std::size_t>(ranked.size(), spec.top_k));
  for (std::size_t i : ranked) result.best.push_back(points[i].index);

  // Pareto front of (time, cost): sorted by time then cost, a point is on the front when it is
  // cheaper than every point before it (a tie in both keeps the first index only).
  std::vector<std::size_t> by_time = feasible;
  std::sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) {
    const PlanMetrics &x = points[a].metrics, &y = points[b].metrics;
    return std::tie(x.time, x.cost, points[a].index) < std::tie(y.time, y.cost, points[b].index);
  });
  double cheapest = std::numeric_limits<double>::infinity();
  for (std::size_t i : by_time) {
    if (points[i].metrics.cost < cheapest) {
      result.front.push_back(points[i].index);
      cheapest = points[i].metrics.cost;
    }
  }

  if (result.feasible == 0 && !result.pruned.empty()) {
    // Group a constraint's lower-bound and simulated removals together.
    std::map<std::string, std::size_t> by_cause;
    for (const auto& [reason, count] : result.pruned) {
      by_cause[reason.substr(0, reason.find(" (lower bound)"))] += count;
    }
    const auto most =
        std::max_element(by_cause.begin(), by_cause.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    result.dominant_reason = most->first;
    const bool constraint =
        std::any_of(spec.constraints.begin(), spec.constraints.end(),
                    [&](const PlanConstraint& c) { return c.name == most->first; });
    std::string limit;
    for (const PlanConstraint& c : spec.constraints) {
      if (c.name == most->first) limit = " (" + c.name + " = " + format_g(c.limit) + ")";
    }
    result.empty_message =
        "no feasible plan among " + std::to_string(points.size()) + " point(s): " +
        (constraint ? "the constraint " + most->first + limit : "\"" + most->first + "\"") +
        " removed the most, " + std::to_string(most->second) + " point(s)";
  }
  result.points = std::move(points);
  return result;
}

PlanResult run_plan(const PlanSpec& spec, const Catalog& catalog, const PlanOptions& options) {
  std::vector<std::size_t> indices(spec.size());
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  return summarize_plan(spec, evaluate_points(spec, catalog, indices, options));
}

// ---------------------------------------------------------------------------------------------
// Points as JSON

nlohmann::json to_json(const PlanPoint& p) {
  const PlanMetrics& m = p.metrics;
  return {{"index", p.index},
          {"status", p.status},
          {"reason", p.reason},
          {"detail", p.detail},
          {"simulated", p.simulated},
          {"metrics",
           {{"instance", m.instance},
            {"nodes", m.nodes},
            {"gpus", m.gpus},
            {"tp", m.tp},
            {"pp", m.pp},
            {"cp", m.cp},
            {"ep", m.ep},
            {"dp", m.dp},
            {"vpp", m.vpp},
            {"micro_batch", m.micro_batch},
            {"zero", m.zero},
            {"replicas", m.replicas},
            {"recompute", m.recompute},
            {"step_s", m.step_s},
            {"mfu", m.mfu},
            {"tokens_per_s", m.tokens_per_s},
            {"memory_gib", m.memory_gib},
            {"step_lower_bound_s", m.step_lower_bound_s},
            {"ttft_p99_s", m.ttft_p99_s},
            {"tpot_p99_s", m.tpot_p99_s},
            {"e2e_p99_s", m.e2e_p99_s},
            {"output_tokens_per_s", m.output_tokens_per_s},
            {"iteration_s", m.iteration_s},
            {"days", m.days},
            {"usd", m.usd},
            {"usd_per_hour", m.usd_per_hour},
            {"usd_per_million_tokens", m.usd_per_million_tokens},
            {"priced", m.priced},
            {"time", m.time},
            {"cost", m.cost}}}};
}

PlanPoint plan_point_from_json(const nlohmann::json& v) {
  PlanPoint p;
  p.index = v.at("index").get<std::size_t>();
  p.status = v.at("status").get<std::string>();
  p.reason = v.at("reason").get<std::string>();
  p.detail = v.at("detail").get<std::string>();
  p.simulated = v.at("simulated").get<bool>();
  const nlohmann::json& j = v.at("metrics");
  PlanMetrics& m = p.metrics;
  m.instance = j.at("instance").get<std::string>();
  m.recompute = j.at("recompute").get<std::string>();
  for (auto [name, field] :
       std::initializer_list<std::pair<const char*, int*>>{{"nodes", &m.nodes},
                                                           {"gpus", &m.gpus},
                                                           {"tp", &m.tp},
                                                           {"pp", &m.pp},
                                                           {"cp", &m.cp},
                                                           {"ep", &m.ep},
                                                           {"dp", &m.dp},
                                                           {"vpp", &m.vpp},
                                                           {"micro_batch", &m.micro_batch},
                                                           {"zero", &m.zero},
                                                           {"replicas", &m.replicas}}) {
    *field = j.at(name).get<int>();
  }
  for (auto [name, field] : std::initializer_list<std::pair<const char*, double*>>{
           {"step_s", &m.step_s},
           {"mfu", &m.mfu},
           {"tokens_per_s", &m.tokens_per_s},
           {"memory_gib", &m.memory_gib},
           {"step_lower_bound_s", &m.step_lower_bound_s},
           {"ttft_p99_s", &m.ttft_p99_s},
           {"tpot_p99_s", &m.tpot_p99_s},
           {"e2e_p99_s", &m.e2e_p99_s},
           {"output_tokens_per_s", &m.output_tokens_per_s},
           {"iteration_s", &m.iteration_s},
           {"days", &m.days},
           {"usd", &m.usd},
           {"usd_per_hour", &m.usd_per_hour},
           {"usd_per_million_tokens", &m.usd_per_million_tokens},
           {"time", &m.time},
           {"cost", &m.cost}}) {
    *field = j.at(name).get<double>();
  }
  m.priced = j.at("priced").get<bool>();
  return p;
}

}  // namespace fmsim
