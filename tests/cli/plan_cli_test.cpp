// End-to-end tests of `fmsim plan` (sim/cli/main.cpp, docs/plan.md): each test writes a small plan
// with an inline base into a fresh temporary folder, runs the built binary (FMSIM_EXE) and checks
// its exit code (0 ok, 2 bad input naming the JSON pointer or path, 3 no feasible plan, 130
// interrupted by Ctrl-C), what it printed and the files it wrote. The plans simulate a handful of
// Llama 3 8B points of 1000 short steps on one or two p5.48xlarge nodes, so that each test runs in
// well under a second in Release and in seconds under the sanitizers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/fmsim_process.h"

namespace fmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing_support;

// Llama 3 8B pre-training for 1000 steps of 16 x 1024 tokens on p5.48xlarge (8 H100s a node).
json training_base() {
  return {{"name", "plan-cli-base"},
          {"cluster", {{"instance", "p5.48xlarge"}, {"nodes", 1}}},
          {"model", "llama3-8b"},
          {"workload",
           {{"stage", "pretrain"},
            {"steps", 1000},
            {"seq_len", 1024},
            {"global_batch", 16},
            {"micro_batch", 1},
            {"precision", "bf16"},
            {"parallelism",
             {{"tp", 1}, {"pp", 1}, {"dp", "auto"}, {"zero", 1}, {"recompute", "selective"}}}}}};
}

// 2 node counts x 3 tensor-parallel sizes = 6 points. tp 16 is wider than a node's 8 GPUs and is
// pruned ("layout") before simulating; the 4 others are simulated and meet days_max.
constexpr int kPoints = 6;
constexpr int kLayoutPruned = 2;
constexpr int kSimulated = 4;

json small_plan() {
  return {{"name", "plan-cli-test"},
          {"base", training_base()},
          {"axes", {{"/cluster/nodes", {1, 2}}, {"/workload/parallelism/tp", {1, 2, 16}}}},
          {"objective", "min_cost"},
          {"constraints", {{"days_max", 30}}}};
}

class PlanCli : public FmsimProcessTest {
 protected:
  std::string write_plan(const json& plan, const std::string& name = "p.json") const {
    return write_text(name, plan.dump(2));
  }
};

// --- A plan that runs ------------------------------------------------------------------------

TEST_F(PlanCli, RunsAndPrintsTheRankedTableTheReasonAndTheParetoFront) {
  const Outcome o = run({"plan", write_plan(small_plan()), "--jobs", "2"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "plan: plan-cli-test")) << o.out;
  EXPECT_TRUE(contains(o.out, "# space: 6 point(s)")) << o.out;
  EXPECT_TRUE(contains(o.out, "# simulated 4, feasible 4")) << o.out;
  EXPECT_TRUE(contains(o.out, "# pruned: layout 2")) << o.out;
  // The table: a header naming its columns, then one row per feasible plan, best first.
  const auto lines = lines_of(o.out);
  const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.rfind("rank", 0) == 0;
  });
  ASSERT_NE(header, lines.end()) << o.out;
  for (const char* column : {"instance", "nodes", "gpus", "layout", "step_s", "mfu", "cost"}) {
    EXPECT_TRUE(contains(*header, column)) << column << " missing from: " << *header;
  }
  for (int rank = 1; rank <= kSimulated; ++rank) {
    ASSERT_LT(header + rank, lines.end()) << o.out;
    EXPECT_EQ(header[rank].rfind("   " + std::to_string(rank) + "  p5.48xlarge", 0), 0u)
        << header[rank];
  }
  EXPECT_TRUE(contains(o.out, "\n# why: #1 (")) << o.out;
  EXPECT_TRUE(contains(o.out, "beats #2")) << o.out;
  EXPECT_TRUE(contains(o.out, "# Pareto front (days vs US dollars): ")) << o.out;
  // Without a terminal there is no progress bar: stderr stays empty.
  EXPECT_EQ(o.err, "");
}

