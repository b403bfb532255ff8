#pragma once
// Runs an expanded sweep: per dataset, per build point (in this shard): build once, then every
// search point × k × mode, writing each run's result as soon as it is measured.

#include "config.h"
#include "isolation.h"
#include "plugin_loader.h"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

struct RunOptions {
  std::filesystem::path results_root = "results";
  std::optional<std::string> dataset;  // replaces the config's datasets
  std::optional<std::size_t> queries;  // first N test queries
  std::optional<int> runs;
  std::optional<std::vector<std::size_t>> counts;  // k values
  std::vector<std::string> algorithms;  // subset by entry name or module name; empty = all
  std::optional<bool> batch;            // --batch: batch mode too
  std::optional<int> threads;
  bool force = false;           // recompute finished runs
  std::size_t shard_index = 0;  // this process runs build points i, i+N, i+2N, ...
  std::size_t shard_count = 1;
  bool dry_run = false;
  bool quiet = false;
  // --isolate: each build point runs in a child process started as child_command +
  // "--only-point D:P", under `limits`; crashes, hangs and memory exhaustion become failed runs.
  bool isolate = false;
  IsolationLimits limits;
  std::vector<std::string> child_command;
  std::optional<std::pair<std::size_t, std::size_t>> only_point;  // (dataset, build point)
};

struct SweepOutcome {
  std::size_t runs_done = 0;
  std::size_t runs_skipped = 0;  // already finished
  std::size_t runs_failed = 0;
};

SweepOutcome run_sweep(const SweepConfig& config, const ModuleRegistry& registry,
                       const RunOptions& options);

// Parses "i/N" (0 ≤ i < N) for --shard.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& text);

}  // namespace annbench
