#include "plan_view.h"

#include "scenario_document.h"
#include "theme.h"

#include <QChart>
#include <QChartView>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "error.h"
#include "hardware/catalog.h"
#include "scenario/scenario.h"

namespace fmsim::gui {

PlanView::PlanView(QWidget* parent) : QWidget(parent) {
  title_ = new QLabel(tr("No plan open"));
  auto* open = new QPushButton(tr("Open plan..."));
  run_ = new QPushButton(tr("Run plan"));
  cancel_button_ = new QPushButton(tr("Cancel"));
  export_ = new QPushButton(tr("Export CSV..."));
  open->setToolTip(
      tr("A plan file: a base scenario, the axes to vary, constraints and an "
         "objective (docs/plan.md)"));
  run_->setToolTip(
      tr("Simulate every point on worker threads (cheap bounds prune first); the "
         "window stays usable"));
  cancel_button_->setToolTip(tr("Stop the search; the points done so far are kept"));
  export_->setToolTip(tr("Every point of the plan with its metrics, as the CLI's --csv"));
  run_->setEnabled(false);
  cancel_button_->setEnabled(false);
  export_->setEnabled(false);
  progress_ = new QProgressBar;
  progress_->setFormat(tr("%v / %m points"));
  auto* buttons = new QHBoxLayout;
  for (QWidget* w : {static_cast<QWidget*>(open), static_cast<QWidget*>(run_),
                     static_cast<QWidget*>(cancel_button_), static_cast<QWidget*>(export_)}) {
    buttons->addWidget(w);
  }
  buttons->addWidget(progress_, 1);

  auto* chart = new QChart;
  chart->setTitle(tr("Pareto front: time against cost (click a point to open its scenario)"));
  chart_ = new QChartView(chart);
  chart_->setRenderHint(QPainter::Antialiasing);
  chart_->setMinimumHeight(260);
  table_ = new QTableWidget;
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  summary_ = new QLabel;
  summary_->setWordWrap(true);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  layout->addLayout(buttons);
  layout->addWidget(summary_);
  layout->addWidget(chart_, 2);
  layout->addWidget(table_, 1);

  connect(open, &QPushButton::clicked, this, [this] {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open plan"), QString(), tr("Plans (*.json)"));
    if (!path.isEmpty()) openPlan(path);
  });
  connect(run_, &QPushButton::clicked, this, &PlanView::runPlan);
  connect(cancel_button_, &QPushButton::clicked, this, &PlanView::cancel);
  connect(export_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export plan points"), QFileInfo(path_).baseName() + ".csv", tr("CSV (*.csv)"));
    if (!path.isEmpty()) exportCsv(path);
  });
  connect(table_, &QTableWidget::cellDoubleClicked, this,
          [this](int row, int) { activateFrontPoint(row); });
}

PlanView::~PlanView() {
  if (thread_ != nullptr) {
    cancel_->store(true);
    thread_->wait();
  }
}

bool PlanView::openPlan(const QString& path) {
  try {
    const nlohmann::json doc = read_json_file(path.toStdString());
    spec_ = std::make_unique<PlanSpec>(
        parse_plan(doc, Catalog::builtin(), QFileInfo(path).absolutePath().toStdString()));
  } catch (const Error& e) {
    QMessageBox::warning(this, tr("Cannot open plan"), QString::fromUtf8(e.what()));
    return false;
  }
  path_ = path;
  result_.reset();
  title_->setText(tr("%1: %2 points, objective %3")
                      .arg(QFileInfo(path).fileName())
                      .arg(spec_->size())
                      .arg(QString::fromStdString(to_string(spec_->objective))));
  run_->setEnabled(true);
  export_->setEnabled(false);
  return true;
}

void PlanView::runPlan() {
  if (!spec_ || thread_ != nullptr) return;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  const auto flag = cancel_;
  const PlanSpec spec = *spec_;
  progress_->setRange(0, static_cast<int>(spec.size()));
  progress_->setValue(0);
  run_->setEnabled(false);
  cancel_button_->setEnabled(true);
  thread_ = QThread::create([this, spec, flag] {
    PlanOptions options;
    options.cancel = flag.get();
    options.progress = [this](std::size_t done, std::size_t) {
      QMetaObject::invokeMethod(
          progress_, [this, done] { progress_->setValue(static_cast<int>(done)); },
          Qt::QueuedConnection);
    };
    auto result = std::make_shared<PlanResult>(run_plan(spec, Catalog::builtin(), options));
    QMetaObject::invokeMethod(
        this,
        [this, result] {
          thread_->wait();
          delete thread_;
          thread_ = nullptr;
          result_ = std::make_unique<PlanResult>(*result);
          run_->setEnabled(true);
          cancel_button_->setEnabled(false);
          export_->setEnabled(true);
          showResult();
          emit finished();
        },
        Qt::QueuedConnection);
  });
  thread_->start();
}

