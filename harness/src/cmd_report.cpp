// annbench report RESULTS [--out FILE]: one self-contained HTML page (plots, sortable run table,
// reproducibility of every run), by plots/report.py.
// annbench export RESULTS [--out FILE]: every run of every dataset in one CSV, by plots/export.py.

#include "commands.h"
#include "python_script.h"

namespace annbench {

int report_command(const std::vector<std::string>& args) {
  return run_python_script("report", "plots/report.py", args);
}

int export_command(const std::vector<std::string>& args) {
  return run_python_script("export", "plots/export.py", args);
}

}  // namespace annbench
