// fmsim-gui: the desktop app for planners (issue 9). It calls the same library as the CLI.
#include <QApplication>
#include <QStringList>

#include "main_window.h"
#include "theme.h"
#include "version.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("fmsim");
  QApplication::setApplicationName("fmsim-gui");
  QApplication::setApplicationVersion(fmsim::kVersion);
  // The system's palette, unless View > Theme chose light or dark.
  if (fmsim::gui::current_theme() != "system") fmsim::gui::apply_theme(fmsim::gui::current_theme());
  fmsim::gui::MainWindow window;
  const QStringList args = QApplication::arguments();
  if (args.size() > 1) window.openFile(args.at(1));
  window.show();
  return QApplication::exec();
}
