#include "theme.h"

#include <QAbstractAxis>
#include <QApplication>
#include <QChart>
#include <QChartView>
#include <QLegend>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>
#include <QWidget>

namespace fmsim::gui {
namespace {

// The style the application started with: what "system" goes back to.
const QString& system_style() {
  static const QString name = QApplication::style()->name();
  return name;
}

void set_style(const QString& name) {
  if (QApplication::style()->name().compare(name, Qt::CaseInsensitive) != 0) {
    QApplication::setStyle(QStyleFactory::create(name));
  }
}

}  // namespace

bool is_dark(const QPalette& palette) {
  return palette.color(QPalette::Window).lightness() <
         palette.color(QPalette::WindowText).lightness();
}

QPalette dark_palette() {
  QPalette p;
  const QColor window(0x2b, 0x2d, 0x30);
  const QColor base(0x1e, 0x1f, 0x22);
  const QColor text(0xdf, 0xe1, 0xe5);
  const QColor disabled(0x7a, 0x7e, 0x85);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, window);
  p.setColor(QPalette::ToolTipBase, QColor(0x3c, 0x3f, 0x41));
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::PlaceholderText, disabled);
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor(0x3c, 0x3f, 0x41));
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::white);
  p.setColor(QPalette::Light, QColor(0x4e, 0x51, 0x57));
  p.setColor(QPalette::Midlight, QColor(0x43, 0x45, 0x4a));
  p.setColor(QPalette::Mid, QColor(0x5a, 0x5d, 0x63));
  p.setColor(QPalette::Dark, QColor(0x19, 0x1a, 0x1c));
  p.setColor(QPalette::Shadow, Qt::black);
  p.setColor(QPalette::Highlight, QColor(0x2f, 0x65, 0xca));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Link, QColor(0x58, 0x9d, 0xf6));
  p.setColor(QPalette::LinkVisited, QColor(0xa7, 0x8b, 0xfa));
  for (QPalette::ColorRole role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText}) {
    p.setColor(QPalette::Disabled, role, disabled);
  }
  return p;
}

void style_chart(QChart* chart, const QPalette& palette) {
  const QColor text = palette.color(QPalette::WindowText);
  QColor grid = palette.color(QPalette::Mid);
  chart->setBackgroundBrush(palette.brush(QPalette::Base));
  chart->setBackgroundPen(QPen(palette.color(QPalette::Mid)));
  chart->setTitleBrush(text);
  chart->legend()->setLabelColor(text);
  for (QAbstractAxis* axis : chart->axes()) {
    axis->setLabelsColor(text);
    axis->setTitleBrush(text);
    axis->setLinePenColor(grid);
    axis->setGridLineColor(grid);
    grid.setAlpha(90);
    axis->setMinorGridLineColor(grid);
    grid.setAlpha(255);
  }
}

void style_charts(QWidget* root) {
  // The root's palette: a palette change reaches the parent before its children.
  const QPalette& palette = root->palette();
  for (QChartView* view : root->findChildren<QChartView*>()) {
    view->setBackgroundBrush(palette.brush(QPalette::Window));
    style_chart(view->chart(), palette);
  }
}

QColor better_background() { return {34, 197, 94, 80}; }
QColor worse_background() { return {239, 68, 68, 80}; }
QColor increase_background() { return {245, 180, 0, 80}; }
QColor decrease_background() { return {59, 130, 246, 80}; }

QString banner_style(const QPalette& palette) {
  return is_dark(palette) ? "background: #5c1f1f; color: #ffd9d6; padding: 4px;"
                          : "background: #fbe3e4; color: #8a1f11; padding: 4px;";
}

void apply_theme(const QString& theme, bool remember) {
  const QString& system = system_style();
  if (theme == "dark" || theme == "light") {
    set_style("Fusion");  // draws any palette faithfully
    QApplication::setPalette(theme == "dark" ? dark_palette()
                                             : QApplication::style()->standardPalette());
  } else {
    set_style(system);
    QApplication::setPalette(QPalette());  // no role set: every colour from the platform
  }
  if (remember)
    QSettings().setValue("theme", theme == "dark" || theme == "light" ? theme : "system");
}

QString current_theme() { return QSettings().value("theme", "system").toString(); }

}  // namespace fmsim::gui
