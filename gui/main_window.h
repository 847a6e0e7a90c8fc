// fmsim-gui's window: the scenario editor (form and JSON view, kept in sync and validated as the
// user types), Run/Cancel on a worker thread, and the results.
#pragma once

#include <QMainWindow>
#include <QString>
#include <memory>

#include "compare_view.h"
#include "report/report.h"
#include "scenario_document.h"

class QLabel;
class QMenu;
class QPlainTextEdit;
class QProgressBar;
class QTimer;

namespace fmsim::gui {

class CatalogView;
class PlanView;
class ResultsView;
class RunController;
class ScenarioForm;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);

  // Opens a scenario file; shows an error and returns false when it cannot be read.
  bool openFile(const QString& path);
  bool saveTo(const QString& path);
  // Writes the last run's report as the CLI does: "json" (the report), "csv" (its table) or
  // "trace" (the Chrome/Perfetto trace). False, with a message box, when there is no run or the
  // file cannot be written.
  bool exportResults(const QString& path, const QString& kind);
  void run();
  void cancelRun();
  // Runs the last serving scenario at 0.25 to 2 times its request rate (false when it cannot).
  bool runLoadCurve();

  // The parts, for tests and screenshots.
  ScenarioDocument* document() const { return document_; }
  ScenarioForm* form() const { return form_; }
  QPlainTextEdit* jsonEditor() const { return json_; }
  ResultsView* results() const { return results_; }
  CompareView* compare() const { return compare_; }
  PlanView* plan() const { return plan_; }
  const std::vector<RunRecord>& runs() const { return runs_; }
  // The right-hand views: 0 results, 1 compare, 2 plan, 3 catalog.
  void showView(int index);
  RunController* runner() const { return runner_; }
  QString bannerText() const;
  std::shared_ptr<const Report> lastReport() const { return last_; }
  void validateNow();

 protected:
  void changeEvent(QEvent* event) override;
  // A scenario file dropped on the window opens (a plan file opens in the Plan view).
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  bool maybeSave();
  void openDialog();
  bool save();
  bool saveAs();
  void addRecent(const QString& path);
  void rebuildRecent();
  void showJson();
  void jsonEdited();
  void showValidation(const Validation& v);
  void updateTitle();

  ScenarioDocument* document_;
  ScenarioForm* form_;
  QPlainTextEdit* json_;
  QLabel* json_status_;
  ResultsView* results_;
  CompareView* compare_;
  CatalogView* catalog_;
  PlanView* plan_;
  class QTabWidget* views_;
  std::vector<RunRecord> runs_;
  RunController* runner_;
  QLabel* banner_;
  QProgressBar* progress_;
  QLabel* elapsed_;
  QTimer* validate_timer_;
  QTimer* json_timer_;
  QTimer* tick_;
  QMenu* recent_menu_ = nullptr;
  QAction* run_action_ = nullptr;
  QAction* cancel_action_ = nullptr;
  QAction* trace_action_ = nullptr;
  std::shared_ptr<const Report> last_;
};

}  // namespace fmsim::gui
