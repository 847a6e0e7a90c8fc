// The planner in the GUI: open a plan file, run it on worker threads with progress and Cancel,
// see the Pareto front of time against cost as a scatter plot (click a point to open its
// scenario in the editor), the best plans in a table, and export every point as CSV.
#pragma once

#include <QString>
#include <QWidget>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "plan/plan.h"

class QChartView;
class QLabel;
class QProgressBar;
class QPushButton;
class QScatterSeries;
class QTableWidget;
class QThread;

namespace fmsim::gui {

class PlanView : public QWidget {
  Q_OBJECT

 public:
  explicit PlanView(QWidget* parent = nullptr);
  ~PlanView() override;  // cancels a search in flight and waits for it

  // Reads and validates a plan file; shows the error and returns false when it is not valid.
  bool openPlan(const QString& path);
  void runPlan();
  void cancel();
  bool isRunning() const { return thread_ != nullptr; }
  bool exportCsv(const QString& path) const;

  // For tests: the result, and the point shown at the front's `i`-th place.
  const PlanResult* result() const { return result_.get(); }
  std::vector<std::size_t> frontPoints() const { return front_points_; }
  // Opens front point `i` (a row of the table) as if it were double-clicked.
  void activateFrontPoint(int i);
  // Opens the plan's point `index` (any feasible point of the chart) in the editor.
  void activatePoint(std::size_t index);
  // The scatter plot: the front, and the other feasible points.
  QChartView* chart() const { return chart_; }

 signals:
  void openScenario(const nlohmann::json& scenario, const QString& label);
  void finished();

 private:
  void showResult();
  void pointClicked(const QPointF& point);

  std::unique_ptr<PlanSpec> spec_;
  std::unique_ptr<PlanResult> result_;
  QString path_;
  QLabel* title_;
  QPushButton* run_;
  QPushButton* cancel_button_;
  QPushButton* export_;
  QProgressBar* progress_;
  QChartView* chart_;
  QTableWidget* table_;
  QLabel* summary_;
  QThread* thread_ = nullptr;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::vector<std::size_t> front_points_;
};

}  // namespace fmsim::gui
