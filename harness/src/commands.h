#pragma once
// One function per `annbench` subcommand, each in its own cmd_<name>.cpp. Its argument vector
// excludes the program and subcommand names. Return value is the process exit code; annbench::Error
// thrown from here is printed by main() and exits 1.

#include <string>
#include <vector>

namespace annbench {

// annbench run CONFIG [...]
int run_command(const std::vector<std::string>& argv);
// annbench modules
int modules_command(const std::vector<std::string>& argv);
// annbench dataset prepare|fetch|convert|synthetic|list|info
int dataset_command(const std::vector<std::string>& args);
// annbench groundtruth FILE [--k 100]
int groundtruth_command(const std::vector<std::string>& argv);
// annbench plot RESULTS [...]
int plot_command(const std::vector<std::string>& args);
// annbench compare RESULTS --baseline-algorithm NAME [...]
int compare_command(const std::vector<std::string>& argv);
// annbench check RESULTS --baseline FILE
int check_command(const std::vector<std::string>& argv);
// annbench report RESULTS [--out FILE]
int report_command(const std::vector<std::string>& args);
// annbench runbook make|groundtruth|check ...
int runbook_command(const std::vector<std::string>& argv);
// annbench export RESULTS [--out FILE]
int export_command(const std::vector<std::string>& args);
// annbench slurm submit CONFIG [...]
int slurm_command(const std::vector<std::string>& argv);
// annbench merge DIR [--config CONFIG [...]] [--no-plots]
int merge_command(const std::vector<std::string>& argv);

}  // namespace annbench