void PlanView::cancel() {
  if (cancel_) cancel_->store(true);
}

void PlanView::showResult() {
  const PlanResult& r = *result_;
  progress_->setValue(static_cast<int>(r.evaluated + (r.space - r.evaluated - r.skipped)));
  QString pruned;
  for (const auto& [reason, n] : r.pruned) {
    pruned += QString(" %1 %2;").arg(n).arg(QString::fromStdString(reason));
  }
  summary_->setText(tr("%1 points, %2 simulated, %3 feasible%4. Pruned:%5 %6")
                        .arg(r.space)
                        .arg(r.evaluated)
                        .arg(r.feasible)
                        .arg(r.interrupted ? tr(" (interrupted)") : QString())
                        .arg(pruned)
                        .arg(QString::fromStdString(
                            r.empty_message.empty() ? explain_best(*spec_, r) : r.empty_message)));
  const bool serving = spec_->stage == "inference";
  const QString x_unit = serving ? tr("e2e p99 latency (s)") : tr("run time (days)");
  const QString y_unit = serving ? tr("$ per million tokens") : tr("cost ($)");

  QChart* chart = chart_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) chart->removeAxis(axis);
  auto* others = new QScatterSeries;
  others->setName(tr("feasible"));
  others->setMarkerSize(7);
  others->setColor(QColor("#9ca3af"));
  auto* front = new QScatterSeries;
  front->setName(tr("Pareto front"));
  front->setMarkerSize(12);
  front->setColor(QColor("#d97706"));
  double xmax = 0, ymax = 0;
  for (const PlanPoint& p : r.points) {
    if (p.status != "feasible") continue;
    const bool on_front = std::find(r.front.begin(), r.front.end(), p.index) != r.front.end();
    (on_front ? front : others)->append(p.metrics.time, p.metrics.cost);
    xmax = std::max(xmax, p.metrics.time);
    ymax = std::max(ymax, p.metrics.cost);
  }
  chart->addSeries(others);
  chart->addSeries(front);
  auto* x = new QValueAxis;
  x->setTitleText(x_unit);
  x->setRange(0, xmax > 0 ? xmax * 1.1 : 1);
  auto* y = new QValueAxis;
  y->setTitleText(y_unit);
  y->setRange(0, ymax > 0 ? ymax * 1.1 : 1);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  for (QScatterSeries* s : {others, front}) {
    s->attachAxis(x);
    s->attachAxis(y);
    connect(s, &QScatterSeries::clicked, this, &PlanView::pointClicked);
  }
  style_chart(chart, palette());

  front_points_ = r.front;
  table_->clear();
  table_->setColumnCount(8);
  table_->setHorizontalHeaderLabels({x_unit, y_unit, tr("instance"), tr("nodes"), tr("tp"),
                                     tr("pp"), tr("dp"), tr("micro-batch")});
  table_->setRowCount(static_cast<int>(front_points_.size()));
  for (int row = 0; row < static_cast<int>(front_points_.size()); ++row) {
    const PlanMetrics& m = r.points[front_points_[row]].metrics;
    const QStringList cells = {QString::number(m.time, 'g', 4),
                               QString::number(m.cost, 'g', 4),
                               QString::fromStdString(m.instance),
                               QString::number(m.nodes),
                               QString::number(m.tp),
                               QString::number(m.pp),
                               QString::number(m.dp),
                               QString::number(m.micro_batch)};
    for (int c = 0; c < cells.size(); ++c) {
      table_->setItem(row, c, new QTableWidgetItem(cells[c]));
    }
  }
}

void PlanView::pointClicked(const QPointF& point) {
  // The feasible point nearest the click, in the plot's relative units (the front's and the
  // others' series both report clicks).
  if (!result_) return;
  const PlanPoint* best = nullptr;
  double best_d = 0;
  for (const PlanPoint& p : result_->points) {
    if (p.status != "feasible") continue;
    const double dx = (p.metrics.time - point.x()) / std::max(std::abs(p.metrics.time), 1e-30);
    const double dy = (p.metrics.cost - point.y()) / std::max(std::abs(p.metrics.cost), 1e-30);
    const double d = dx * dx + dy * dy;
    if (best == nullptr || d < best_d) {
      best = &p;
      best_d = d;
    }
  }
  if (best != nullptr) activatePoint(best->index);
}

void PlanView::activateFrontPoint(int i) {
  if (!result_ || i < 0 || i >= static_cast<int>(front_points_.size())) return;
  activatePoint(front_points_[i]);
}

void PlanView::activatePoint(std::size_t index) {
  if (!spec_ || !result_) return;
  emit openScenario(spec_->scenario_at(index),
                    tr("%1, point %2").arg(QFileInfo(path_).fileName()).arg(index));
}

bool PlanView::exportCsv(const QString& path) const {
  if (!spec_ || !result_) return false;
  return write_text_file(path, render_csv(*spec_, *result_)).isEmpty();
}

}  // namespace fmsim::gui
