#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QUndoStack>
#include <QUrl>
#include <QVBoxLayout>

#include "catalog_view.h"
#include "error.h"
#include "hardware/catalog.h"
#include "plan_view.h"
#include "results_view.h"
#include "run_controller.h"
#include "scenario/scenario.h"
#include "scenario_form.h"
#include "theme.h"

namespace fmsim::gui {
namespace {
constexpr int kRecentFiles = 8;
}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), document_(new ScenarioDocument(this)), runner_(new RunController(this)) {
  form_ = new ScenarioForm(document_);
  json_ = new QPlainTextEdit;
  QFont mono("monospace");
  mono.setStyleHint(QFont::TypeWriter);
  json_->setFont(mono);
  json_status_ = new QLabel;
  json_status_->setWordWrap(true);
  auto* json_page = new QWidget;
  auto* json_layout = new QVBoxLayout(json_page);
  json_layout->setContentsMargins(0, 0, 0, 0);
  json_layout->addWidget(json_);
  json_layout->addWidget(json_status_);

  auto* editor = new QTabWidget;
  editor->setObjectName("editorTabs");
  editor->addTab(form_, tr("Form"));
  editor->addTab(json_page, tr("JSON"));

  results_ = new ResultsView;
  compare_ = new CompareView;
  catalog_ = new CatalogView(Catalog::builtin());
  views_ = new QTabWidget;
  views_->setObjectName("viewTabs");
  views_->addTab(results_, tr("Results"));
  views_->addTab(compare_, tr("Compare"));
  plan_ = new PlanView;
  views_->addTab(plan_, tr("Plan"));
  connect(plan_, &PlanView::openScenario, this,
          [this](const nlohmann::json& scenario, const QString& label) {
            if (!maybeSave()) return;
            document_->adopt(scenario);
            results_->clear(tr("Opened %1 from the plan: Run > Run (Ctrl+R)").arg(label));
            statusBar()->showMessage(tr("Opened %1").arg(label));
          });
  views_->addTab(catalog_, tr("Catalog"));
  auto* splitter = new QSplitter;
  splitter->addWidget(editor);
  splitter->addWidget(views_);
  splitter->setStretchFactor(1, 1);
  splitter->setSizes({430, 970});  // the form's labels and values without a horizontal scroll

  banner_ = new QLabel;
  banner_->setWordWrap(true);
  banner_->setStyleSheet(banner_style(palette()));
  banner_->hide();
  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->addWidget(banner_);
  layout->addWidget(splitter, 1);
  setCentralWidget(central);

  progress_ = new QProgressBar;
  progress_->setRange(0, 0);  // busy until the run reports a fraction
  progress_->setMaximumWidth(160);
  progress_->hide();
  elapsed_ = new QLabel;
  statusBar()->addPermanentWidget(elapsed_);
  statusBar()->addPermanentWidget(progress_);

  validate_timer_ = new QTimer(this);
  validate_timer_->setSingleShot(true);
  validate_timer_->setInterval(150);
  connect(validate_timer_, &QTimer::timeout, this, &MainWindow::validateNow);
  json_timer_ = new QTimer(this);
  json_timer_->setSingleShot(true);
  json_timer_->setInterval(300);
  connect(json_timer_, &QTimer::timeout, this, &MainWindow::jsonEdited);
  connect(json_, &QPlainTextEdit::textChanged, json_timer_, qOverload<>(&QTimer::start));
  tick_ = new QTimer(this);
  tick_->setInterval(100);
  connect(tick_, &QTimer::timeout, this, [this] {
    elapsed_->setText(tr("running %1 s").arg(runner_->elapsedMs() / 1000.0, 0, 'f', 1));
    // A fraction when the run reports one (a sweep, serving, Monte-Carlo), else busy.
    const double done = runner_->progress();
    if (done > 0) {
      progress_->setRange(0, 1000);
      progress_->setValue(static_cast<int>(done * 1000));
    } else {
      progress_->setRange(0, 0);
    }
  });

  connect(document_, &ScenarioDocument::changed, this, [this](const QObject* origin) {
    if (origin != json_) showJson();
    validate_timer_->start();
    updateTitle();
  });
  connect(document_, &ScenarioDocument::modifiedChanged, this, &MainWindow::updateTitle);

  connect(runner_, &RunController::started, this, [this] {
    run_action_->setEnabled(false);
    cancel_action_->setEnabled(true);
    progress_->setRange(0, 0);
    progress_->show();
    tick_->start();
    statusBar()->showMessage(tr("Running %1...").arg(document_->displayName()));
  });
  const auto stopped = [this](const QString& message) {
    run_action_->setEnabled(true);
    cancel_action_->setEnabled(false);
    progress_->hide();
    tick_->stop();
    elapsed_->clear();
    statusBar()->showMessage(message);
  };
  connect(runner_, &RunController::finished, this,
          [this, stopped](std::shared_ptr<const Report> report, qint64 ms) {
            last_ = report;
            results_->setReport(*report);
            runs_.push_back({QString("%1 #%2")
                                 .arg(document_->displayName())
                                 .arg(static_cast<int>(runs_.size()) + 1),
                             report});
            compare_->setRuns(runs_);
            stopped(tr("Done in %1 s").arg(ms / 1000.0, 0, 'f', 2));
          });
  connect(runner_, &RunController::failed, this,
          [this, stopped](const QString& pointer, const QString& message, int code) {
            showValidation({false, pointer, message, code});
            stopped(tr("Failed (exit code %1)").arg(code));
          });
  connect(results_, &ResultsView::loadCurveRequested, this, &MainWindow::runLoadCurve);
  connect(runner_, &RunController::sweepFinished, this,
          [this, stopped](const std::vector<double>& rates,
                          const std::vector<std::shared_ptr<const Report>>& reports) {
            results_->setLoadCurve(rates, reports);
            stopped(tr("Load curve: %1 runs").arg(static_cast<int>(reports.size())));
          });
  connect(runner_, &RunController::cancelled, this,
          [stopped] { stopped(QObject::tr("Cancelled")); });

  buildMenus();
  showJson();
  updateTitle();
  validateNow();
  resize(1280, 820);
  setAcceptDrops(true);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&New"), QKeySequence::New, this, [this] {
    if (maybeSave()) document_->newFromDefault();
  });
  file->addAction(tr("&Open..."), QKeySequence::Open, this, &MainWindow::openDialog);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  file->addAction(tr("&Save"), QKeySequence::Save, this, &MainWindow::save);
  file->addAction(tr("Save &As..."), QKeySequence::SaveAs, this, &MainWindow::saveAs);
  QMenu* results = file->addMenu(tr("&Export results"));
  const std::pair<QString, QString> exports[] = {{"json", tr("Report (&JSON)...")},
                                                 {"csv", tr("Table (&CSV)...")},
                                                 {"trace", tr("Timeline (Chrome &trace)...")}};
  for (const auto& [kind, label] : exports) {
    QAction* a = results->addAction(label, this, [this, kind = kind] {
      const QString filter = kind == "csv" ? tr("CSV (*.csv)") : tr("JSON (*.json)");
      const QString suffix = kind == "csv"     ? ".csv"
                             : kind == "trace" ? ".trace.json"
                                               : ".report.json";
      // The dialog asks before replacing a file.
      const QString path = QFileDialog::getSaveFileName(
          this, tr("Export results"),
          QFileInfo(document_->displayName()).completeBaseName() + suffix, filter);
      if (!path.isEmpty()) exportResults(path, kind);
    });
    a->setEnabled(false);
    connect(runner_, &RunController::finished, a, [a] { a->setEnabled(true); });
  }
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  rebuildRecent();

  // The scenario's history (the JSON view keeps its own while it has the focus).
  QMenu* edit_menu = menuBar()->addMenu(tr("&Edit"));
  QAction* undo = document_->undoStack()->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence::Undo);
  undo->setObjectName("undo");
  QAction* redo = document_->undoStack()->createRedoAction(this, tr("&Redo"));
  redo->setShortcut(QKeySequence::Redo);
  redo->setObjectName("redo");
  edit_menu->addAction(undo);
  edit_menu->addAction(redo);

  QMenu* run_menu = menuBar()->addMenu(tr("&Run"));
  run_action_ =
      run_menu->addAction(tr("&Run"), QKeySequence(Qt::CTRL | Qt::Key_R), this, &MainWindow::run);
  cancel_action_ = run_menu->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), this,
                                       &MainWindow::cancelRun);
  cancel_action_->setEnabled(false);
  trace_action_ = run_menu->addAction(tr("Record &timeline"));
  trace_action_->setCheckable(true);
  trace_action_->setChecked(true);
  trace_action_->setToolTip(tr("Keep the trace of the run for the Timeline tab"));
  run_menu->addAction(tr("C&lear compared runs"), this, [this] {
    runs_.clear();
    compare_->setRuns(runs_);
  });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Results"), QKeySequence(Qt::CTRL | Qt::Key_1), this,
                  [this] { showView(0); });
  view->addAction(tr("&Compare"), QKeySequence(Qt::CTRL | Qt::Key_2), this,
                  [this] { showView(1); });
  view->addAction(tr("&Plan"), QKeySequence(Qt::CTRL | Qt::Key_3), this, [this] { showView(2); });
  view->addAction(tr("C&atalog"), QKeySequence(Qt::CTRL | Qt::Key_4), this,
                  [this] { showView(3); });
  view->addSeparator();
  QMenu* theme = view->addMenu(tr("&Theme"));
  auto* themes = new QActionGroup(this);
  const std::pair<QString, QString> choices[] = {
      {"system", tr("Follow the &system")}, {"light", tr("&Light")}, {"dark", tr("&Dark")}};
  for (const auto& [key, label] : choices) {
    QAction* a = theme->addAction(label, this, [key] { apply_theme(key); });
    a->setCheckable(true);
    a->setChecked(current_theme() == key);
    a->setObjectName("theme-" + key);
    themes->addAction(a);
  }

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("Scenario &reference"), QKeySequence::HelpContents, this, [] {
    QDesktopServices::openUrl(QUrl::fromLocalFile(QStringLiteral(FMSIM_DOCS_DIR "/scenario.md")));
  });
  help->addAction(tr("&About fmsim"), this, [this] {
    QMessageBox::about(this, tr("About fmsim"),
                       tr("fmsim: a discrete-event cluster simulator and capacity planner for "
                          "foundation-model training and serving."));
  });
}

