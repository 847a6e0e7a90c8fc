#include "report/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "version.h"

namespace fmsim {
namespace {

constexpr double kGB = 1e9;
constexpr double kUs = 1e-6;

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

nlohmann::json row_json(const CollectiveRow& row) {
  return {{"bytes", row.bytes},
          {"count", row.count},
          {"type", row.type},
          {"redop", row.redop},
          {"time_us", row.time_s / kUs},
          {"algbw_gbps", row.algbw_bytes_per_s / kGB},
          {"busbw_gbps", row.busbw_bytes_per_s / kGB},
          {"algorithm", row.algorithm},
          {"protocol", row.protocol},
          {"channels", row.channels},
          {"limited_by", row.limited_by},
          {"predicted_time_us", row.predicted_time_s / kUs}};
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

nlohmann::json data_json(const DataReport& d) {
  return {{"tier", d.tier},
          {"source_tier", d.source_tier},
          {"bytes_per_step", d.bytes_per_step},
          {"reading_nodes", d.reading_nodes},
          {"bytes_per_node", d.bytes_per_node},
          {"request_bytes", d.request_bytes},
          {"read_s", d.read_s},
          {"first_batch_s", d.first_batch_s},
          {"limited_by", d.limited_by},
          {"staging_s", d.staging_s},
          {"staging_limited_by", d.staging_limited_by}};
}

nlohmann::json checkpoint_json(const CheckpointReport& c) {
  return {{"enabled", c.enabled},
          {"tier", c.tier},
          {"upload_to", c.upload_to},
          {"mode", c.mode},
          {"bytes", c.bytes},
          {"bytes_per_node", c.bytes_per_node},
          {"fixed_s", c.fixed_s},
          {"snapshot_s", c.snapshot_s},
          {"write_s", c.write_s},
          {"upload_s", c.upload_s},
          {"stall_s", c.stall_s},
          {"restore_s", c.restore_s},
          {"interval_s", c.interval_s},
          {"interval_source", c.interval_source},
          {"count", c.count},
          {"write_limited_by", c.write_limited_by},
          {"restore_limited_by", c.restore_limited_by}};
}

constexpr double kDay = 86400.0;

nlohmann::json run_json(const TrainingReport& t) {
  const RunReport& r = t.run;
  nlohmann::json lost = nlohmann::json::object();
  for (const auto& [cause, seconds] : r.lost_s) lost[cause] = seconds / kDay;
  nlohmann::json by_class = nlohmann::json::object();
  for (const auto& [name, per_day] : r.failures_per_day_by_class) by_class[name] = per_day;
  nlohmann::json out = {{"steps", t.steps},
                        {"days", t.days},
                        {"useful_days", r.useful_s / kDay},
                        {"gpu_hours", t.gpu_hours},
                        {"goodput", r.goodput},
                        {"checkpoint_overhead", r.checkpoint_overhead},
                        {"expected_failures", r.expected_failures},
                        {"expected_planned_interruptions", r.expected_planned},
                        {"lost_days", lost},
                        {"failures",
                         {{"modelled", r.failures_modelled},
                          {"per_day", r.failures_per_day},
                          {"per_day_by_class", by_class},
                          {"mtbf_hours", r.mtbf_s / 3600.0},
                          {"replace_fraction", r.replace_fraction},
                          {"planned_per_day", r.planned_per_day},
                          {"spare_nodes", r.spare_nodes},
                          {"detect_s", r.detect_s},
                          {"restart_s", r.restart_s},
                          {"replace_s", r.replace_s},
                          {"provision_s", r.provision_s}}}};
  if (r.trials > 0) {
    out["monte_carlo"] = {{"trials", r.trials},
                          {"seed", r.seed},
                          {"mean_days", r.mc_mean_s / kDay},
                          {"stdev_days", r.mc_stdev_s / kDay},
                          {"p50_days", r.mc_p50_s / kDay},
                          {"p90_days", r.mc_p90_s / kDay},
                          {"p99_days", r.mc_p99_s / kDay}};
  }
  return out;
}

nlohmann::json training_json(const TrainingReport& t) {
  nlohmann::json exposed = nlohmann::json::object();
  for (const auto& [kind, seconds] : t.exposed_comm_s) exposed[kind] = seconds;
  nlohmann::json out = {
      {"layout",
       {{"tp", t.tp},
        {"pp", t.pp},
        {"cp", t.cp},
        {"ep", t.ep},
        {"dp", t.dp},
        {"vpp", t.vpp},
        {"gpus", t.gpus},
        {"microbatches", t.microbatches},
        {"layers_per_stage", t.layers_per_stage}}},
      {"simulation",
       {{"mode", t.simulation_mode}, {"simulated_ranks", t.simulated_ranks}, {"tasks", t.tasks}}},
      {"step",
       {{"time_s", t.step_s},
        {"compute_s", t.compute_s},
        {"exposed_comm_s", t.exposed_comm_total()},
        {"exposed_comm_by_kind_s", exposed},
        {"bubble_s", t.bubble_s},
        {"data_stall_s", t.data_stall_s},
        {"optimizer_s", t.optimizer_s}}},
      {"memory",
       {{"per_gpu_gib", t.memory_total() / kGiB},
        {"capacity_gib", t.capacity / kGiB},
        {"fits", t.fits},
        {"breakdown",
         {{"weights", t.weights / kGiB},
          {"grads", t.grads / kGiB},
          {"optimizer", t.optimizer / kGiB},
          {"activations", t.activations / kGiB},
          {"other", t.other / kGiB}}},
        {"suggestions", t.memory_suggestions}}}};
  // An infeasible scenario stops before the run is estimated: no made-up zeros for it.
  if (!t.estimated) return out;
  out["throughput"] = {{"tokens_per_step", t.tokens_per_step},
                       {"tokens_per_s", t.tokens_per_s},
                       {"tokens_per_s_per_gpu", t.tokens_per_s_per_gpu},
                       {"tflops_per_gpu", t.tflops_per_gpu},
                       {"mfu", t.mfu},
                       {"hfu", t.hfu}};
  out["data"] = data_json(t.data);
  out["checkpoint"] = checkpoint_json(t.checkpoint);
  out["run"] = run_json(t);
  out["cost"] = {{"usd", t.usd},
                 {"usd_per_million_tokens", t.usd_per_million_tokens},
                 {"usd_per_hour", t.usd_per_hour},
                 {"price_source", t.price_source},
                 {"breakdown",
                  {{"compute", t.cost.compute},
                   {"spares", t.cost.spares},
                   {"fsx_lustre", t.cost.fsx_lustre},
                   {"s3_storage", t.cost.s3_storage},
                   {"s3_requests", t.cost.s3_requests}}}};
  return out;
}

// The storage, reliability and cost section: what a planner reads to see where the time goes.
std::string run_text(const TrainingReport& t) {
  std::ostringstream out;
  char line[512];
  const DataReport& d = t.data;
  std::snprintf(line, sizeof line,
                "#\n# data: %.4g MB per step from %s%s on %d reading node(s); read %.3f s per "
                "step vs %.3f s of compute -> stall %.3f s per step; limited by %s\n",
                d.bytes_per_step / 1e6, d.tier.c_str(),
                d.tier != d.source_tier ? (" (staged from " + d.source_tier + ")").c_str() : "",
                d.reading_nodes, d.read_s, t.step_compute_s, t.data_stall_s, d.limited_by.c_str());
  out << line;
  if (d.staging_s > 0) {
    std::snprintf(line, sizeof line, "#   staging the dataset: %.2f h, limited by %s\n",
                  d.staging_s / 3600.0, d.staging_limited_by.c_str());
    out << line;
  }
  const CheckpointReport& c = t.checkpoint;
  if (c.enabled) {
    std::snprintf(line, sizeof line,
                  "# checkpoint: %.4g GB (%.4g GB per node), %s to %s%s; stall %.2f s per save "
                  "(fixed %.1f s, snapshot %.2f s, write %.1f s, upload %.1f s; %s); restore "
                  "%.1f s (%s); every %.1f min (%s)\n",
                  c.bytes / 1e9, c.bytes_per_node / 1e9, c.mode.c_str(), c.tier.c_str(),
                  c.upload_to.empty() ? "" : (" then " + c.upload_to).c_str(), c.stall_s, c.fixed_s,
                  c.snapshot_s, c.write_s, c.upload_s, c.write_limited_by.c_str(), c.restore_s,
                  c.restore_limited_by.c_str(), c.interval_s / 60.0, c.interval_source.c_str());
    out << line;
  } else {
    out << "# checkpoint: disabled\n";
  }
  const RunReport& r = t.run;
  if (r.failures_modelled) {
    std::snprintf(line, sizeof line,
                  "# failures: %.3g per day (MTBF %.2f h; %.0f%% need a node replaced), planned "
                  "%.3g per day, %d spare node(s)\n",
                  r.failures_per_day, r.mtbf_s / 3600.0, 100 * r.replace_fraction,
                  r.planned_per_day, r.spare_nodes);
    out << line;
  } else {
    out << "# failures: not modelled (/cluster/reliability/enabled is false)\n";
  }
  if (t.steps <= 0) return out.str();
  std::snprintf(line, sizeof line,
                "# run: %.0f steps, %.2f days (%.2f of useful training), goodput %.1f%%, %.4g "
                "GPU-hours, %.1f expected failures\n",
                t.steps, t.days, r.useful_s / kDay, 100 * r.goodput, t.gpu_hours,
                r.expected_failures);
  out << line;
  if (r.trials > 0) {
    std::snprintf(line, sizeof line,
                  "#   Monte Carlo (%d trials, seed %llu): p50 %.2f days, p90 %.2f, p99 %.2f "
                  "(mean %.2f)\n",
                  r.trials, r.seed, r.mc_p50_s / kDay, r.mc_p90_s / kDay, r.mc_p99_s / kDay,
                  r.mc_mean_s / kDay);
    out << line;
  }
  // Lost time, largest first: the planner's answer to "where do the days go?".
  std::vector<std::pair<double, std::string>> lost;
  double lost_total = 0.0;
  for (const auto& [cause, seconds] : r.lost_s) {
    lost.emplace_back(seconds, cause);
    lost_total += seconds;
  }
  std::sort(lost.rbegin(), lost.rend());
  if (lost_total > 0) {
    out << "# lost time                            days   share of wall time\n";
    for (const auto& [seconds, cause] : lost) {
      if (seconds <= 0) continue;
      std::snprintf(line, sizeof line, "  %-33s %7.2f   %5.1f%%\n", cause.c_str(), seconds / kDay,
                    100 * seconds / r.wall_s);
      out << line;
    }
    std::snprintf(line, sizeof line, "# dominated by %s: %.0f%% of the lost time\n",
                  lost.front().second.c_str(), 100 * lost.front().first / lost_total);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "# cost: $%.4g (%s, $%.2f/h for the cluster; $%.3f per million tokens)\n"
                "#   compute $%.4g, spares $%.4g, FSx $%.4g, S3 storage $%.4g, S3 requests "
                "$%.4g\n",
                t.usd, t.price_source.c_str(), t.usd_per_hour, t.usd_per_million_tokens,
                t.cost.compute, t.cost.spares, t.cost.fsx_lustre, t.cost.s3_storage,
                t.cost.s3_requests);
  out << line;
  return out.str();
}

std::string training_text(const TrainingReport& t) {
  std::ostringstream out;
  char line[256];
  out << "# layout: tp " << t.tp << "  pp " << t.pp << "  cp " << t.cp << "  ep " << t.ep << "  dp "
      << t.dp << "  vpp " << t.vpp << "  micro-batches " << t.microbatches << "  (" << t.gpus
      << " GPUs; " << t.simulation_mode << " simulation of " << t.simulated_ranks << " rank(s), "
      << t.tasks << " tasks)\n";
  out << "#\n# memory per GPU (GiB)      weights    grads  optimizer  activations   other    total"
         "  capacity\n";
  std::snprintf(line, sizeof line, "  %-24s %8.2f %8.2f %10.2f %12.2f %7.2f %8.2f %9.2f  %s\n", "",
                t.weights / kGiB, t.grads / kGiB, t.optimizer / kGiB, t.activations / kGiB,
                t.other / kGiB, t.memory_total() / kGiB, t.capacity / kGiB,
                t.fits ? "fits" : "DOES NOT FIT");
  out << line;
  for (const auto& s : t.memory_suggestions) out << "#   would fit: " << s << "\n";
  if (!t.fits) return out.str();
  out << "#\n# step breakdown               seconds   share\n";
  auto row = [&](const std::string& name, double seconds) {
    std::snprintf(line, sizeof line, "  %-26s %9.4f  %5.1f%%\n", name.c_str(), seconds,
                  t.step_s > 0 ? 100.0 * seconds / t.step_s : 0.0);
    out << line;
  };
  row("compute", t.compute_s);
  for (const auto& [kind, seconds] : t.exposed_comm_s) row("exposed comm (" + kind + ")", seconds);
  row("pipeline bubble and waits", t.bubble_s);
  row("data stall", t.data_stall_s);
  row("optimizer", t.optimizer_s);
  row("step", t.step_s);
  if (!t.estimated) return out.str();
  std::snprintf(line, sizeof line,
                "#\n# throughput: %.4g tokens/s (%.1f per GPU), %.1f TFLOP/s per GPU, MFU %.1f%%, "
                "HFU %.1f%%\n",
                t.tokens_per_s, t.tokens_per_s_per_gpu, t.tflops_per_gpu, 100 * t.mfu, 100 * t.hfu);
  out << line;
  out << run_text(t);
  return out.str();
}

nlohmann::json percentiles_json(const Percentiles& p) {
  return {{"p50", p.p50}, {"p99", p.p99}, {"mean", p.mean}};
}

nlohmann::json inference_json(const InferenceResult& r) {
  return {{"replicas", r.replicas},
          {"tp", r.tp},
          {"ep", r.ep},
          {"pp", r.pp},
          {"gpus", r.gpus},
          {"memory",
           {{"weights_gib_per_gpu", r.weights_bytes_per_gpu / kGiB},
            {"kv_cache_gib_per_gpu", r.kv_bytes_per_gpu / kGiB},
            {"kv_bytes_per_token_per_gpu", r.kv_bytes_per_token_per_gpu},
            {"kv_tokens_per_replica", r.kv_tokens_per_replica},
            {"kv_blocks_per_replica", r.kv_blocks_per_replica}}},
          {"prompts", r.prompts},
          {"sequences", r.sequences},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"duration_s", r.duration_s},
          {"output_tokens_per_s", r.output_tokens_per_s},
          {"input_tokens_per_s", r.input_tokens_per_s},
          {"requests_per_s", r.requests_per_s},
          {"ttft_s", percentiles_json(r.ttft_s)},
          {"tpot_s", percentiles_json(r.tpot_s)},
          {"e2e_s", percentiles_json(r.e2e_s)},
          {"kv_cache_peak_fraction", r.kv_cache_peak_fraction},
          {"mean_batch", r.mean_batch},
          {"mean_in_system", r.mean_in_system},
          {"arrival_rate_per_s", r.arrival_rate_per_s},
          {"iterations", r.iterations},
          {"preemptions", r.preemptions},
          {"busy_fraction", r.busy_fraction},
          {"disaggregation",
           {{"prefill_replicas", r.prefill_replicas},
            {"decode_replicas", r.prefill_replicas > 0 ? r.replicas - r.prefill_replicas : 0},
            {"kv_transfers", r.kv_transfers},
            {"kv_transfer_s_mean", r.kv_transfer_s_mean}}},
          {"usd_per_million_tokens", r.usd_per_million_output_tokens},
          {"usd_per_million_input_and_output_tokens", r.usd_per_million_tokens},
          {"usd_per_prompt", r.usd_per_prompt},
          {"slo_sizing",
           {{"ttft_p99_s_max", r.slo_ttft_p99_s},
            {"tpot_p99_s_max", r.slo_tpot_p99_s},
            {"target_rate_per_s", r.slo_target_rate_per_s},
            {"rate_per_replica", r.slo_rate_per_replica},
            {"replicas_needed", r.slo_replicas},
            {"gpus_needed", r.slo_gpus},
            {"probes", r.slo_probes}}},
          {"cost",
           {{"usd", r.usd}, {"usd_per_hour", r.usd_per_hour}, {"price_source", r.price_source}}}};
}

std::string inference_text(const InferenceResult& r) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line,
                "# serving: %d replica(s) of tp %d x ep %d x pp %d (%d GPUs); weights %.2f GiB "
                "and KV cache %.2f GiB per GPU: %.0f tokens per replica\n",
                r.replicas, r.tp, r.ep, r.pp, r.gpus, r.weights_bytes_per_gpu / kGiB,
                r.kv_bytes_per_gpu / kGiB, r.kv_tokens_per_replica);
  out << line;
  std::snprintf(line, sizeof line,
                "# %d prompts (%d sequences), %.4g input and %.4g output tokens in %.1f s\n",
                r.prompts, r.sequences, r.input_tokens, r.output_tokens, r.duration_s);
  out << line;
  std::snprintf(line, sizeof line,
                "# throughput: %.4g output tokens/s, %.4g input tokens/s, %.3g requests/s; mean "
                "batch %.1f, %lld iterations, %lld preemptions, busy %.0f%%\n",
                r.output_tokens_per_s, r.input_tokens_per_s, r.requests_per_s, r.mean_batch,
                r.iterations, r.preemptions, 100 * r.busy_fraction);
  out << line;
  out << "# latency (s)          p50        p99       mean\n";
  const auto row = [&](const char* name, const Percentiles& p) {
    std::snprintf(line, sizeof line, "  %-16s %10.4f %10.4f %10.4f\n", name, p.p50, p.p99, p.mean);
    out << line;
  };
  row("TTFT", r.ttft_s);
  row("TPOT", r.tpot_s);
  row("end to end", r.e2e_s);
  if (r.prefill_replicas > 0) {
    std::snprintf(line, sizeof line,
                  "# disaggregated: %d prefill and %d decode replica(s); %lld KV transfers, %.2f "
                  "ms each on average\n",
                  r.prefill_replicas, r.replicas - r.prefill_replicas, r.kv_transfers,
                  1e3 * r.kv_transfer_s_mean);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "# KV cache peak %.0f%%; in the system on average %.2f prompts\n",
                100 * r.kv_cache_peak_fraction, r.mean_in_system);
  out << line;
  if (r.slo_probes > 0) {
    std::string slos;
    char part[64];
    if (r.slo_ttft_p99_s > 0) {
      std::snprintf(part, sizeof part, "TTFT p99 <= %g s", r.slo_ttft_p99_s);
      slos += part;
    }
    if (r.slo_tpot_p99_s > 0) {
      std::snprintf(part, sizeof part, "%sTPOT p99 <= %g s", slos.empty() ? "" : " and ",
                    r.slo_tpot_p99_s);
      slos += part;
    }
    std::snprintf(line, sizeof line,
                  "# sizing: one replica sustains %.3g requests/s within %s; %.3g requests/s "
                  "need %d replica(s), %d GPUs\n",
                  r.slo_rate_per_replica, slos.c_str(), r.slo_target_rate_per_s, r.slo_replicas,
                  r.slo_gpus);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "# cost: $%.4g (%s, $%.2f/h): $%.4g per million output tokens, $%.4g per "
                "prompt\n",
                r.usd, r.price_source.c_str(), r.usd_per_hour, r.usd_per_million_output_tokens,
                r.usd_per_prompt);
  out << line;
  return out.str();
}

