// The capacity planner (sim/plan/plan.h, DESIGN.md 4b, docs/plan.md). The planner's answers are
// checked against a brute force that builds every point's scenario and runs it with run_scenario
// on its own (the planner promises its figures are the ones `fmsim` gives for that scenario), and
// against the definitions of the Pareto front, the ranges and the "auto" sets written out by hand.
// The spaces are small (Llama 3 8B on one or two p5.48xlarge nodes, 1,000 steps of 16 x 4,096
// tokens) and the simulations shared between tests, so the whole file runs in a few seconds.
#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "error.h"
#include "hardware/catalog.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim {
namespace {

using nlohmann::json;

const Catalog& catalog() { return Catalog::builtin(); }

// Llama 3 8B pre-training: 1,000 steps of 16 sequences of 4,096 tokens, ZeRO-1, selective
// recomputation, on `nodes` x `instance`.
json training_base(const std::string& instance = "p5.48xlarge", int nodes = 1) {
  return {{"name", "plan-test-train"},
          {"cluster", {{"instance", instance}, {"nodes", nodes}}},
          {"model", "llama3-8b"},
          {"workload",
           {{"stage", "pretrain"},
            {"steps", 1000},
            {"seq_len", 4096},
            {"global_batch", 16},
            {"micro_batch", 1},
            {"precision", "bf16"},
            {"parallelism", {{"tp", 1}, {"pp", 1}, {"zero", 1}, {"recompute", "selective"}}}}}};
}

// Llama 3 8B served on one p5.48xlarge, one GPU per replica: 120 prompts of 256 + 64 tokens.
json inference_base() {
  return {{"name", "plan-test-serve"},
          {"cluster", {{"instance", "p5.48xlarge"}, {"nodes", 1}}},
          {"model", "llama3-8b"},
          {"workload",
           {{"stage", "inference"},
            {"precision", "bf16"},
            {"parallelism", {{"tp", 1}}},
            {"requests",
             {{"arrival", "poisson"},
              {"rate_per_s", 40},
              {"count", 120},
              {"input_tokens", 256},
              {"output_tokens", 64}}}}}};
}

json plan_doc(const json& base, const json& axes, const std::string& objective,
              const json& constraints) {
  return {{"name", "plan-test"},        {"base", base}, {"axes", axes}, {"objective", objective},
          {"constraints", constraints}, {"top_k", 5}};
}

PlanSpec parse(const json& doc) { return parse_plan(doc, catalog(), ""); }

PlanResult run(const PlanSpec& spec, int jobs = 1) {
  PlanOptions options;
  options.jobs = jobs;
  return run_plan(spec, catalog(), options);
}

// One point's scenario run on its own, as `fmsim SCENARIO.json` would.
struct Simulated {
  bool runs = false;    // parsed, resolved and simulated without being infeasible
  std::string why_not;  // the error or report.infeasible otherwise
  ExitCode code = ExitCode::kOk;
  std::optional<TrainingReport> training;
  std::optional<InferenceResult> inference;
};

Simulated simulate(const PlanSpec& spec, std::size_t index) {
  Simulated out;
  try {
    const Scenario s = parse_scenario(spec.scenario_at(index), catalog(), spec.base_dir);
    const Report report = run_scenario(s, catalog(), RunOptions{});
    if (!report.infeasible.empty()) {
      out.why_not = report.infeasible;
      out.code = ExitCode::kInfeasible;
      return out;
    }
    out.runs = true;
    out.training = report.training;
    out.inference = report.inference;
  } catch (const Error& e) {
    out.why_not = e.what();
    out.code = e.code();
  }
  return out;
}

// --- The trade-off space -------------------------------------------------------------------
// Three clusters: one p5.48xlarge node on a reserved price of $20/h, two p5.48xlarge nodes on
// demand ($55.04/h each in the catalog), one p4de.24xlarge node (8 x A100) reserved at $5/h. The
// single nodes are cheaper per run but slower, so time and cost pull apart and the front has more
// than one plan; the A100 node is the cheapest of all but about three times slower, so the
// deadline removes it. Times TP {1,2}, PP {1,2}, micro-batch {1,2}: 24 points, a few of which do
// not fit (TP1 PP1 on one node) or do not divide (DP16 x micro-batch 2 > 16 sequences).
constexpr double kTradeoffDaysMax = 0.0095;

json tradeoff_plan(const std::string& objective) {
  const json axes = {
      {"/cluster", json::array({{{"instance", "p5.48xlarge"},
                                 {"nodes", 1},
                                 {"pricing", {{"model", "reserved"}, {"usd_per_hour", 20.0}}}},
                                {{"instance", "p5.48xlarge"}, {"nodes", 2}},
                                {{"instance", "p4de.24xlarge"},
                                 {"nodes", 1},
                                 {"pricing", {{"model", "reserved"}, {"usd_per_hour", 5.0}}}}})},
      {"/workload/parallelism/tp", {1, 2}},
      {"/workload/parallelism/pp", {1, 2}},
      {"/workload/micro_batch", {1, 2}}};
  return plan_doc(training_base(), axes, objective, {{"days_max", kTradeoffDaysMax}});
}

const PlanSpec& tradeoff_spec(const std::string& objective) {
  static std::map<std::string, PlanSpec> specs;
  auto it = specs.find(objective);
  if (it == specs.end()) it = specs.emplace(objective, parse(tradeoff_plan(objective))).first;
  return it->second;
}

const PlanResult& tradeoff_result(const std::string& objective) {
  static std::map<std::string, PlanResult> results;
  auto it = results.find(objective);
  if (it == results.end()) it = results.emplace(objective, run(tradeoff_spec(objective))).first;
  return it->second;
}

// Every point of the trade-off space simulated on its own.
const std::vector<Simulated>& tradeoff_brute_force() {
  static const std::vector<Simulated> all = [] {
    const PlanSpec& spec = tradeoff_spec("min_cost");
    std::vector<Simulated> out;
    for (std::size_t i = 0; i < spec.size(); ++i) out.push_back(simulate(spec, i));
    return out;
  }();
  return all;
}

// --- The pruning space ---------------------------------------------------------------------
// Nodes {1, 2} x TP {1, 2, 8} x PP {1, 2} x micro-batch {1, 2} under days_max 0.005. On one node
// the step's 16 x 4,096 tokens x ~6 x 8e9 FLOPs can not run in less than about 0.53 s on 8 H100s
// even at the GEMM efficiency cap, so 1,000 steps take at least 0.006 days: every one-node point
// that resolves and fits is removed by the bound, unsimulated. Two nodes halve that FLOP floor
// (0.003 days): the bound's kernel times and pipeline fill remove some of those, the others are
// simulated, and the slow ones break the constraint after simulation.
constexpr double kPruningDaysMax = 0.005;

json pruning_plan() {
  const json axes = {{"/cluster/nodes", {1, 2}},
                     {"/workload/parallelism/tp", {1, 2, 8}},
                     {"/workload/parallelism/pp", {1, 2}},
                     {"/workload/micro_batch", {1, 2}}};
  return plan_doc(training_base(), axes, "min_cost", {{"days_max", kPruningDaysMax}});
}

const PlanSpec& pruning_spec() {
  static const PlanSpec spec = parse(pruning_plan());
  return spec;
}

const PlanResult& pruning_result() {
  static const PlanResult result = run(pruning_spec());
  return result;
}

// a dominates b: at least as fast and as cheap, and better in one.
bool dominates(const PlanMetrics& a, const PlanMetrics& b) {
  return a.time <= b.time && a.cost <= b.cost && (a.time < b.time || a.cost < b.cost);
}

// The brute force's pick: the feasible point with the smallest key.
template <typename Key>
std::optional<std::size_t> brute_best(const std::vector<Simulated>& all, double days_max, Key key) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i].runs || all[i].training->days > days_max) continue;
    if (!best || key(i) < key(*best)) best = i;
  }
  return best;
}