bool MainWindow::openFile(const QString& path) {
  try {
    document_->load(path);
  } catch (const Error& e) {
    QMessageBox::warning(this, tr("Cannot open"), QString::fromUtf8(e.what()));
    return false;
  }
  addRecent(QFileInfo(path).absoluteFilePath());
  results_->clear(tr("Opened %1: Run > Run (Ctrl+R)").arg(path));
  return true;
}

bool MainWindow::saveTo(const QString& path) {
  try {
    document_->save(path);
  } catch (const Error& e) {
    QMessageBox::warning(this, tr("Cannot save"), QString::fromUtf8(e.what()));
    return false;
  }
  addRecent(QFileInfo(path).absoluteFilePath());
  return true;
}

bool MainWindow::exportResults(const QString& path, const QString& kind) {
  if (!last_) return false;
  std::string text;
  if (kind == "json") {
    text = to_json(*last_).dump(2) + "\n";
  } else if (kind == "csv") {
    text = render_csv(*last_);
  } else if (kind == "trace") {
    text = render_trace(*last_).dump() + "\n";
  } else {
    return false;
  }
  const QString error = write_text_file(path, text);
  if (!error.isEmpty()) {
    QMessageBox::warning(this, tr("Cannot export"), path + ": " + error);
    return false;
  }
  statusBar()->showMessage(tr("Wrote %1").arg(path));
  return true;
}

