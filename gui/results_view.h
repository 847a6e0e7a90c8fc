// A run's results: summary cards, the step-time breakdown and the memory per GPU as stacked bars
// (training), and the full text report the CLI prints.
#pragma once

#include <QString>
#include <QWidget>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "report/report.h"

class QGridLayout;
class QPlainTextEdit;
class QPushButton;
class QTabWidget;

class QChartView;

namespace fmsim::gui {

class TimelineView;

class ResultsView : public QWidget {
  Q_OBJECT

 public:
  explicit ResultsView(QWidget* parent = nullptr);

  void setReport(const Report& report);
  void clear(const QString& message);

  // For tests: a card's value as shown ("" when absent), and the charts' series values.
  QString card(const QString& title) const;
  QStringList cardTitles() const;
  std::map<QString, double> stepBreakdown() const { return step_; }
  std::map<QString, double> memoryBreakdown() const { return memory_; }
  // (bytes, bus bandwidth in GB/s) of a collective sweep; (p50, p99) seconds by latency name.
  std::vector<std::pair<double, double>> busbwCurve() const { return curve_; }
  std::map<QString, std::pair<double, double>> latencies() const { return latency_; }
  TimelineView* timeline() const { return timeline_; }
  // The serving load curve: (request rate, TTFT p99 s, TPOT p99 s) per point.
  void setLoadCurve(const std::vector<double>& rates,
                    const std::vector<std::shared_ptr<const Report>>& reports);
  std::vector<std::vector<double>> loadCurve() const { return load_; }

 signals:
  void loadCurveRequested();

 private:
  void addCard(const QString& title, const QString& value, const QString& tooltip);
  // A card saying how many of the scenario's expectations hold, each in its tooltip.
  void addExpectations(const Report& report);
  void showStep(const TrainingReport& t);
  void showMemory(const TrainingReport& t);
  void showCurve(const CollectiveResult& c);
  void showLatency(const InferenceResult& r);

  QGridLayout* cards_ = nullptr;
  std::map<QString, QString> card_values_;
  QChartView* step_chart_ = nullptr;
  QChartView* memory_chart_ = nullptr;
  QChartView* curve_chart_ = nullptr;
  QChartView* latency_chart_ = nullptr;
  QChartView* load_chart_ = nullptr;
  QPushButton* load_button_ = nullptr;
  std::vector<std::vector<double>> load_;
  TimelineView* timeline_ = nullptr;
  std::vector<std::pair<double, double>> curve_;
  std::map<QString, std::pair<double, double>> latency_;
  QPlainTextEdit* text_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  std::map<QString, double> step_, memory_;
};

// "1.23 s", "456 ms", "2.5 days", "$1.2M": the units the report uses, for cards and axes.
QString format_seconds(double s);
QString format_count(double v);
QString format_usd(double usd);

}  // namespace fmsim::gui
