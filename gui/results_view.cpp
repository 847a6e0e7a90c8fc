#include "results_view.h"

#include "theme.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QFrame>
#include <QGridLayout>
#include <QHorizontalStackedBarSeries>
#include <QLabel>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QTabWidget>
#include <QVBoxLayout>
#include <QValueAxis>
#include <cmath>

#include "timeline_view.h"

namespace fmsim::gui {

QString format_seconds(double s) {
  if (!(s > 0)) return "0 s";
  if (s < 1e-3) return QString::number(s * 1e6, 'g', 3) + " us";
  if (s < 1) return QString::number(s * 1e3, 'g', 3) + " ms";
  if (s < 3600) return QString::number(s, 'g', 4) + " s";
  if (s < 2 * 86400) return QString::number(s / 3600, 'g', 3) + " h";
  return QString::number(s / 86400, 'g', 4) + " days";
}

QString format_count(double v) {
  const double a = std::abs(v);
  if (a >= 1e12) return QString::number(v / 1e12, 'g', 4) + "T";
  if (a >= 1e9) return QString::number(v / 1e9, 'g', 4) + "G";
  if (a >= 1e6) return QString::number(v / 1e6, 'g', 4) + "M";
  if (a >= 1e3) return QString::number(v / 1e3, 'g', 4) + "k";
  return QString::number(v, 'g', 4);
}

QString format_usd(double usd) { return "$" + format_count(usd); }

namespace {

QChartView* bar_chart(const QString& title) {
  auto* chart = new QChart;
  chart->setTitle(title);
  chart->legend()->setAlignment(Qt::AlignBottom);
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(200);
  return view;
}

// One horizontal stacked bar of `parts` (in order), on an axis labelled `unit` up to `axis_max`.
void fill_bar(QChartView* view, const std::vector<std::pair<QString, double>>& parts,
              const QString& category, const QString& unit, double axis_max) {
  QChart* chart = view->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  auto* series = new QHorizontalStackedBarSeries;
  for (const auto& [name, value] : parts) {
    auto* set = new QBarSet(name);
    *set << value;
    series->append(set);
  }
  chart->addSeries(series);
  auto* categories = new QBarCategoryAxis;
  categories->append(category);
  chart->addAxis(categories, Qt::AlignLeft);
  series->attachAxis(categories);
  auto* values = new QValueAxis;
  values->setTitleText(unit);
  values->setRange(0, axis_max);
  chart->addAxis(values, Qt::AlignBottom);
  series->attachAxis(values);
}

}  // namespace

ResultsView::ResultsView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* card_frame = new QWidget;
  cards_ = new QGridLayout(card_frame);
  layout->addWidget(card_frame);
  tabs_ = new QTabWidget;
  auto* charts = new QWidget;
  auto* chart_layout = new QVBoxLayout(charts);
  step_chart_ = bar_chart(tr("Step time"));
  memory_chart_ = bar_chart(tr("Memory per GPU"));
  curve_chart_ = bar_chart(tr("Bus bandwidth against size"));
  latency_chart_ = bar_chart(tr("Latency percentiles"));
  load_chart_ = bar_chart(tr("Load curve: p99 latency against request rate"));
  load_button_ = new QPushButton(tr("Load curve (the rate x 0.25 .. 2)"));
  load_button_->setToolTip(tr("Runs the scenario at six request rates on the worker thread"));
  connect(load_button_, &QPushButton::clicked, this, &ResultsView::loadCurveRequested);
  chart_layout->addWidget(load_button_);
  for (QChartView* v : {step_chart_, memory_chart_, curve_chart_, latency_chart_, load_chart_}) {
    chart_layout->addWidget(v, 1);  // the shown ones share the height
  }
  tabs_->addTab(charts, tr("Charts"));
  timeline_ = new TimelineView;
  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setWidget(timeline_);
  tabs_->addTab(scroll, tr("Timeline"));
  text_ = new QPlainTextEdit;
  text_->setReadOnly(true);
  QFont mono("monospace");
  mono.setStyleHint(QFont::TypeWriter);
  text_->setFont(mono);
  tabs_->addTab(text_, tr("Report"));
  layout->addWidget(tabs_, 1);
  clear(tr("No results yet: Run > Run (Ctrl+R)"));
}

