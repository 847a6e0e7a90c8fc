// The catalog browser: GPUs and instances with their figures, each cell's source (the catalog's
// source id, title and URL) in its tooltip, and the sources themselves.
#pragma once

#include <QWidget>

class QTableWidget;

namespace fmsim {
class Catalog;
}

namespace fmsim::gui {

class CatalogView : public QWidget {
  Q_OBJECT

 public:
  explicit CatalogView(const Catalog& catalog, QWidget* parent = nullptr);

  QTableWidget* gpuTable() const { return gpus_; }
  QTableWidget* instanceTable() const { return instances_; }

 private:
  QTableWidget* gpus_;
  QTableWidget* instances_;
  QTableWidget* sources_;
};

}  // namespace fmsim::gui
