// The scenario being edited: its JSON document, the file it came from, whether it has unsaved
// changes, its undo history (a QUndoStack of whole-document changes; consecutive edits of the same
// field within two seconds are one step), and its validation by the same functions the CLI uses
// (parse_scenario, check_feasible).
#pragma once

#include <QObject>
#include <QString>
#include <nlohmann/json.hpp>

class QUndoStack;

namespace fmsim::gui {

// Writes `text` to `path` atomically (QSaveFile: the old file stays whole until the new one is
// complete). Returns "" or what went wrong.
QString write_text_file(const QString& path, const std::string& text);

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
  // made the change, so that it does not refresh itself. The change is one undo step, merged
  // with the step before when both carry the same non-empty `merge` key (a field's pointer) and
  // follow each other within two seconds.
  void setJson(const nlohmann::json& document, const QObject* origin = nullptr,
               const QString& merge = QString());
  // Sets one field, creating missing objects on the way (fmsim::set_at_pointer); merged with the
  // edit before when that set the same field.
  void setValue(const QString& pointer, const nlohmann::json& value, const QObject* origin);
  // Removes one field (so that its default applies), and the objects that leaves empty below the
  // top level ("cluster" and "workload" stay); a model left with only its preset becomes the
  // preset's name again. Nothing when the field is not there.
  void removeValue(const QString& pointer, const QObject* origin);

  // Throws fmsim::Error naming the path (and line and column for a syntax error).
  void load(const QString& path);
  // Writes the document; throws fmsim::Error naming the path when it cannot.
  void save(const QString& path);
  void newFromDefault();
  // Takes `document` as a new, unsaved scenario (a plan's point): no path, marked modified.
  void adopt(const nlohmann::json& document);

  Validation validate() const;

  // Edit > Undo and Redo. Loading, New and a plan's point start a new history; saving marks the
  // current step as the saved one (undoing back to it is "not modified").
  QUndoStack* undoStack() const { return undo_; }

 signals:
  void changed(const QObject* origin);
  void modifiedChanged(bool modified);

 private:
  friend class DocumentChange;
  // Makes `document` current and says so; the undo commands' way in.
  void apply(const nlohmann::json& document, const QObject* origin);
  void startHistory(bool modified);
  void setModified(bool modified);

  nlohmann::json document_;
  QString path_;
  bool modified_ = false;
  bool unsaved_origin_ = false;  // modified whatever the history says: a plan's point, unsaved
  QUndoStack* undo_;
};

}  // namespace fmsim::gui