TEST(PlanSearch, BestEqualsBruteForce) {
  const std::vector<Simulated>& all = tradeoff_brute_force();
  const PlanSpec& spec = tradeoff_spec("min_cost");
  ASSERT_EQ(spec.size(), 24u);  // 3 x 2 x 2 x 2
  ASSERT_EQ(all.size(), spec.size());

  // Which points run at all, and which meet the deadline, by the brute force.
  std::size_t runs = 0, meets = 0;
  for (const Simulated& s : all) {
    runs += s.runs;
    meets += s.runs && s.training->days <= kTradeoffDaysMax;
  }
  // The constraint must bite for the test to mean anything.
  ASSERT_GT(meets, 1u);
  ASSERT_LT(meets, runs);

  const auto cost_key = [&](std::size_t i) {
    const TrainingReport& t = *all[i].training;
    return std::make_tuple(t.usd, t.days, t.gpus, i);
  };
  const auto time_key = [&](std::size_t i) {
    const TrainingReport& t = *all[i].training;
    return std::make_tuple(t.days, t.usd, t.gpus, i);
  };
  const std::optional<std::size_t> cheapest = brute_best(all, kTradeoffDaysMax, cost_key);
  const std::optional<std::size_t> fastest = brute_best(all, kTradeoffDaysMax, time_key);
  ASSERT_TRUE(cheapest.has_value());
  ASSERT_TRUE(fastest.has_value());
  // Without the deadline the cheapest plan is on the slow A100 node: the deadline changes the
  // answer.
  const std::optional<std::size_t> cheapest_unconstrained =
      brute_best(all, std::numeric_limits<double>::infinity(), cost_key);
  EXPECT_NE(*cheapest_unconstrained, *cheapest);
  EXPECT_EQ(spec.scenario_at(*cheapest_unconstrained)["cluster"]["instance"], "p4de.24xlarge");

  const PlanResult& by_cost = tradeoff_result("min_cost");
  ASSERT_FALSE(by_cost.best.empty());
  EXPECT_EQ(by_cost.best[0], *cheapest);
  EXPECT_EQ(by_cost.feasible, meets);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(by_cost.points[i].status == "feasible",
              all[i].runs && all[i].training->days <= kTradeoffDaysMax)
        << "point " << i << ": " << by_cost.points[i].reason << " / " << all[i].why_not;
  }
  // The planner's figures are the scenario's own.
  const PlanMetrics& m = by_cost.points[*cheapest].metrics;
  EXPECT_EQ(m.usd, all[*cheapest].training->usd);
  EXPECT_EQ(m.days, all[*cheapest].training->days);
  EXPECT_EQ(m.step_s, all[*cheapest].training->step_s);
  EXPECT_EQ(m.cost, m.usd);
  EXPECT_EQ(m.time, m.days);

  // The whole top-k is the brute force's ranking.
  std::vector<std::size_t> ranked;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].runs && all[i].training->days <= kTradeoffDaysMax) ranked.push_back(i);
  }
  std::sort(ranked.begin(), ranked.end(),
            [&](std::size_t a, std::size_t b) { return cost_key(a) < cost_key(b); });
  ranked.resize(std::min<std::size_t>(ranked.size(), 5));
  EXPECT_EQ(by_cost.best, ranked);

  const PlanResult& by_time = tradeoff_result("min_time");
  ASSERT_FALSE(by_time.best.empty());
  EXPECT_EQ(by_time.best[0], *fastest);
  EXPECT_EQ(by_time.points[*fastest].metrics.days, all[*fastest].training->days);
  // The fastest plan uses both nodes; the cheapest feasible one need not.
  EXPECT_EQ(by_time.points[*fastest].metrics.nodes, 2);
}

