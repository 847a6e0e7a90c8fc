#include "compare_view.h"

#include "theme.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <set>

namespace fmsim::gui {

std::vector<Metric> metrics_of(const Report& r) {
  std::vector<Metric> m;
  const auto add = [&m](const QString& name, double value, int better) {
    m.push_back({name, value, better});
  };
  if (r.training) {
    const TrainingReport& t = *r.training;
    add(QObject::tr("step time (s)"), t.step_s, -1);
    add(QObject::tr("tokens/s"), t.tokens_per_s, +1);
    add(QObject::tr("MFU (%)"), 100 * t.mfu, +1);
    add(QObject::tr("memory per GPU (GiB)"), t.memory_total() / (1024.0 * 1024 * 1024), 0);
    if (t.estimated) {
      add(QObject::tr("run time (days)"), t.days, -1);
      add(QObject::tr("cost ($)"), t.usd, -1);
      add(QObject::tr("goodput (%)"), 100 * t.run.goodput, +1);
    }
  }
  if (r.inference) {
    const InferenceResult& i = *r.inference;
    add(QObject::tr("output tokens/s"), i.output_tokens_per_s, +1);
    add(QObject::tr("TTFT p50 (s)"), i.ttft_s.p50, -1);
    add(QObject::tr("TTFT p99 (s)"), i.ttft_s.p99, -1);
    add(QObject::tr("TPOT p50 (s)"), i.tpot_s.p50, -1);
    add(QObject::tr("TPOT p99 (s)"), i.tpot_s.p99, -1);
    add(QObject::tr("cost ($)"), i.usd, -1);
  }
  if (r.collective) {
    add(QObject::tr("avg bus bandwidth (GB/s)"), r.collective->avg_busbw_bytes_per_s / 1e9, +1);
  }
  if (r.rl) {
    add(QObject::tr("iteration (s)"), r.rl->iteration_s, -1);
    add(QObject::tr("samples/s"), r.rl->samples_per_s, +1);
    add(QObject::tr("cost ($)"), r.rl->usd, -1);
  }
  return m;
}

QString format_metric(double value) {
  const QLocale locale;
  if (std::abs(value) >= 1e4) return locale.toString(value, 'f', 0);  // 508,850 and $29,481,000
  return locale.toString(value, 'g', 5);
}

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  table_ = new QTableWidget;
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  metric_ = new QComboBox;
  metric_->setToolTip(tr("The metric charted across the runs"));
  connect(metric_, &QComboBox::currentTextChanged, this, &CompareView::updateChart);
  auto* chart = new QChart;
  chart->legend()->hide();
  chart_ = new QChartView(chart);
  chart_->setMinimumHeight(220);
  auto* pick = new QHBoxLayout;
  pick->addWidget(new QLabel(tr("Chart:")));
  pick->addWidget(metric_, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(
      new QLabel(tr("Every finished run is kept here; cells that differ from the "
                    "first run by more than 0.5% are highlighted.")));
  layout->addWidget(table_, 1);
  layout->addLayout(pick);
  layout->addWidget(chart_, 1);
}

void CompareView::setRuns(const std::vector<RunRecord>& runs) {
  runs_ = runs;
  // Rows: every metric any run has, in first-seen order.
  std::vector<QString> names;
  std::vector<std::vector<Metric>> per_run;
  for (const RunRecord& r : runs_) {
    per_run.push_back(metrics_of(*r.report));
    for (const Metric& m : per_run.back()) {
      if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
    }
  }
  table_->clear();
  table_->setRowCount(static_cast<int>(names.size()));
  table_->setColumnCount(static_cast<int>(runs_.size()));
  QStringList headers;
  for (const RunRecord& r : runs_) headers << r.label;
  table_->setHorizontalHeaderLabels(headers);
  QStringList rows;
  for (const QString& n : names) rows << n;
  table_->setVerticalHeaderLabels(rows);
  const auto metric_of = [&](std::size_t run, const QString& name) -> const Metric* {
    for (const Metric& m : per_run[run]) {
      if (m.name == name) return &m;
    }
    return nullptr;
  };
  for (std::size_t row = 0; row < names.size(); ++row) {
    const Metric* first = runs_.empty() ? nullptr : metric_of(0, names[row]);
    for (std::size_t col = 0; col < runs_.size(); ++col) {
      const Metric* metric = metric_of(col, names[row]);
      if (metric == nullptr) continue;
      const double v = metric->value;
      QString text = format_metric(v);
      auto* item = new QTableWidgetItem;
      if (col > 0 && first != nullptr && first->value != 0) {
        const double change = v / first->value - 1;
        if (std::abs(change) > 0.005) {
          text += QString(" (%1%2%)").arg(change > 0 ? "+" : "").arg(100 * change, 0, 'f', 1);
          // Green where it is better than the first run, red where worse, amber or blue (up or
          // down) where neither is better.
          const int verdict = metric->better * (change > 0 ? 1 : -1);
          item->setBackground(verdict > 0   ? better_background()
                              : verdict < 0 ? worse_background()
                              : change > 0  ? increase_background()
                                            : decrease_background());
          item->setData(Qt::UserRole, true);  // highlighted
          item->setData(Qt::UserRole + 1, verdict);
          item->setToolTip(verdict > 0   ? tr("better than %1").arg(runs_[0].label)
                           : verdict < 0 ? tr("worse than %1").arg(runs_[0].label)
                                         : tr("differs from %1").arg(runs_[0].label));
        }
      }
      item->setText(text);
      table_->setItem(static_cast<int>(row), static_cast<int>(col), item);
    }
  }
  const QString current = metric_->currentText();
  {
    const QSignalBlocker block(metric_);
    metric_->clear();
    for (const QString& n : names) metric_->addItem(n);
    if (names.empty()) return;
    metric_->setCurrentText(metric_->findText(current) >= 0 ? current : names.front());
  }
  updateChart();
}

void CompareView::setChartMetric(const QString& name) { metric_->setCurrentText(name); }

void CompareView::updateChart() {
  QChart* chart = chart_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  chart_values_.clear();
  const QString name = metric_->currentText();
  if (name.isEmpty()) return;
  auto* set = new QBarSet(name);
  QStringList categories;
  double top = 0;
  for (const RunRecord& r : runs_) {
    double v = 0;
    for (const Metric& m : metrics_of(*r.report)) {
      if (m.name == name) v = m.value;
    }
    *set << v;
    chart_values_.push_back(v);
    categories << r.label;
    top = std::max(top, v);
  }
  auto* series = new QBarSeries;
  series->append(set);
  chart->addSeries(series);
  auto* x = new QBarCategoryAxis;
  x->append(categories);
  chart->addAxis(x, Qt::AlignBottom);
  series->attachAxis(x);
  auto* y = new QValueAxis;
  y->setTitleText(name);
  y->setRange(0, top > 0 ? top * 1.1 : 1);
  chart->addAxis(y, Qt::AlignLeft);
  series->attachAxis(y);
  chart->setTitle(name);
  style_chart(chart, palette());
}

}  // namespace fmsim::gui
