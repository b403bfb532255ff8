#pragma once
// Sweep configs (YAML). A config names datasets, k values, repetitions and, per algorithm entry,
// build and search parameters; every parameter may be a scalar or a list, and lists expand as a
// cartesian product. Each index is built once per build point and then searched at every search
// point. Example:
//
//   datasets: [fashion-mnist-784-euclidean]
//   k: 10
//   runs: 3
//   algorithms:
//     - module: bruteforce
//     - module: hnsw
//       name: hnsw-heuristic        # results folder (default: the module name)
//       build: {M: [16, 32], ef_construction: 200}
//       search: {ef: [10, 20, 40, 80]}
//
// `build` and `search` may also be lists of such maps (groups), expanded one after the other.
// `mode: range` (default `knn`) runs range search instead, at the radius of each dataset's range
// ground truth (no `k`); only modules with kCapRangeSearch can serve it. `mode: streaming` with
// `runbook: FILE` replays a runbook of inserts, deletes and replaces, searching at its search
// steps (runbook.h); only modules with kCapInsert (and kCapDelete when the runbook deletes).
// `mode: concurrent` with `clients: [1, 2, 4]` and `duration: SECONDS` has that many threads
// query one index back to back (track_concurrent.cpp). `mode: filtered` runs each query with its
// metadata filter, one run per selectivity band of `selectivities: [0.001, 0.01, 0.1, 0.5]`
// (track_filtered.cpp); only modules with kCapFilter. `mode: sharded` with `shards: [1, 2, 4]`
// splits the base into that many shards (`partition: contiguous|kmeans`), builds the module on
// each in its own MPI rank and merges the ranks' answers (track_sharded.cpp); with kmeans,
// `probe_shards: [1, 2]` sends each query only to its nearest shards.
// An entry may put a dimension-reduction stage in front of its module with `pca: {dim: ...}` or
// `random_projection: {dim: ..., kind: gaussian|sparse}` (transform_stage.h); lists expand
// like build parameters.
// Errors name the file, line and key.

#include "plugin_loader.h"
#include "transform_stage.h"

#include <annbench/params.h>

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

struct AlgorithmEntry {
  std::string name;    // results folder
  std::string module;  // module name
  YAML::Node build;    // null, a map, or a sequence of maps
  YAML::Node search;
  bool has_transform = false;
  YAML::Node transform;  // the `pca` or `random_projection` map
  TransformSpec::Kind transform_kind = TransformSpec::Kind::Pca;
  int line = 0;  // 1-based line of the entry
};

// mode: sharded.
struct ShardingConfig {
  std::vector<int> shards{1, 2, 4};      // ranks (one shard each) per run
  std::string partition = "contiguous";  // contiguous | kmeans
  std::vector<int> probe_shards;         // kmeans: shards each query visits; empty = all
};

struct SweepConfig {
  std::filesystem::path file;
  std::vector<std::string> datasets;
  std::string mode = "knn";              // the track (track.h): knn, range, streaming, concurrent
  std::filesystem::path runbook;         // mode: streaming
  std::vector<int> clients{1, 2, 4, 8};  // mode: concurrent: client threads per run
  double duration = 5;                   // mode: concurrent: seconds per run
  std::vector<double> selectivities{0.001, 0.01, 0.1, 0.5};  // mode: filtered: bands
  ShardingConfig sharding;                                   // mode: sharded
  std::vector<std::size_t> counts{10};                       // k values (knn mode)
  int runs = 3;
  std::size_t queries = 0;  // 0 = all test queries
  bool single = true;       // single-query mode (each query timed alone)
  bool batch = false;       // batch mode (all queries at once, `threads` threads)
  int threads = 0;          // 0 = all cores; used by build and batch search
  std::vector<AlgorithmEntry> algorithms;
};

SweepConfig load_sweep_config(const std::filesystem::path& file);
SweepConfig parse_sweep_config(const std::string& yaml_text, const std::filesystem::path& file);

struct BuildPoint {
  std::string algorithm;  // results folder name
  const LoadedModule* module = nullptr;
  Params build;                  // resolved (defaults filled)
  std::vector<Params> searches;  // resolved, in expansion order
  std::optional<TransformSpec> transform;
  // What results record as the build parameters: `build` plus the stage's, if any.
  Params recorded_build() const;
};

// Decodes every entry's parameters against its module's specs and expands the products.
std::vector<BuildPoint> expand_sweep(const SweepConfig& config, const ModuleRegistry& registry);

// Exposed for tests: the cartesian product of one map (or sequence of maps) decoded against
// `specs`; `what` is e.g. "hnsw build" for messages.
std::vector<Params> expand_parameter_node(const YAML::Node& node, std::span<const ParamSpec> specs,
                                          const std::string& module, const std::string& kind,
                                          const std::filesystem::path& file);

}  // namespace annbench