void MainWindow::openDialog() {
  if (!maybeSave()) return;
  const QString path = QFileDialog::getOpenFileName(this, tr("Open scenario"), QString(),
                                                    tr("Scenarios (*.json);;All files (*)"));
  if (!path.isEmpty()) openFile(path);
}

bool MainWindow::save() {
  return document_->path().isEmpty() ? saveAs() : saveTo(document_->path());
}

bool MainWindow::saveAs() {
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Save scenario"), document_->displayName(), tr("Scenarios (*.json)"));
  return !path.isEmpty() && saveTo(path);
}

bool MainWindow::maybeSave() {
  if (!document_->isModified()) return true;
  const auto answer = QMessageBox::question(
      this, tr("Unsaved changes"), tr("Save the changes to %1?").arg(document_->displayName()),
      QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
  if (answer == QMessageBox::Save) return save();
  return answer == QMessageBox::Discard;
}

namespace {
// The first local file among the drag's URLs, or "".
QString dropped_file(const QMimeData* data) {
  if (data == nullptr || !data->hasUrls()) return {};
  for (const QUrl& url : data->urls()) {
    if (url.isLocalFile()) return url.toLocalFile();
  }
  return {};
}
}  // namespace

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!dropped_file(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QString path = dropped_file(event->mimeData());
  if (path.isEmpty()) return;
  event->acceptProposedAction();
  // A plan has "axes" (and a "base" scenario); anything else is taken as a scenario.
  bool plan = false;
  try {
    const nlohmann::json j = read_json_file(path.toStdString());
    plan = j.is_object() && j.contains("axes");
  } catch (const std::exception&) {
    plan = false;  // openFile reports what is wrong with it
  }
  if (plan) {
    if (plan_->openPlan(path)) showView(2);
  } else if (maybeSave()) {
    openFile(path);
  }
}

void MainWindow::changeEvent(QEvent* event) {
  if (event->type() == QEvent::PaletteChange) {
    banner_->setStyleSheet(banner_style(palette()));
    style_charts(this);
  }
  QMainWindow::changeEvent(event);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (maybeSave()) {
    runner_->cancel();
    event->accept();
  } else {
    event->ignore();
  }
}

void MainWindow::addRecent(const QString& path) {
  QSettings settings;
  QStringList files = settings.value("recentFiles").toStringList();
  files.removeAll(path);
  files.prepend(path);
  while (files.size() > kRecentFiles) files.removeLast();
  settings.setValue("recentFiles", files);
  rebuildRecent();
}

void MainWindow::rebuildRecent() {
  recent_menu_->clear();
  const QStringList files = QSettings().value("recentFiles").toStringList();
  for (const QString& path : files) {
    recent_menu_
        ->addAction(QFileInfo(path).fileName(), this,
                    [this, path] {
                      if (maybeSave()) openFile(path);
                    })
        ->setToolTip(path);
  }
  recent_menu_->setEnabled(!files.isEmpty());
}

void MainWindow::showJson() {
  const QSignalBlocker block(json_);
  const int position = json_->textCursor().position();
  json_->setPlainText(QString::fromStdString(document_->json().dump(2)));
  QTextCursor cursor = json_->textCursor();
  cursor.setPosition(std::min(position, static_cast<int>(json_->toPlainText().size())));
  json_->setTextCursor(cursor);
  json_status_->clear();
}

void MainWindow::jsonEdited() {
  const std::string text = json_->toPlainText().toStdString();
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    json_status_->clear();
    document_->setJson(parsed, json_, "json");
  } catch (const nlohmann::json::parse_error& e) {
    // The byte offset of the error, as line and column.
    const std::size_t at = std::min<std::size_t>(e.byte, text.size());
    int line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    json_status_->setText(tr("JSON syntax error at line %1, column %2").arg(line).arg(column));
    json_status_->setStyleSheet("color: #d0312d;");
  }
}