void ResultsView::clear(const QString& message) {
  while (QLayoutItem* item = cards_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  card_values_.clear();
  step_.clear();
  memory_.clear();
  curve_.clear();
  latency_.clear();
  for (QChartView* v : {step_chart_, memory_chart_, curve_chart_, latency_chart_, load_chart_}) {
    v->chart()->removeAllSeries();
    v->hide();
  }
  load_button_->hide();
  load_.clear();
  timeline_->setTrace(Trace{});
  text_->setPlainText(message);
}

void ResultsView::addExpectations(const Report& report) {
  if (report.expectations.empty()) return;
  int failed = 0;
  QStringList lines;
  for (const ExpectationResult& e : report.expectations) {
    failed += e.ok ? 0 : 1;
    const bool at_most = QString::fromStdString(e.name).endsWith("_max");
    lines << QString("%1 %2: %3 %4 %5")
                 .arg(e.ok ? QStringLiteral("\u2713") : QStringLiteral("\u2717"))
                 .arg(QString::fromStdString(e.name))
                 .arg(e.value, 0, 'g', 4)
                 .arg(at_most ? "<=" : ">=")
                 .arg(e.limit, 0, 'g', 4);
  }
  const int n = static_cast<int>(report.expectations.size());
  const QString value =
      failed == 0 ? tr("all %1 met").arg(n) : tr("%1 of %2 failed").arg(failed).arg(n);
  addCard(tr("Expectations"), value,
          tr("The scenario's own limits (expect); the CLI exits 1 when one fails:\n") +
              lines.join('\n'));
  if (failed > 0) {
    auto* frame = qobject_cast<QFrame*>(cards_->itemAt(cards_->count() - 1)->widget());
    if (frame != nullptr) frame->setStyleSheet("QFrame { border: 2px solid #d0312d; }");
  }
}

void ResultsView::addCard(const QString& title, const QString& value, const QString& tooltip) {
  auto* frame = new QFrame;
  frame->setFrameShape(QFrame::StyledPanel);
  frame->setToolTip(tooltip);
  auto* v = new QVBoxLayout(frame);
  auto* name = new QLabel(title);
  auto* number = new QLabel(value);
  QFont big = number->font();
  big.setPointSizeF(big.pointSizeF() * 1.6);
  big.setBold(true);
  number->setFont(big);
  number->setTextInteractionFlags(Qt::TextSelectableByMouse);
  v->addWidget(name);
  v->addWidget(number);
  const int index = static_cast<int>(card_values_.size());
  cards_->addWidget(frame, index / 3, index % 3);
  card_values_[title] = value;
}

QString ResultsView::card(const QString& title) const {
  const auto it = card_values_.find(title);
  return it == card_values_.end() ? QString() : it->second;
}

QStringList ResultsView::cardTitles() const {
  QStringList titles;
  for (const auto& [title, value] : card_values_) titles << title;
  return titles;
}

void ResultsView::setReport(const Report& report) {
  clear(QString::fromStdString(render_text(report)));
  timeline_->setTrace(report.trace);
  if (!report.infeasible.empty()) {
    addCard(tr("Infeasible"), QString::fromStdString(report.infeasible), tr("Why it cannot run"));
    return;
  }
  if (report.training) {
    const TrainingReport& t = *report.training;
    addCard(tr("Step time"), format_seconds(t.step_s), tr("One optimizer step, simulated"));
    addCard(tr("Tokens/s"), format_count(t.tokens_per_s), tr("Whole cluster, tokens per second"));
    addCard(tr("MFU"), QString::number(100 * t.mfu, 'f', 1) + " %",
            tr("Model FLOPs / (GPUs x dense peak); recomputation not counted"));
    if (t.estimated) {
      addCard(tr("Run time"), format_seconds(t.days * 86400),
              tr("Wall time of the whole run, failures and checkpoints included"));
      addCard(tr("Cost"), format_usd(t.usd), tr("Compute, spares and storage"));
      addCard(tr("Goodput"), QString::number(100 * t.run.goodput, 'f', 1) + " %",
              tr("Useful training time / wall time"));
    }
    showStep(t);
    showMemory(t);
  }
  if (report.inference) {
    const InferenceResult& r = *report.inference;
    addCard(tr("Output tokens/s"), format_count(r.output_tokens_per_s), tr("Generated tokens"));
    addCard(tr("TTFT p50 / p99"),
            format_seconds(r.ttft_s.p50) + " / " + format_seconds(r.ttft_s.p99),
            tr("Time to first token"));
    addCard(tr("TPOT p50 / p99"),
            format_seconds(r.tpot_s.p50) + " / " + format_seconds(r.tpot_s.p99),
            tr("Time per output token after the first"));
    addCard(tr("Cost"), format_usd(r.usd), tr("For the simulated requests"));
    showLatency(r);
  }
  if (report.collective) {
    addCard(tr("Avg bus bandwidth"),
            QString::number(report.collective->avg_busbw_bytes_per_s / 1e9, 'f', 1) + " GB/s",
            tr("nccl-tests' Avg bus bandwidth over the sweep"));
    showCurve(*report.collective);
  }
  if (report.rl) {
    const RlResult& r = *report.rl;
    addCard(tr("Iteration"), format_seconds(r.iteration_s), tr("Rollout, scoring, train, sync"));
    addCard(tr("Samples/s"), format_count(r.samples_per_s), tr("Trained samples per second"));
    addCard(tr("Cost"), format_usd(r.usd), tr("Whole run"));
  }
  addExpectations(report);
  style_charts(this);
}

void ResultsView::showStep(const TrainingReport& t) {
  std::vector<std::pair<QString, double>> parts = {{tr("compute"), t.compute_s}};
  for (const auto& [kind, s] : t.exposed_comm_s) {
    parts.push_back({tr("exposed %1").arg(QString::fromStdString(kind)), s});
  }
  parts.push_back({tr("bubble"), t.bubble_s});
  parts.push_back({tr("data stall"), t.data_stall_s});
  double total = 0;
  for (const auto& [name, s] : parts) {
    step_[name] = s;
    total += s;
  }
  fill_bar(step_chart_, parts, tr("step"), tr("seconds"), std::max(total, t.step_s) * 1.05);
  step_chart_->show();
}

void ResultsView::showCurve(const CollectiveResult& c) {
  QChart* chart = curve_chart_->chart();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  auto* line = new QLineSeries;
  line->setName(QString::fromStdString(c.op) + tr(", %1 ranks").arg(c.ranks));
  line->setPointsVisible(true);
  double top = 0, lo = 0, hi = 0;
  for (const CollectiveRow& row : c.rows) {
    if (!(row.bytes > 0)) continue;
    const double gbps = row.busbw_bytes_per_s / 1e9;
    line->append(row.bytes, gbps);
    curve_.push_back({row.bytes, gbps});
    top = std::max(top, gbps);
    lo = lo == 0 ? row.bytes : std::min(lo, row.bytes);
    hi = std::max(hi, row.bytes);
  }
  chart->addSeries(line);
  auto* x = new QLogValueAxis;
  x->setBase(2);
  x->setLabelFormat("%.0g");
  x->setTitleText(tr("size (bytes, log)"));
  x->setRange(lo > 0 ? lo : 1, hi > lo ? hi : 2);
  auto* y = new QValueAxis;
  y->setTitleText(tr("bus bandwidth (GB/s)"));
  y->setRange(0, top > 0 ? top * 1.1 : 1);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  line->attachAxis(x);
  line->attachAxis(y);
  curve_chart_->show();
}

void ResultsView::showLatency(const InferenceResult& r) {
  QChart* chart = latency_chart_->chart();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  const std::vector<std::pair<QString, Percentiles>> rows = {
      {tr("TTFT"), r.ttft_s}, {tr("TPOT"), r.tpot_s}, {tr("end to end"), r.e2e_s}};
  auto* p50 = new QBarSet(tr("p50"));
  auto* p99 = new QBarSet(tr("p99"));
  QStringList names;
  double top = 0;
  for (const auto& [name, p] : rows) {
    *p50 << p.p50 * 1e3;
    *p99 << p.p99 * 1e3;
    names << name;
    latency_[name] = {p.p50, p.p99};
    top = std::max(top, p.p99 * 1e3);
  }
  auto* series = new QBarSeries;
  series->append(p50);
  series->append(p99);
  chart->addSeries(series);
  auto* x = new QBarCategoryAxis;
  x->append(names);
  auto* y = new QLogValueAxis;
  y->setBase(10);
  y->setTitleText(tr("ms (log)"));
  y->setLabelFormat("%g");
  double bottom = top;
  for (const auto& [name, p] : rows) bottom = std::min(bottom, std::max(p.p50 * 1e3, 1e-3));
  y->setRange(std::max(bottom / 2, 1e-3), top > 0 ? top * 2 : 1);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  series->attachAxis(x);
  series->attachAxis(y);
  latency_chart_->show();
  load_button_->show();
}

void ResultsView::setLoadCurve(const std::vector<double>& rates,
                               const std::vector<std::shared_ptr<const Report>>& reports) {
  QChart* chart = load_chart_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  load_.clear();
  auto* ttft = new QLineSeries;
  ttft->setName(tr("TTFT p99"));
  auto* tpot = new QLineSeries;
  tpot->setName(tr("TPOT p99"));
  double lo = 0, hi = 0;
  for (std::size_t i = 0; i < rates.size() && i < reports.size(); ++i) {
    if (!reports[i]->inference) continue;
    const InferenceResult& r = *reports[i]->inference;
    load_.push_back({rates[i], r.ttft_s.p99, r.tpot_s.p99});
    ttft->append(rates[i], std::max(r.ttft_s.p99 * 1e3, 1e-3));
    tpot->append(rates[i], std::max(r.tpot_s.p99 * 1e3, 1e-3));
    hi = std::max({hi, r.ttft_s.p99 * 1e3, r.tpot_s.p99 * 1e3});
    const double low = std::max(std::min(r.ttft_s.p99, r.tpot_s.p99) * 1e3, 1e-3);
    lo = lo == 0 ? low : std::min(lo, low);
  }
  for (QLineSeries* s : {ttft, tpot}) {
    s->setPointsVisible(true);
    chart->addSeries(s);
  }
  auto* x = new QValueAxis;
  x->setTitleText(tr("request rate (prompts/s)"));
  x->setRange(0, rates.empty() ? 1 : rates.back() * 1.05);
  auto* y = new QLogValueAxis;
  y->setBase(10);
  y->setLabelFormat("%g");
  y->setTitleText(tr("p99 (ms, log)"));
  y->setRange(lo > 0 ? lo / 2 : 1e-3, hi > 0 ? hi * 2 : 1);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  for (QLineSeries* s : {ttft, tpot}) {
    s->attachAxis(x);
    s->attachAxis(y);
  }
  style_chart(chart, palette());
  load_chart_->show();
}

void ResultsView::showMemory(const TrainingReport& t) {
  const double gib = 1024.0 * 1024 * 1024;
  std::vector<std::pair<QString, double>> parts = {{tr("weights"), t.weights / gib},
                                                   {tr("gradients"), t.grads / gib},
                                                   {tr("optimizer"), t.optimizer / gib},
                                                   {tr("activations"), t.activations / gib},
                                                   {tr("other"), t.other / gib}};
  const double used = t.memory_total() / gib, capacity = t.capacity / gib;
  if (capacity > used) parts.push_back({tr("free"), capacity - used});
  for (const auto& [name, v] : parts) memory_[name] = v;
  fill_bar(memory_chart_, parts, tr("GPU"), tr("GiB (capacity %1)").arg(capacity, 0, 'f', 1),
           std::max(used, capacity) * 1.05);
  memory_chart_->show();
}

}  // namespace fmsim::gui
