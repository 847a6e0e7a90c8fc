// Runs a scenario on a worker thread (the GUI thread never simulates) and reports back on the GUI
// thread: finished with the report, failed with the error's pointer and message, or cancelled.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "report/report.h"

class QThread;

namespace fmsim::gui {

class RunController : public QObject {
  Q_OBJECT

 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;  // cancels a run in flight and waits for it

  bool isRunning() const { return thread_ != nullptr; }
  qint64 elapsedMs() const { return isRunning() ? clock_.elapsed() : 0; }
  // How far the run in flight (or the last one) is, 0 to 1: the sizes of a sweep, the prompts
  // served, the Monte-Carlo trials, the points of a load curve. 0 while a part of unknown length
  // (a training step) runs.
  double progress() const { return progress_ ? progress_->load(std::memory_order_relaxed) : 0.0; }

  // Parses and runs `document` (relative names resolved against `base_dir`); ignored while a run
  // is in flight.
  // With `trace`, the report carries the timeline (RunOptions::trace).
  void start(const nlohmann::json& document, const QString& base_dir, const QString& origin,
             bool trace = true);
  // Runs `document` once per value set at `pointer` (a load curve: the request rate), in order.
  void startSweep(const nlohmann::json& document, const QString& base_dir, const QString& pointer,
                  const std::vector<double>& values);
  void cancel();

 signals:
  void started();
  void finished(std::shared_ptr<const fmsim::Report> report, qint64 elapsed_ms);
  void failed(const QString& pointer, const QString& message, int code);
  void cancelled();
  void sweepFinished(const std::vector<double>& values,
                     const std::vector<std::shared_ptr<const fmsim::Report>>& reports);

 private:
  // What a finished worker hands back, run on the GUI thread.
  using Deliver = std::function<void()>;
  // Runs `work` on a new worker thread with a fresh cancel flag and progress; its result, a
  // Cancelled or an error comes back as finished/sweepFinished, cancelled or failed.
  void launch(const std::function<Deliver(const std::atomic<bool>*, std::atomic<double>*)>& work);
  void done();

  QThread* thread_ = nullptr;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::shared_ptr<std::atomic<double>> progress_;
  QElapsedTimer clock_;
};

}  // namespace fmsim::gui
