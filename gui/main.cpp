// fmsim-gui: the desktop app for planners (issue 9). It calls the same library as the CLI.
#include <QApplication>
#include <QCommandLineParser>
#include <QStringList>

#include "main_window.h"
#include "plan_view.h"
#include "theme.h"
#include "version.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("fmsim");
  QApplication::setApplicationName("fmsim-gui");
  QApplication::setApplicationVersion(fmsim::kVersion);

  QCommandLineParser parser;
  parser.setApplicationDescription(
      "fmsim-gui: open, edit, run, compare and plan fmsim scenarios (docs/gui.md).");
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument("scenario", "A scenario file to open.", "[scenario.json]");
  const QCommandLineOption plan("plan", "A plan file to open in the Plan view.", "plan.json");
  const QCommandLineOption theme(
      "theme", "system, light or dark for this start (View > Theme keeps one).", "theme");
  parser.addOption(plan);
  parser.addOption(theme);
  parser.process(app);  // --help and --version print and exit here

  // The system's palette, unless View > Theme (or --theme, not remembered) chose light or dark.
  const QString look = parser.isSet(theme) ? parser.value(theme) : fmsim::gui::current_theme();
  if (!QStringList{"system", "light", "dark"}.contains(look)) {
    qCritical("fmsim-gui: --theme: expected system, light or dark, not \"%s\"", qPrintable(look));
    return 2;  // bad input, as the CLI's exit codes
  }
  if (look != "system") fmsim::gui::apply_theme(look, /*remember=*/false);
  fmsim::gui::MainWindow window;
  const QStringList args = parser.positionalArguments();
  if (!args.isEmpty()) window.openFile(args.first());
  if (parser.isSet(plan) && window.plan()->openPlan(parser.value(plan))) window.showView(2);
  window.show();
  return QApplication::exec();
}
