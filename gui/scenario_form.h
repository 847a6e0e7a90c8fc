// The form view of a scenario: the cluster (instance, nodes, network, storage, reliability,
// pricing), the model (a preset, a preset with some fields changed, or a custom model), the stage
// and its knobs, the parallelism. Each control edits one JSON pointer of the document; a field the
// document lacks shows its default (or the preset's value) in italics, and "Reset to default" in a
// control's context menu removes it again. A validation error is shown at the control whose
// pointer it names (or under the form when no control has it).
#pragma once

#include <QString>
#include <QStringList>
#include <QWidget>
#include <nlohmann/json.hpp>
#include <vector>

#include "scenario_document.h"

class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QFormLayout;
class QLabel;
class QSpinBox;

namespace fmsim::gui {

class ScenarioForm : public QWidget {
  Q_OBJECT

 public:
  ScenarioForm(ScenarioDocument* document, QWidget* parent = nullptr);

  // Marks the controls whose pointer is `validation.pointer`, inside it or above it; clears the
  // marks when it is ok. Returns whether a control took the error.
  bool showValidation(const Validation& validation);
  // For tests and the status bar: the control that edits `pointer` (the one the current stage
  // shows, where two stages have a control for the same field), and the error shown at it.
  QWidget* control(const QString& pointer) const;
  QString errorAt(const QString& pointer) const;
  // The error written under the form when no control the stage shows can take it ("" when none).
  QString unplacedError() const;
  // Whether the control shows a value the document does not hold: the field's default, or the
  // model preset's value.
  bool isInherited(const QString& pointer) const;
  // Removes the field so that its default applies (what a control's "Reset to default" does;
  // ScenarioDocument::removeValue).
  void resetField(const QString& pointer);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  // What the lowest value of a spin box stands for.
  enum class Absent {
    kNone,    // nothing: it is an ordinary value
    kAuto,    // writes "auto"
    kRemove,  // removes the field, so that its default applies
  };
  // What a combo box writes.
  enum class Kind { kText, kNumber, kBool };
  struct Field {
    QString pointer;
    QWidget* widget = nullptr;
    QFormLayout* form = nullptr;
    unsigned stages = 0;  // the stages that show it (bits of the stage names)
    QString tooltip;      // the knob's explanation, restored when the error goes
    double fallback = 0;  // what a spin box shows while the field is absent
    QString error;
    bool inherited = false;
  };
  struct Group {
    QGroupBox* box = nullptr;
    QFormLayout* form = nullptr;
    unsigned stages = 0;
  };

  void beginGroup(const QString& title, unsigned stages);
  QWidget* addRow(const QString& label, const QString& pointer, QWidget* widget,
                  const QString& tooltip, unsigned stages, double fallback = 0);
  QSpinBox* addSpin(const QString& label, const QString& pointer, int min, int max, double fallback,
                    const QString& tooltip, Absent absent = Absent::kNone,
                    const QString& special = QString(), const QString& suffix = QString(),
                    unsigned stages = 0);
  // A number whose minimum shows `absent` and removes the field (its default then applies).
  QDoubleSpinBox* addDouble(const QString& label, const QString& pointer, double min, double max,
                            int decimals, const QString& suffix, const QString& tooltip,
                            const QString& absent, unsigned stages = 0);
  QComboBox* addCombo(const QString& label, const QString& pointer, const QStringList& items,
                      const QString& tooltip, Kind kind = Kind::kText, unsigned stages = 0);

  void refresh(const QWidget* skip = nullptr);
  void refreshField(Field& field, const nlohmann::json& doc, const nlohmann::json& model);
  void updateGroups();  // shows the rows and groups of the document's stage
  unsigned currentStage() const;
  void setField(const QString& pointer, const nlohmann::json& value, QWidget* from);
  void chooseModel(const QString& choice, QWidget* from);
  void chooseFsx(const QString& deployment, QWidget* from);
  const Field* find(const QString& pointer) const;

  ScenarioDocument* document_;
  std::vector<Field> fields_;
  std::vector<Group> groups_;
  QLabel* unplaced_ = nullptr;  // an error no control shows
  QWidget* editing_ = nullptr;  // the control whose edit is being applied (not refreshed)
};

}  // namespace fmsim::gui
