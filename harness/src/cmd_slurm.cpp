// annbench slurm submit CONFIG [...]: a sweep as a Slurm job array (one `annbench run --shard
// i/N --isolate` per task) and a merge job that runs after it (cmd_merge.cpp). Both scripts are
// kept beside the results so that they can be edited and re-submitted: a re-submitted array
// measures only what is missing, since `annbench run` skips finished runs.

#include "args.h"
#include "commands.h"
#include "config.h"
#include "plugin_loader.h"
#include "run_option_args.h"
#include "runner.h"

#include <annbench/datasets/registry.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace annbench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSlurmUsage =
    R"(usage: annbench slurm submit CONFIG.yaml [options] [run options] [-- sbatch options]

Submits the sweep as a Slurm job array, task i running `annbench run CONFIG --shard i/N
--isolate`, and a merge job (`annbench merge`) that runs after every task has ended. Both
scripts are written to RESULTS/slurm/ and kept: re-submit the array script with `sbatch` after
a failure and only the missing runs are measured.

  --array N          tasks in the array (default: one per dataset × build point of the plan)
  --partition P      sbatch --partition for both jobs
  --time T           sbatch --time (per task), e.g. 2:00:00
  --mem M            sbatch --mem (per task), e.g. 16G
  --results DIR      output root (default ./results); must be on a filesystem every node sees
  --dry-run          print the scripts and submit nothing
run options, forwarded to every task (and those that change the plan to the merge):
)";

// A word for a bash script: single-quoted, so that nothing in it is expanded, unless it has
// only characters the shell gives no meaning to.
std::string shell_quote(const std::string& text) {
  constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=,./:@%";
  if (!text.empty() && text.find_first_not_of(kPlain) == std::string::npos) return text;
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

// A word of an #SBATCH line: sbatch splits those lines at blanks and honours double quotes,
// but has no escape for a quote inside them.
std::string sbatch_quote(const std::string& text) {
  ANNBENCH_CHECK(text.find_first_of("\"\n") == std::string::npos,
                 "annbench slurm submit: '{}' cannot be written on an #SBATCH line (it holds a "
                 "double quote or a newline)",
                 text);
  if (!text.empty() && text.find_first_of(" \t'\\$`#") == std::string::npos) return text;
  return fmt::format("\"{}\"", text);
}

std::string join_quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    out += ' ';
    out += shell_quote(word);
  }
  return out;
}

// `-- --hold -A acct` becomes the lines "--hold" and "-A acct": an option starts a line, and
// the words after it up to the next option are its values.
std::vector<std::string> sbatch_lines(const std::vector<std::string>& extra) {
  std::vector<std::string> lines;
  for (const auto& word : extra) {
    if (word.rfind('-', 0) == 0 || lines.empty()) {
      lines.push_back(sbatch_quote(word));
    } else {
      lines.back() += ' ';
      lines.back() += sbatch_quote(word);
    }
  }
  return lines;
}

fs::path absolute_path(const fs::path& path) {
  return fs::absolute(path).lexically_normal();
}

// The environment both jobs need: where the datasets and extra modules are, as absolute paths,
// since a job may start anywhere.
std::string environment_lines() {
  const char* data = std::getenv("ANNBENCH_DATA_DIR");
  std::string lines = "export ANNBENCH_DATA_DIR=" +
                      shell_quote(absolute_path(data != nullptr && *data ? data : "data")) + "\n";
  if (const char* plugins = std::getenv("ANNBENCH_PLUGIN_PATH"); plugins != nullptr && *plugins) {
    std::string joined;
    std::stringstream stream(plugins);
    std::string part;
    while (std::getline(stream, part, ':')) {
      if (part.empty()) continue;
      if (!joined.empty()) joined += ':';
      joined += absolute_path(part).string();
    }
    lines += "export ANNBENCH_PLUGIN_PATH=" + shell_quote(joined) + "\n";
  }
  return lines;
}

struct Submission {
  fs::path config, results, binary, slurm_dir;
  std::size_t tasks = 1;
  std::optional<std::string> partition, time, mem;
  std::vector<std::string> extra;  // after `--`
  ForwardedRunOptions run;

