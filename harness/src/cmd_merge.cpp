// annbench merge DIR [--config CONFIG [run options]] [--no-plots]: after the shards of a sweep
// have run (a Slurm array, or `run --shard` on several machines sharing DIR), regenerates every
// dataset's summary.csv, lists the failed runs and, given the config, the runs no shard wrote
// (a node that died, a task cancelled), in DIR/merge.txt; then draws the plots and report.

#include "args.h"
#include "commands.h"
#include "config.h"
#include "plugin_loader.h"
#include "results.h"
#include "run_option_args.h"
#include "runner.h"

#include <annbench/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

namespace annbench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMergeUsage =
    R"(usage: annbench merge DIR [--config CONFIG.yaml [run options]] [--no-plots]

Regenerates DIR/<dataset>/summary.csv for every dataset folder under DIR, and writes and prints
DIR/merge.txt: the finished and failed runs (with their reasons) and, with --config, the runs
the sweep plans that no shard wrote (missing). Then draws DIR/plots/ and DIR/report.html.
Exit status 0 when nothing failed or is missing, 3 otherwise.

  --config CONFIG    the sweep the results are from (with the run options it was run with that
                     change the plan: --dataset, --queries, --k, --algorithm, --batch)
  --no-plots         skip the plots and report
run options:
)";

struct FailedRun {
  fs::path file;  // relative to DIR
  std::string reason;
};

// A run file of a dataset folder: <dataset>/<mode folder>/<algorithm>/<slug>.hdf5|.failed.
bool is_run_file(const fs::path& relative, const std::string& extension) {
  return relative.extension() == extension && std::distance(relative.begin(), relative.end()) == 4;
}

// Why a run failed, as its .failed file records it.
std::string failure_reason(const fs::path& file) {
  try {
    const RunRecord record = read_run_summary(file);
    return record.error.empty() ? std::string("(no reason recorded)") : record.error;
  } catch (const std::exception& error) {
    return fmt::format("(unreadable: {})", error.what());
  }
}

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + fmt::format(".tmp{}", ::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    out.close();
    ANNBENCH_CHECK(out.good(), "annbench merge: could not write {}", temporary.string());
  }
  fs::rename(temporary, path);
}

}  // namespace

int merge_command(const std::vector<std::string>& argv_in) {
  const std::string usage = std::string(kMergeUsage) + kForwardedRunOptionsUsage;
  for (const auto& arg : argv_in) {
    if (arg == "--help" || arg == "-h") throw HelpRequested{usage};
  }
  std::vector<std::string> argv = argv_in;
  ForwardedRunOptions run = take_run_options(argv, "annbench merge");
  const Args args(argv, {"config"}, {"no-plots"}, "annbench merge", usage);
  args.expect_positionals(1, 1, "annbench merge DIR [--config CONFIG.yaml] (see --help)");
  const fs::path root = args.positionals()[0];
  ANNBENCH_CHECK(fs::is_directory(root), "annbench merge: '{}' is not a folder", root.string());
  const auto config_file = args.get("config");
  ANNBENCH_CHECK(config_file || run.all.empty(),
                 "annbench merge: run options ({}) need --config: they say which runs the "
                 "config plans",
                 run.all.front());

  // Dataset folders: those holding run files. slurm/ (scripts, logs) and plots/ hold none.
  std::vector<std::string> datasets;
  std::size_t finished = 0;
  std::vector<FailedRun> failed;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    bool has_runs = false;
    std::vector<fs::path> files;
    for (const auto& file : fs::recursive_directory_iterator(entry.path())) {
      if (file.is_regular_file()) files.push_back(fs::relative(file.path(), root));
    }
    std::sort(files.begin(), files.end());
    for (const auto& relative : files) {
      if (is_run_file(relative, ".hdf5")) {
        ++finished;
        has_runs = true;
      } else if (is_run_file(relative, ".failed")) {
        failed.push_back({relative, failure_reason(root / relative)});
        has_runs = true;
      }
    }
    if (has_runs) datasets.push_back(entry.path().filename().string());
  }
  std::sort(datasets.begin(), datasets.end());
  for (const auto& dataset : datasets) write_summary(root, dataset);

  std::optional<std::vector<fs::path>> missing;
  std::size_t planned = 0;
  if (config_file) {
    const SweepConfig config = load_sweep_config(*config_file);
    const ModuleRegistry registry(default_module_directories());
    run.options.results_root = root;
    missing.emplace();
    for (const fs::path& file : planned_run_files(config, registry, run.options)) {
      ++planned;
      fs::path failed_twin = file;
      failed_twin.replace_extension(".failed");
      if (!fs::exists(file) && !fs::exists(failed_twin))
        missing->push_back(fs::relative(file, root));
    }
  }

  std::string text =
      fmt::format("annbench merge {}\n", fs::absolute(root).lexically_normal().string());
  text += fmt::format("datasets: {}\nfinished runs: {}\nfailed runs: {}\n", datasets.size(),
                      finished, failed.size());
  if (missing) {
    text += fmt::format("missing runs: {} (of {} planned by {})\n", missing->size(), planned,
                        *config_file);
  } else {
    text += "missing runs: not checked (no --config)\n";
  }
  if (!failed.empty()) {
    text += "\nfailed:\n";
    for (const auto& run_failed : failed)
      text += fmt::format("  {}: {}\n", run_failed.file.string(), run_failed.reason);
  }
  if (missing && !missing->empty()) {
    text += "\nmissing:\n";
    for (const auto& file : *missing) text += fmt::format("  {}\n", file.string());
  }
  write_atomically(root / "merge.txt", text);
  fmt::print("{}", text);
  std::fflush(stdout);

  if (!args.flag("no-plots") && !datasets.empty()) {
    // The merge's verdict is about the runs; a plot that cannot be drawn is only reported.
    if (plot_command({root.string()}) != 0)
      fmt::print(stderr, "annbench merge: the plots failed (see above)\n");
    if (report_command({root.string()}) != 0)
      fmt::print(stderr, "annbench merge: the report failed (see above)\n");
  }
  return failed.empty() && (!missing || missing->empty()) ? 0 : 3;
}

}  // namespace annbench
