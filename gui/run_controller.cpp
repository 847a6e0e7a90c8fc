#include "run_controller.h"

#include <QMetaObject>
#include <QThread>
#include <exception>

#include "cancel.h"
#include "error.h"
#include "hardware/catalog.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim::gui {

RunController::RunController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<std::shared_ptr<const fmsim::Report>>();
}

RunController::~RunController() {
  if (thread_ != nullptr) {
    cancel_->store(true);
    thread_->wait();
  }
}

void RunController::launch(
    const std::function<Deliver(const std::atomic<bool>*, std::atomic<double>*)>& work) {
  if (thread_ != nullptr) return;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  progress_ = std::make_shared<std::atomic<double>>(0.0);
  const auto flag = cancel_;
  const auto progress = progress_;
  clock_.start();
  // The worker owns copies of what it needs; it reports through queued calls on this object.
  const auto post = [this](Deliver deliver) {
    QMetaObject::invokeMethod(
        this,
        [this, deliver] {
          done();
          deliver();
        },
        Qt::QueuedConnection);
  };
  thread_ = QThread::create([this, work, flag, progress, post] {
    try {
      post(work(flag.get(), progress.get()));
    } catch (const Cancelled&) {
      post([this] { emit cancelled(); });
    } catch (const Error& e) {
      const QString where = QString::fromStdString(e.where());
      const QString what = QString::fromStdString(e.message());
      const int code = static_cast<int>(e.code());
      post([this, where, what, code] { emit failed(where, what, code); });
    } catch (const std::exception& e) {
      const QString what = QString::fromStdString(e.what());
      post([this, what] { emit failed(QString(), what, 70); });
    }
  });
  thread_->start();
  emit started();
}

void RunController::start(const nlohmann::json& document, const QString& base_dir,
                          const QString& origin, bool trace) {
  const std::string dir = base_dir.toStdString();
  const std::string from = origin.toStdString();
  launch([this, document, dir, from, trace](const std::atomic<bool>* cancel,
                                            std::atomic<double>* progress) -> Deliver {
    const Catalog& catalog = Catalog::builtin();
    const Scenario scenario = parse_scenario(document, catalog, dir);
    RunOptions options;
    options.scenario_origin = from;
    options.cancel = cancel;
    options.progress = progress;
    options.trace = trace;
    auto report = std::make_shared<const Report>(run_scenario(scenario, catalog, options));
    return [this, report] { emit finished(report, clock_.elapsed()); };
  });
}

void RunController::startSweep(const nlohmann::json& document, const QString& base_dir,
                               const QString& pointer, const std::vector<double>& values) {
  const std::string dir = base_dir.toStdString();
  const std::string at = pointer.toStdString();
  launch([this, document, dir, at, values](const std::atomic<bool>* cancel,
                                           std::atomic<double>* progress) -> Deliver {
    const Catalog& catalog = Catalog::builtin();
    std::vector<std::shared_ptr<const Report>> reports;
    for (double v : values) {
      nlohmann::json point = document;
      set_at_pointer(point, at, v);
      const Scenario scenario = parse_scenario(point, catalog, dir);
      RunOptions options;
      options.scenario_origin = "fmsim-gui sweep";
      options.cancel = cancel;
      reports.push_back(std::make_shared<const Report>(run_scenario(scenario, catalog, options)));
      progress->store(static_cast<double>(reports.size()) / static_cast<double>(values.size()),
                      std::memory_order_relaxed);
    }
    return [this, values, reports] { emit sweepFinished(values, reports); };
  });
}

void RunController::cancel() {
  if (cancel_) cancel_->store(true);
}

void RunController::done() {
  if (thread_ == nullptr) return;
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
}

}  // namespace fmsim::gui