  fs::path array_script() const { return slurm_dir / (config.stem().string() + ".array.sbatch"); }
  fs::path merge_script() const { return slurm_dir / (config.stem().string() + ".merge.sbatch"); }

  std::string header(const std::string& job_name, const std::string& output) const {
    std::string text = "#!/bin/bash\n";
    text += "#SBATCH --job-name=" + sbatch_quote(job_name) + "\n";
    text += "#SBATCH --output=" + sbatch_quote((slurm_dir / "logs" / output).string()) + "\n";
    text += "#SBATCH --chdir=" + sbatch_quote(absolute_path(fs::current_path()).string()) + "\n";
    if (partition) text += "#SBATCH --partition=" + sbatch_quote(*partition) + "\n";
    return text;
  }

  std::string array_text() const {
    const std::string name = "annbench-" + config.stem().string();
    std::string text = header(name, "%A_%a.out");
    text += fmt::format("#SBATCH --array=0-{}\n", tasks - 1);
    if (time) text += "#SBATCH --time=" + sbatch_quote(*time) + "\n";
    if (mem) text += "#SBATCH --mem=" + sbatch_quote(*mem) + "\n";
    for (const auto& line : sbatch_lines(extra)) text += "#SBATCH " + line + "\n";
    text += fmt::format(
        "# Written by `annbench slurm submit`: task i runs shard i/{} of the sweep. Re-submitting\n"
        "# this file (sbatch FILE) measures only the runs that are still missing.\n",
        tasks);
    text += "set -euo pipefail\n" + environment_lines();
    text += "exec " + shell_quote(binary.string()) + " run " + shell_quote(config.string()) +
            fmt::format(" --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --isolate --results ", tasks) +
            shell_quote(results.string()) + join_quoted(run.all) + "\n";
    return text;
  }

  std::string merge_text() const {
    const std::string name = "annbench-" + config.stem().string() + "-merge";
    std::string text = header(name, "%j-merge.out");
    text +=
        "# Written by `annbench slurm submit`: summary, failed and missing runs, plots and\n"
        "# report of the array's results, once every task has ended.\n";
    text += "set -euo pipefail\n" + environment_lines();
    text += "exec " + shell_quote(binary.string()) + " merge " + shell_quote(results.string()) +
            " --config " + shell_quote(config.string()) + join_quoted(run.plan) + "\n";
    return text;
  }
};

// The sbatch on PATH, or an error saying which package has it.
fs::path find_sbatch() {
  if (auto found = find_program("sbatch")) return *found;
  throw Error(
      "annbench slurm submit: sbatch is not on PATH; run this on a Slurm login node, or install "
      "Slurm's client tools (Debian: apt-get install slurm-client)");
}

// Runs sbatch --parsable with `arguments`; returns the job id ("123" of "123" or "123;cluster").
std::string sbatch(const fs::path& program, const std::vector<std::string>& arguments,
                   const fs::path& error_file) {
  std::string command = shell_quote(program.string()) + " --parsable" + join_quoted(arguments) +
                        " 2>" + shell_quote(error_file.string());
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  ANNBENCH_CHECK(pipe != nullptr, "annbench slurm submit: could not start {}", program.string());
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  const int status = ::pclose(pipe);
  std::stringstream errors;
  errors << std::ifstream(error_file).rdbuf();
  std::error_code ignored;
  fs::remove(error_file, ignored);
  std::string message = errors.str();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  ANNBENCH_CHECK(status == 0, "annbench slurm submit: sbatch{} failed: {}", join_quoted(arguments),
                 message.empty() ? std::string("(no message)") : message);
  std::string id = output.substr(0, output.find_first_of(";\n"));
  ANNBENCH_CHECK(!id.empty() && id.find_first_not_of("0123456789") == std::string::npos,
                 "annbench slurm submit: sbatch printed no job id: '{}'", output);
  return id;
}

void write_script(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  ANNBENCH_CHECK(out.good(), "annbench slurm submit: could not write {}", path.string());
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
}

