#include "cancel.h"

#include <algorithm>

namespace fmsim {
namespace {
thread_local const std::atomic<bool>* current_flag = nullptr;
thread_local std::atomic<double>* current_progress = nullptr;
thread_local double part_begin = 0.0;  // the current ProgressPart, within [0, 1]
thread_local double part_end = 1.0;
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

ProgressScope::ProgressScope(std::atomic<double>* fraction)
    : previous_(current_progress),
      previous_begin_(part_begin),
      previous_end_(part_end),
      installed_(fraction != nullptr) {
  if (installed_) {
    current_progress = fraction;
    part_begin = 0.0;
    part_end = 1.0;
  }
}

ProgressScope::~ProgressScope() {
  if (installed_) {
    current_progress = previous_;
    part_begin = previous_begin_;
    part_end = previous_end_;
  }
}

ProgressPart::ProgressPart(double begin, double end)
    : previous_begin_(part_begin), previous_end_(part_end) {
  const double width = previous_end_ - previous_begin_;
  part_begin = previous_begin_ + width * std::clamp(begin, 0.0, 1.0);
  part_end = previous_begin_ + width * std::clamp(end, 0.0, 1.0);
}

ProgressPart::~ProgressPart() {
  part_begin = previous_begin_;
  part_end = previous_end_;
}

void report_progress(double done, double total) {
  if (current_progress == nullptr || !(total > 0)) return;
  const double value = part_begin + (part_end - part_begin) * std::clamp(done / total, 0.0, 1.0);
  // One writer (this thread): a load and a store keep it from going back.
  if (value > current_progress->load(std::memory_order_relaxed)) {
    current_progress->store(value, std::memory_order_relaxed);
  }
}

}  // namespace fmsim
