#include "execute/task_graph.h"

#include <stdexcept>

namespace fmsim {

StreamId TaskGraph::add_stream(Stream stream) {
  streams_.push_back(std::move(stream));
  stream_order_.emplace_back();
  return static_cast<StreamId>(streams_.size() - 1);
}

TaskId TaskGraph::add(Task task) {
  const auto id = static_cast<TaskId>(tasks_.size());
  for (TaskId dep : task.deps) {
    if (dep >= id) throw std::logic_error("task " + task.name + " depends on a later task");
  }
  for (StreamId stream : task.streams) {
    if (stream >= streams_.size()) throw std::logic_error("task " + task.name + ": no stream");
    stream_order_[stream].push_back(id);
  }
  tasks_.push_back(std::move(task));
  return id;
}

void TaskGraph::add_dependency(TaskId task, TaskId on) { tasks_.at(task).deps.push_back(on); }

namespace {

// Starts tasks as their dependencies finish and they reach the head of their streams.
class Runner : public EventHandler {
 public:
  Runner(const TaskGraph& graph, Simulator& sim)
      : graph_(graph),
        sim_(sim),
        timing_(graph.tasks().size()),
        waiting_deps_(graph.tasks().size(), 0),
        dependents_(graph.tasks().size()),
        head_(graph.streams().size(), 0) {
    for (TaskId id = 0; id < graph.tasks().size(); ++id) {
      for (TaskId dep : graph.tasks()[id].deps) {
        ++waiting_deps_[id];
        dependents_[dep].push_back(id);
      }
    }
  }

  std::vector<TaskTiming> run() {
    EventHandler* previous = nullptr;
    sim_.set_handler(this);
    for (StreamId s = 0; s < head_.size(); ++s) try_start_head(s);
    // Tasks on no stream start as soon as their dependencies allow.
    for (TaskId id = 0; id < graph_.tasks().size(); ++id) {
      if (graph_.tasks()[id].streams.empty()) try_start(id);
    }
    sim_.run();
    sim_.set_handler(previous);
    for (TaskId id = 0; id < timing_.size(); ++id) {
      if (timing_[id].end_s < 0) {
        throw std::logic_error("task graph deadlocked: \"" + graph_.tasks()[id].name +
                               "\" never ran (a dependency cycle or a stream order against the "
                               "dependencies)");
      }
    }
    return std::move(timing_);
  }

  void on_activity_done(ActivityId /*id*/, std::uint64_t tag) override {
    const auto task = static_cast<TaskId>(tag);
    timing_[task].end_s = sim_.now();
    for (StreamId s : graph_.tasks()[task].streams) {
      ++head_[s];
      try_start_head(s);
    }
    for (TaskId next : dependents_[task]) {
      if (--waiting_deps_[next] == 0) try_start(next);
    }
  }

 private:
  void try_start_head(StreamId s) {
    const auto& order = graph_.stream_order()[s];
    if (head_[s] < order.size()) try_start(order[head_[s]]);
  }

  void try_start(TaskId id) {
    if (timing_[id].start_s >= 0 || waiting_deps_[id] > 0) return;
    for (StreamId s : graph_.tasks()[id].streams) {
      const auto& order = graph_.stream_order()[s];
      if (head_[s] >= order.size() || order[head_[s]] != id) return;
    }
    ActivitySpec spec = graph_.tasks()[id].activity;
    spec.tag = id;
    timing_[id].start_s = sim_.now();
    timing_[id].activity = sim_.start(spec);
  }

  const TaskGraph& graph_;
  Simulator& sim_;
  std::vector<TaskTiming> timing_;
  std::vector<int> waiting_deps_;
  std::vector<std::vector<TaskId>> dependents_;
  std::vector<std::size_t> head_;
};

}  // namespace

std::vector<TaskTiming> execute(const TaskGraph& graph, Simulator& sim) {
  return Runner(graph, sim).run();
}

}  // namespace fmsim