TEST(PlanSearch, PruningNeverRemovesFrontPoints) {
  const PlanSpec& spec = pruning_spec();
  const PlanResult& result = pruning_result();
  ASSERT_EQ(result.points.size(), spec.size());
  ASSERT_EQ(result.space, 24u);

  std::size_t by_bound = 0, by_memory = 0, by_layout = 0, simulated_training = 0;
  std::size_t one_node_by_bound = 0, one_node_runnable = 0;
  for (const PlanPoint& p : result.points) {
    if (p.metrics.nodes == 1 && p.reason != "memory" && p.reason != "layout") ++one_node_runnable;
    SCOPED_TRACE("point " + std::to_string(p.index) + " " + p.status + " " + p.reason + " " +
                 p.detail);
    EXPECT_NE(p.status, "skipped");
    if (p.simulated) {
      // A simulated point's bound never exceeds its simulated step.
      ++simulated_training;
      EXPECT_GT(p.metrics.step_lower_bound_s, 0.0);
      EXPECT_LE(p.metrics.step_lower_bound_s, p.metrics.step_s);
    }
    if (p.status != "pruned") continue;
    if (p.reason == "days_max (lower bound)") {
      ++by_bound;
      EXPECT_FALSE(p.simulated);
      // Simulated after all, it misses the deadline: it could be neither feasible nor on the
      // front nor in the top-k.
      const Simulated s = simulate(spec, p.index);
      ASSERT_TRUE(s.runs) << s.why_not;
      EXPECT_GT(s.training->days, kPruningDaysMax);
      EXPECT_LE(p.metrics.step_lower_bound_s, s.training->step_s);
      // The bound's own arithmetic: the run is at least steps x bound long.
      EXPECT_GT(1000.0 * p.metrics.step_lower_bound_s / 86400.0, kPruningDaysMax);
      one_node_by_bound += p.metrics.nodes == 1 ? 1 : 0;
    } else if (p.reason == "memory" || p.reason == "layout") {
      (p.reason == "memory" ? by_memory : by_layout)++;
      const Simulated s = simulate(spec, p.index);
      EXPECT_FALSE(s.runs);
      EXPECT_TRUE(s.code == ExitCode::kInfeasible) << s.why_not;
    } else {
      // Pruned after simulating it: the deadline itself.
      EXPECT_EQ(p.reason, "days_max");
      EXPECT_TRUE(p.simulated);
      EXPECT_GT(p.metrics.days, kPruningDaysMax);
    }
  }
  EXPECT_GE(by_bound, 1u);
  EXPECT_EQ(result.pruned.count("days_max (lower bound)")
                ? result.pruned.at("days_max (lower bound)")
                : 0,
            by_bound);
  // TP1 PP1 on one node keeps every weight, its FP32 gradient and 32 layers of activations on
  // each GPU: more than an H100's 80 GB.
  EXPECT_GE(by_memory, 1u);
  // TP8 x PP2 = 16 GPUs on an 8-GPU node, and DP16 x micro-batch 2 > 16 sequences.
  EXPECT_GE(by_layout, 2u);
  EXPECT_GE(simulated_training, 1u);
  EXPECT_GE(result.feasible, 1u);
  EXPECT_EQ(result.evaluated, simulated_training);
  // Only feasible points are ranked or on the front.
  for (std::size_t i : result.best) EXPECT_EQ(result.points[i].status, "feasible") << i;
  for (std::size_t i : result.front) EXPECT_EQ(result.points[i].status, "feasible") << i;

  // Every one-node point that resolves and fits misses the deadline by the bound alone.
  EXPECT_GE(one_node_runnable, 1u);
  EXPECT_EQ(one_node_by_bound, one_node_runnable);

  // No bound is below the FLOP floor: 6 x 8.0e9 parameters x 16 x 4,096 tokens at 100% of the
  // H100's dense BF16 peak on every GPU, 0.40 s on one node (8 GPUs), 0.20 s on two.
  const double h100_bf16 = catalog().gpu_of(catalog().instance("p5.48xlarge", "")).bf16_flops;
  EXPECT_NEAR(h100_bf16, 989e12, 1e12);
  for (const PlanPoint& p : result.points) {
    if (p.metrics.step_lower_bound_s <= 0) continue;
    EXPECT_GE(p.metrics.step_lower_bound_s, 6 * 8.0e9 * 16 * 4096 / (p.metrics.gpus * h100_bf16))
        << p.index;
  }

  // Over the trade-off space too: every simulated point's bound is below its step.
  for (const PlanPoint& p : tradeoff_result("min_cost").points) {
    if (p.simulated) {
      EXPECT_LE(p.metrics.step_lower_bound_s, p.metrics.step_s) << p.index;
    }
  }
}

