// The scenario being edited: its JSON document, the file it came from, whether it has unsaved
// changes, and its validation by the same functions the CLI uses (parse_scenario, check_feasible).
#pragma once

#include <QObject>
#include <QString>
#include <nlohmann/json.hpp>

namespace fmsim::gui {

// The first problem validation found: the JSON pointer it names ("" when none) and what was
// expected; `code` is the CLI's exit code for it (2 bad input, 3 infeasible).
struct Validation {
  bool ok = true;
  QString pointer;
  QString message;
  int code = 0;
};

class ScenarioDocument : public QObject {
  Q_OBJECT

 public:
  explicit ScenarioDocument(QObject* parent = nullptr);

  const nlohmann::json& json() const { return document_; }
  QString path() const { return path_; }
  // The folder relative file names in the scenario resolve against ("" before a save).
  QString baseDir() const;
  bool isModified() const { return modified_; }
  QString displayName() const;

  // Replaces the whole document (from the JSON view, or File > New); `origin` is the editor that
  // made the change, so that it does not refresh itself.
  void setJson(const nlohmann::json& document, const QObject* origin = nullptr);
  // Sets one field, creating missing objects on the way (fmsim::set_at_pointer).
  void setValue(const QString& pointer, const nlohmann::json& value, const QObject* origin);
  // Removes one field (so that its default applies); nothing when it is not there.
  void removeValue(const QString& pointer, const QObject* origin);

  // Throws fmsim::Error naming the path (and line and column for a syntax error).
  void load(const QString& path);
  // Writes the document; throws fmsim::Error naming the path when it cannot.
  void save(const QString& path);
  void newFromDefault();
  // Takes `document` as a new, unsaved scenario (a plan's point): no path, marked modified.
  void adopt(const nlohmann::json& document);

  Validation validate() const;

 signals:
  void changed(const QObject* origin);
  void modifiedChanged(bool modified);

 private:
  void setModified(bool modified);

  nlohmann::json document_;
  QString path_;
  bool modified_ = false;
};

}  // namespace fmsim::gui
