#include "scenario_document.h"

#include <QDateTime>
#include <QFileInfo>
#include <QSaveFile>
#include <QUndoCommand>
#include <QUndoStack>
#include <exception>

#include "error.h"
#include "hardware/catalog.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim::gui {

// One undoable change of the whole document.
class DocumentChange : public QUndoCommand {
 public:
  DocumentChange(ScenarioDocument* document, nlohmann::json before, nlohmann::json after,
                 const QObject* origin, QString merge)
      : document_(document),
        before_(std::move(before)),
        after_(std::move(after)),
        origin_(origin),
        merge_(std::move(merge)),
        at_ms_(QDateTime::currentMSecsSinceEpoch()) {
    setText(merge_.isEmpty() ? QObject::tr("edit") : merge_);
  }

  void redo() override {
    // The first time, the editor that made the change already shows it.
    document_->apply(after_, first_ ? origin_ : nullptr);
    first_ = false;
  }
  void undo() override { document_->apply(before_, nullptr); }
  int id() const override { return merge_.isEmpty() ? -1 : 1; }
  bool mergeWith(const QUndoCommand* other) override {
    const auto* next = static_cast<const DocumentChange*>(other);
    if (next->merge_ != merge_ || next->at_ms_ - at_ms_ > kMergeMs) return false;
    after_ = next->after_;
    at_ms_ = next->at_ms_;
    setObsolete(after_ == before_);  // typed back to where it was: no step at all
    return true;
  }

 private:
  static constexpr qint64 kMergeMs = 2000;
  ScenarioDocument* document_;
  nlohmann::json before_;
  nlohmann::json after_;
  const QObject* origin_;
  QString merge_;
  qint64 at_ms_;
  bool first_ = true;
};

ScenarioDocument::ScenarioDocument(QObject* parent) : QObject(parent), undo_(new QUndoStack(this)) {
  connect(undo_, &QUndoStack::cleanChanged, this,
          [this](bool clean) { setModified(unsaved_origin_ || !clean); });
  newFromDefault();
}

QString ScenarioDocument::baseDir() const {
  return path_.isEmpty() ? QString() : QFileInfo(path_).absolutePath();
}

QString ScenarioDocument::displayName() const {
  if (!path_.isEmpty()) return QFileInfo(path_).fileName();
  if (document_.is_object() && document_.contains("name") && document_["name"].is_string()) {
    return QString::fromStdString(document_["name"].get<std::string>());
  }
  return tr("untitled");
}

void ScenarioDocument::setJson(const nlohmann::json& document, const QObject* origin,
                               const QString& merge) {
  if (document == document_) return;
  undo_->push(new DocumentChange(this, document_, document, origin, merge));
}

void ScenarioDocument::apply(const nlohmann::json& document, const QObject* origin) {
  document_ = document;
  emit changed(origin);
}

void ScenarioDocument::startHistory(bool modified) {
  unsaved_origin_ = modified;
  undo_->clear();  // also marks the (empty) history clean
  setModified(modified);
}

void ScenarioDocument::setValue(const QString& pointer, const nlohmann::json& value,
                                const QObject* origin) {
  nlohmann::json next = document_;
  set_at_pointer(next, pointer.toStdString(), value);
  setJson(next, origin, pointer);
}

void ScenarioDocument::removeValue(const QString& pointer, const QObject* origin) {
  const nlohmann::json::json_pointer p(pointer.toStdString());
  if (p.empty() || !document_.contains(p)) return;
  nlohmann::json next = document_;
  next.at(p.parent_pointer()).erase(p.back());
  for (auto parent = p.parent_pointer(); !parent.empty() && !parent.parent_pointer().empty();
       parent = parent.parent_pointer()) {
    const nlohmann::json& object = next.at(parent);
    if (!object.is_object() || !object.empty()) break;
    next.at(parent.parent_pointer()).erase(parent.back());
  }
  if (next.contains("model") && next["model"].is_object() && next["model"].size() == 1 &&
      next["model"].contains("preset")) {
    next["model"] = nlohmann::json(next["model"]["preset"]);
  }
  setJson(next, origin);
}

void ScenarioDocument::load(const QString& path) {
  document_ = read_json_file(path.toStdString());
  path_ = path;
  startHistory(false);
  emit changed(nullptr);
}

QString write_text_file(const QString& path, const std::string& text) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) ||
      file.write(text.data(), static_cast<qint64>(text.size())) !=
          static_cast<qint64>(text.size()) ||
      !file.commit()) {
    return file.errorString().isEmpty() ? QObject::tr("cannot write") : file.errorString();
  }
  return {};
}

void ScenarioDocument::save(const QString& path) {
  const QString error = write_text_file(path, document_.dump(2) + "\n");
  if (!error.isEmpty()) {
    throw Error(ExitCode::kBadInput, path.toStdString(), "cannot write: " + error.toStdString());
  }
  path_ = path;
  unsaved_origin_ = false;
  undo_->setClean();
  setModified(false);
  emit changed(this);
}

void ScenarioDocument::newFromDefault() {
  document_ = default_scenario();
  path_.clear();
  startHistory(false);
  emit changed(nullptr);
}

void ScenarioDocument::adopt(const nlohmann::json& document) {
  document_ = document;
  path_.clear();
  startHistory(true);
  emit changed(nullptr);
}

Validation ScenarioDocument::validate() const {
  Validation v;
  try {
    const Catalog& catalog = Catalog::builtin();
    const Scenario scenario = parse_scenario(document_, catalog, baseDir().toStdString());
    if (scenario.workload.stage == "pretrain" || scenario.workload.stage == "sft") {
      check_feasible(scenario, catalog);
    }
  } catch (const Error& e) {
    v.ok = false;
    v.pointer = QString::fromStdString(e.where());
    v.message = QString::fromStdString(e.message());
    v.code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    v.ok = false;
    v.message = QString::fromStdString(e.what());
    v.code = 70;
  }
  return v;
}

void ScenarioDocument::setModified(bool modified) {
  if (modified_ == modified) return;
  modified_ = modified;
  emit modifiedChanged(modified);
}

}  // namespace fmsim::gui