TEST(PlanSearch, FrontIsParetoOptimal) {
  for (const std::string objective : {"min_cost", "min_time"}) {
    SCOPED_TRACE(objective);
    const PlanResult& result = tradeoff_result(objective);
    std::vector<const PlanPoint*> feasible;
    for (const PlanPoint& p : result.points) {
      if (p.status == "feasible") feasible.push_back(&p);
    }
    ASSERT_GE(feasible.size(), 3u);
    const std::set<std::size_t> front(result.front.begin(), result.front.end());
    ASSERT_EQ(front.size(), result.front.size());
    // One node is cheaper, two are faster: the front holds at least one of each.
    ASSERT_GE(result.front.size(), 2u);

    for (const PlanPoint* p : feasible) {
      if (front.count(p->index)) {
        for (const PlanPoint* q : feasible) {
          EXPECT_FALSE(dominates(q->metrics, p->metrics))
              << "front point " << p->index << " is dominated by " << q->index;
        }
      } else {
        const bool covered = std::any_of(front.begin(), front.end(), [&](std::size_t f) {
          const PlanMetrics& m = result.points[f].metrics;
          return dominates(m, p->metrics) ||
                 (m.time == p->metrics.time && m.cost == p->metrics.cost && f < p->index);
        });
        EXPECT_TRUE(covered) << "point " << p->index << " is off the front but not dominated";
      }
    }
    for (std::size_t i = 0; i < result.front.size(); ++i) {
      EXPECT_EQ(result.points[result.front[i]].status, "feasible");
      if (i == 0) continue;
      const PlanMetrics& a = result.points[result.front[i - 1]].metrics;
      const PlanMetrics& b = result.points[result.front[i]].metrics;
      EXPECT_LE(a.time, b.time);
      EXPECT_GT(a.cost, b.cost);
    }
    // The front does not depend on the objective; its two ends are the fastest and the cheapest
    // feasible plans.
    EXPECT_EQ(result.front, tradeoff_result("min_cost").front);
    const auto fastest = std::min_element(feasible.begin(), feasible.end(), [](auto a, auto b) {
      return std::tie(a->metrics.time, a->metrics.cost) <
             std::tie(b->metrics.time, b->metrics.cost);
    });
    const auto cheapest = std::min_element(feasible.begin(), feasible.end(), [](auto a, auto b) {
      return std::tie(a->metrics.cost, a->metrics.time) <
             std::tie(b->metrics.cost, b->metrics.time);
    });
    EXPECT_EQ(result.front.front(), (*fastest)->index);
    EXPECT_EQ(result.front.back(), (*cheapest)->index);
  }
}

TEST(PlanSearch, Deterministic) {
  const PlanSpec& spec = pruning_spec();
  const PlanResult& single = pruning_result();  // one thread
  const std::string expected = to_json(spec, single, catalog()).dump();

  const PlanResult threaded = run(spec, 3);
  EXPECT_EQ(to_json(spec, threaded, catalog()).dump(), expected);
  EXPECT_EQ(render_csv(spec, threaded), render_csv(spec, single));

  // As the MPI runner shares them out: point i to rank i mod 2, each rank on its own, then
  // every point gathered (here in reverse order) and summarized once.
  std::vector<std::size_t> even, odd;
  for (std::size_t i = 0; i < spec.size(); ++i) (i % 2 == 0 ? even : odd).push_back(i);
  PlanOptions options;
  options.jobs = 2;
  std::vector<PlanPoint> gathered = evaluate_points(spec, catalog(), even, options);
  options.jobs = 1;
  for (PlanPoint& p : evaluate_points(spec, catalog(), odd, options)) {
    gathered.push_back(std::move(p));
  }
  std::reverse(gathered.begin(), gathered.end());
  // Shipped between ranks as JSON.
  for (PlanPoint& p : gathered) p = plan_point_from_json(json::parse(to_json(p).dump()));
  const PlanResult distributed = summarize_plan(spec, gathered);
  EXPECT_EQ(to_json(spec, distributed, catalog()).dump(), expected);
  EXPECT_EQ(render_csv(spec, distributed), render_csv(spec, single));
  EXPECT_EQ(render_text(spec, distributed), render_text(spec, single));
}

// Every field, compared one by one (a field to_json forgot would not survive).
void expect_same_point(const PlanPoint& a, const PlanPoint& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.detail, b.detail);
  EXPECT_EQ(a.simulated, b.simulated);
  const PlanMetrics &x = a.metrics, &y = b.metrics;
  EXPECT_EQ(x.instance, y.instance);
  EXPECT_EQ(x.recompute, y.recompute);
  EXPECT_EQ(x.priced, y.priced);
  const std::vector<std::pair<int, int>> ints = {{x.nodes, y.nodes},
                                                 {x.gpus, y.gpus},
                                                 {x.tp, y.tp},
                                                 {x.pp, y.pp},
                                                 {x.cp, y.cp},
                                                 {x.ep, y.ep},
                                                 {x.dp, y.dp},
                                                 {x.vpp, y.vpp},
                                                 {x.micro_batch, y.micro_batch},
                                                 {x.zero, y.zero},
                                                 {x.replicas, y.replicas}};
  for (std::size_t i = 0; i < ints.size(); ++i) EXPECT_EQ(ints[i].first, ints[i].second) << i;
  const std::vector<std::pair<double, double>> doubles = {
      {x.step_s, y.step_s},
      {x.mfu, y.mfu},
      {x.tokens_per_s, y.tokens_per_s},
      {x.memory_gib, y.memory_gib},
      {x.step_lower_bound_s, y.step_lower_bound_s},
      {x.ttft_p99_s, y.ttft_p99_s},
      {x.tpot_p99_s, y.tpot_p99_s},
      {x.e2e_p99_s, y.e2e_p99_s},
      {x.output_tokens_per_s, y.output_tokens_per_s},
      {x.iteration_s, y.iteration_s},
      {x.days, y.days},
      {x.usd, y.usd},
      {x.usd_per_hour, y.usd_per_hour},
      {x.usd_per_million_tokens, y.usd_per_million_tokens},
      {x.time, y.time},
      {x.cost, y.cost}};
  // Bit for bit.
  for (std::size_t i = 0; i < doubles.size(); ++i) {
    EXPECT_EQ(doubles[i].first, doubles[i].second) << i;
  }
}

