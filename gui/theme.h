// Light and dark: fmsim-gui takes the system's palette (Qt follows the desktop's colour scheme)
// unless View > Theme picks one, and draws what it paints itself (charts, highlights, the error
// banner) from the palette in use, so that both read well.
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

QT_BEGIN_NAMESPACE
class QChart;
class QWidget;
QT_END_NAMESPACE

namespace fmsim::gui {

// Whether the palette's windows are dark (the window colour is darker than its text).
bool is_dark(const QPalette& palette);
// A dark palette for Qt's Fusion style (View > Theme > Dark).
QPalette dark_palette();

// Colours the chart's background, title, legend and axes from `palette`; the series keep theirs.
void style_chart(QChart* chart, const QPalette& palette);
// Does so for every chart inside `root`, with the root's palette.
void style_charts(QWidget* root);

// Translucent backgrounds (readable on light and dark bases) for a value that is better or worse
// than the one it is compared with, or went up or down where neither is better.
QColor better_background();
QColor worse_background();
QColor increase_background();
QColor decrease_background();
// The style sheet of the error banner above the editor.
QString banner_style(const QPalette& palette);

// View > Theme: "system", "light" or "dark", kept in QSettings ("theme") when `remember`. The
// system's palette is the platform's, and the style the application started with.
void apply_theme(const QString& theme, bool remember = true);
QString current_theme();

}  // namespace fmsim::gui
