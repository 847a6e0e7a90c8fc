// Renderings of a plan's result: JSON, text, CSV and an SVG of the Pareto front.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "error.h"
#include "plan/plan.h"
#include "scenario/scenario.h"
#include "version.h"

namespace fmsim {
namespace {

std::string printf_string(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string usd(double value) {
  const double a = std::abs(value);
  if (a >= 1e9) return printf_string("$%.3gB", value / 1e9);
  if (a >= 1e6) return printf_string("$%.3gM", value / 1e6);
  if (a >= 1e4) return printf_string("$%.3gk", value / 1e3);
  return printf_string("$%.4g", value);
}

std::string percent(double fraction) { return printf_string("%.1f%%", 100.0 * fraction); }

// A value as a table cell: strings bare, everything else as compact JSON.
std::string cell(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

const PlanPoint& point_at(const PlanResult& r, std::size_t index) {
  // points are in index order and cover the whole space
  return r.points.at(index);
}

// The stage's headline figures of a point.
nlohmann::json summary_json(const std::string& stage, const PlanMetrics& m) {
  nlohmann::json s = {{"instance", m.instance}, {"nodes", m.nodes}, {"gpus", m.gpus}};
  if (stage == "inference") {
    s["layout"] = {{"tp", m.tp}, {"pp", m.pp}, {"ep", m.ep}, {"replicas", m.replicas}};
    s["ttft_p99_s"] = m.ttft_p99_s;
    s["tpot_p99_s"] = m.tpot_p99_s;
    s["e2e_p99_s"] = m.e2e_p99_s;
    s["output_tokens_per_s"] = m.output_tokens_per_s;
  } else {
    s["layout"] = {{"tp", m.tp},
                   {"pp", m.pp},
                   {"cp", m.cp},
                   {"ep", m.ep},
                   {"dp", m.dp},
                   {"vpp", m.vpp},
                   {"micro_batch", m.micro_batch},
                   {"zero", m.zero},
                   {"recompute", m.recompute}};
    if (stage == "rl") {
      s["iteration_s"] = m.iteration_s;
      s["train_mfu"] = m.mfu;
    } else {
      s["step_s"] = m.step_s;
      s["step_lower_bound_s"] = m.step_lower_bound_s;
      s["mfu"] = m.mfu;
      s["tokens_per_s"] = m.tokens_per_s;
      s["memory_per_gpu_gib"] = m.memory_gib;
    }
    s["days"] = m.days;
    s["usd"] = m.usd;
  }
  s["usd_per_hour"] = m.usd_per_hour;
  s["usd_per_million_tokens"] = m.usd_per_million_tokens;
  s["time"] = m.time;
  s["cost"] = m.cost;
  return s;
}

nlohmann::json values_json(const PlanSpec& spec, std::size_t index) {
  nlohmann::json values = nlohmann::json::object();
  const auto v = spec.values_at(index);
  for (std::size_t a = 0; a < spec.axes.size(); ++a) values[spec.axes[a].pointer] = *v[a];
  return values;
}

std::string time_label(const std::string& stage) {
  return stage == "inference" ? "e2e p99 latency (s)" : "days";
}
std::string cost_label(const std::string& stage) {
  return stage == "inference" ? "US dollars per million tokens" : "US dollars";
}

std::string layout_text(const std::string& stage, const PlanMetrics& m) {
  std::ostringstream out;
  out << "tp" << m.tp << " pp" << m.pp;
  if (stage == "inference") {
    if (m.ep > 1) out << " ep" << m.ep;
    out << " x" << m.replicas;
    return out.str();
  }
  if (m.cp > 1) out << " cp" << m.cp;
  if (m.ep > 1) out << " ep" << m.ep;
  out << " dp" << m.dp;
  if (m.vpp > 1) out << " vpp" << m.vpp;
  out << " mb" << m.micro_batch << " zero" << m.zero << " " << m.recompute;
  return out.str();
}

// The objective's figure of a point, as words.
std::string objective_text(const std::string& stage, PlanObjective objective,
                           const PlanMetrics& m) {
  switch (objective) {
    case PlanObjective::kMinCost:
      return stage == "inference" ? usd(m.cost) + " per million tokens" : usd(m.cost);
    case PlanObjective::kMinTime:
      return stage == "inference" ? printf_string("%.3g s e2e p99", m.time)
                                  : printf_string("%.1f days", m.time);
    case PlanObjective::kMaxMfu:
      return "MFU " + percent(m.mfu);
    case PlanObjective::kMinGpus:
      return std::to_string(m.gpus) + " GPUs";
  }
  return "";
}

}  // namespace

// Why #1 ranks above #2: the objective's figures, the axis values that differ, and the figures
// behind the difference.
std::string explain_best(const PlanSpec& spec, const PlanResult& result) {
  if (result.best.empty()) return "";
  if (result.best.size() == 1) return "#1 is the only feasible plan";
  const PlanPoint& a = point_at(result, result.best[0]);
  const PlanPoint& b = point_at(result, result.best[1]);
  const PlanMetrics &x = a.metrics, &y = b.metrics;
  std::ostringstream out;
  out << "#1 (" << objective_text(spec.stage, spec.objective, x) << ") beats #2 ("
      << objective_text(spec.stage, spec.objective, y) << ")";
  const double primary_x = spec.objective == PlanObjective::kMinCost   ? x.cost
                           : spec.objective == PlanObjective::kMinTime ? x.time
                           : spec.objective == PlanObjective::kMaxMfu  ? x.mfu
                                                                       : x.gpus;
  const double primary_y = spec.objective == PlanObjective::kMinCost   ? y.cost
                           : spec.objective == PlanObjective::kMinTime ? y.time
                           : spec.objective == PlanObjective::kMaxMfu  ? y.mfu
                                                                       : y.gpus;
  if (primary_x == primary_y) {
    out << ", a tie broken by " << (spec.objective == PlanObjective::kMinCost ? "time" : "cost");
  } else if (primary_y != 0) {
    out << printf_string(", %.1f%% ", 100.0 * std::abs(primary_x - primary_y) / std::abs(primary_y))
        << (spec.objective == PlanObjective::kMaxMfu ? "higher" : "lower");
  }
  // What differs between the two plans.
  const auto va = spec.values_at(a.index), vb = spec.values_at(b.index);
  std::string differs;
  for (std::size_t i = 0; i < spec.axes.size(); ++i) {
    if (*va[i] == *vb[i]) continue;
    differs += (differs.empty() ? "" : ", ") + spec.axes[i].pointer + " " + cell(*va[i]) + " vs " +
               cell(*vb[i]);
  }
  out << ". They differ in " << (differs.empty() ? "nothing the axes set" : differs) << ". ";
  if (spec.stage == "inference") {
    out << printf_string("#1 serves at %.3g s e2e p99", x.e2e_p99_s)
        << printf_string(" (TTFT p99 %.3g s)", x.ttft_p99_s) << " on " << x.gpus << " GPUs at "
        << usd(x.usd_per_hour) << "/h; #2 " << printf_string("%.3g s", y.e2e_p99_s)
        << printf_string(" (TTFT p99 %.3g s)", y.ttft_p99_s) << " on " << y.gpus << " GPUs at "
        << usd(y.usd_per_hour) << "/h";
  } else if (spec.stage == "rl") {
    out << printf_string("#1 iterates in %.3g s", x.iteration_s) << " on " << x.gpus << " GPUs at "
        << usd(x.usd_per_hour) << "/h; #2 " << printf_string("in %.3g s", y.iteration_s) << " on "
        << y.gpus << " GPUs at " << usd(y.usd_per_hour) << "/h";
  } else {
    out << printf_string("#1 steps in %.3g s", x.step_s) << " (MFU " << percent(x.mfu) << ") on "
        << x.gpus << " GPUs at " << usd(x.usd_per_hour) << "/h for "
        << printf_string("%.1f days", x.days) << "; #2 " << printf_string("in %.3g s", y.step_s)
        << " (MFU " << percent(y.mfu) << ") on " << y.gpus << " GPUs at " << usd(y.usd_per_hour)
        << "/h for " << printf_string("%.1f days", y.days);
  }
  return out.str();
}

nlohmann::json to_json(const PlanSpec& spec, const PlanResult& result, const Catalog& catalog) {
  nlohmann::json axes = nlohmann::json::array();
  for (const auto& axis : spec.axes) {
    axes.push_back({{"pointer", axis.pointer}, {"given", axis.given}, {"values", axis.values}});
  }
  nlohmann::json constraints = nlohmann::json::object();
  for (const auto& c : spec.constraints) constraints[c.name] = c.limit;
  nlohmann::json best = nlohmann::json::array();
  for (std::size_t rank = 0; rank < result.best.size(); ++rank) {
    const PlanPoint& p = point_at(result, result.best[rank]);
    const Scenario scenario = parse_scenario(spec.scenario_at(p.index), catalog, spec.base_dir);
    best.push_back({{"rank", rank + 1},
                    {"index", p.index},
                    {"values", values_json(spec, p.index)},
                    {"summary", summary_json(spec.stage, p.metrics)},
                    {"scenario", to_json(scenario)}});
  }
  nlohmann::json front = nlohmann::json::array();
  for (std::size_t index : result.front) {
    const PlanPoint& p = point_at(result, index);
    front.push_back({{"index", index},
                     {"values", values_json(spec, index)},
                     {"time", p.metrics.time},
                     {"cost", p.metrics.cost},
                     {"summary", summary_json(spec.stage, p.metrics)}});
  }
  nlohmann::json out = {
      {"fmsim_version", kVersion},
      {"plan", spec.name},
      {"base", spec.base_origin},
      {"stage", spec.stage},
      {"objective", to_string(spec.objective)},
      {"constraints", constraints},
      {"top_k", spec.top_k},
      {"axes", axes},
      {"space", result.space},
      {"evaluated", result.evaluated},
      {"feasible", result.feasible},
      {"skipped", result.skipped},
      {"interrupted", result.interrupted},
      {"pruned", result.pruned},
      {"best", best},
      {"why_best", explain_best(spec, result)},
      {"front_axes", {{"time", time_label(spec.stage)}, {"cost", cost_label(spec.stage)}}},
      {"front", front}};
  if (!result.empty_message.empty()) {
    out["no_feasible_plan"] = {{"dominant_reason", result.dominant_reason},
                               {"message", result.empty_message}};
  }
  return out;
}

std::string render_text(const PlanSpec& spec, const PlanResult& result) {
  std::ostringstream out;
  out << "# fmsim " << kVersion << " plan: " << spec.name << "  (base " << spec.base_origin
      << ", stage " << spec.stage << ")\n";
  out << "# space: " << result.space << " point(s)";
  for (std::size_t a = 0; a < spec.axes.size(); ++a) {
    out << (a == 0 ? " over " : " x ") << spec.axes[a].pointer << " (" << spec.axes[a].values.size()
        << ")";
  }
  out << "\n# objective: " << to_string(spec.objective);
  for (std::size_t i = 0; i < spec.constraints.size(); ++i) {
    out << (i == 0 ? " subject to " : ", ") << spec.constraints[i].name << " "
        << printf_string("%.6g", spec.constraints[i].limit);
  }
  out << "\n# simulated " << result.evaluated << ", feasible " << result.feasible;
  if (result.skipped > 0) out << ", not evaluated " << result.skipped;
  out << "\n";
  if (!result.pruned.empty()) {
    out << "# pruned:";
    bool first = true;
    for (const auto& [reason, count] : result.pruned) {
      out << (first ? " " : ", ") << reason << " " << count;
      first = false;
    }
    out << "\n";
  }
  if (result.interrupted) {
    out << "# interrupted: the best of the " << result.space - result.skipped
        << " point(s) evaluated so far\n";
  }
  if (result.best.empty()) {
    out << "# " << (result.empty_message.empty() ? "no feasible plan" : result.empty_message)
        << "\n";
    return out.str();
  }

  out << "#\n";
  const bool inference = spec.stage == "inference";
  char line[512];
  if (inference) {
    std::snprintf(line, sizeof line, "%4s  %-18s %5s %5s  %-18s %9s %9s %9s %11s %10s %10s\n",
                  "rank", "instance", "nodes", "gpus", "layout", "ttft_p99", "tpot_p99", "e2e_p99",
                  "out_tok/s", "usd/h", "usd/Mtok");
  } else {
    std::snprintf(line, sizeof line, "%4s  %-18s %5s %6s  %-40s %8s %6s %7s %10s\n", "rank",
                  "instance", "nodes", "gpus", "layout", spec.stage == "rl" ? "iter_s" : "step_s",
                  "mfu", "days", "cost");
  }
  out << line;
  for (std::size_t rank = 0; rank < result.best.size(); ++rank) {
    const PlanMetrics& m = point_at(result, result.best[rank]).metrics;
    if (inference) {
      std::snprintf(line, sizeof line,
                    "%4zu  %-18s %5d %5d  %-18s %9.3f %9.4f %9.2f %11.0f %10s %10s\n", rank + 1,
                    m.instance.c_str(), m.nodes, m.gpus, layout_text(spec.stage, m).c_str(),
                    m.ttft_p99_s, m.tpot_p99_s, m.e2e_p99_s, m.output_tokens_per_s,
                    usd(m.usd_per_hour).c_str(), usd(m.usd_per_million_tokens).c_str());
    } else {
      std::snprintf(line, sizeof line, "%4zu  %-18s %5d %6d  %-40s %8.3f %6s %7.1f %10s\n",
                    rank + 1, m.instance.c_str(), m.nodes, m.gpus,
                    layout_text(spec.stage, m).c_str(),
                    spec.stage == "rl" ? m.iteration_s : m.step_s, percent(m.mfu).c_str(), m.days,
                    usd(m.usd).c_str());
    }
    out << line;
  }
  out << "# why: " << explain_best(spec, result) << "\n";
  out << "#\n# Pareto front (" << time_label(spec.stage) << " vs " << cost_label(spec.stage)
      << "): " << result.front.size() << " plan(s)\n";
  for (std::size_t index : result.front) {
    const PlanMetrics& m = point_at(result, index).metrics;
    std::snprintf(line, sizeof line, "  %10.4g  %10s  %-18s %5d nodes  %s\n", m.time,
                  usd(m.cost).c_str(), m.instance.c_str(), m.nodes,
                  layout_text(spec.stage, m).c_str());
    out << line;
  }
  return out.str();
}

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

}  // namespace

std::string render_csv(const PlanSpec& spec, const PlanResult& result) {
  std::ostringstream out;
  out << "index,status,reason";
  for (const auto& axis : spec.axes) out << "," << csv_field(axis.pointer);
  out << ",instance,nodes,gpus,tp,pp,cp,ep,dp,vpp,micro_batch,zero,recompute,replicas,step_s,"
         "step_lower_bound_s,mfu,tokens_per_s,memory_gib,ttft_p99_s,tpot_p99_s,e2e_p99_s,"
         "output_tokens_per_s,iteration_s,days,usd,usd_per_hour,usd_per_million_tokens,time,cost,"
         "rank,on_front,detail\n";
  std::vector<int> rank(result.points.size(), 0);
  for (std::size_t r = 0; r < result.best.size(); ++r)
    rank[result.best[r]] = static_cast<int>(r + 1);
  std::vector<bool> front(result.points.size(), false);
  for (std::size_t i : result.front) front[i] = true;
  for (const PlanPoint& p : result.points) {
    const PlanMetrics& m = p.metrics;
    out << p.index << "," << p.status << "," << csv_field(p.reason);
    for (const nlohmann::json* v : spec.values_at(p.index)) out << "," << csv_field(cell(*v));
    out << "," << csv_field(m.instance) << "," << m.nodes << "," << m.gpus << "," << m.tp << ","
        << m.pp << "," << m.cp << "," << m.ep << "," << m.dp << "," << m.vpp << "," << m.micro_batch
        << "," << m.zero << "," << m.recompute << "," << m.replicas;
    for (double v : {m.step_s, m.step_lower_bound_s, m.mfu, m.tokens_per_s, m.memory_gib,
                     m.ttft_p99_s, m.tpot_p99_s, m.e2e_p99_s, m.output_tokens_per_s, m.iteration_s,
                     m.days, m.usd, m.usd_per_hour, m.usd_per_million_tokens, m.time, m.cost}) {
      out << "," << number(v);
    }
    out << "," << (rank[p.index] > 0 ? std::to_string(rank[p.index]) : "") << ","
        << (front[p.index] ? "1" : "0") << "," << csv_field(p.detail) << "\n";
  }
  return out.str();
}

namespace {

// Ticks at 1, 2 or 5 x 10^k covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (span / step <= 6.0) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) {
    ticks.push_back(std::abs(t) < 1e-12 * span ? 0.0 : t);
  }
  return ticks;
}

std::string tick_label(double value, bool money) {
  if (money) return usd(value);
  return printf_string("%.4g", value);
}

}  // namespace