nlohmann::json rl_json(const RlResult& r) {
  return {{"algorithm", r.algorithm},
          {"placement", r.placement},
          {"trainer_gpus", r.trainer_gpus},
          {"rollout_gpus", r.rollout_gpus},
          {"prompts", r.prompts},
          {"samples", r.samples},
          {"generated_tokens", r.generated_tokens},
          {"iteration_s", r.iteration_s},
          {"breakdown",
           {{"rollout", r.rollout_s},
            {"scoring", r.scoring_s},
            {"train", r.train_s},
            {"weight_sync", r.sync_s}}},
          {"idle_fraction",
           {{"trainer", r.trainer_idle_fraction}, {"rollout", r.rollout_idle_fraction}}},
          {"rollout_busy_fraction", r.rollout_busy_fraction},
          {"weight_bytes", r.weight_bytes},
          {"train_mfu", r.train_mfu},
          {"samples_per_s", r.samples_per_s},
          {"generated_tokens_per_s", r.generated_tokens_per_s},
          {"iterations", r.iterations},
          {"days", r.days},
          {"cost",
           {{"usd_per_iteration", r.usd_per_iteration},
            {"usd", r.usd},
            {"usd_per_hour", r.usd_per_hour},
            {"price_source", r.price_source}}}};
}

std::string rl_text(const RlResult& r) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line,
                "# %s, %s: %d prompts x %d = %d samples per iteration, %.4g generated tokens; "
                "%d GPUs generate, %d train\n",
                r.algorithm.c_str(), r.placement.c_str(), r.prompts,
                r.prompts > 0 ? r.samples / r.prompts : 0, r.samples, r.generated_tokens,
                r.rollout_gpus, r.trainer_gpus);
  out << line;
  out << "# iteration                  seconds   share\n";
  const auto row = [&](const char* name, double seconds) {
    std::snprintf(line, sizeof line, "  %-24s %9.2f  %5.1f%%\n", name, seconds,
                  r.iteration_s > 0 ? 100 * seconds / r.iteration_s : 0.0);
    out << line;
  };
  row("rollout", r.rollout_s);
  row("scoring", r.scoring_s);
  row("train", r.train_s);
  row("weight sync", r.sync_s);
  row("iteration", r.iteration_s);
  std::snprintf(line, sizeof line,
                "# idle: trainer %.0f%%, rollout %.0f%% of the iteration; training MFU %.1f%%; "
                "%.3g samples/s, %.4g generated tokens/s\n",
                100 * r.trainer_idle_fraction, 100 * r.rollout_idle_fraction, 100 * r.train_mfu,
                r.samples_per_s, r.generated_tokens_per_s);
  out << line;
  std::snprintf(line, sizeof line, "# cost: $%.4g per iteration (%s, $%.2f/h)", r.usd_per_iteration,
                r.price_source.c_str(), r.usd_per_hour);
  out << line;
  if (r.iterations > 0) {
    std::snprintf(line, sizeof line, "; %.0f iterations: %.2f days, $%.4g", r.iterations, r.days,
                  r.usd);
    out << line;
  }
  out << "\n";
  return out.str();
}

}  // namespace

