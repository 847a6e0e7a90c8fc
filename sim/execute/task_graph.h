// A task graph and the executor that runs it on the engine.
//
// A Task is one engine activity (a kernel, a collective, a point-to-point send) with dependencies.
// It sits on one or more streams: a stream is a FIFO, as a CUDA stream is, so a task starts when
// every task it depends on has finished AND it is at the head of each of its streams. A
// collective in full mode sits on the communication stream of every member rank, so it starts
// only when all of them reach it, as NCCL's kernels do. Tasks are added in program order per
// stream; the executor never reorders a stream.
//
// The executor records when each task started and finished; stages turn that into step time,
// its breakdown and a trace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/simulator.h"

namespace fmsim {

using TaskId = std::uint32_t;
using StreamId = std::uint32_t;

struct Task {
  std::string name;       // "L12 fwd attn mb3"
  std::string category;   // "compute", "tp", "cp", "ep", "pp", "dp", "optimizer", ...
  ActivitySpec activity;  // the engine work; its tag is set by the executor
  std::vector<TaskId> deps;
  std::vector<StreamId> streams;
  double recompute_flops = 0.0;  // FLOPs of recomputation inside this task (for HFU)
  double model_flops = 0.0;      // model FLOPs this task performs (for MFU)
};

struct Stream {
  std::string name;  // "stage 3 compute"
  int pid = 0;       // Perfetto process (node) and thread of this stream's track
  int tid = 0;
};

class TaskGraph {
 public:
  StreamId add_stream(Stream stream);
  // Appends a task to the end of each of its streams. Dependencies must already exist.
  TaskId add(Task task);
  void add_dependency(TaskId task, TaskId on);

  const std::vector<Task>& tasks() const { return tasks_; }
  const std::vector<Stream>& streams() const { return streams_; }
  const std::vector<std::vector<TaskId>>& stream_order() const { return stream_order_; }

 private:
  std::vector<Task> tasks_;
  std::vector<Stream> streams_;
  std::vector<std::vector<TaskId>> stream_order_;
};

struct TaskTiming {
  double start_s = -1.0;
  double end_s = -1.0;
  ActivityId activity = 0;
};

// Runs the graph to completion on `sim` (which holds the cluster's resources) starting at
// sim.now(). Throws std::logic_error if the graph deadlocks (a cycle, or stream order that
// contradicts dependencies), naming a task that could not start.
std::vector<TaskTiming> execute(const TaskGraph& graph, Simulator& sim);

}  // namespace fmsim
