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

void RunController::start(const nlohmann::json& document, const QString& base_dir,
                          const QString& origin, bool trace) {
  if (thread_ != nullptr) return;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  const auto flag = cancel_;
  const std::string dir = base_dir.toStdString();
  const std::string from = origin.toStdString();
  clock_.start();
  // The worker owns copies of what it needs; it reports through queued calls on this object.
  thread_ = QThread::create([this, document, dir, from, flag, trace] {
    try {
      const Catalog& catalog = Catalog::builtin();
      const Scenario scenario = parse_scenario(document, catalog, dir);
      RunOptions options;
      options.scenario_origin = from;
      options.cancel = flag.get();
      options.trace = trace;
      auto report = std::make_shared<const Report>(run_scenario(scenario, catalog, options));
      QMetaObject::invokeMethod(
          this,
          [this, report] {
            const qint64 ms = clock_.elapsed();
            done();
            emit finished(report, ms);
          },
          Qt::QueuedConnection);
    } catch (const Cancelled&) {
      QMetaObject::invokeMethod(
          this,
          [this] {
            done();
            emit cancelled();
          },
          Qt::QueuedConnection);
    } catch (const Error& e) {
      const QString where = QString::fromStdString(e.where());
      const QString what = QString::fromStdString(e.message());
      const int code = static_cast<int>(e.code());
      QMetaObject::invokeMethod(
          this,
          [this, where, what, code] {
            done();
            emit failed(where, what, code);
          },
          Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const QString what = QString::fromStdString(e.what());
      QMetaObject::invokeMethod(
          this,
          [this, what] {
            done();
            emit failed(QString(), what, 70);
          },
          Qt::QueuedConnection);
    }
  });
  thread_->start();
  emit started();
}

void RunController::startSweep(const nlohmann::json& document, const QString& base_dir,
                               const QString& pointer, const std::vector<double>& values) {
  if (thread_ != nullptr) return;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  const auto flag = cancel_;
  const std::string dir = base_dir.toStdString();
  const std::string at = pointer.toStdString();
  clock_.start();
  thread_ = QThread::create([this, document, dir, at, values, flag] {
    try {
      const Catalog& catalog = Catalog::builtin();
      std::vector<std::shared_ptr<const Report>> reports;
      for (double v : values) {
        nlohmann::json point = document;
        set_at_pointer(point, at, v);
        const Scenario scenario = parse_scenario(point, catalog, dir);
        RunOptions options;
        options.scenario_origin = "fmsim-gui sweep";
        options.cancel = flag.get();
        reports.push_back(std::make_shared<const Report>(run_scenario(scenario, catalog, options)));
      }
      QMetaObject::invokeMethod(
          this,
          [this, values, reports] {
            done();
            emit sweepFinished(values, reports);
          },
          Qt::QueuedConnection);
    } catch (const Cancelled&) {
      QMetaObject::invokeMethod(
          this,
          [this] {
            done();
            emit cancelled();
          },
          Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const auto* error = dynamic_cast<const Error*>(&e);
      const QString where = error != nullptr ? QString::fromStdString(error->where()) : QString();
      const QString what =
          QString::fromStdString(error != nullptr ? error->message() : std::string(e.what()));
      const int code = error != nullptr ? static_cast<int>(error->code()) : 70;
      QMetaObject::invokeMethod(
          this,
          [this, where, what, code] {
            done();
            emit failed(where, what, code);
          },
          Qt::QueuedConnection);
    }
  });
  thread_->start();
  emit started();
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
