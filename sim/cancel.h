// Cooperative cancellation of a simulation running on another thread (the GUI's Cancel), and its
// progress. A CancelScope installs a flag for the current thread; the engine's event loop and the
// stages' outer loops call throw_if_cancelled(), which throws fmsim::Cancelled once the flag is
// set. The run is abandoned: nothing it built is used afterwards. A ProgressScope installs a
// fraction the stages' outer loops write (sizes of a sweep, prompts served, Monte-Carlo trials),
// which another thread may read at any time.
#pragma once

#include <atomic>
#include <stdexcept>

namespace fmsim {

class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>* flag);  // nullptr: keeps the enclosing scope's
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
  bool installed_;
};

// Throws Cancelled when this thread's flag is set; a relaxed load when one is installed.
void throw_if_cancelled();

class ProgressScope {
 public:
  explicit ProgressScope(std::atomic<double>* fraction);  // nullptr: keeps the enclosing scope's
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  std::atomic<double>* previous_;
  double previous_begin_;
  double previous_end_;
  bool installed_;
};

// Maps the reports made while it lives into [begin, end] of the enclosing range (a run made of
// several simulations gives each a part; parts nest).
class ProgressPart {
 public:
  ProgressPart(double begin, double end);
  ~ProgressPart();
  ProgressPart(const ProgressPart&) = delete;
  ProgressPart& operator=(const ProgressPart&) = delete;

 private:
  double previous_begin_;
  double previous_end_;
};

// Stores done / total (clamped to [0, 1], mapped into the current part) in this thread's
// fraction, if one is installed and the value is larger: progress never goes back. A stage with
// parts of unknown length reports nothing: the reader shows it as busy.
void report_progress(double done, double total);

}  // namespace fmsim