double TrainingReport::exposed_comm_total() const {
  double total = 0;
  for (const auto& [kind, seconds] : exposed_comm_s) total += seconds;
  return total;
}

bool Report::expectations_met() const {
  for (const auto& e : expectations) {
    if (!e.ok) return false;
  }
  return true;
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json out = {{"fmsim_version", kVersion},
                        {"scenario", report.scenario},
                        {"scenario_origin", report.scenario_origin},
                        {"stage", report.stage},
                        {"cluster_summary", report.cluster_summary}};
  if (report.collective) {
    const auto& c = *report.collective;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : c.rows) rows.push_back(row_json(row));
    out["collective"] = {{"op", c.op},
                         {"ranks", c.ranks},
                         {"nodes", c.nodes},
                         {"nvlink_domains", c.nvlink_domains},
                         {"avg_busbw_gbps", c.avg_busbw_bytes_per_s / kGB},
                         {"rows", rows}};
  }
  if (report.training) out["training"] = training_json(*report.training);
  if (report.inference) out["inference"] = inference_json(*report.inference);
  if (report.rl) out["rl"] = rl_json(*report.rl);
  if (!report.infeasible.empty()) out["infeasible"] = report.infeasible;
  nlohmann::json expectations = nlohmann::json::array();
  for (const auto& e : report.expectations) {
    expectations.push_back(
        {{"name", e.name}, {"limit", e.limit}, {"value", e.value}, {"ok", e.ok}});
  }
  out["expectations"] = expectations;
  out["notes"] = report.notes;
  // "profile": the file's path, "" for the catalog defaults.
  out["calibration"] = {{"profile", report.calibration},
                        {"applied", report.calibration_applied},
                        {"not_applied", report.calibration_skipped}};
  return out;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_text(const Report& report) {
  std::ostringstream out;
  out << "# fmsim " << kVersion << "  scenario: " << report.scenario_name << "  ("
      << report.scenario_origin << ")\n";
  out << "# cluster: " << report.cluster_summary << "\n";
  out << "# calibration: "
      << (report.calibration.empty() ? "none (catalog defaults)" : report.calibration) << "\n";
  for (const auto& line : report.calibration_applied) out << "#   applied: " << line << "\n";
  for (const auto& line : report.calibration_skipped) out << "#   not applied: " << line << "\n";
  if (report.collective) {
    const auto& c = *report.collective;
    out << "# " << c.op << ": " << c.ranks << " ranks on " << c.nodes << " node(s), "
        << c.nvlink_domains << " NVLink domain(s)\n#\n";
    char line[512];
    std::snprintf(line, sizeof line, "# %12s %12s %9s %6s %11s %8s %8s  %-9s %-6s %3s  %s\n",
                  "size", "count", "type", "redop", "time", "algbw", "busbw", "algorithm", "proto",
                  "ch", "limited by");
    out << line;
    std::snprintf(line, sizeof line, "# %12s %12s %9s %6s %11s %8s %8s\n", "(B)", "(elements)", "",
                  "", "(us)", "(GB/s)", "(GB/s)");
    out << line;
    for (const auto& row : c.rows) {
      std::snprintf(line, sizeof line,
                    "  %12.0f %12lld %9s %6s %11.2f %8.2f %8.2f  %-9s %-6s %3d  %s\n", row.bytes,
                    row.count, row.type.c_str(), row.redop.c_str(), row.time_s / kUs,
                    row.algbw_bytes_per_s / kGB, row.busbw_bytes_per_s / kGB, row.algorithm.c_str(),
                    row.protocol.c_str(), row.channels, row.limited_by.c_str());
      out << line;
    }
    out << "# Avg bus bandwidth    : " << format("%.3f", c.avg_busbw_bytes_per_s / kGB)
        << " GB/s\n";
  }
  if (report.training) out << training_text(*report.training);
  if (report.inference) out << inference_text(*report.inference);
  if (report.rl) out << rl_text(*report.rl);
  if (!report.infeasible.empty()) out << "# INFEASIBLE: " << report.infeasible << "\n";
  for (const auto& note : report.notes) out << "# note: " << note << "\n";
  for (const auto& e : report.expectations) {
    out << "# expect " << e.name << " " << format("%g", e.limit) << ": " << format("%.6g", e.value)
        << (e.ok ? "  ok" : "  FAILED") << "\n";
  }
  return out.str();
}

