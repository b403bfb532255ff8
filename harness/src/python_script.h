#pragma once
// Runs one of annbench's Python scripts (plots/plot.py, plots/report.py, plots/export.py,
// datasets/cnn_features.py) as a child process.

#include <string>
#include <vector>

namespace annbench {

// Runs <script> (e.g. "plots/plot.py") from <prefix>/share/annbench/ when the binary is installed
// (<prefix>/bin/annbench), else from the source tree this build was made from, with `args` under
// Debian's /usr/bin/python3 (it has matplotlib; a pyenv python3 usually lacks it), or
// $ANNBENCH_PYTHON when set, and waits for it. `command` names the annbench subcommand in messages.
// Returns the script's exit status (1 if it died of a signal).
int run_python_script(const std::string& command, const std::string& script,
                      const std::vector<std::string>& args);

}  // namespace annbench