int submit(std::vector<std::string> argv) {
  Submission job;
  if (auto dashes = std::find(argv.begin(), argv.end(), "--"); dashes != argv.end()) {
    job.extra.assign(dashes + 1, argv.end());
    argv.erase(dashes, argv.end());
  }
  const std::string usage = std::string(kSlurmUsage) + kForwardedRunOptionsUsage;
  for (const auto& arg : argv) {
    if (arg == "--help" || arg == "-h") throw HelpRequested{usage};
  }
  job.run = take_run_options(argv, "annbench slurm submit");
  const Args args(argv, {"array", "partition", "time", "mem", "results"}, {"dry-run"},
                  "annbench slurm submit", usage);
  args.expect_positionals(1, 1, "annbench slurm submit CONFIG.yaml [options] (see --help)");
  job.partition = args.get("partition");
  job.time = args.get("time");
  job.mem = args.get("mem");

  const SweepConfig config = load_sweep_config(args.positionals()[0]);
  job.config = absolute_path(args.positionals()[0]);
  job.results = absolute_path(args.get_or("results", "results"));
  job.slurm_dir = job.results / "slurm";
  job.binary = fs::read_symlink("/proc/self/exe");

  const ModuleRegistry registry(default_module_directories());
  const std::size_t items = run_item_count(config, registry, job.run.options);
  ANNBENCH_CHECK(items >= 1, "annbench slurm submit: {} plans no runs", job.config.string());
  job.tasks = items;
  if (auto array = args.get("array")) {
    char* end = nullptr;
    const long long tasks = std::strtoll(array->c_str(), &end, 10);
    ANNBENCH_CHECK(!array->empty() && *end == '\0' && tasks >= 1,
                   "annbench slurm submit: --array expects a positive number of tasks, got '{}'",
                   *array);
    job.tasks = static_cast<std::size_t>(tasks);
    if (job.tasks > items) {
      fmt::print(stderr,
                 "annbench slurm submit: --array {} is more than the plan's {} run items "
                 "(dataset × build point); submitting {} tasks\n",
                 job.tasks, items, items);
      job.tasks = items;
    }
  }
  const std::string array_text = job.array_text();
  const std::string merge_text = job.merge_text();

  if (args.flag("dry-run")) {
    fmt::print("# ---- {}\n{}\n# ---- {}\n{}", job.array_script().string(), array_text,
               job.merge_script().string(), merge_text);
    fmt::print(
        "\n# would run: sbatch --parsable {}\n#  and then: sbatch --parsable "
        "--dependency=afterany:ARRAY_ID {}\n",
        shell_quote(job.array_script().string()), shell_quote(job.merge_script().string()));
    return 0;
  }
  const fs::path program = find_sbatch();
  fs::create_directories(job.slurm_dir / "logs");
  write_script(job.array_script(), array_text);
  write_script(job.merge_script(), merge_text);
  const fs::path error_file = job.slurm_dir / fmt::format(".sbatch-{}.err", ::getpid());
  const std::string array_id = sbatch(program, {job.array_script().string()}, error_file);
  const std::string merge_id = sbatch(
      program, {"--dependency=afterany:" + array_id, job.merge_script().string()}, error_file);
  fmt::print(
      "submitted array job {} ({} task{}) and merge job {} (runs after it)\n"
      "  scripts: {}\n           {}\n"
      "  watch:   squeue -j {},{}\n"
      "  logs:    {}\n"
      "  result:  {} (failed and missing runs), {}\n",
      array_id, job.tasks, job.tasks == 1 ? "" : "s", merge_id, job.array_script().string(),
      job.merge_script().string(), array_id, merge_id, (job.slurm_dir / "logs").string(),
      (job.results / "merge.txt").string(), (job.results / "report.html").string());
  return 0;
}

}  // namespace

int slurm_command(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    if (argv.empty()) {
      throw Error(
          "annbench slurm: expects a subcommand: annbench slurm submit CONFIG.yaml (see "
          "annbench slurm submit --help)");
    }
    throw HelpRequested{std::string(kSlurmUsage) + kForwardedRunOptionsUsage};
  }
  ANNBENCH_CHECK(argv[0] == "submit",
                 "annbench slurm: unknown subcommand '{}' (the one there is: submit)", argv[0]);
  return submit(std::vector<std::string>(argv.begin() + 1, argv.end()));
}

}  // namespace annbench
