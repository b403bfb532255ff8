// annbench runbook make|groundtruth|check: streaming runbooks (runbook.h).

#include "args.h"
#include "commands.h"
#include "runbook.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/registry.h>

#include <fmt/format.h>

#include <fstream>

namespace annbench {

namespace {

constexpr const char* kUsage =
    "annbench runbook make DATASET --kind sliding-window|expiring --window N --batch B "
    "--rounds R [--seed S] --out FILE\n"
    "annbench runbook make DATASET --kind clustered --clusters C [--seed S] --out FILE "
    "[--dataset-out FILE]   (also writes DATASET ordered by k-means cluster, default "
    "<dataset>-clustered<C>.hdf5 beside it, which the runbook is for)\n"
    "annbench runbook groundtruth DATASET RUNBOOK   (per-search-step exact top-100, in a "
    "sidecar file beside the dataset)\n"
    "annbench runbook check DATASET RUNBOOK         (validates every step against the dataset)";

std::size_t positive(const Args& args, const char* name) {
  const auto value = args.get(name);
  ANNBENCH_CHECK(value.has_value(), "annbench runbook make: --{} is required\n{}", name, kUsage);
  const long long number = args.get_int_or(name, 0);
  ANNBENCH_CHECK(number >= 1, "annbench runbook make: --{} must be positive, got {}", name, *value);
  return static_cast<std::size_t>(number);
}

Dataset load_train(const std::filesystem::path& path) {
  DatasetLoadOptions options;
  options.require_ground_truth = false;
  return load_dataset(path, options);
}

int make(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"kind", "window", "batch", "rounds", "seed", "out", "clusters", "dataset-out"},
                  {}, "annbench runbook make", kUsage);
  args.expect_positionals(1, 1, kUsage);
  auto path = resolve_dataset(args.positionals()[0]);
  RunbookRecipe recipe;
  recipe.kind = args.get_or("kind", "");
  ANNBENCH_CHECK(!recipe.kind.empty(), "annbench runbook make: --kind is required\n{}", kUsage);
  recipe.seed = static_cast<std::uint64_t>(args.get_int_or("seed", 1));
  const auto out = args.get("out");
  ANNBENCH_CHECK(out.has_value(), "annbench runbook make: --out FILE is required\n{}", kUsage);
  if (recipe.kind == "clustered") {
    const std::size_t clusters = positive(args, "clusters");
    std::filesystem::path stem = path;
    stem.replace_extension();
    const std::filesystem::path clustered =
        args.get_or("dataset-out", fmt::format("{}-clustered{}.hdf5", stem.string(), clusters));
    recipe.cluster_ends = write_clustered_dataset(path, clusters, recipe.seed, clustered);
    fmt::print("wrote {} (train rows ordered by k-means cluster)\n", clustered.string());
    path = clustered;
  } else {
    recipe.window = positive(args, "window");
    recipe.batch = positive(args, "batch");
    recipe.rounds = positive(args, "rounds");
  }
  const Dataset dataset = load_train(path);
  const std::string text = make_runbook(recipe, dataset.name, dataset.train.rows());
  // What is written must be what load_runbook accepts.
  const Runbook runbook = parse_runbook(text, *out, dataset.name, dataset.train.rows());
  h5::write_atomically(*out, [&](const std::filesystem::path& temporary) {
    std::ofstream file(temporary);
    file << text;
    ANNBENCH_CHECK(file.good(), "cannot write '{}'", temporary.string());
  });
  fmt::print("wrote {}: {} steps ({} searches) over {}, max_pts {}\n", *out, runbook.steps.size(),
             runbook.search_steps(), dataset.name, runbook.max_pts);
  return 0;
}

int groundtruth_or_check(const std::vector<std::string>& argv, bool compute) {
  const Args args(argv, {}, {}, compute ? "annbench runbook groundtruth" : "annbench runbook check",
                  kUsage);
  args.expect_positionals(2, 2, kUsage);
  const auto path = resolve_dataset(args.positionals()[0]);
  const Dataset dataset = load_train(path);
  const Runbook runbook = load_runbook(args.positionals()[1], dataset.name, dataset.train.rows());
  if (!compute) {
    fmt::print("{}: {} steps ({} searches), max_pts {}: valid for {} ({} train rows)\n",
               runbook.file.string(), runbook.steps.size(), runbook.search_steps(), runbook.max_pts,
               dataset.name, dataset.train.rows());
    return 0;
  }
  step_ground_truth(path, dataset, runbook, false);
  fmt::print("{}\n", step_ground_truth_file(path, runbook).string());
  return 0;
}

}  // namespace

int runbook_command(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    fmt::print(argv.empty() ? stderr : stdout, "usage:\n{}\n", kUsage);
    return argv.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "make") return make(rest);
  if (argv[0] == "groundtruth") return groundtruth_or_check(rest, true);
  if (argv[0] == "check") return groundtruth_or_check(rest, false);
  fmt::print(stderr, "annbench runbook: unknown subcommand '{}'\nusage:\n{}\n", argv[0], kUsage);
  return 2;
}

}  // namespace annbench
