// fmsim-gui driven under Qt Test (offscreen): load a scenario, edit it in the form and see the
// JSON follow, make an error and see it at the field its pointer names, run and read the results,
// and check that the window keeps handling events while a long simulation runs.
#include <QAction>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMenu>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QScatterSeries>
#include <QScrollArea>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QUndoStack>
#include <QtTest>

#include "catalog_view.h"
#include "hardware/catalog.h"
#include "main_window.h"
#include "plan_view.h"
#include "results_view.h"
#include "run_controller.h"
#include "scenario/scenario.h"
#include "scenario_form.h"
#include "theme.h"
#include "timeline_view.h"

using fmsim::gui::MainWindow;
using fmsim::gui::ScenarioForm;

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
    // Serving has tp, pp and ep but not the training knobs.
    QVERIFY(!w.form()->control("/workload/parallelism/tp")->isHidden());
    QVERIFY(w.form()->control("/workload/parallelism/cp")->isHidden());
    QVERIFY(w.form()->control("/workload/global_batch")->parentWidget()->isHidden());
    rate->setValue(200);
    QCOMPARE(w.document()->json()["workload"]["requests"]["rate_per_s"].get<double>(), 200.0);
    // The minimum is "default": the field leaves the document.
    rate->setValue(rate->minimum());
    QVERIFY(!w.document()->json()["workload"]["requests"].contains("rate_per_s"));
    // Serving has no cp: the error names a control the stage hides, so it is written under the
    // form instead.
    w.document()->setValue("/workload/parallelism/cp", 2, nullptr);
    w.validateNow();
    QVERIFY(w.form()->unplacedError().startsWith("/workload/parallelism/cp"));
    w.document()->removeValue("/workload/parallelism/cp", nullptr);
    w.validateNow();
    QVERIFY(w.form()->unplacedError().isEmpty());
    // Switching the stage in the form switches the groups.
    qobject_cast<QComboBox*>(w.form()->control("/workload/stage"))->setCurrentText("collective");
    QVERIFY(rate->parentWidget()->isHidden());
    QVERIFY(!w.form()->control("/workload/op")->parentWidget()->isHidden());
  }

  void theModelIsAPresetAPresetWithChangesOrCustom() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-pretrain-p5-8node")));
    ScenarioForm* form = w.form();
    // The preset's own figures (Llama 3 8B: 32 layers, width 4096, 8 KV heads, 128,256 tokens;
    // Dubey et al. 2024, table 3), shown as inherited: the scenario only names the preset.
    QCOMPARE(spin(w, "/model/layers")->value(), 32);
    QCOMPARE(spin(w, "/model/hidden")->value(), 4096);
    QCOMPARE(spin(w, "/model/kv_heads")->value(), 8);
    QCOMPARE(spin(w, "/model/vocab")->value(), 128256);
    QCOMPARE(spin(w, "/model/moe/experts")->text(), QString("\u2014 (dense)"));
    QVERIFY(form->isInherited("/model/layers"));
    QVERIFY(spin(w, "/model/layers")->font().italic());

    // Changing one field keeps the preset and overrides that field.
    spin(w, "/model/layers")->setValue(16);
    const nlohmann::json overridden = {{"preset", "llama3-8b"}, {"layers", 16}};
    QCOMPARE(w.document()->json()["model"], overridden);
    QVERIFY(!form->isInherited("/model/layers"));
    QVERIFY(form->isInherited("/model/hidden"));
    QCOMPARE(qobject_cast<QComboBox*>(form->control("/model"))->currentText(),
             QString("llama3-8b"));
    // Reset to default (the context menu's action) gives the preset's name back.
    QAction* reset = spin(w, "/model/layers")->actions().value(0);
    QVERIFY(reset != nullptr);
    QCOMPARE(reset->text(), QString("Reset to default"));
    reset->trigger();
    QCOMPARE(w.document()->json()["model"], nlohmann::json("llama3-8b"));
    QCOMPARE(spin(w, "/model/layers")->value(), 32);

    // "custom" writes every field out, with no preset behind it.
    qobject_cast<QComboBox*>(form->control("/model"))->setCurrentText("custom");
    const nlohmann::json& custom = w.document()->json()["model"];
    QVERIFY(custom.is_object());
    QVERIFY(!custom.contains("preset"));
    QCOMPARE(custom["hidden"].get<int>(), 4096);
    QCOMPARE(custom["ffn_hidden"].get<int>(), 14336);
    QVERIFY(!form->isInherited("/model/hidden"));
    QTRY_VERIFY(w.bannerText().isEmpty());  // the written-out model is valid as it stands

    // A MoE preset shows its experts (Mixtral 8x7B: 8 experts, top 2; Jiang et al. 2024).
    qobject_cast<QComboBox*>(form->control("/model"))->setCurrentText("mixtral-8x7b");
    QCOMPARE(w.document()->json()["model"], nlohmann::json("mixtral-8x7b"));
    QCOMPARE(spin(w, "/model/moe/experts")->value(), 8);
    QCOMPARE(spin(w, "/model/moe/top_k")->value(), 2);
  }

  void theClusterStorageReliabilityAndDataAreInTheForm() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("vlm-8b-pretrain-p5-64node-fsx-shards")));
    ScenarioForm* form = w.form();
    auto* fsx = qobject_cast<QComboBox*>(form->control("/cluster/storage/fsx_lustre/deployment"));
    QCOMPARE(fsx->currentText(), QString("PERSISTENT_2"));
    auto* throughput = qobject_cast<QDoubleSpinBox*>(
        form->control("/cluster/storage/fsx_lustre/throughput_per_tib_mbps"));
    QCOMPARE(throughput->value(), 125.0);
    QCOMPARE(
        qobject_cast<QDoubleSpinBox*>(form->control("/cluster/storage/fsx_lustre/capacity_tib"))
            ->value(),
        12.0);
    QCOMPARE(qobject_cast<QComboBox*>(form->control("/workload/data/tier"))->currentText(),
             QString("fsx_lustre"));
    throughput->setValue(250);
    QCOMPARE(w.document()
                 ->json()["cluster"]["storage"]["fsx_lustre"]["throughput_per_tib_mbps"]
                 .get<double>(),
             250.0);
    // PERSISTENT_2 has no 300 MB/s per TiB tier (docs/scenario.md): the error is at this control.
    throughput->setValue(300);
    QTRY_VERIFY(!form->errorAt("/cluster/storage/fsx_lustre/throughput_per_tib_mbps").isEmpty());
    throughput->setValue(500);
    QTRY_VERIFY(w.bannerText().isEmpty());

    // No FSx: the data and checkpoints still name it, so the error moves to the data tier.
    fsx->setCurrentText("none");
    QVERIFY(!w.document()->json()["cluster"].contains("storage"));
    QTRY_VERIFY(!form->errorAt("/workload/data/tier").isEmpty());
    qobject_cast<QComboBox*>(form->control("/workload/data/tier"))->setCurrentText("s3");
    qobject_cast<QComboBox*>(form->control("/workload/checkpoint/tier"))->setCurrentText("s3");
    form->resetField("/workload/checkpoint/upload_to");
    QTRY_VERIFY(w.bannerText().isEmpty());
    // Choosing a deployment again adds a file system of the smallest capacity that is valid.
    fsx->setCurrentText("PERSISTENT_2");
    QCOMPARE(w.document()->json()["cluster"]["storage"]["fsx_lustre"]["capacity_tib"].get<double>(),
             1.2);

    spin(w, "/cluster/reliability/spare_nodes")->setValue(2);
    QCOMPARE(w.document()->json()["cluster"]["reliability"]["spare_nodes"].get<int>(), 2);
    spin(w, "/cluster/network/spines")->setValue(8);
    QCOMPARE(w.document()->json()["cluster"]["network"]["spines"].get<int>(), 8);
    // The lowest value is the default: the field goes, and the object it leaves empty with it.
    spin(w, "/cluster/network/spines")->setValue(0);
    QVERIFY(!w.document()->json()["cluster"].contains("network"));
    QCOMPARE(spin(w, "/cluster/network/spines")->text(), QString("default (16)"));
    qobject_cast<QComboBox*>(form->control("/cluster/reliability/mode"))
        ->setCurrentText("monte-carlo");
    QCOMPARE(w.document()->json()["cluster"]["reliability"]["mode"].get<std::string>(),
             std::string("monte-carlo"));
    qobject_cast<QComboBox*>(form->control("/workload/parallelism/sequence_parallel"))
        ->setCurrentText("false");
    QCOMPARE(w.document()->json()["workload"]["parallelism"]["sequence_parallel"],
             nlohmann::json(false));
    qobject_cast<QComboBox*>(form->control("/workload/parallelism/zero"))->setCurrentText("fsdp");
    QCOMPARE(w.document()->json()["workload"]["parallelism"]["zero"], nlohmann::json("fsdp"));
    qobject_cast<QComboBox*>(form->control("/workload/parallelism/zero"))->setCurrentText("2");
    QCOMPARE(w.document()->json()["workload"]["parallelism"]["zero"], nlohmann::json(2));
    QTRY_VERIFY(w.bannerText().isEmpty());
  }

  void reinforcementLearningAndLoraHaveTheirKnobs() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("grpo-llama3-8b-p5-4node-disaggregated")));
    ScenarioForm* form = w.form();
    QCOMPARE(spin(w, "/workload/group_size")->value(), 8);
    QCOMPARE(spin(w, "/workload/rollout_gpus")->value(), 16);
    QCOMPARE(spin(w, "/workload/policy/parallelism/tp")->value(), 1);
    QVERIFY(!form->control("/workload/group_size")->parentWidget()->isHidden());
    QVERIFY(form->control("/workload/global_batch")->parentWidget()->isHidden());
    // output_tokens is a mean and a stdev: the JSON view edits it, the form does not.
    QVERIFY(!spin(w, "/workload/rollout/requests/output_tokens")->isEnabled());
    QVERIFY(spin(w, "/workload/rollout/requests/input_tokens")->isEnabled());
    spin(w, "/workload/group_size")->setValue(16);
    QCOMPARE(w.document()->json()["workload"]["group_size"].get<int>(), 16);

    QVERIFY(w.openFile(scenario("llama3-70b-lora-p5-1node")));
    QCOMPARE(qobject_cast<QComboBox*>(form->control("/workload/method"))->currentText(),
             QString("lora"));
    QVERIFY(!form->control("/workload/method")->isHidden());
    spin(w, "/workload/lora/rank")->setValue(64);
    QCOMPARE(w.document()->json()["workload"]["lora"]["rank"].get<int>(), 64);
    // The LoRA knobs are sft's only.
    qobject_cast<QComboBox*>(form->control("/workload/stage"))->setCurrentText("pretrain");
    QVERIFY(form->control("/workload/method")->isHidden());
  }

  void recentFilesListTheLastOpenedFirst() {
    QSettings().remove("recentFiles");
    MainWindow w;
    const QString first = QFileInfo(scenario("llama3-8b-sft-p5-1node")).absoluteFilePath();
    const QString second = QFileInfo(scenario("nccl-p5-1node-all_reduce")).absoluteFilePath();
    QVERIFY(w.openFile(first));
    QVERIFY(w.openFile(second));
    QCOMPARE(QSettings().value("recentFiles").toStringList(), QStringList({second, first}));
    QVERIFY(w.openFile(first));  // moves to the front, once
    QCOMPARE(QSettings().value("recentFiles").toStringList(), QStringList({first, second}));
    QMenu* recent = nullptr;
    for (QMenu* m : w.findChildren<QMenu*>()) {
      if (m->title() == "Open &Recent") recent = m;
    }
    QVERIFY(recent != nullptr);
    QCOMPARE(recent->actions().size(), 2);
    QCOMPARE(recent->actions().first()->toolTip(), first);
  }

  void undoAndRedoStepThroughTheEdits() {
    MainWindow w;
    QVERIFY(w.openFile(scenario("llama3-8b-pretrain-p5-8node")));
    QUndoStack* history = w.document()->undoStack();
    QCOMPARE(history->count(), 0);
    const nlohmann::json loaded = w.document()->json();
    // Typing 1, 16 into the nodes box is one step; the micro-batch is the next.
    spin(w, "/cluster/nodes")->setValue(1);
    spin(w, "/cluster/nodes")->setValue(16);
    spin(w, "/workload/micro_batch")->setValue(2);
    QCOMPARE(history->count(), 2);
    QVERIFY(w.document()->isModified());

    auto* undo = w.findChild<QAction*>("undo");
    QVERIFY(undo != nullptr);
    QCOMPARE(undo->shortcut(), QKeySequence(QKeySequence::Undo));
    undo->trigger();
    QCOMPARE(w.document()->json()["workload"]["micro_batch"].get<int>(), 1);
    QCOMPARE(spin(w, "/workload/micro_batch")->value(), 1);  // the form follows
    QCOMPARE(w.document()->json()["cluster"]["nodes"].get<int>(), 16);
    undo->trigger();
    QCOMPARE(w.document()->json(), loaded);
    QCOMPARE(spin(w, "/cluster/nodes")->value(), 8);
    QVERIFY(w.jsonEditor()->toPlainText().contains("\"nodes\": 8"));
    QVERIFY(!w.document()->isModified());  // back where the file is
    QVERIFY(!w.windowTitle().contains('*'));
    w.findChild<QAction*>("redo")->trigger();
    QCOMPARE(spin(w, "/cluster/nodes")->value(), 16);
    QVERIFY(w.document()->isModified());
    // Opening a file (unmodified again: no question asked) starts a new history.
    undo->trigger();
    QVERIFY(w.openFile(scenario("llama3-8b-sft-p5-1node")));
    QCOMPARE(history->count(), 0);
    QVERIFY(!undo->isEnabled());
  }

  void aDroppedFileOpensAsAScenarioOrAPlan() {
    MainWindow w;
    const auto drop = [&w](const QString& path) {
      QMimeData data;
      data.setUrls({QUrl::fromLocalFile(path)});
      QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &enter);
      if (!enter.isAccepted()) return false;
      QDropEvent event(QPointF(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &event);
      return event.isAccepted();
    };
    QVERIFY(drop(scenario("llama3-70b-lora-p5-1node")));
    QCOMPARE(w.document()->path(), scenario("llama3-70b-lora-p5-1node"));
    QVERIFY(drop(QStringLiteral(FMSIM_SOURCE_DIR "/tests/data/plan-mpi.json")));
    QCOMPARE(w.document()->path(), scenario("llama3-70b-lora-p5-1node"));  // still the scenario
    QCOMPARE(w.findChild<QTabWidget*>("viewTabs")->currentWidget(), w.plan());
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
    QTemporaryDir out;
    QVERIFY(!w.exportResults(out.filePath("none.json"), "json"));  // nothing has run yet
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

    // File > Export results writes what the CLI writes for this report.
    QVERIFY(w.exportResults(out.filePath("r.report.json"), "json"));
    QVERIFY(w.exportResults(out.filePath("r.csv"), "csv"));
    QVERIFY(w.exportResults(out.filePath("r.trace.json"), "trace"));
    QCOMPARE(fmsim::read_json_file(out.filePath("r.report.json").toStdString()),
             fmsim::to_json(report));
    QCOMPARE(fmsim::read_json_file(out.filePath("r.trace.json").toStdString()),
             fmsim::render_trace(report));
    QFile csv(out.filePath("r.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QCOMPARE(csv.readAll().toStdString(), fmsim::render_csv(report));
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
    QCOMPARE(w.runner()->progress(), 1.0);  // every prompt served
    const fmsim::InferenceResult& r = *w.lastReport()->inference;
    // Its two latency objectives (expect) are counted on a card.
    const auto& expectations = w.lastReport()->expectations;
    QCOMPARE(expectations.size(), std::size_t{2});
    const auto failed = std::count_if(expectations.begin(), expectations.end(),
                                      [](const fmsim::ExpectationResult& e) { return !e.ok; });
    QCOMPARE(w.results()->card("Expectations"),
             failed == 0 ? QString("all 2 met") : QString("%1 of 2 failed").arg(failed));
    const auto latencies = w.results()->latencies();
    QCOMPARE(latencies.at("TTFT").second, r.ttft_s.p99);
    QCOMPARE(latencies.at("TPOT").first, r.tpot_s.p50);
    QCOMPARE(latencies.at("end to end").second, r.e2e_s.p99);
    // The load curve: six runs at 0.25 .. 2 x 160 prompts/s; the 1x point is the run above, and
    // queueing makes TTFT p99 grow with the rate.
    QVERIFY(w.runLoadCurve());
    QTRY_VERIFY_WITH_TIMEOUT(w.results()->loadCurve().size() == 6, 120000);
    QCOMPARE(w.runner()->progress(), 1.0);
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
    // FP8 GEMMs run at twice BF16's peak on H100: the step is shorter, which is better (+1),
    // and so is tokens/s; memory per GPU (FP8 weight copies added) is neither better nor worse.
    QVERIFY(second < first);
    QCOMPARE(table->item(step_row, 1)->data(Qt::UserRole + 1).toInt(), 1);
    for (int r = 0; r < table->rowCount(); ++r) {
      const QString name = table->verticalHeaderItem(r)->text();
      if (name == "tokens/s") QCOMPARE(table->item(r, 1)->data(Qt::UserRole + 1).toInt(), 1);
      if (name == "memory per GPU (GiB)" && table->item(r, 1)->data(Qt::UserRole).toBool()) {
        QCOMPARE(table->item(r, 1)->data(Qt::UserRole + 1).toInt(), 0);
      }
    }
    const QLocale before;
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
    QCOMPARE(fmsim::gui::format_metric(508850.4), QString("508,850"));
    QCOMPARE(fmsim::gui::format_metric(16.4853), QString("16.485"));
    QLocale::setDefault(before);
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
    // A mouse click on the first front point's marker in the scatter plot opens its scenario as
    // a new, unsaved document.
    w.resize(1400, 860);
    w.show();
    w.showView(2);
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const fmsim::PlanMetrics& m = result->points[result->front[0]].metrics;
    QChartView* view = plan->chart();
    QScatterSeries* front = nullptr;
    for (QAbstractSeries* s : view->chart()->series()) {
      if (s->name() == "Pareto front") front = qobject_cast<QScatterSeries*>(s);
    }
    QVERIFY(front != nullptr);
    QCOMPARE(front->count(), static_cast<int>(result->front.size()));
    const QPointF in_chart = view->chart()->mapToPosition(QPointF(m.time, m.cost), front);
    const QPoint at = view->mapFromScene(view->chart()->mapToScene(in_chart));
    QVERIFY(view->viewport()->rect().contains(at));
    QTest::mouseClick(view->viewport(), Qt::LeftButton, Qt::NoModifier, at);
    QTRY_VERIFY(w.document()->isModified());
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

  void theChartsFollowTheLightOrDarkPalette() {
    MainWindow w;
    w.show();
    QVERIFY(w.openFile(scenario("llama3-8b-sft-p5-1node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr, 120000);
    const auto charts = w.results()->findChildren<QChartView*>();
    QVERIFY(!charts.isEmpty());
    QChart* chart = charts.first()->chart();
    QVERIFY(!chart->axes().isEmpty());

    fmsim::gui::apply_theme("dark");
    QCoreApplication::processEvents();
    QVERIFY(fmsim::gui::is_dark(w.palette()));
    const QPalette dark = fmsim::gui::dark_palette();
    QCOMPARE(chart->backgroundBrush().color(), dark.color(QPalette::Base));
    QCOMPARE(chart->titleBrush().color(), dark.color(QPalette::WindowText));
    for (QAbstractAxis* axis : chart->axes()) {
      QCOMPARE(axis->labelsColor(), dark.color(QPalette::WindowText));
    }
    QCOMPARE(fmsim::gui::current_theme(), QString("dark"));  // remembered for the next start
    // A chart drawn while dark is dark too.
    QVERIFY(w.openFile(scenario("nccl-p5-1node-all_reduce")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(!w.results()->busbwCurve().empty(), 120000);
    for (QChartView* v : w.results()->findChildren<QChartView*>()) {
      if (v->isVisible())
        QCOMPARE(v->chart()->backgroundBrush().color(), dark.color(QPalette::Base));
    }

    fmsim::gui::apply_theme("light");
    QCoreApplication::processEvents();
    QVERIFY(!fmsim::gui::is_dark(w.palette()));
    QVERIFY(chart->backgroundBrush().color().lightness() > 200);
    QVERIFY(chart->titleBrush().color().lightness() < 100);
    fmsim::gui::apply_theme("system");
    QCOMPARE(fmsim::gui::current_theme(), QString("system"));
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
    // The model's part of the form: one field overridden (upright), the preset's in italics.
    spin(w, "/model/layers")->setValue(96);
    auto* scroll = w.form()->findChild<QScrollArea*>();
    QVERIFY(scroll != nullptr);
    scroll->ensureWidgetVisible(w.form()->control("/workload/parallelism/tp"));
    QTest::qWait(100);
    QVERIFY(w.grab().save(dir + "/gui-form.png"));
    w.form()->resetField("/model/layers");
    scroll->ensureWidgetVisible(w.form()->control("/cluster/instance"));
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
    fmsim::gui::apply_theme("dark");
    QVERIFY(w.openFile(scenario("llama3-70b-pretrain-p5-64node")));
    w.run();
    QTRY_VERIFY_WITH_TIMEOUT(w.lastReport() != nullptr && w.lastReport()->training, 300000);
    QTest::qWait(200);
    QVERIFY(w.grab().save(dir + "/gui-dark.png"));
    fmsim::gui::apply_theme("system");
  }
};

QTEST_MAIN(MainWindowTest)
#include "main_window_qtest.moc"
