#include "scenario_form.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>
#include <cmath>

#include "hardware/catalog.h"
#include "model/model.h"

namespace fmsim::gui {
namespace {

const char* kErrorStyle = "border: 2px solid #d0312d; border-radius: 3px;";

QStringList instance_names() {
  QStringList names;
  for (const InstanceSpec& i : Catalog::builtin().instances()) {
    names << QString::fromStdString(i.name);
  }
  return names;
}

QStringList preset_names() {
  QStringList names;
  for (const std::string& n : model_preset_names()) names << QString::fromStdString(n);
  return names;
}

const nlohmann::json* at(const nlohmann::json& doc, const QString& pointer) {
  try {
    const nlohmann::json::json_pointer p(pointer.toStdString());
    return doc.contains(p) ? &doc.at(p) : nullptr;
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// The pointer a control edits covers an error at `error` when one is inside the other.
bool related(const QString& control, const QString& error) {
  if (error.isEmpty()) return false;
  return control == error || control.startsWith(error + "/") || error.startsWith(control + "/");
}

}  // namespace

ScenarioForm::ScenarioForm(ScenarioDocument* document, QWidget* parent)
    : QWidget(parent), document_(document) {
  auto* inner = new QWidget;
  auto* column = new QVBoxLayout(inner);

  auto* cluster = new QGroupBox(tr("Cluster"));
  auto* cf = new QFormLayout(cluster);
  addCombo(cf, tr("Instance"), "/cluster/instance", instance_names(),
           tr("AWS instance type from the catalog: its GPUs, NVLink domain, EFA and price"));
  addSpin(cf, tr("Nodes"), "/cluster/nodes", 1, 1'000'000,
          tr("Number of instances; GPUs = nodes x GPUs per instance"));
  addDouble(cf, tr("Oversubscription"), "/cluster/network/oversubscription", 1, 1e6, 2, "",
            tr("Leaf downlink : uplink capacity of the fat tree; 1 is non-blocking"),
            tr("default (1)"));
  addCombo(cf, tr("Pricing"), "/cluster/pricing/model", {"on-demand", "reserved", "capacity-block"},
           tr("How the cluster is paid for; the catalog has on-demand prices"));
  addDouble(cf, tr("Price per GPU-hour"), "/cluster/pricing/usd_per_gpu_hour", 0, 1e6, 2, " $",
            tr("Overrides the catalog's price (reserved or negotiated), dollars per GPU-hour"),
            tr("catalog"));
  column->addWidget(cluster);

  auto* model = new QGroupBox(tr("Model"));
  auto* mf = new QFormLayout(model);
  addCombo(mf, tr("Preset"), "/model", preset_names(),
           tr("A model preset (sim/model); a custom model is edited in the JSON view"));
  column->addWidget(model);

  auto* stage = new QGroupBox(tr("Stage"));
  auto* sf = new QFormLayout(stage);
  addCombo(sf, tr("Stage"), "/workload/stage", {"pretrain", "sft", "rl", "inference", "collective"},
           tr("pretrain and sft simulate a training step; rl a rollout/train iteration; "
              "inference a serving run; collective an nccl-tests sweep"));
  column->addWidget(stage);

  collective_ = new QGroupBox(tr("Collective"));
  auto* kf = new QFormLayout(collective_);
  addCombo(kf, tr("Operation"), "/workload/op",
           {"all_reduce", "all_gather", "reduce_scatter", "alltoall", "broadcast", "sendrecv"},
           tr("The collective, as nccl-tests' *_perf binary"));
  addDouble(kf, tr("Largest size"), "/workload/max_bytes", 1, 1e15, 0, " B",
            tr("Largest size of the sweep in bytes [-e]"), tr("default (8 GiB)"));
  column->addWidget(collective_);

  serving_ = new QGroupBox(tr("Serving"));
  auto* vf = new QFormLayout(serving_);
  addDouble(vf, tr("Request rate"), "/workload/requests/rate_per_s", 0.01, 1e9, 2, " /s",
            tr("Prompts per second (Poisson arrivals)"), tr("default (1)"));
  addSpin(vf, tr("Max batch"), "/workload/batching/max_batch", 1, 1'048'576,
          tr("Sequences running at once per replica (sequences)"));
  column->addWidget(serving_);

  auto* workload = new QGroupBox(tr("Training"));
  training_ = workload;
  auto* wf = new QFormLayout(workload);
  addSpin(wf, tr("Sequence length"), "/workload/seq_len", 1, 16'777'216,
          tr("Tokens per sequence (tokens)"));
  addSpin(wf, tr("Global batch"), "/workload/global_batch", 1, 1'073'741'824,
          tr("Sequences per optimizer step (sequences)"));
  addSpin(wf, tr("Micro-batch"), "/workload/micro_batch", 1, 1'048'576,
          tr("Sequences per micro-batch (sequences)"));
  addCombo(wf, tr("Precision"), "/workload/precision", {"bf16", "fp16", "fp8"},
           tr("GEMM precision: the tensor-core peak the step runs at"));
  column->addWidget(workload);

  auto* parallel = new QGroupBox(tr("Parallelism"));
  parallel_ = parallel;
  auto* pf = new QFormLayout(parallel);
  const QString p = "/workload/parallelism/";
  addSpin(pf, tr("Tensor (tp)"), p + "tp", 1, 1024,
          tr("Tensor-parallel GPUs: split each layer's GEMMs (within the NVLink domain)"));
  addSpin(pf, tr("Pipeline (pp)"), p + "pp", 1, 1024, tr("Pipeline stages: split the layers"));
  addSpin(pf, tr("Context (cp)"), p + "cp", 1, 1024,
          tr("Context-parallel GPUs: split each sequence"));
  addSpin(pf, tr("Expert (ep)"), p + "ep", 1, 1024,
          tr("Expert-parallel GPUs (MoE models): split the experts"));
  addSpin(pf, tr("Data (dp)"), p + "dp", 0, 1'000'000,
          tr("Data-parallel replicas; auto = GPUs / (tp x pp x cp)"), tr("auto"));
  addCombo(pf, tr("ZeRO"), p + "zero", {"0", "1", "2", "3"},
           tr("ZeRO stage: 1 shards optimizer state, 2 also gradients, 3 also weights"));
  addCombo(pf, tr("Recompute"), p + "recompute", {"none", "selective", "full"},
           tr("Activation recomputation: memory against extra forward work"));
  column->addWidget(parallel);

  unplaced_ = new QLabel;
  unplaced_->setWordWrap(true);
  unplaced_->setStyleSheet("color: #d0312d;");
  unplaced_->hide();
  column->addWidget(unplaced_);
  column->addStretch();

  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setWidget(inner);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(scroll);

  connect(document_, &ScenarioDocument::changed, this, [this](const QObject* origin) {
    if (origin != this) {
      refresh();
    } else {
      updateGroups();
    }
  });
  refresh();
}

QSpinBox* ScenarioForm::addSpin(QFormLayout* form, const QString& label, const QString& pointer,
                                int min, int max, const QString& tooltip, const QString& special) {
  auto* spin = new QSpinBox;
  spin->setRange(min, max);
  spin->setGroupSeparatorShown(true);
  spin->setKeyboardTracking(true);
  if (!special.isEmpty()) spin->setSpecialValueText(special);
  spin->setToolTip(tooltip);
  spin->setAccessibleName(pointer);
  form->addRow(label, spin);
  fields_.push_back({pointer, spin, tooltip, {}});
  connect(spin, qOverload<int>(&QSpinBox::valueChanged), this,
          [this, pointer, spin, special](int v) {
            if (!special.isEmpty() && v == spin->minimum()) {
              edited(pointer, "auto");
            } else {
              edited(pointer, v);
            }
          });
  return spin;
}

QDoubleSpinBox* ScenarioForm::addDouble(QFormLayout* form, const QString& label,
                                        const QString& pointer, double min, double max,
                                        int decimals, const QString& suffix, const QString& tooltip,
                                        const QString& absent) {
  auto* spin = new QDoubleSpinBox;
  spin->setDecimals(decimals);
  // One step below `min` stands for "absent": the field's default applies.
  const double none = min - std::pow(10.0, -decimals);
  spin->setRange(none, max);
  spin->setSuffix(suffix);
  spin->setSpecialValueText(absent);
  spin->setValue(none);
  spin->setGroupSeparatorShown(true);
  spin->setToolTip(tooltip);
  spin->setAccessibleName(pointer);
  form->addRow(label, spin);
  fields_.push_back({pointer, spin, tooltip, {}});
  connect(spin, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          [this, pointer, spin](double v) {
            if (v <= spin->minimum()) {
              document_->removeValue(pointer, this);
            } else {
              edited(pointer, v);
            }
          });
  return spin;
}

QComboBox* ScenarioForm::addCombo(QFormLayout* form, const QString& label, const QString& pointer,
                                  const QStringList& items, const QString& tooltip) {
  auto* combo = new QComboBox;
  combo->addItems(items);
  combo->setPlaceholderText(tr("default"));  // shown while the field is absent
  combo->setToolTip(tooltip);
  combo->setAccessibleName(pointer);
  form->addRow(label, combo);
  fields_.push_back({pointer, combo, tooltip, {}});
  connect(combo, &QComboBox::currentTextChanged, this, [this, pointer](const QString& text) {
    if (pointer.endsWith("/zero")) {
      edited(pointer, text.toInt());
    } else if (pointer == "/model") {
      edited(modelPointer(), text.toStdString());
    } else {
      edited(pointer, text.toStdString());
    }
  });
  return combo;
}

// "model" is a preset name, or an object whose "preset" the form edits.
QString ScenarioForm::modelPointer() const {
  const nlohmann::json& doc = document_->json();
  if (doc.contains("model") && doc["model"].is_object()) return "/model/preset";
  return "/model";
}

void ScenarioForm::edited(const QString& pointer, const nlohmann::json& value) {
  document_->setValue(pointer, value, this);
}

void ScenarioForm::updateGroups() {
  const nlohmann::json& doc = document_->json();
  // The stage's own knobs only.
  const nlohmann::json* stage = at(doc, "/workload/stage");
  const std::string name =
      stage != nullptr && stage->is_string() ? stage->get<std::string>() : "collective";
  const bool training = name == "pretrain" || name == "sft";
  training_->setVisible(training);
  parallel_->setVisible(training);
  collective_->setVisible(name == "collective");
  serving_->setVisible(name == "inference");
}

void ScenarioForm::refresh() {
  updateGroups();
  const nlohmann::json& doc = document_->json();
  for (const Field& f : fields_) {
    const QString pointer = f.pointer == "/model" ? modelPointer() : f.pointer;
    const nlohmann::json* value = at(doc, pointer);
    const QSignalBlocker block(f.widget);
    if (auto* spin = qobject_cast<QSpinBox*>(f.widget)) {
      if (value != nullptr && value->is_number()) {
        spin->setValue(static_cast<int>(value->get<double>()));
      } else if (value != nullptr && value->is_string() && !spin->specialValueText().isEmpty()) {
        spin->setValue(spin->minimum());  // "auto"
      }
      spin->setEnabled(value == nullptr || value->is_number() ||
                       !spin->specialValueText().isEmpty());
    } else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(f.widget)) {
      dspin->setValue(value != nullptr && value->is_number() ? value->get<double>()
                                                             : dspin->minimum());
    } else if (auto* combo = qobject_cast<QComboBox*>(f.widget)) {
      QString text;
      if (value != nullptr && value->is_string())
        text = QString::fromStdString(value->get<std::string>());
      if (value != nullptr && value->is_number()) text = QString::number(value->get<int>());
      if (value == nullptr) {
        combo->setCurrentIndex(-1);
      } else {
        if (combo->findText(text) < 0) combo->addItem(text);
        combo->setCurrentText(text);
      }
    }
  }
}

bool ScenarioForm::showValidation(const Validation& validation) {
  bool placed = false;
  for (Field& f : fields_) {
    const QString pointer = f.pointer == "/model" ? modelPointer() : f.pointer;
    const bool hit = !validation.ok && (related(pointer, validation.pointer) ||
                                        related(f.pointer, validation.pointer));
    f.error = hit ? validation.message : QString();
    f.widget->setStyleSheet(hit ? kErrorStyle : "");
    f.widget->setToolTip(hit ? validation.pointer + ": " + validation.message : f.tooltip);
    placed = placed || hit;
  }
  if (!validation.ok && !placed) {
    unplaced_->setText((validation.pointer.isEmpty() ? QString() : validation.pointer + ": ") +
                       validation.message);
    unplaced_->show();
  } else {
    unplaced_->hide();
  }
  return placed;
}

QWidget* ScenarioForm::control(const QString& pointer) const {
  for (const Field& f : fields_) {
    if (f.pointer == pointer) return f.widget;
  }
  return nullptr;
}

QString ScenarioForm::errorAt(const QString& pointer) const {
  for (const Field& f : fields_) {
    if (f.pointer == pointer) return f.error;
  }
  return {};
}

}  // namespace fmsim::gui
