#include "scenario_document.h"

#include <QFileInfo>
#include <QSaveFile>
#include <exception>

#include "error.h"
#include "hardware/catalog.h"
#include "scenario/scenario.h"
#include "workload/run.h"

namespace fmsim::gui {

ScenarioDocument::ScenarioDocument(QObject* parent) : QObject(parent) { newFromDefault(); }

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

void ScenarioDocument::setJson(const nlohmann::json& document, const QObject* origin) {
  if (document == document_) return;
  document_ = document;
  setModified(true);
  emit changed(origin);
}

void ScenarioDocument::setValue(const QString& pointer, const nlohmann::json& value,
                                const QObject* origin) {
  nlohmann::json next = document_;
  set_at_pointer(next, pointer.toStdString(), value);
  setJson(next, origin);
}

void ScenarioDocument::removeValue(const QString& pointer, const QObject* origin) {
  const nlohmann::json::json_pointer p(pointer.toStdString());
  if (!document_.contains(p)) return;
  nlohmann::json next = document_;
  next.at(p.parent_pointer()).erase(p.back());
  setJson(next, origin);
}

void ScenarioDocument::load(const QString& path) {
  document_ = read_json_file(path.toStdString());
  path_ = path;
  setModified(false);
  emit changed(nullptr);
}

void ScenarioDocument::save(const QString& path) {
  QSaveFile file(path);
  const std::string text = document_.dump(2) + "\n";
  if (!file.open(QIODevice::WriteOnly) ||
      file.write(text.data(), static_cast<qint64>(text.size())) !=
          static_cast<qint64>(text.size()) ||
      !file.commit()) {
    throw Error(ExitCode::kBadInput, path.toStdString(),
                "cannot write: " + file.errorString().toStdString());
  }
  path_ = path;
  setModified(false);
  emit changed(this);
}

void ScenarioDocument::newFromDefault() {
  document_ = default_scenario();
  path_.clear();
  setModified(false);
  emit changed(nullptr);
}

void ScenarioDocument::adopt(const nlohmann::json& document) {
  document_ = document;
  path_.clear();
  modified_ = false;
  setModified(true);
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
