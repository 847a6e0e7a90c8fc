// Cooperative cancellation of a simulation running on another thread (the GUI's Cancel). A
// CancelScope installs a flag for the current thread; the engine's event loop and the stages'
// outer loops call throw_if_cancelled(), which throws fmsim::Cancelled once the flag is set. The
// run is abandoned: nothing it built is used afterwards.
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

}  // namespace fmsim
