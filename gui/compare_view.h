// Compare runs: each run's headline metrics side by side, cells that differ from the first run
// highlighted with the difference, and a bar chart of one metric across the runs.
#pragma once

#include <QString>
#include <QWidget>
#include <memory>
#include <vector>

#include "report/report.h"

class QChartView;
class QComboBox;
class QTableWidget;

namespace fmsim::gui {

// One headline number of a report, in display units.
struct Metric {
  QString name;  // "step time (s)", ...
  double value = 0;
  int better = 0;  // +1: higher is better, -1: lower is better, 0: neither (memory, say)
};
std::vector<Metric> metrics_of(const Report& report);
// A metric as the table shows it: whole numbers with group separators from 10,000 up, else five
// significant digits, in the user's locale.
QString format_metric(double value);

struct RunRecord {
  QString label;  // "llama3-70b... #2"
  std::shared_ptr<const Report> report;
};

class CompareView : public QWidget {
  Q_OBJECT

 public:
  explicit CompareView(QWidget* parent = nullptr);

  void setRuns(const std::vector<RunRecord>& runs);
  // For tests: the table, the chart's metric and its bar values.
  QTableWidget* table() const { return table_; }
  void setChartMetric(const QString& name);
  std::vector<double> chartValues() const { return chart_values_; }

 private:
  void updateChart();

  std::vector<RunRecord> runs_;
  QTableWidget* table_;
  QComboBox* metric_;
  QChartView* chart_;
  std::vector<double> chart_values_;
};

}  // namespace fmsim::gui
