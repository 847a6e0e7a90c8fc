#include "cancel.h"

namespace fmsim {
namespace {
thread_local const std::atomic<bool>* current_flag = nullptr;
}  // namespace

CancelScope::CancelScope(const std::atomic<bool>* flag)
    : previous_(current_flag), installed_(flag != nullptr) {
  if (installed_) current_flag = flag;
}

CancelScope::~CancelScope() {
  if (installed_) current_flag = previous_;
}

void throw_if_cancelled() {
  if (current_flag != nullptr && current_flag->load(std::memory_order_relaxed)) throw Cancelled();
}

}  // namespace fmsim