TEST(PlanPoints, RoundTripThroughJson) {
  const PlanResult& result = tradeoff_result("min_cost");
  ASSERT_FALSE(result.best.empty());
  const PlanPoint& training = result.points[result.best[0]];
  ASSERT_EQ(training.status, "feasible");
  // Every field set to something other than its default, so a dropped one shows.
  EXPECT_GT(training.metrics.step_s, 0.0);
  EXPECT_GT(training.metrics.mfu, 0.0);
  EXPECT_GT(training.metrics.memory_gib, 0.0);
  EXPECT_GT(training.metrics.usd_per_million_tokens, 0.0);
  EXPECT_TRUE(training.metrics.priced);

  const PlanSpec inference_spec = parse(plan_doc(
      inference_base(), {{"/workload/parallelism/tp", {1, 2}}}, "min_cost", json::object()));
  const PlanPoint serving = evaluate_point(inference_spec, catalog(), 1);
  ASSERT_EQ(serving.status, "feasible") << serving.reason << " " << serving.detail;
  EXPECT_EQ(serving.metrics.tp, 2);
  EXPECT_EQ(serving.metrics.replicas, 4);  // 8 GPUs / TP2
  EXPECT_GT(serving.metrics.ttft_p99_s, 0.0);
  EXPECT_GT(serving.metrics.tpot_p99_s, 0.0);
  EXPECT_GT(serving.metrics.output_tokens_per_s, 0.0);
  EXPECT_EQ(serving.metrics.time, serving.metrics.e2e_p99_s);
  EXPECT_EQ(serving.metrics.cost, serving.metrics.usd_per_million_tokens);

  // A pruned point carries its reason and detail.
  const PlanPoint& pruned = *std::find_if(result.points.begin(), result.points.end(),
                                          [](const PlanPoint& p) { return p.status == "pruned"; });

  // And a point made up with every field distinct from its default and from the others, so a
  // field dropped or read into its neighbour shows.
  PlanPoint made_up;
  made_up.index = 123456789012ull;
  made_up.status = "feasible";
  made_up.reason = "days_max (lower bound)";
  made_up.detail = "a \"quoted\", multi-line\ndetail";
  made_up.simulated = true;
  PlanMetrics& m = made_up.metrics;
  m.instance = "p6-b200.48xlarge";
  m.recompute = "full";
  m.priced = true;
  int next_int = 2;
  for (int* field : {&m.nodes, &m.gpus, &m.tp, &m.pp, &m.cp, &m.ep, &m.dp, &m.vpp, &m.micro_batch,
                     &m.zero, &m.replicas}) {
    *field = next_int++;
  }
  double next_double = 0.1;
  for (double* field :
       {&m.step_s, &m.mfu, &m.tokens_per_s, &m.memory_gib, &m.step_lower_bound_s, &m.ttft_p99_s,
        &m.tpot_p99_s, &m.e2e_p99_s, &m.output_tokens_per_s, &m.iteration_s, &m.days, &m.usd,
        &m.usd_per_hour, &m.usd_per_million_tokens, &m.time, &m.cost}) {
    *field = next_double;
    next_double = next_double * 3.7 + 1.0 / 3.0;
  }

  for (const PlanPoint* p : std::vector<const PlanPoint*>{&training, &serving, &pruned, &made_up}) {
    SCOPED_TRACE(p->index);
    expect_same_point(plan_point_from_json(to_json(*p)), *p);
    // Through text and CBOR, as the distributed runner ships them.
    expect_same_point(plan_point_from_json(json::parse(to_json(*p).dump())), *p);
    expect_same_point(plan_point_from_json(json::from_cbor(json::to_cbor(to_json(*p)))), *p);
  }
}

