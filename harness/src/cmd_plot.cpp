// annbench plot RESULTS [...]: runs plots/plot.py with Debian's Python (which has matplotlib).

#include "commands.h"
#include "python_script.h"

namespace annbench {

int plot_command(const std::vector<std::string>& args) {
  return run_python_script("plot", "plots/plot.py", args);
}

}  // namespace annbench