TEST_F(PlanCli, JsonHasTheCountsTheBestPlansWithTheirScenariosAndTheFront) {
  const Outcome o = run({"plan", write_plan(small_plan()), "--json", "out.json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "# why: ")) << "the table still goes to stdout:\n" << o.out;
  const json result = json::parse(read_file(dir() / "out.json"));
  for (const char* key : {"evaluated", "feasible", "pruned", "best", "front"}) {
    EXPECT_TRUE(result.contains(key)) << key;
  }
  EXPECT_EQ(result.value("space", 0), kPoints);
  EXPECT_EQ(result.value("evaluated", 0), kSimulated);
  EXPECT_EQ(result.value("feasible", 0), kSimulated);
  EXPECT_EQ(result.value("skipped", -1), 0);
  EXPECT_EQ(result.value("interrupted", true), false);
  EXPECT_EQ(result["pruned"], json({{"layout", kLayoutPruned}}));
  ASSERT_TRUE(result["best"].is_array());
  ASSERT_EQ(result["best"].size(), static_cast<std::size_t>(kSimulated));
  for (std::size_t i = 0; i < result["best"].size(); ++i) {
    const json& best = result["best"][i];
    EXPECT_EQ(best.value("rank", 0u), i + 1);
    ASSERT_TRUE(best.contains("summary")) << best.dump(2);
    ASSERT_TRUE(best.contains("scenario")) << best.dump(2);
    // The resolved scenario carries the point's own axis values.
    const json& values = best["values"];
    EXPECT_EQ(best["scenario"]["cluster"]["nodes"], values["/cluster/nodes"]) << best.dump(2);
    EXPECT_EQ(best["summary"]["nodes"], values["/cluster/nodes"]) << best.dump(2);
    EXPECT_EQ(best["summary"]["layout"]["tp"], values["/workload/parallelism/tp"]);
    EXPECT_EQ(best["summary"]["instance"], "p5.48xlarge");
    EXPECT_GT(best["summary"].value("usd", 0.0), 0.0);
  }
  // Best first for min_cost.
  for (std::size_t i = 1; i < result["best"].size(); ++i) {
    EXPECT_LE(result["best"][i - 1]["summary"]["usd"].get<double>(),
              result["best"][i]["summary"]["usd"].get<double>());
  }
  ASSERT_TRUE(result["front"].is_array());
  ASSERT_FALSE(result["front"].empty());
  // The front: faster plans cost more.
  for (std::size_t i = 1; i < result["front"].size(); ++i) {
    EXPECT_LT(result["front"][i - 1]["time"].get<double>(),
              result["front"][i]["time"].get<double>());
    EXPECT_GT(result["front"][i - 1]["cost"].get<double>(),
              result["front"][i]["cost"].get<double>());
  }
  EXPECT_FALSE(result.contains("no_feasible_plan"));
}

TEST_F(PlanCli, JsonToStdoutMovesTheTableToStderr) {
  const Outcome o = run({"plan", write_plan(small_plan()), "--json", "-"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json result = json::parse(o.out);  // nothing but the JSON on stdout
  EXPECT_EQ(result.value("feasible", 0), kSimulated);
  EXPECT_TRUE(contains(o.err, "# why: ")) << o.err;
}

TEST_F(PlanCli, CsvHasAHeaderAndOneRowPerPoint) {
  const Outcome o = run({"plan", write_plan(small_plan()), "--csv", "out.csv"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto lines = lines_of(read_file(dir() / "out.csv"));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kPoints + 1)) << read_file(dir() / "out.csv");
  EXPECT_EQ(lines[0].rfind("index,status,reason,/cluster/nodes,/workload/parallelism/tp,", 0), 0u)
      << lines[0];
  int feasible = 0, layout = 0;
  for (int i = 0; i < kPoints; ++i) {
    const std::string& row = lines[i + 1];
    EXPECT_EQ(row.rfind(std::to_string(i) + ",", 0), 0u) << "rows in index order: " << row;
    feasible += row.rfind(std::to_string(i) + ",feasible,,", 0) == 0;
    layout += row.rfind(std::to_string(i) + ",pruned,layout,", 0) == 0;
  }
  EXPECT_EQ(feasible, kSimulated);
  EXPECT_EQ(layout, kLayoutPruned);
}

TEST_F(PlanCli, PlotWritesAnSvgOfTheFront) {
  const Outcome o = run({"plan", write_plan(small_plan()), "--plot", "front.svg"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const std::string svg = read_file(dir() / "front.svg");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
  EXPECT_TRUE(svg.size() > 7 && svg.compare(svg.size() - 7, 7, "</svg>\n") == 0) << svg;
  EXPECT_TRUE(contains(svg, "Pareto front")) << svg;
  EXPECT_TRUE(contains(svg, "4 feasible (grey)")) << svg;
  EXPECT_TRUE(contains(svg, "best (min_cost): p5.48xlarge")) << svg;
}

// --- Output files ------------------------------------------------------------------------------

TEST_F(PlanCli, RefusesToOverwriteAnOutputWithoutForce) {
  const std::string plan = write_plan(small_plan());
  for (const char* flag : {"--json", "--csv", "--plot"}) {
    SCOPED_TRACE(flag);
    write_text("taken.out", "keep me\n");
    const Outcome o = expect_bad_input({"plan", plan, flag, "taken.out"}, "taken.out");
    EXPECT_TRUE(contains(o.err, "--force")) << o.err;
    EXPECT_EQ(o.out, "") << "refused before simulating anything";
    EXPECT_EQ(read_file(dir() / "taken.out"), "keep me\n");
  }
  // With --force it is overwritten.
  const Outcome o = run({"plan", plan, "--json", "taken.out", "--force"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(json::parse(read_file(dir() / "taken.out")).value("feasible", 0), kSimulated);
}

TEST_F(PlanCli, NeverOverwritesThePlanFileItselfEvenWithForce) {
  const std::string plan = write_plan(small_plan());
  const std::string before = read_file(plan);
  for (const char* flag : {"--json", "--csv", "--plot"}) {
    SCOPED_TRACE(flag);
    expect_bad_input({"plan", plan, flag, plan, "--force"}, plan);
    // Another spelling of the same file.
    expect_bad_input({"plan", plan, flag, "./p.json", "--force"}, "./p.json");
    EXPECT_EQ(read_file(plan), before);
  }
}

TEST_F(PlanCli, AnOutputFolderThatDoesNotExistIsBadInput) {
  expect_bad_input({"plan", write_plan(small_plan()), "--json", "missing/out.json"},
                   "missing/out.json");
}

// --- Bad plans: exit 2 naming the pointer -----------------------------------------------------

TEST_F(PlanCli, UnknownConstraintNamesItsPointerAndSuggestsTheNearest) {
  json plan = small_plan();
  plan["constraints"] = {{"days_mx", 30}};
  const Outcome o = expect_bad_input({"plan", write_plan(plan)}, "/constraints/days_mx");
  EXPECT_TRUE(contains(o.err, "did you mean \"days_max\"")) << o.err;
  EXPECT_EQ(o.out, "");
}

TEST_F(PlanCli, ABadFieldOfTheInlineBaseIsNamedUnderBase) {
  json plan = small_plan();
  plan["base"]["cluster"]["nodes"] = "two";
  expect_bad_input({"plan", write_plan(plan)}, "/base/cluster/nodes");
}

TEST_F(PlanCli, AnAxisValueTheBaseRejectsNamesTheAxisAndTheValue) {
  json plan = small_plan();
  plan["axes"]["/cluster/instance"] = {"p5.48xlarge", "p5.48xlarg"};
  expect_bad_input({"plan", write_plan(plan)}, "/axes/~1cluster~1instance/1");
}

TEST_F(PlanCli, MalformedJsonIsBadInputNamingTheFile) {
  const std::string path = write_text("p.json", "{\n  \"name\": \"x\",\n  \"base\": @\n}\n");
  const Outcome o = expect_bad_input({"plan", path}, path);
  EXPECT_TRUE(contains(o.err, "line 3")) << o.err;
}

TEST_F(PlanCli, MissingPlanFileIsBadInput) {
  expect_bad_input({"plan", (dir() / "nowhere.json").string()}, "nowhere.json");
}

TEST_F(PlanCli, JobsZeroIsRejected) {
  const Outcome o = expect_bad_input({"plan", write_plan(small_plan()), "--jobs", "0"}, "--jobs");
  EXPECT_EQ(o.out, "");
}

// --- No feasible plan: exit 3 ------------------------------------------------------------------

TEST_F(PlanCli, ImpossibleDaysMaxExitsThreeNamingTheConstraintThatRemovedTheMost) {
  // 1000 steps take over a minute on any of these layouts, and the lower bound on the run says so
  // before simulating: a limit of a tenth of a second removes the 4 points that fit, unsimulated;
  // tp 16 removes the other 2 ("layout").
  json plan = small_plan();
  plan["constraints"] = {{"days_max", 1e-6}};
  const Outcome o = run({"plan", write_plan(plan), "--json", "out.json"});
  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_TRUE(IsOneLine(o.err));
  EXPECT_TRUE(contains(o.err, "fmsim: infeasible: ")) << o.err;
  EXPECT_TRUE(contains(o.err, "the constraint days_max")) << o.err;
  EXPECT_TRUE(contains(o.err, "removed the most, 4 point(s)")) << o.err;
  EXPECT_TRUE(contains(o.out, "# simulated 0, feasible 0")) << o.out;
  // The JSON result is still written, saying why.
  const json result = json::parse(read_file(dir() / "out.json"));
  EXPECT_EQ(result.value("feasible", -1), 0);
  EXPECT_EQ(result.value("evaluated", -1), 0);
  EXPECT_TRUE(result["best"].empty());
  EXPECT_TRUE(result["front"].empty());
  EXPECT_EQ(result["pruned"],
            json({{"days_max (lower bound)", kSimulated}, {"layout", kLayoutPruned}}));
  EXPECT_EQ(result["no_feasible_plan"]["dominant_reason"], "days_max");
}

// --- --dry-run ---------------------------------------------------------------------------------

TEST_F(PlanCli, DryRunPrintsTheSpaceAndSimulatesNothing) {
  // 6 x 100 x 100 = 60,000 points: simulating them would take many minutes.
  json plan = small_plan();
  plan["axes"]["/workload/global_batch"] = {{"from", 8}, {"to", 800}, {"step", 8}};
  plan["axes"]["/workload/steps"] = {{"from", 100}, {"to", 10000}, {"step", 100}};
  const Outcome o = run({"plan", write_plan(plan), "--dry-run", "--json", "out.json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(IsOneLine(o.out)) << o.out;
  EXPECT_TRUE(contains(o.out, "plan plan-cli-test: base inline (pretrain), 60000 point(s)"))
      << o.out;
  EXPECT_TRUE(contains(o.out, "/workload/global_batch (100)")) << o.out;
  EXPECT_TRUE(contains(o.out, "objective min_cost")) << o.out;
  EXPECT_TRUE(contains(o.err, "is valid")) << o.err;
  EXPECT_FALSE(fs::exists(dir() / "out.json")) << "a dry run writes no result";
}

TEST_F(PlanCli, DryRunStillRejectsABadPlan) {
  json plan = small_plan();
  plan["objective"] = "min_costs";
  expect_bad_input({"plan", write_plan(plan), "--dry-run"}, "/objective");
}

// --- Ctrl-C ------------------------------------------------------------------------------------

// True once process `pid` has a handler installed for `signal` (Linux: the SigCgt mask of
// /proc/PID/status). Returns `fallback` where /proc cannot say.
bool catches_signal(pid_t pid, int signal, bool fallback) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return fallback;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigCgt:", 0) == 0) {
      const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
      return (mask >> (signal - 1)) & 1u;
    }
  }
  return fallback;
}

TEST_F(PlanCli, CtrlCStopsTheSearchReportsTheBestSoFarAndExits130) {
  // Llama 3 8B serving 50 requests: about a millisecond a point in Release (ten times that under
  // the sanitizers), but 25,600 points, the later ones longer: tens of seconds in all in Release,
  // so the search is still running a second after it started, when it is interrupted.
  const json plan = {
      {"name", "plan-cli-interrupt"},
      {"base",
       {{"cluster", {{"instance", "p5.48xlarge"}, {"nodes", 1}}},
        {"model", "llama3-8b"},
        {"workload",
         {{"stage", "inference"},
          {"precision", "bf16"},
          {"replicas", 1},
          {"parallelism", {{"tp", 1}}},
          {"requests",
           {{"arrival", "poisson"},
            {"rate_per_s", 10},
            {"count", 50},
            {"input_tokens", 128},
            {"output_tokens", 32}}}}}}},
      {"axes",
       {{"/workload/requests/rate_per_s", {{"from", 1}, {"to", 200}, {"step", 1}}},
        {"/workload/requests/input_tokens", {{"from", 64}, {"to", 2048}, {"step", 64}}},
        {"/workload/parallelism/tp", {1, 2, 4, 8}}}},
      {"objective", "min_cost"}};
  const std::string plan_path = write_plan(plan);
  const fs::path out_json = dir() / "out.json";
  const fs::path out_txt = dir() / "stdout.txt", err_txt = dir() / "stderr.txt";

  // Started directly rather than as `sh -c '... &'`: a non-interactive shell starts background
  // jobs with SIGINT ignored, so a signal that came before fmsim installed its handler would be
  // lost and the whole space simulated.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << "fork failed";
  if (pid == 0) {
    const int out = open(out_txt.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_txt.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
    std::signal(SIGINT, SIG_DFL);
    execl(FMSIM_EXE, FMSIM_EXE, "plan", plan_path.c_str(), "--jobs", "1", "--json",
          out_json.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  using Clock = std::chrono::steady_clock;
  const auto exited = [pid](int& status) { return waitpid(pid, &status, WNOHANG) == pid; };
  int status = 0;
  bool done = false;
  // Wait for the search to start (fmsim handles SIGINT from then on), let it evaluate some points,
  // then interrupt it.
  const auto start = Clock::now();
  const bool have_proc = fs::exists("/proc/self/status");
  while (!(done = exited(status)) && !catches_signal(pid, SIGINT, !have_proc) &&
         Clock::now() - start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(done) << "fmsim exited before it was interrupted:\n" << read_file(err_txt);
  // (Without /proc, the time parsing the plan takes is a guess.)
  std::this_thread::sleep_for(std::chrono::milliseconds(have_proc ? 1000 : 2000));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  // It stops after the point in progress and writes the result: seconds, not minutes.
  const auto interrupted = Clock::now();
  while (!(done = exited(status)) && Clock::now() - interrupted < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "fmsim did not stop within 120 s of SIGINT";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "fmsim died of signal " << WTERMSIG(status) << "\n"
                                 << read_file(err_txt);
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_file(err_txt);
  const std::string err = read_file(err_txt), out = read_file(out_txt);
  EXPECT_TRUE(contains(err, "fmsim: plan interrupted")) << err;
  EXPECT_TRUE(contains(out, "# interrupted: the best of the ")) << out;

  ASSERT_TRUE(fs::exists(out_json)) << err;
  const json result = json::parse(read_file(out_json));
  EXPECT_EQ(result.value("interrupted", false), true);
  EXPECT_EQ(result.value("space", 0), 25600);
  const int skipped = result.value("skipped", 0);
  EXPECT_GT(skipped, 0);
  EXPECT_LT(skipped, 25600) << "no point was evaluated before the interrupt";
  // Every point evaluated before the interrupt is accounted for, and the best of them reported.
  int pruned = 0;
  for (const auto& [reason, count] : result["pruned"].items()) pruned += count.get<int>();
  EXPECT_EQ(result.value("feasible", 0) + pruned + skipped, 25600);
  if (result.value("feasible", 0) > 0) {
    EXPECT_FALSE(result["best"].empty());
    EXPECT_TRUE(contains(out, "# why: ")) << out;
  }
}

}  // namespace
}  // namespace fmsim
