#include "catalog_view.h"

#include <QHeaderView>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include "hardware/catalog.h"

namespace fmsim::gui {
namespace {

QTableWidget* table(const QStringList& headers) {
  auto* t = new QTableWidget(0, static_cast<int>(headers.size()));
  t->setHorizontalHeaderLabels(headers);
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->setSortingEnabled(false);
  t->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  return t;
}

// A cell with `text`, its tooltip the source of `field` (and its note, when the catalog has one).
QTableWidgetItem* cell(const QString& text, const std::map<std::string, std::string>& sources,
                       const std::map<std::string, std::string>& notes, const std::string& field,
                       const Catalog& catalog) {
  auto* item = new QTableWidgetItem(text);
  QString tip;
  if (const auto s = sources.find(field); s != sources.end()) {
    tip = QObject::tr("source: %1").arg(QString::fromStdString(s->second));
    if (const auto ref = catalog.sources().find(s->second); ref != catalog.sources().end()) {
      tip += "\n" + QString::fromStdString(ref->second.title) + "\n" +
             QString::fromStdString(ref->second.url) + " (" +
             QString::fromStdString(ref->second.status) + ")";
    }
  }
  if (const auto n = notes.find(field); n != notes.end()) {
    tip += (tip.isEmpty() ? "" : "\n") + QString::fromStdString(n->second);
  }
  item->setToolTip(tip);
  return item;
}

QString num(double v, int decimals = 0) { return QString::number(v, 'f', decimals); }

}  // namespace

CatalogView::CatalogView(const Catalog& catalog, QWidget* parent) : QWidget(parent) {
  gpus_ = table({tr("GPU"), tr("arch"), tr("BF16 TFLOP/s"), tr("FP8 TFLOP/s"), tr("HBM GiB"),
                 tr("HBM TB/s"), tr("NVLink GB/s"), tr("TDP W")});
  for (const GpuSpec& g : catalog.gpus()) {
    const int row = gpus_->rowCount();
    gpus_->insertRow(row);
    const auto& s = g.sources;
    const auto& n = g.notes;
    gpus_->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(g.name)));
    gpus_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(to_string(g.arch))));
    gpus_->setItem(row, 2, cell(num(g.bf16_flops / 1e12, 1), s, n, "bf16_dense_tflops", catalog));
    gpus_->setItem(row, 3, cell(num(g.fp8_flops / 1e12, 1), s, n, "fp8_dense_tflops", catalog));
    gpus_->setItem(row, 4,
                   cell(num(g.hbm_bytes / (1024.0 * 1024 * 1024)), s, n, "hbm_gib", catalog));
    gpus_->setItem(row, 5, cell(num(g.hbm_bw_bytes_per_s / 1e12, 2), s, n, "hbm_bw_gbps", catalog));
    gpus_->setItem(
        row, 6,
        cell(num(g.nvlink_bw_bytes_per_s / 1e9), s, n, "nvlink_gbps_per_direction", catalog));
    gpus_->setItem(row, 7, cell(num(g.tdp_w), s, n, "tdp_w", catalog));
  }
  instances_ = table({tr("instance"), tr("GPU"), tr("GPUs"), tr("NVLink domain"), tr("EFA"),
                      tr("EFA Gbps"), tr("$/hour"), tr("price date")});
  for (const InstanceSpec& i : catalog.instances()) {
    const int row = instances_->rowCount();
    instances_->insertRow(row);
    const auto& s = i.sources;
    const auto& n = i.notes;
    instances_->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(i.name)));
    instances_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(i.gpu)));
    instances_->setItem(row, 2, cell(num(i.gpus_per_node), s, n, "gpus_per_node", catalog));
    instances_->setItem(row, 3,
                        cell(num(i.nvlink_domain_gpus), s, n, "nvlink_domain_gpus", catalog));
    instances_->setItem(row, 4,
                        cell(num(i.efa_nics) + " x " + QString::fromStdString(i.efa_generation), s,
                             n, "efa_nics", catalog));
    instances_->setItem(row, 5,
                        cell(num(i.efa_bw_bytes_per_s() * 8 / 1e9), s, n, "efa_nic_gbps", catalog));
    instances_->setItem(
        row, 6,
        cell(i.price_usd_per_hour ? num(*i.price_usd_per_hour, 2) : tr("not listed"), s, n,
             "price_usd_per_hour", catalog));
    instances_->setItem(row, 7, new QTableWidgetItem(QString::fromStdString(i.price_date)));
  }
  sources_ = table({tr("id"), tr("status"), tr("title"), tr("URL")});
  for (const auto& [id, ref] : catalog.sources()) {
    const int row = sources_->rowCount();
    sources_->insertRow(row);
    sources_->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(id)));
    sources_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(ref.status)));
    sources_->setItem(row, 2, new QTableWidgetItem(QString::fromStdString(ref.title)));
    sources_->setItem(row, 3, new QTableWidgetItem(QString::fromStdString(ref.url)));
  }
  auto* tabs = new QTabWidget;
  tabs->addTab(instances_, tr("Instances"));
  tabs->addTab(gpus_, tr("GPUs"));
  tabs->addTab(sources_, tr("Sources"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(tabs);
}

}  // namespace fmsim::gui
