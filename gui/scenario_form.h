// The form view of a scenario: the cluster, the model, the stage and its knobs, the parallelism.
// Each control edits one JSON pointer of the document; a validation error is shown at the control
// whose pointer it names (or under the form when no control has it).
#pragma once

#include <QString>
#include <QWidget>
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
  // For tests and the status bar: the control that edits `pointer`, and the error shown at it.
  QWidget* control(const QString& pointer) const;
  QString errorAt(const QString& pointer) const;

 private:
  struct Field {
    QString pointer;
    QWidget* widget = nullptr;
    QString tooltip;  // the knob's explanation, restored when the error goes
    QString error;
  };
  void refresh();
  void updateGroups();  // shows the groups of the document's stage
  void edited(const QString& pointer, const nlohmann::json& value);
  QSpinBox* addSpin(QFormLayout* form, const QString& label, const QString& pointer, int min,
                    int max, const QString& tooltip, const QString& special = QString());
  // A number whose minimum shows `absent` and removes the field (its default then applies).
  QDoubleSpinBox* addDouble(QFormLayout* form, const QString& label, const QString& pointer,
                            double min, double max, int decimals, const QString& suffix,
                            const QString& tooltip, const QString& absent);
  QComboBox* addCombo(QFormLayout* form, const QString& label, const QString& pointer,
                      const QStringList& items, const QString& tooltip);
  QString modelPointer() const;

  ScenarioDocument* document_;
  std::vector<Field> fields_;
  QLabel* unplaced_ = nullptr;  // an error no control shows
  // Groups shown only for some stages.
  QGroupBox* training_ = nullptr;
  QGroupBox* parallel_ = nullptr;
  QGroupBox* collective_ = nullptr;
  QGroupBox* serving_ = nullptr;
};

}  // namespace fmsim::gui