std::string render_csv(const Report& report) {
  std::ostringstream out;
  if (report.training) {
    // One metric per line: easy to diff between runs and to load into a spreadsheet.
    const TrainingReport& t = *report.training;
    out << "metric,value\n";
    auto row = [&](const std::string& name, double value) {
      out << name << ',' << format("%.9g", value) << '\n';
    };
    row("step_time_s", t.step_s);
    row("compute_s", t.compute_s);
    for (const auto& [kind, seconds] : t.exposed_comm_s)
      row("exposed_comm_" + kind + "_s", seconds);
    row("bubble_s", t.bubble_s);
    row("optimizer_s", t.optimizer_s);
    row("tokens_per_s", t.tokens_per_s);
    row("tflops_per_gpu", t.tflops_per_gpu);
    row("mfu", t.mfu);
    row("hfu", t.hfu);
    row("memory_per_gpu_gib", t.memory_total() / kGiB);
    row("days", t.days);
    row("gpu_hours", t.gpu_hours);
    row("cost_usd", t.usd);
    return out.str();
  }
  if (!report.collective) return out.str();
  out << "size_bytes,count,type,redop,time_us,algbw_gbps,busbw_gbps,algorithm,protocol,channels,"
         "limited_by\n";
  for (const auto& row : report.collective->rows) {
    out << format("%.0f", row.bytes) << ',' << row.count << ',' << row.type << ',' << row.redop
        << ',' << format("%.3f", row.time_s / kUs) << ','
        << format("%.3f", row.algbw_bytes_per_s / kGB) << ','
        << format("%.3f", row.busbw_bytes_per_s / kGB) << ',' << row.algorithm << ','
        << row.protocol << ',' << row.channels << ",\"" << row.limited_by << "\"\n";
  }
  return out.str();
}

nlohmann::json render_trace(const Report& report) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& [pid, name] : report.trace.process_names) {
    events.push_back(
        {{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"args", {{"name", name}}}});
  }
  for (const auto& [pid, tid, name] : report.trace.thread_names) {
    events.push_back({{"ph", "M"},
                      {"name", "thread_name"},
                      {"pid", pid},
                      {"tid", tid},
                      {"args", {{"name", name}}}});
  }
  for (const auto& span : report.trace.spans) {
    nlohmann::json event = {{"ph", "X"},
                            {"name", span.name},
                            {"cat", span.category},
                            {"pid", span.pid},
                            {"tid", span.tid},
                            {"ts", span.start_s / kUs},
                            {"dur", span.duration_s / kUs}};
    if (!span.args.is_null()) event["args"] = span.args;
    events.push_back(std::move(event));
  }
  for (const auto& counter : report.trace.counters) {
    events.push_back({{"ph", "C"},
                      {"name", counter.name},
                      {"pid", counter.pid},
                      {"ts", counter.time_s / kUs},
                      {"args", {{"utilization", counter.value}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

}  // namespace fmsim
