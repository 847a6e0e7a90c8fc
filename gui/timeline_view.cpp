#include "timeline_view.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <functional>

#include "results_view.h"

namespace fmsim::gui {

TimelineView::TimelineView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumHeight(200);
}

void TimelineView::setTrace(const Trace& trace) {
  rows_.clear();
  spans_.clear();
  std::map<int, QString> process;
  for (const auto& [pid, name] : trace.process_names) process[pid] = QString::fromStdString(name);
  std::map<std::pair<int, int>, int> row_of;
  for (const auto& [pid, tid, name] : trace.thread_names) {
    if (row_of.count({pid, tid})) continue;
    row_of[{pid, tid}] = static_cast<int>(rows_.size());
    rows_.push_back(QString::fromStdString(name));
  }
  begin_ = std::numeric_limits<double>::infinity();
  end_ = 0;
  for (const TraceSpan& s : trace.spans) {
    auto it = row_of.find({s.pid, s.tid});
    if (it == row_of.end()) {
      it = row_of.emplace(std::make_pair(s.pid, s.tid), static_cast<int>(rows_.size())).first;
      rows_.push_back(process[s.pid] + " / " + QString::number(s.tid));
    }
    spans_.push_back(
        {it->second, s.start_s, s.start_s + s.duration_s, QString::fromStdString(s.name)});
    begin_ = std::min(begin_, s.start_s);
    end_ = std::max(end_, s.start_s + s.duration_s);
  }
  if (spans_.empty()) begin_ = 0, end_ = 1;
  if (!(end_ > begin_)) end_ = begin_ + 1e-9;
  t0_ = begin_;
  t1_ = end_;
  setMinimumHeight(kAxisHeight + kRowHeight * std::max<int>(4, static_cast<int>(rows_.size())));
  update();
}

void TimelineView::setRange(double t0, double t1) {
  const double width = std::clamp(t1 - t0, (end_ - begin_) * 1e-6, (end_ - begin_) * 1.0);
  t0 = std::clamp(t0, begin_, end_ - width);
  t0_ = t0;
  t1_ = t0 + width;
  update();
}

void TimelineView::zoom(double factor, double at_s) {
  const double t0 = at_s - (at_s - t0_) * factor;
  const double t1 = at_s + (t1_ - at_s) * factor;
  setRange(t0, t1);
}

double TimelineView::xOf(double t) const {
  const double w = std::max(1, width() - kLabelWidth);
  return kLabelWidth + (t - t0_) / (t1_ - t0_) * w;
}

double TimelineView::tOf(double x) const {
  const double w = std::max(1, width() - kLabelWidth);
  return t0_ + (x - kLabelWidth) / w * (t1_ - t0_);
}

int TimelineView::spanAt(const QPoint& p) const {
  const int row = (p.y() - kAxisHeight) / kRowHeight;
  if (p.y() < kAxisHeight || p.x() < kLabelWidth) return -1;
  const double t = tOf(p.x());
  const double slack = (t1_ - t0_) / std::max(1, width() - kLabelWidth) * 2;  // 2 px
  for (int i = 0; i < static_cast<int>(spans_.size()); ++i) {
    const Span& s = spans_[i];
    if (s.row == row && t >= s.start - slack && t <= s.end + slack) return i;
  }
  return -1;
}

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const QPalette pal = palette();
  p.fillRect(rect(), pal.base());
  // Axis: about 8 ticks at round steps.
  const double span = t1_ - t0_;
  const double raw = span / 8;
  const double step = std::pow(10, std::floor(std::log10(raw)));
  const double tick = raw / step >= 5 ? 5 * step : raw / step >= 2 ? 2 * step : step;
  p.setPen(pal.color(QPalette::Mid));
  for (double t = std::ceil(t0_ / tick) * tick; t <= t1_; t += tick) {
    const double x = xOf(t);
    p.drawLine(QPointF(x, kAxisHeight - 4), QPointF(x, height()));
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QPointF(x + 2, kAxisHeight - 8), format_seconds(t));
    p.setPen(pal.color(QPalette::Mid));
  }
  // Rows and their labels.
  for (int r = 0; r < static_cast<int>(rows_.size()); ++r) {
    const int y = kAxisHeight + r * kRowHeight;
    if (r % 2 == 1) p.fillRect(QRect(0, y, width(), kRowHeight), pal.alternateBase());
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRect(4, y, kLabelWidth - 8, kRowHeight), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(rows_[r], Qt::ElideMiddle, kLabelWidth - 8));
  }
  // Spans in view, coloured by name.
  p.setClipRect(QRect(kLabelWidth, kAxisHeight, width() - kLabelWidth, height() - kAxisHeight));
  for (const Span& s : spans_) {
    if (s.end < t0_ || s.start > t1_) continue;
    const double x0 = xOf(s.start), x1 = std::max(xOf(s.end), x0 + 1);
    const int y = kAxisHeight + s.row * kRowHeight + 2;
    const QColor colour = QColor::fromHsv(
        static_cast<int>(std::hash<std::string>{}(s.name.section(' ', 0, 0).toStdString()) % 360),
        140, 220);
    p.fillRect(QRectF(x0, y, x1 - x0, kRowHeight - 4), colour);
    if (x1 - x0 > 40) {
      p.setPen(Qt::black);
      p.drawText(QRectF(x0 + 2, y, x1 - x0 - 4, kRowHeight - 4), Qt::AlignVCenter,
                 p.fontMetrics().elidedText(s.name, Qt::ElideRight, static_cast<int>(x1 - x0 - 4)));
    }
  }
}

void TimelineView::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  zoom(std::pow(0.8, steps), tOf(event->position().x()));
  event->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* event) {
  drag_x_ = static_cast<int>(event->position().x());
  drag_t0_ = t0_;
}

void TimelineView::mouseMoveEvent(QMouseEvent* event) {
  if (!(event->buttons() & Qt::LeftButton) || drag_x_ < 0) return;
  const double per_px = (t1_ - t0_) / std::max(1, width() - kLabelWidth);
  const double width_s = t1_ - t0_;
  const double t0 = drag_t0_ - (event->position().x() - drag_x_) * per_px;
  setRange(t0, t0 + width_s);
}

void TimelineView::mouseDoubleClickEvent(QMouseEvent*) { setRange(begin_, end_); }

bool TimelineView::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int i = spanAt(help->pos());
    if (i >= 0) {
      const Span& s = spans_[i];
      QToolTip::showText(help->globalPos(), tr("%1\nstart %2, %3")
                                                .arg(s.name, format_seconds(s.start),
                                                     format_seconds(s.end - s.start)));
    } else {
      QToolTip::hideText();
    }
    return true;
  }
  return QWidget::event(event);
}

}  // namespace fmsim::gui
