// fmsim-gui driven under Qt Test (offscreen): load a scenario, edit it in the form and see the
// JSON follow, make an error and see it at the field its pointer names, run and read the results,
// and check that the window keeps handling events while a long simulation runs.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QtTest>

#include "catalog_view.h"
#include "hardware/catalog.h"
#include "main_window.h"
#include "plan_view.h"
#include "results_view.h"
#include "run_controller.h"
#include "scenario_form.h"
#include "timeline_view.h"

using fmsim::gui::MainWindow;

namespace {

QString scenario(const char* name) {
  return QStringLiteral(FMSIM_SOURCE_DIR "/scenarios/") + name + ".json";
}

QSpinBox* spin(MainWindow& w, const char* pointer) {
  return qobject_cast<QSpinBox*>(w.form()->control(pointer));
}

}  // namespace

class MainWindowTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName("fmsim-test");
    QCoreApplication::setApplicationName("fmsim-gui-test");
    QStandardPaths::setTestModeEnabled(true);  // recent files go to a test location
  }

  void loadingFillsTheFormAndFormEditsReachTheJson() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-pretrain-p5-8node")));
    QCOMPARE(spin(w, "/cluster/nodes")->value(), 8);
    QCOMPARE(qobject_cast<QComboBox*>(w.form()->control("/cluster/instance"))->currentText(),
             QString("p5.48xlarge"));
    QCOMPARE(spin(w, "/workload/parallelism/cp")->value(), 2);
    QVERIFY(!w.document()->isModified());

    spin(w, "/cluster/nodes")->setValue(16);
    QCOMPARE(w.document()->json()["cluster"]["nodes"].get<int>(), 16);
    QVERIFY(w.document()->isModified());
    QVERIFY(w.windowTitle().contains('*'));
    QVERIFY(w.jsonEditor()->toPlainText().contains("\"nodes\": 16"));

    // "dp": "auto" shows as the spin box's special value, and stays "auto" when untouched.
    QCOMPARE(spin(w, "/workload/parallelism/dp")->text(), QString("auto"));
    QCOMPARE(w.document()->json()["workload"]["parallelism"]["dp"].get<std::string>(),
             std::string("auto"));
  }

  void theFormShowsTheStagesKnobsAndRemovesCleared() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-serve-p5-1node")));
    auto* rate = qobject_cast<QDoubleSpinBox*>(w.form()->control("/workload/requests/rate_per_s"));
    QVERIFY(rate != nullptr);
    QCOMPARE(rate->value(), 160.0);
    QVERIFY(!rate->parentWidget()->isHidden());  // the serving group
    QVERIFY(w.form()->control("/workload/parallelism/tp")->parentWidget()->isHidden());
    rate->setValue(200);
    QCOMPARE(w.document()->json()["workload"]["requests"]["rate_per_s"].get<double>(), 200.0);
    // The minimum is "default": the field leaves the document.
    rate->setValue(rate->minimum());
    QVERIFY(!w.document()->json()["workload"]["requests"].contains("rate_per_s"));
    // Switching the stage in the form switches the groups.
    qobject_cast<QComboBox*>(w.form()->control("/workload/stage"))->setCurrentText("collective");
    QVERIFY(rate->parentWidget()->isHidden());
    QVERIFY(!w.form()->control("/workload/op")->parentWidget()->isHidden());
  }

  void jsonEditsReachTheForm() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-pretrain-p5-8node")));
    QString text = w.jsonEditor()->toPlainText();
    text.replace("\"global_batch\": 512", "\"global_batch\": 256");
    w.jsonEditor()->setPlainText(text);
    QTRY_COMPARE(spin(w, "/workload/global_batch")->value(), 256);
    // A syntax error is reported under the editor and leaves the document as it was.
    w.jsonEditor()->setPlainText("{\"cluster\": ");
    QTest::qWait(500);
    QCOMPARE(spin(w, "/workload/global_batch")->value(), 256);
  }

  void anErrorIsShownAtTheFieldItsPointerNames() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-pretrain-p5-8node")));
    QVERIFY(w.form()->errorAt("/workload/parallelism/tp").isEmpty());
    // 8 nodes x 8 GPUs = 64: tp 3 does not divide them (docs/scenario.md names tp).
    spin(w, "/workload/parallelism/tp")->setValue(3);
    QTRY_VERIFY(!w.form()->errorAt("/workload/parallelism/tp").isEmpty());
    QVERIFY(w.bannerText().startsWith("/workload/parallelism/tp"));
    QVERIFY(w.form()->errorAt("/cluster/nodes").isEmpty());
    // Running is refused until it is fixed.
    w.run();
    QVERIFY(!w.runner()->isRunning());
    spin(w, "/workload/parallelism/tp")->setValue(1);
    QTRY_VERIFY(w.form()->errorAt("/workload/parallelism/tp").isEmpty());
    QTRY_VERIFY(w.bannerText().isEmpty());
  }

  void runningShowsTheSameNumbersAsTheReport() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-sft-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 300000);
    const fmsim::Report& report = *w.lastReport();
    QVERIFY(report.training.has_value());
    const fmsim::TrainingReport& t = *report.training;
    QCOMPARE(w.results()->card("Step time"), fmsim::gui::format_seconds(t.step_s));
    QCOMPARE(w.results()->card("MFU"), QString::number(100 * t.mfu, 'f', 1) + " %");
    // The step bar's compute part is the report's, and the memory bar adds up to its total.
    QCOMPARE(w.results()->stepBreakdown().at("compute"), t.compute_s);
    double memory = 0;
    for (const auto& [name, gib] : w.results()->memoryBreakdown()) {
      if (name != "free") memory += gib;
    }
    QVERIFY(std::abs(memory - t.memory_total() / (1024.0 * 1024 * 1024)) < 1e-9 * memory + 1e-12);
  }

  void theWindowKeepsRespondingWhileItSimulates() {
    // Llama 3 405B on 16,384 GPUs: seconds of simulation (more under the sanitizers).
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-405b-pretrain-p5-16k")));
    QSignalSpy finished(w.runner(), &fmsim::gui::RunController::finished);
    QSignalSpy cancelled(w.runner(), &fmsim::gui::RunController::cancelled);
    int ticks = 0;
    QTimer timer;
    connect(&timer, &QTimer::timeout, [&] { ++ticks; });
    timer.start(10);
    w.run();
    QVERIFY(w.runner()->isRunning());
    QTest::qWait(300);
    // The GUI thread turned its event loop about every 10 ms: it was never blocked for long.
    if (w.runner()->isRunning()) QVERIFY2(ticks >= 10, qPrintable(QString::number(ticks)));
    w.cancelRun();
    QTRY_VERIFY_WITH_TIMEOUT(!w.runner()->isRunning(), 300000);
    QCOMPARE(finished.count() + cancelled.count(), 1);
  }

  void aCollectiveRunShowsTheBusBandwidthCurve() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("nccl-p5-1node-all_reduce")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 120000);
    const fmsim::CollectiveResult& c = *w.lastReport()->collective;
    const auto curve = w.results()->busbwCurve();
    QCOMPARE(curve.size(), c.rows.size());
    for (std::size_t i = 0; i < curve.size(); ++i) {
      QCOMPARE(curve[i].first, c.rows[i].bytes);
      QCOMPARE(curve[i].second, c.rows[i].busbw_bytes_per_s / 1e9);
    }
    QVERIFY(w.results()->card("Avg bus bandwidth").endsWith("GB/s"));
  }

  void aServingRunShowsItsLatencyPercentiles() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-serve-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 120000);
    const fmsim::InferenceResult& r = *w.lastReport()->inference;
    const auto latencies = w.results()->latencies();
    QCOMPARE(latencies.at("TTFT").second, r.ttft_s.p99);
    QCOMPARE(latencies.at("TPOT").first, r.tpot_s.p50);
    QCOMPARE(latencies.at("end to end").second, r.e2e_s.p99);
    // The load curve: six runs at 0.25 .. 2 x 160 prompts/s; the 1x point is the run above, and
    // queueing makes TTFT p99 grow with the rate.
    QVERIFY(w.runLoadCurve());
    QTRY_VERIFY_WITH_TIMEOUT(w.results()->loadCurve().size() == 6, 120000);
    const auto curve = w.results()->loadCurve();
    QCOMPARE(curve[3][0], 160.0);
    QCOMPARE(curve[3][1], r.ttft_s.p99);
    QVERIFY(curve[5][1] > curve[0][1]);
  }

  void theTimelineShowsTheTraceAndZooms() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-sft-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 120000);
    fmsim::gui::TimelineView* timeline = w.results()->timeline();
    const fmsim::Trace& trace = w.lastReport()->trace;
    QVERIFY(!trace.spans.empty());
    QCOMPARE(timeline->spanCount(), static_cast<int>(trace.spans.size()));
    QVERIFY(timeline->rows() > 0);
    const auto [t0, t1] = timeline->range();
    // Zooming in by 2 around the middle keeps the middle and halves the range; panning past the
    // end stops at the end; the range never leaves the trace.
    const double mid = (t0 + t1) / 2;
    timeline->zoom(0.5, mid);
    QCOMPARE(timeline->range().second - timeline->range().first, (t1 - t0) / 2);
    QVERIFY(std::abs((timeline->range().first + timeline->range().second) / 2 - mid) <
            1e-9 * (t1 - t0));
    timeline->setRange(t1, t1 + (t1 - t0) / 2);
    QCOMPARE(timeline->range().second, t1);
  }

  void twoRunsAreComparedSideBySide() {
    // The same SFT scenario in BF16 and FP8: the step time differs, the compare table
    // shows both with the second highlighted, and the chart has the two step times.
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-sft-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.runs().size() == 1, 120000);
    qobject_cast<QComboBox*>(w.form()->control("/workload/precision"))->setCurrentText("fp8");
    w.validateNow();
    QVERIFY2(w.bannerText().isEmpty(), qPrintable(w.bannerText()));
    w.run();
    QVERIFY(w.runner()->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(w.runs().size() == 2, 120000);
    QTableWidget* table = w.compare()->table();
    QCOMPARE(table->columnCount(), 2);
    int step_row = -1;
    for (int r = 0; r < table->rowCount(); ++r) {
      if (table->verticalHeaderItem(r)->text() == "step time (s)") step_row = r;
    }
    QVERIFY(step_row >= 0);
    const double first = w.runs()[0].report->training->step_s;
    const double second = w.runs()[1].report->training->step_s;
    QVERIFY(first != second);
    QCOMPARE(table->item(step_row, 1)->data(Qt::UserRole).toBool(),
             std::abs(second / first - 1) > 0.005);
    w.compare()->setChartMetric("step time (s)");
    const std::vector<double> bars = w.compare()->chartValues();
    QCOMPARE(bars.size(), std::size_t{2});
    QCOMPARE(bars[0], first);
    QCOMPARE(bars[1], second);
  }

  void aPlanRunsItsFrontOpensAPointAndExportsCsv() {
    // tests/data/plan-mpi.json: 24 points of Llama 3 8B on 1-2 p5 nodes under days_max 0.002.
    MainWindow w;
    fmsim::gui::PlanView* plan = w.plan();
    QVERIFY(plan->openPlan(QStringLiteral(FMSIM_SOURCE_DIR "/tests/data/plan-mpi.json")));
    QSignalSpy done(plan, &fmsim::gui::PlanView::finished);
    plan->runPlan();
    QVERIFY(plan->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 120000);
    const fmsim::PlanResult* result = plan->result();
    QVERIFY(result != nullptr);
    QCOMPARE(result->space, std::size_t{24});
    QVERIFY(!result->front.empty());
    QCOMPARE(plan->frontPoints(), result->front);
    // Clicking the first front point opens its scenario as a new, unsaved document.
    plan->activateFrontPoint(0);
    const fmsim::PlanMetrics& m = result->points[result->front[0]].metrics;
    QCOMPARE(w.document()->json()["cluster"]["nodes"].get<int>(), m.nodes);
    QCOMPARE(w.document()->json()["workload"]["parallelism"]["tp"].get<int>(), m.tp);
    QVERIFY(w.document()->isModified());
    QVERIFY(w.document()->path().isEmpty());
    // The CSV has a header and one line per point.
    QTemporaryDir dir;
    const QString csv = dir.filePath("points.csv");
    QVERIFY(plan->exportCsv(csv));
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 25);
  }

  void theCatalogListsEveryInstanceWithItsSources() {
    MainWindow w;
    const fmsim::Catalog& catalog = fmsim::Catalog::builtin();
    auto* view = w.findChild<fmsim::gui::CatalogView*>();
    QVERIFY(view != nullptr);
    QCOMPARE(view->instanceTable()->rowCount(), static_cast<int>(catalog.instances().size()));
    QCOMPARE(view->gpuTable()->rowCount(), static_cast<int>(catalog.gpus().size()));
    // p5.48xlarge's GPU count cell names its source.
    for (int r = 0; r < view->instanceTable()->rowCount(); ++r) {
      if (view->instanceTable()->item(r, 0)->text() != "p5.48xlarge") continue;
      QCOMPARE(view->instanceTable()->item(r, 2)->text(), QString("8"));
      QVERIFY(view->instanceTable()->item(r, 2)->toolTip().startsWith("source: "));
    }
  }

  // With FMSIM_GUI_SCREENSHOTS=DIR, captures the main views to DIR/*.png (docs/images is made this
  // way: FMSIM_GUI_SCREENSHOTS=docs/images QT_QPA_PLATFORM=offscreen fmsim_gui_tests).
  void screenshots() {
    const QString dir = qEnvironmentVariable("FMSIM_GUI_SCREENSHOTS");
    if (dir.isEmpty()) QSKIP("FMSIM_GUI_SCREENSHOTS not set");
    MainWindow w;
    w.resize(1400, 860);
    w.show();
    QVERIFY(w.openFile(scenario("llama3-70b-pretrain-p5-64node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 300000);
    QTest::qWait(200);
    QVERIFY(w.grab().save(dir + "/gui-results.png"));
    auto* result_tabs = w.results()->findChild<QTabWidget*>();
    QVERIFY(result_tabs != nullptr);
    result_tabs->setCurrentIndex(1);  // the timeline
    QTest::qWait(100);
    QVERIFY(w.grab().save(dir + "/gui-timeline.png"));
    result_tabs->setCurrentIndex(0);
    auto* tabs = w.findChild<QTabWidget*>("editorTabs");
    QVERIFY(tabs != nullptr);
    tabs->setCurrentIndex(1);  // the JSON view
    QTest::qWait(100);
    QVERIFY(w.grab().save(dir + "/gui-json.png"));
    tabs->setCurrentIndex(0);
    spin(w, "/workload/parallelism/tp")->setValue(3);
    QTRY_VERIFY(!w.form()->errorAt("/workload/parallelism/tp").isEmpty());
    QTest::qWait(100);
    QVERIFY(w.grab().save(dir + "/gui-error.png"));
    spin(w, "/workload/parallelism/tp")->setValue(8);
    spin(w, "/workload/parallelism/pp")->setValue(8);
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.runs().size() == 2, 300000);
    w.showView(1);
    QTest::qWait(200);
    QVERIFY(w.grab().save(dir + "/gui-compare.png"));
    w.showView(3);
    QTest::qWait(100);
    QVERIFY(w.grab().save(dir + "/gui-catalog.png"));
    QVERIFY(w.plan()->openPlan(QStringLiteral(FMSIM_SOURCE_DIR "/tests/data/plan-mpi.json")));
    QSignalSpy planned(w.plan(), &fmsim::gui::PlanView::finished);
    w.plan()->runPlan();
    QTRY_VERIFY_WITH_TIMEOUT(planned.count() == 1, 120000);
    w.showView(2);
    QTest::qWait(200);
    QVERIFY(w.grab().save(dir + "/gui-plan.png"));
    w.showView(0);
    QVERIFY(w.openFile(scenario("llama3-8b-serve-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr && w.lastReport()->inference, 120000);
    QVERIFY(w.runLoadCurve());
    QTRY_VERIFY_WITH_TIMEOUT(w.results()->loadCurve().size() == 6, 120000);
    QTest::qWait(200);
    QVERIFY(w.grab().save(dir + "/gui-serving.png"));
  }
};

QTEST_MAIN(MainWindowTest)
#include "main_window_qtest.moc"