// The error parse_plan throws for `doc`.
Error plan_error(const json& doc, const std::string& plan_dir = "") {
  try {
    (void)parse_plan(doc, catalog(), plan_dir);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << doc.dump();
  return Error(ExitCode::kOk, "", "");
}

#define EXPECT_PLAN_ERROR(doc, pointer)                     \
  do {                                                      \
    const Error e_ = plan_error(doc);                       \
    EXPECT_EQ(e_.code(), ExitCode::kBadInput) << e_.what(); \
    EXPECT_EQ(e_.where(), pointer) << e_.what();            \
  } while (false)

TEST(PlanParse, ErrorsNameTheJsonPointer) {
  const json good =
      plan_doc(training_base(), {{"/cluster/nodes", {1, 2}}}, "min_cost", {{"days_max", 10}});
  ASSERT_NO_THROW(parse(good));

  json doc = good;
  doc.erase("base");
  EXPECT_PLAN_ERROR(doc, "/base");

  doc = good;
  doc["base"] = "no-such-scenario.json";
  EXPECT_PLAN_ERROR(doc, "/base");
  EXPECT_NE(plan_error(doc).message().find("no-such-scenario.json"), std::string::npos);

  doc = good;
  doc["objective"] = "cheapest";
  EXPECT_PLAN_ERROR(doc, "/objective");

  doc = good;
  doc["contraints"] = doc["constraints"];
  EXPECT_PLAN_ERROR(doc, "/contraints");  // an unknown field of the plan itself

  doc = good;
  doc["constraints"] = {{"dayz_max", 10}};
  EXPECT_PLAN_ERROR(doc, "/constraints/dayz_max");
  EXPECT_NE(plan_error(doc).message().find("did you mean \"days_max\""), std::string::npos)
      << plan_error(doc).message();

  // A serving constraint on a training base.
  doc = good;
  doc["constraints"] = {{"ttft_p99_s_max", 1.0}};
  EXPECT_PLAN_ERROR(doc, "/constraints/ttft_p99_s_max");

  doc = good;
  doc["constraints"] = {{"days_max", -1}};
  EXPECT_PLAN_ERROR(doc, "/constraints/days_max");

  doc = good;
  doc["axes"] = {{"cluster/nodes", {1, 2}}};
  EXPECT_PLAN_ERROR(doc, "/axes/cluster~1nodes");

  doc = good;
  doc["axes"] = {{"/cluster/nodes", {1, "many"}}};
  EXPECT_PLAN_ERROR(doc, "/axes/~1cluster~1nodes/1");

  doc = good;
  doc["axes"] = {{"/cluster/instance", {"p5.48xlarge", "p5en.48xlarge", "p9.huge"}}};
  EXPECT_PLAN_ERROR(doc, "/axes/~1cluster~1instance/2");

  doc = good;
  doc["axes"] = {{"/cluster/nodes", {{"from", 1}, {"to", 8}}}};
  EXPECT_PLAN_ERROR(doc, "/axes/~1cluster~1nodes");
  doc["axes"] = {{"/cluster/nodes", {{"from", 1}, {"to", 8}, {"step", 1}, {"factor", 2}}}};
  EXPECT_PLAN_ERROR(doc, "/axes/~1cluster~1nodes");

  doc = good;
  doc["axes"] = {{"/cluster/nodes", "auto"}};
  EXPECT_PLAN_ERROR(doc, "/axes/~1cluster~1nodes");

  // max_mfu has no meaning for serving.
  doc = plan_doc(inference_base(), json::object(), "max_mfu", json::object());
  EXPECT_PLAN_ERROR(doc, "/objective");
  // Nor has "auto" for the training-only fields.
  doc = plan_doc(inference_base(), {{"/workload/parallelism/zero", "auto"}}, "min_cost",
                 json::object());
  EXPECT_PLAN_ERROR(doc, "/axes/~1workload~1parallelism~1zero");

  // A mistake inside an inline base names it under /base.
  doc = good;
  doc["base"]["cluster"]["nodez"] = 2;
  EXPECT_PLAN_ERROR(doc, "/base/cluster/nodez");
  doc = good;
  doc["base"]["workload"].erase("steps");
  EXPECT_PLAN_ERROR(doc, "/base/workload/tokens");  // a plan needs the run's length

  // ... and inside a base file, names the file.
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("fmsim-plan-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  json base = training_base();
  base["cluster"]["nodes"] = "two";
  std::ofstream(dir / "base.json") << base.dump();
  doc = good;
  doc["base"] = "base.json";
  const Error e = plan_error(doc, dir.string());
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(e.where(), (dir / "base.json").string() + ": /cluster/nodes") << e.what();
  base["cluster"]["nodes"] = 1;
  std::ofstream(dir / "base.json") << base.dump();
  const PlanSpec from_file = parse_plan(doc, catalog(), dir.string());
  EXPECT_EQ(from_file.base_origin, (dir / "base.json").string());
  EXPECT_EQ(from_file.stage, "pretrain");
  fs::remove_all(dir);
}

std::vector<json> values_of(const PlanSpec& spec, const std::string& pointer) {
  for (const PlanAxis& axis : spec.axes) {
    if (axis.pointer == pointer) return axis.values;
  }
  ADD_FAILURE() << "no axis " << pointer;
  return {};
}

TEST(PlanParse, RangesAndAuto) {
  const json axes = {
      {"/cluster/nodes", {{"from", 16}, {"to", 512}, {"factor", 2}}},
      {"/workload/micro_batch", {{"from", 1}, {"to", 4}, {"step", 1}}},
      {"/workload/parallelism/tp", "auto"},
      {"/workload/parallelism/zero", "auto"},
      {"/workload/parallelism/recompute", "auto"},
      {"/cluster/pricing/usd_per_gpu_hour", {{"from", 1.5}, {"to", 3}, {"step", 0.5}}}};
  const PlanSpec spec = parse(plan_doc(training_base(), axes, "min_time", json::object()));

  const std::vector<json> nodes = values_of(spec, "/cluster/nodes");
  EXPECT_EQ(json(nodes), json({16, 32, 64, 128, 256, 512}));
  for (const json& v : nodes) EXPECT_TRUE(v.is_number_integer()) << v;
  const std::vector<json> micro = values_of(spec, "/workload/micro_batch");
  EXPECT_EQ(json(micro), json({1, 2, 3, 4}));
  for (const json& v : micro) EXPECT_TRUE(v.is_number_integer()) << v;
  // A fractional range stays fractional.
  const std::vector<json> price = values_of(spec, "/cluster/pricing/usd_per_gpu_hour");
  ASSERT_EQ(price.size(), 4u);
  for (std::size_t i = 0; i < price.size(); ++i) {
    EXPECT_TRUE(price[i].is_number_float()) << price[i];
    EXPECT_DOUBLE_EQ(price[i].get<double>(), 1.5 + 0.5 * i);
  }
  // p5.48xlarge: an 8-GPU NVLink domain; Llama 3 8B: 32 heads. TP up to 8.
  EXPECT_EQ(json(values_of(spec, "/workload/parallelism/tp")), json({1, 2, 4, 8}));
  EXPECT_EQ(json(values_of(spec, "/workload/parallelism/zero")), json({0, 1, 2, 3}));
  EXPECT_EQ(json(values_of(spec, "/workload/parallelism/recompute")),
            json({"none", "selective", "full"}));
  // With a GB200 NVL72 instance among the plan's instances the NVLink domain is 72 GPUs, so the
  // model's 32 heads are the limit.
  const PlanSpec nvl72 =
      parse(plan_doc(training_base(),
                     {{"/cluster/instance", {"p5.48xlarge", "p6e-gb200.36xlarge"}},
                      {"/workload/parallelism/tp", "auto"}},
                     "min_time", json::object()));
  EXPECT_EQ(json(values_of(nvl72, "/workload/parallelism/tp")), json({1, 2, 4, 8, 16, 32}));

  const std::map<std::string, std::string> given = {
      {"/cluster/nodes", "range"},          {"/cluster/pricing/usd_per_gpu_hour", "range"},
      {"/workload/micro_batch", "range"},   {"/workload/parallelism/recompute", "auto"},
      {"/workload/parallelism/tp", "auto"}, {"/workload/parallelism/zero", "auto"}};
  for (const PlanAxis& axis : spec.axes) EXPECT_EQ(axis.given, given.at(axis.pointer));
  EXPECT_EQ(spec.size(), 6u * 4 * 4 * 4 * 3 * 4);

  // The mixed-radix order: the axes sorted by pointer, the first varying slowest.
  ASSERT_EQ(spec.axes.size(), 6u);
  EXPECT_EQ(spec.axes[0].pointer, "/cluster/nodes");
  EXPECT_EQ(spec.axes[1].pointer, "/cluster/pricing/usd_per_gpu_hour");
  const std::size_t last = spec.size() - 1;
  const json last_scenario = spec.scenario_at(last);
  EXPECT_EQ(last_scenario["cluster"]["nodes"], 512);
  EXPECT_EQ(last_scenario["workload"]["parallelism"]["zero"], 3);
  // Point 1 differs from point 0 in the last axis only (/workload/parallelism/zero).
  const json first = spec.scenario_at(0), second = spec.scenario_at(1);
  EXPECT_EQ(first["workload"]["parallelism"]["zero"], 0);
  EXPECT_EQ(second["workload"]["parallelism"]["zero"], 1);
  EXPECT_EQ(second["cluster"]["nodes"], 16);
}

TEST(PlanSearch, EmptyFeasibleSetNamesDominantConstraint) {
  json doc = pruning_plan();
  doc["constraints"] = {{"days_max", 0.0001}};  // 8.6 s for 1,000 steps
  const PlanSpec spec = parse(doc);
  const PlanResult result = run(spec);
  EXPECT_EQ(result.feasible, 0u);
  EXPECT_TRUE(result.best.empty());
  EXPECT_TRUE(result.front.empty());
  EXPECT_EQ(result.dominant_reason, "days_max");
  EXPECT_NE(result.empty_message.find("days_max"), std::string::npos) << result.empty_message;
  // Every point that resolves and fits is removed by the bound, unsimulated.
  EXPECT_EQ(result.evaluated, 0u);
  std::size_t counted = 0;
  for (const auto& [reason, count] : result.pruned) counted += count;
  EXPECT_EQ(counted, spec.size());
  EXPECT_GT(result.pruned.at("days_max (lower bound)"), result.space / 2);
  EXPECT_EQ(to_json(spec, result, catalog())["no_feasible_plan"]["dominant_reason"], "days_max");
  // Nothing to plot.
  const std::string svg = render_svg(spec, result);
  EXPECT_EQ(svg.find("<circle"), std::string::npos);
  EXPECT_NE(svg.find("no feasible plan"), std::string::npos);
  EXPECT_EQ(explain_best(spec, result), "");
}

TEST(PlanSearch, CancelSkipsTheRest) {
  const PlanSpec& spec = tradeoff_spec("min_cost");
  std::atomic<bool> cancel{true};
  PlanOptions options;
  options.jobs = 2;
  options.cancel = &cancel;
  const PlanResult none = run_plan(spec, catalog(), options);
  EXPECT_TRUE(none.interrupted);
  EXPECT_EQ(none.skipped, spec.size());
  EXPECT_EQ(none.evaluated, 0u);
  for (const PlanPoint& p : none.points) EXPECT_EQ(p.status, "skipped");
  EXPECT_TRUE(none.best.empty());

  // Stopped from the progress callback once a point is done (as the CLI's Ctrl-C handler does
  // between progress reports): the points not yet taken are skipped, the rest ranked. The
  // callback runs every 100 ms; with 64 sequences per step a point takes long enough that the
  // search is stopped well before its 24 points are done.
  json doc = tradeoff_plan("min_cost");
  doc["base"]["workload"]["global_batch"] = 64;
  doc.erase("constraints");
  const PlanSpec slow = parse(doc);
  cancel = false;
  options.jobs = 1;
  std::size_t calls = 0;
  options.progress = [&](std::size_t done, std::size_t total) {
    ++calls;
    EXPECT_EQ(total, slow.size());
    if (done >= 1) cancel = true;
  };
  const PlanResult some = run_plan(slow, catalog(), options);
  EXPECT_GE(calls, 2u);
  EXPECT_TRUE(some.interrupted);
  EXPECT_GE(some.skipped, 1u);
  EXPECT_LT(some.skipped, slow.size());
  std::optional<std::size_t> cheapest;
  std::size_t evaluated = 0;
  for (const PlanPoint& p : some.points) {
    if (p.status == "skipped") continue;
    ++evaluated;
    EXPECT_TRUE(p.status == "feasible" || p.status == "pruned") << p.status;
    if (p.status == "feasible" &&
        (!cheapest || p.metrics.cost < some.points[*cheapest].metrics.cost)) {
      cheapest = p.index;
    }
  }
  EXPECT_EQ(evaluated + some.skipped, slow.size());
  if (cheapest) {
    ASSERT_FALSE(some.best.empty());
    EXPECT_EQ(some.best[0], *cheapest);
    EXPECT_EQ(some.front.back(), *cheapest);  // the front ends with the cheapest plan
    // What was evaluated is what evaluating that point alone gives.
    EXPECT_EQ(to_json(some.points[*cheapest]), to_json(evaluate_point(slow, catalog(), *cheapest)));
  } else {
    EXPECT_TRUE(some.best.empty());
  }
}

TEST(PlanSearch, NoPriceIsPruned) {
  // p5e.48xlarge (8 x H200) has no on-demand price in the catalog.
  ASSERT_NE(catalog().find_instance("p5e.48xlarge"), nullptr);
  const json axes = {{"/cluster/pricing",
                      json::array({{{"model", "on-demand"}},
                                   {{"model", "capacity-block"}, {"usd_per_gpu_hour", 5.0}}})}};
  const PlanSpec spec =
      parse(plan_doc(training_base("p5e.48xlarge", 1), axes, "min_cost", json::object()));
  ASSERT_EQ(spec.size(), 2u);
  const PlanResult result = run(spec);
  const PlanPoint& on_demand = result.points[0];
  EXPECT_EQ(on_demand.status, "pruned");
  EXPECT_EQ(on_demand.reason, "no price");
  EXPECT_EQ(result.pruned.at("no price"), 1u);

  const PlanPoint& block = result.points[1];
  ASSERT_EQ(block.status, "feasible") << block.reason << " " << block.detail;
  EXPECT_EQ(block.metrics.gpus, 8);
  EXPECT_EQ(block.metrics.usd_per_hour, 5.0 * 8);
  EXPECT_TRUE(block.metrics.priced);
  ASSERT_EQ(result.best, std::vector<std::size_t>{1});
  // The run's dollars: $40/h over its wall hours, plus the storage the report adds.
  const Simulated s = simulate(spec, 1);
  ASSERT_TRUE(s.runs) << s.why_not;
  EXPECT_NEAR(s.training->cost.compute, 40.0 * 24.0 * block.metrics.days,
              1e-9 * s.training->cost.compute);
  EXPECT_EQ(block.metrics.usd, s.training->usd);
  EXPECT_NEAR(block.metrics.usd, s.training->cost.total(), 1e-9 * block.metrics.usd);
  EXPECT_GE(block.metrics.usd, 40.0 * 24.0 * block.metrics.days * (1 - 1e-12));

  // min_time needs no price: both are feasible, with the same time.
  json doc = plan_doc(training_base("p5e.48xlarge", 1), axes, "min_time", json::object());
  const PlanResult by_time = run(parse(doc));
  EXPECT_EQ(by_time.feasible, 2u);
  EXPECT_FALSE(by_time.points[0].metrics.priced);
  EXPECT_EQ(by_time.points[0].metrics.days, by_time.points[1].metrics.days);
  // ... but a dollar constraint does.
  doc["constraints"] = {{"cost_usd_max", 1e9}};
  const PlanResult capped = run(parse(doc));
  EXPECT_EQ(capped.points[0].reason, "no price");
  EXPECT_EQ(capped.points[1].status, "feasible");
}

// Splits one CSV line into fields ("" quoting, no newlines inside fields).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(PlanReport, CsvAndSvg) {
  const PlanSpec& spec = tradeoff_spec("min_cost");
  const PlanResult& result = tradeoff_result("min_cost");

  const std::string csv = render_csv(spec, result);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < csv.size();) {
    const std::size_t end = csv.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the CSV ends with a newline";
    lines.push_back(csv.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 1 + spec.size());
  const std::vector<std::string> header = csv_fields(lines[0]);
  ASSERT_GE(header.size(), 3 + spec.axes.size());
  EXPECT_EQ(header[0], "index");
  EXPECT_EQ(header[1], "status");
  EXPECT_EQ(header[2], "reason");
  for (std::size_t a = 0; a < spec.axes.size(); ++a) EXPECT_EQ(header[3 + a], spec.axes[a].pointer);
  std::map<std::string, std::size_t> column;
  for (std::size_t c = 0; c < header.size(); ++c) column[header[c]] = c;
  for (const char* name : {"nodes", "tp", "days", "usd", "rank", "on_front", "detail"}) {
    ASSERT_TRUE(column.count(name)) << name;
  }

  const std::set<std::size_t> front(result.front.begin(), result.front.end());
  for (std::size_t i = 0; i < spec.size(); ++i) {
    SCOPED_TRACE(lines[1 + i]);
    const std::vector<std::string> row = csv_fields(lines[1 + i]);
    ASSERT_EQ(row.size(), header.size());
    const PlanPoint& p = result.points[i];
    EXPECT_EQ(row[0], std::to_string(i));
    EXPECT_EQ(row[1], p.status);
    EXPECT_EQ(row[2], p.reason);
    // The axis columns: the point's values, strings bare and the rest as JSON.
    const json scenario = spec.scenario_at(i);
    EXPECT_EQ(json::parse(row[3]), scenario["cluster"]);
    EXPECT_EQ(row[4], scenario["workload"]["micro_batch"].dump());
    EXPECT_EQ(row[5], scenario["workload"]["parallelism"]["pp"].dump());
    EXPECT_EQ(row[6], scenario["workload"]["parallelism"]["tp"].dump());
    EXPECT_EQ(row[column["nodes"]], scenario["cluster"]["nodes"].dump());
    const auto rank = std::find(result.best.begin(), result.best.end(), i);
    EXPECT_EQ(row[column["rank"]],
              rank == result.best.end() ? "" : std::to_string(rank - result.best.begin() + 1));
    EXPECT_EQ(row[column["on_front"]], front.count(i) ? "1" : "0");
    EXPECT_EQ(row[column["detail"]], p.detail);
    if (p.status == "feasible") {
      EXPECT_NEAR(std::stod(row[column["usd"]]), p.metrics.usd, 1e-9 * p.metrics.usd);
    }
  }

  const std::string svg = render_svg(spec, result);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  ASSERT_FALSE(result.best.empty());
  // One grey dot per feasible plan, one blue per front plan, one red ring for the best.
  EXPECT_EQ(count_of(svg, "<circle"), result.feasible + result.front.size() + 1);
  EXPECT_EQ(count_of(svg, "<path"), 1u);
}

}  // namespace
}  // namespace fmsim