std::string render_svg(const PlanSpec& spec, const PlanResult& result) {
  const double width = 760, height = 500, left = 90, right = 30, top = 50, bottom = 60;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
      << xml_escape("fmsim plan " + spec.name + ": Pareto front, " + time_label(spec.stage) +
                    " vs " + cost_label(spec.stage))
      << "</text>\n";

  std::vector<const PlanPoint*> feasible;
  for (const PlanPoint& p : result.points) {
    if (p.status == "feasible") feasible.push_back(&p);
  }
  if (feasible.empty()) {
    svg << "<text x=\"" << width / 2 << "\" y=\"" << height / 2
        << "\" text-anchor=\"middle\">no feasible plan</text>\n</svg>\n";
    return svg.str();
  }
  double tmin = std::numeric_limits<double>::infinity(), tmax = -tmin, cmin = tmin, cmax = -tmin;
  for (const PlanPoint* p : feasible) {
    tmin = std::min(tmin, p->metrics.time);
    tmax = std::max(tmax, p->metrics.time);
    cmin = std::min(cmin, p->metrics.cost);
    cmax = std::max(cmax, p->metrics.cost);
  }
  // Pad the ranges by 5% (and give a single point some room).
  const auto pad = [](double& lo, double& hi) {
    const double span = hi > lo ? hi - lo : std::max(std::abs(hi), 1.0) * 0.2;
    lo = std::max(0.0, lo - 0.05 * span);
    hi = hi + 0.05 * span;
  };
  pad(tmin, tmax);
  pad(cmin, cmax);
  const auto sx = [&](double t) { return left + (t - tmin) / (tmax - tmin) * plot_w; };
  const auto sy = [&](double c) { return top + plot_h - (c - cmin) / (cmax - cmin) * plot_h; };

  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : nice_ticks(tmin, tmax)) {
    svg << "<line x1=\"" << sx(t) << "\" y1=\"" << top << "\" x2=\"" << sx(t) << "\" y2=\""
        << top + plot_h << "\" stroke=\"#e4e4e4\"/>\n";
    svg << "<text x=\"" << sx(t) << "\" y=\"" << top + plot_h + 18 << "\" text-anchor=\"middle\">"
        << tick_label(t, false) << "</text>\n";
  }
  for (double c : nice_ticks(cmin, cmax)) {
    svg << "<line x1=\"" << left << "\" y1=\"" << sy(c) << "\" x2=\"" << left + plot_w << "\" y2=\""
        << sy(c) << "\" stroke=\"#e4e4e4\"/>\n";
    svg << "<text x=\"" << left - 6 << "\" y=\"" << sy(c) + 4 << "\" text-anchor=\"end\">"
        << xml_escape(tick_label(c, true)) << "</text>\n";
  }
  svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 16
      << "\" text-anchor=\"middle\">" << xml_escape(time_label(spec.stage)) << "</text>\n";
  svg << "<text transform=\"translate(18," << top + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(cost_label(spec.stage))
      << "</text>\n";

  const auto title = [&](const PlanPoint& p) {
    // (a stream, not operator+ chains: GCC 12 warns falsely on those with -Wrestrict)
    std::ostringstream text;
    text << "#" << p.index << " " << p.metrics.instance << " x" << p.metrics.nodes << " "
         << layout_text(spec.stage, p.metrics) << ": " << printf_string("%.4g", p.metrics.time)
         << ", " << usd(p.metrics.cost);
    return xml_escape(text.str());
  };
  for (const PlanPoint* p : feasible) {
    svg << "<circle cx=\"" << sx(p->metrics.time) << "\" cy=\"" << sy(p->metrics.cost)
        << "\" r=\"3\" fill=\"#b8b8b8\"><title>" << title(*p) << "</title></circle>\n";
  }
  // The front as a staircase: each plan is cheaper than every faster one.
  std::ostringstream path;
  for (std::size_t i = 0; i < result.front.size(); ++i) {
    const PlanMetrics& m = point_at(result, result.front[i]).metrics;
    if (i == 0) {
      path << "M" << sx(m.time) << "," << sy(m.cost);
    } else {
      path << " H" << sx(m.time) << " V" << sy(m.cost);
    }
  }
  svg << "<path d=\"" << path.str()
      << "\" fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"1.5\"/>\n";
  for (std::size_t index : result.front) {
    const PlanPoint& p = point_at(result, index);
    svg << "<circle cx=\"" << sx(p.metrics.time) << "\" cy=\"" << sy(p.metrics.cost)
        << "\" r=\"5\" fill=\"#1f6fb4\"><title>" << title(p) << "</title></circle>\n";
  }
  if (!result.best.empty()) {
    const PlanPoint& p = point_at(result, result.best[0]);
    const double x = sx(p.metrics.time), y = sy(p.metrics.cost);
    svg << "<circle cx=\"" << x << "\" cy=\"" << y
        << "\" r=\"8\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2.5\"><title>" << title(p)
        << "</title></circle>\n";
    svg << "<text x=\"" << x + 11 << "\" y=\"" << y - 9 << "\" fill=\"#d62728\">"
        << xml_escape("best (" + to_string(spec.objective) + "): " + p.metrics.instance + " x" +
                      std::to_string(p.metrics.nodes))
        << "</text>\n";
  }
  svg << "<text x=\"" << left + plot_w << "\" y=\"" << top - 8
      << "\" text-anchor=\"end\" fill=\"#555\">" << feasible.size() << " feasible (grey), "
      << result.front.size() << " on the front (blue)</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace fmsim
