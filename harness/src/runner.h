#pragma once
// Runs a sweep: the command line and the config resolve once into settings and run items (a
// dataset × build point, in this shard); per run item the index is built once and the config's
// track (track.h) plans, measures and scores its runs, each written as soon as it is measured.

#include "config.h"
#include "isolation.h"
#include "plugin_loader.h"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

// One dataset × build point, as the parent of an --isolate run hands it to its child
// ("D:P:SHA256": indices into the config's datasets and build points, and the dataset file's
// SHA-256 so that the child need not hash it again).
struct RunItem {
  std::size_t dataset = 0;
  std::size_t point = 0;
  std::string dataset_sha256;
  std::string serialize() const;
  static RunItem parse(const std::string& text);
};

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
  // --isolate: each run item runs in a child process started as child_command +
  // "--run-item D:P:SHA256", under `limits`; crashes, hangs and memory exhaustion become failed
  // runs. The child loads only its dataset and leaves summary.csv to the parent.
  bool isolate = false;
  IsolationLimits limits;
  std::vector<std::string> child_command;
  std::optional<RunItem> run_item;
  // --save-index / --load-index (index_store.h): build points of modules declaring kCapSaveLoad
  // save their built index under save_index_dir, and load it from load_index_dir instead of
  // building when it is there. Either may be unset; both may name the same folder.
  std::optional<std::filesystem::path> save_index_dir, load_index_dir;
};

struct SweepOutcome {
  std::size_t runs_done = 0;
  std::size_t runs_skipped = 0;  // already finished
  std::size_t runs_failed = 0;
};

SweepOutcome run_sweep(const SweepConfig& config, const ModuleRegistry& registry,
                       const RunOptions& options);

// The number of run items (dataset × build point, after --dataset and --algorithm) of the
// sweep: how many shards it can usefully be split into.
std::size_t run_item_count(const SweepConfig& config, const ModuleRegistry& registry,
                           const RunOptions& options);

// The .hdf5 file (under options.results_root) of every run the sweep plans, all shards
// together, in plan order: what a finished sweep holds. Loads each dataset, as run_sweep does;
// options.shard_* and run_item are ignored.
std::vector<std::filesystem::path> planned_run_files(const SweepConfig& config,
                                                     const ModuleRegistry& registry,
                                                     const RunOptions& options);

// Parses "i/N" (0 ≤ i < N) for --shard.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& text);

}  // namespace annbench
