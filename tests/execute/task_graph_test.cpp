// The executor: streams are FIFOs, dependencies hold, a task on several streams waits for all.
#include "execute/task_graph.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace fmsim {
namespace {

// A task that takes `seconds` alone on its own resource of capacity 1.
Task timed(Simulator& sim, const std::string& name, double seconds, std::vector<StreamId> streams,
           std::vector<TaskId> deps = {}) {
  Task t;
  t.name = name;
  t.category = "compute";
  t.activity.work = seconds;
  t.activity.uses = {{sim.add_resource(name, 1.0), 1.0}};
  t.streams = std::move(streams);
  t.deps = std::move(deps);
  return t;
}

TEST(TaskGraph, StreamRunsItsTasksOneAfterAnother) {
  // Two tasks of 1 s and 2 s on one stream: the second starts at 1 s and ends at 3 s.
  Simulator sim;
  TaskGraph graph;
  const StreamId s = graph.add_stream({"s", 0, 0});
  graph.add(timed(sim, "a", 1.0, {s}));
  graph.add(timed(sim, "b", 2.0, {s}));
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[1].start_s, 1.0);
  EXPECT_DOUBLE_EQ(timing[1].end_s, 3.0);
}

TEST(TaskGraph, TasksOnDifferentStreamsOverlap) {
  Simulator sim;
  TaskGraph graph;
  const StreamId s1 = graph.add_stream({"s1", 0, 0});
  const StreamId s2 = graph.add_stream({"s2", 0, 1});
  graph.add(timed(sim, "a", 1.0, {s1}));
  graph.add(timed(sim, "b", 2.0, {s2}));
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[0].start_s, 0.0);
  EXPECT_DOUBLE_EQ(timing[1].start_s, 0.0);
  EXPECT_DOUBLE_EQ(timing[1].end_s, 2.0);
}

TEST(TaskGraph, DependencyAcrossStreamsDelaysTheStart) {
  // b (stream 2) depends on a (stream 1, 1.5 s): b runs from 1.5 s to 2.5 s.
  Simulator sim;
  TaskGraph graph;
  const StreamId s1 = graph.add_stream({"s1", 0, 0});
  const StreamId s2 = graph.add_stream({"s2", 0, 1});
  const TaskId a = graph.add(timed(sim, "a", 1.5, {s1}));
  graph.add(timed(sim, "b", 1.0, {s2}, {a}));
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[1].start_s, 1.5);
  EXPECT_DOUBLE_EQ(timing[1].end_s, 2.5);
}

TEST(TaskGraph, TaskOnSeveralStreamsWaitsForEveryStreamHead) {
  // A collective on streams 1 and 2 starts when both earlier tasks (1 s and 3 s) are done: 3 s.
  Simulator sim;
  TaskGraph graph;
  const StreamId s1 = graph.add_stream({"s1", 0, 0});
  const StreamId s2 = graph.add_stream({"s2", 0, 1});
  graph.add(timed(sim, "a", 1.0, {s1}));
  graph.add(timed(sim, "b", 3.0, {s2}));
  const TaskId c = graph.add(timed(sim, "collective", 1.0, {s1, s2}));
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[c].start_s, 3.0);
  EXPECT_DOUBLE_EQ(timing[c].end_s, 4.0);
}

TEST(TaskGraph, LaterDependencyAddedAfterwardsIsHonoured) {
  // Pipeline edges are added once all tasks exist: a (stream 1) waits for b (stream 2, 2 s).
  Simulator sim;
  TaskGraph graph;
  const StreamId s1 = graph.add_stream({"s1", 0, 0});
  const StreamId s2 = graph.add_stream({"s2", 0, 1});
  const TaskId a = graph.add(timed(sim, "a", 1.0, {s1}));
  const TaskId b = graph.add(timed(sim, "b", 2.0, {s2}));
  graph.add_dependency(a, b);
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[a].start_s, 2.0);
}

TEST(TaskGraph, StreamOrderAgainstADependencyIsReportedAsADeadlock) {
  // On one stream a comes before b, but a depends on b: nothing can start.
  Simulator sim;
  TaskGraph graph;
  const StreamId s = graph.add_stream({"s", 0, 0});
  const TaskId a = graph.add(timed(sim, "a", 1.0, {s}));
  const TaskId b = graph.add(timed(sim, "b", 1.0, {s}));
  graph.add_dependency(a, b);
  EXPECT_THROW(execute(graph, sim), std::logic_error);
}

TEST(TaskGraph, TasksSharingAResourceShareItsCapacity) {
  // Two 1 s tasks on two streams but one resource of capacity 1: both end at 2 s.
  Simulator sim;
  TaskGraph graph;
  const ResourceId gpu = sim.add_resource("gpu", 1.0);
  for (int i = 0; i < 2; ++i) {
    Task t;
    t.name = "k" + std::to_string(i);
    t.activity.work = 1.0;
    t.activity.uses = {{gpu, 1.0}};
    t.streams = {graph.add_stream({"s" + std::to_string(i), 0, i})};
    graph.add(std::move(t));
  }
  const auto timing = execute(graph, sim);
  EXPECT_DOUBLE_EQ(timing[0].end_s, 2.0);
  EXPECT_DOUBLE_EQ(timing[1].end_s, 2.0);
}

}  // namespace
}  // namespace fmsim