void MainWindow::validateNow() { showValidation(document_->validate()); }

void MainWindow::showValidation(const Validation& v) {
  form_->showValidation(v);
  if (v.ok) {
    banner_->hide();
    banner_->clear();
    return;
  }
  banner_->setText((v.pointer.isEmpty() ? QString() : v.pointer + ": ") + v.message);
  banner_->show();
}

QString MainWindow::bannerText() const { return banner_->isHidden() ? QString() : banner_->text(); }

void MainWindow::run() {
  if (runner_->isRunning()) return;
  const Validation v = document_->validate();
  showValidation(v);
  if (!v.ok) {
    statusBar()->showMessage(tr("Not run: fix %1 first").arg(v.pointer));
    return;
  }
  runner_->start(document_->json(), document_->baseDir(),
                 document_->path().isEmpty() ? tr("fmsim-gui (unsaved)") : document_->path(),
                 trace_action_->isChecked());
}

void MainWindow::cancelRun() { runner_->cancel(); }

bool MainWindow::runLoadCurve() {
  if (runner_->isRunning() || !last_ || !last_->inference) return false;
  const nlohmann::json& resolved = last_->scenario;
  const nlohmann::json::json_pointer at("/workload/requests/rate_per_s");
  if (!resolved.contains(at) || !resolved.at(at).is_number()) {
    statusBar()->showMessage(tr("A load curve needs a numeric request rate"));
    return false;
  }
  const double rate = resolved.at(at).get<double>();
  std::vector<double> rates;
  for (double f : {0.25, 0.5, 0.75, 1.0, 1.5, 2.0}) rates.push_back(rate * f);
  runner_->startSweep(document_->json(), document_->baseDir(), "/workload/requests/rate_per_s",
                      rates);
  return true;
}

void MainWindow::showView(int index) { views_->setCurrentIndex(index); }

void MainWindow::updateTitle() {
  setWindowTitle(document_->displayName() + (document_->isModified() ? " *" : "") + " - fmsim");
}

}  // namespace fmsim::gui
