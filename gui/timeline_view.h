// The trace as a timeline: one row per (process, thread) track of the report's trace (ranks and
// their streams), spans as bars. The wheel zooms around the pointer, dragging pans, a double
// click shows everything again; hovering a span names it with its start and duration.
#pragma once

#include <QString>
#include <QWidget>
#include <map>
#include <utility>
#include <vector>

#include "report/report.h"

namespace fmsim::gui {

class TimelineView : public QWidget {
  Q_OBJECT

 public:
  explicit TimelineView(QWidget* parent = nullptr);

  void setTrace(const Trace& trace);
  // The visible time range in seconds, and setting it (tests; zoom and pan call it).
  std::pair<double, double> range() const { return {t0_, t1_}; }
  void setRange(double t0, double t1);
  void zoom(double factor, double at_s);  // factor < 1 zooms in, keeping `at_s` in place
  int rows() const { return static_cast<int>(rows_.size()); }
  int spanCount() const { return static_cast<int>(spans_.size()); }
  // The span under a point of the widget, or -1.
  int spanAt(const QPoint& p) const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  bool event(QEvent* event) override;

 private:
  double xOf(double t) const;
  double tOf(double x) const;

  struct Span {
    int row;
    double start, end;
    QString name;
  };
  std::vector<QString> rows_;
  std::vector<Span> spans_;
  double begin_ = 0, end_ = 1;  // the whole trace
  double t0_ = 0, t1_ = 1;      // the view
  int drag_x_ = -1;
  double drag_t0_ = 0;
  static constexpr int kLabelWidth = 170, kRowHeight = 18, kAxisHeight = 22;
};

}  // namespace fmsim::gui
