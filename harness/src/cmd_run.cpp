// annbench run CONFIG [options]

#include "args.h"
#include "commands.h"
#include "config.h"
#include "isolation.h"
#include "plugin_loader.h"
#include "runner.h"

#include <fmt/format.h>

namespace annbench {

namespace {

constexpr const char* kRunUsage = R"(annbench run CONFIG.yaml [options]

  --dataset NAME|PATH   run the config's algorithms on this dataset instead
  --queries N           use the first N test queries
  --k K[,K...]          k values (default: the config's)
  --runs N              repetitions per search point; the fastest is kept
  --algorithm NAME      only this algorithm entry or module (repeat or comma-separate)
  --batch               also run batch mode (all queries at once on --threads threads)
  --threads N           threads for build and batch search (default: the config's, else all)
  --results DIR         output root (default ./results)
  --shard i/N           run build points i, i+N, ... (for N machines or array jobs)
  --isolate             run each build point in its own process: a crash, a hang past
                        --timeout or memory past --memory-limit fails only its runs
  --timeout SECONDS     wall-clock limit per build point (with --isolate)
  --memory-limit SIZE   address-space limit per build point, e.g. 8G (with --isolate)
  --save-index DIR      save each built index (modules that can) under DIR
  --load-index DIR      load a build point's index from DIR when it was saved there, instead
                        of building it (its build_s is the saved build's; load_s the load)
  --force               recompute runs that already have results
  --dry-run             list what would run
  --quiet               no progress lines
)";

}  // namespace

int run_command(const std::vector<std::string>& argv) {
  for (const auto& arg : argv) {
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kRunUsage);
      return 0;
    }
  }
  // --algorithm may repeat: gather its values before the generic parser keeps only the last.
  std::vector<std::string> algorithms;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--algorithm" && i + 1 < argv.size()) {
      for (auto& name : split_commas(argv[++i])) algorithms.push_back(name);
    } else if (argv[i].rfind("--algorithm=", 0) == 0) {
      for (auto& name : split_commas(argv[i].substr(12))) algorithms.push_back(name);
    } else {
      rest.push_back(argv[i]);
    }
  }
  const Args args(rest,
                  {"dataset", "queries", "k", "runs", "threads", "results", "shard", "timeout",
                   "memory-limit", "run-item", "save-index", "load-index"},
                  {"batch", "force", "dry-run", "quiet", "isolate"}, "annbench run");
  args.expect_positionals(1, 1, "annbench run CONFIG.yaml [options] (see --help)");

  RunOptions options;
  options.algorithms = algorithms;
  options.results_root = args.get_or("results", "results");
  options.dataset = args.get("dataset");
  if (args.get("queries")) {
    const long long queries = args.get_int_or("queries", 0);
    ANNBENCH_CHECK(queries >= 1, "annbench run: --queries must be at least 1, got {}", queries);
    options.queries = static_cast<std::size_t>(queries);
  }
  if (auto k_list = args.get("k")) {
    std::vector<std::size_t> counts;
    for (const auto& part : split_commas(*k_list)) {
      char* end = nullptr;
      const long long k = std::strtoll(part.c_str(), &end, 10);
      ANNBENCH_CHECK(*end == '\0' && k >= 1,
                     "annbench run: --k expects positive integers, got '{}'", part);
      counts.push_back(static_cast<std::size_t>(k));
    }
    ANNBENCH_CHECK(!counts.empty(), "annbench run: --k needs at least one value");
    options.counts = counts;
  }
  if (args.get("runs")) options.runs = static_cast<int>(args.get_int_or("runs", 1));
  if (args.get("threads")) {
    const long long threads = args.get_int_or("threads", 0);
    ANNBENCH_CHECK(threads >= 1, "annbench run: --threads must be at least 1, got {}", threads);
    options.threads = static_cast<int>(threads);
  }
  if (args.flag("batch")) options.batch = true;
  if (auto shard = args.get("shard")) {
    std::tie(options.shard_index, options.shard_count) = parse_shard(*shard);
  }
  if (auto dir = args.get("save-index")) options.save_index_dir = *dir;
  if (auto dir = args.get("load-index")) {
    ANNBENCH_CHECK(std::filesystem::is_directory(*dir),
                   "annbench run: --load-index '{}' is not a folder", *dir);
    options.load_index_dir = *dir;
  }
  options.force = args.flag("force");
  options.dry_run = args.flag("dry-run");
  options.quiet = args.flag("quiet");
  options.isolate = args.flag("isolate");
  options.limits.timeout_s = args.get_float_or("timeout", 0);
  ANNBENCH_CHECK(options.limits.timeout_s >= 0, "annbench run: --timeout must be >= 0");
  if (auto limit = args.get("memory-limit"))
    options.limits.memory_limit_bytes = parse_bytes(*limit);
  ANNBENCH_CHECK(
      options.isolate || (options.limits.timeout_s == 0 && options.limits.memory_limit_bytes == 0),
      "annbench run: --timeout and --memory-limit need --isolate");
  // Internal: set by the parent of an --isolate run for its child.
  if (auto item = args.get("run-item")) options.run_item = RunItem::parse(*item);
  if (options.isolate) {
    // The child gets the same command line without the isolation and sharding options.
    options.child_command = {"/proc/self/exe", "run"};
    for (std::size_t i = 0; i < argv.size(); ++i) {
      const std::string& arg = argv[i];
      if (arg == "--isolate" || arg.rfind("--timeout=", 0) == 0 ||
          arg.rfind("--memory-limit=", 0) == 0 || arg.rfind("--shard=", 0) == 0) {
        continue;
      }
      if (arg == "--timeout" || arg == "--memory-limit" || arg == "--shard") {
        ++i;
        continue;
      }
      options.child_command.push_back(arg);
    }
  }

  const SweepConfig config = load_sweep_config(args.positionals()[0]);
  const ModuleRegistry registry(default_module_directories());
  const SweepOutcome outcome = run_sweep(config, registry, options);
  if ((!options.quiet || outcome.runs_failed > 0) && !options.run_item) {
    fmt::print("done: {} runs measured, {} already finished, {} failed\n", outcome.runs_done,
               outcome.runs_skipped, outcome.runs_failed);
  }
  return outcome.runs_failed > 0 ? 3 : 0;
}

}  // namespace annbench
