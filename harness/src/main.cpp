// annbench: one native process that runs nearest-neighbour benchmark sweeps.

#include "args.h"
#include "commands.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage: annbench COMMAND [ARGS]

commands:
  run CONFIG.yaml [options]    run a sweep (annbench run --help)
  modules                      list the algorithm modules found, with their parameters
  dataset prepare|fetch|convert|synthetic|list|info ...
                               build, download, convert or inspect datasets
  groundtruth FILE [--k 100] [--memory SIZE]
                               (re)compute exact neighbours of a dataset file, train read in
                               blocks that fit in SIZE
  plot RESULTS [options]       draw recall/QPS curves with matplotlib
  compare RESULTS --baseline-algorithm NAME [...]
                               best QPS at recall thresholds vs a baseline (Markdown)
  check RESULTS --baseline F   regression gate: recall, distance counts, QPS relative to brute force
  check --ab BASE_REF          speed gate: BASE_REF and this build, interleaved on this machine
  runbook make|groundtruth|check ...
                               streaming runbooks (mode: streaming)
  report RESULTS [--out F]     one self-contained HTML page: plots, run table, reproducibility
  export RESULTS [--out F]     every run of every dataset in one CSV (default RESULTS/all_runs.csv)
  slurm submit CONFIG.yaml [options]
                               run a sweep as a Slurm job array, then merge (docs/slurm.md)
  merge DIR [--config CONFIG]  summary, failed and missing runs, plots of a sharded sweep

environment:
  ANNBENCH_PLUGIN_PATH  extra module directories (colon-separated)
  ANNBENCH_DATA_DIR     where datasets are looked up and written (default ./data)
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  bool verbose = std::getenv("ANNBENCH_VERBOSE") != nullptr;
  try {
    if (command == "run") return annbench::run_command(args);
    if (command == "modules") return annbench::modules_command(args);
    if (command == "dataset") return annbench::dataset_command(args);
    if (command == "groundtruth") return annbench::groundtruth_command(args);
    if (command == "plot") return annbench::plot_command(args);
    if (command == "compare") return annbench::compare_command(args);
    if (command == "check") return annbench::check_command(args);
    if (command == "report") return annbench::report_command(args);
    if (command == "export") return annbench::export_command(args);
    if (command == "runbook") return annbench::runbook_command(args);
    if (command == "slurm") return annbench::slurm_command(args);
    if (command == "merge") return annbench::merge_command(args);
    fmt::print(stderr, "annbench: unknown command '{}'\n\n{}", command, kUsage);
    return 2;
  } catch (const annbench::HelpRequested& help) {
    std::fputs(help.text.c_str(), stdout);
    if (!help.text.empty() && help.text.back() != '\n') std::fputs("\n", stdout);
    return 0;
  } catch (const annbench::Error& error) {
    fmt::print(stderr, "annbench: error: {}\n", error.what());
    if (verbose && !error.where().empty()) fmt::print(stderr, "  (raised at {})\n", error.where());
    return 1;
  } catch (const std::exception& error) {
    fmt::print(stderr, "annbench: internal error: {}\n", error.what());
    return 1;
  }
}
