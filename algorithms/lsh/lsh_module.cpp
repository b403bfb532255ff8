// The lsh module's entry point (lsh_index.h).

#include "lsh_index.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>

namespace annbench::lsh {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "lsh: metric '{}' is not supported (euclidean, angular)", metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "lsh: dimension must be at least 1");
  const std::int64_t tables = build.get_int("L");
  const std::int64_t hashes = build.get_int("K");
  const double width = build.get_float("w");
  ANNBENCH_CHECK(tables >= 1, "lsh: L (tables) must be at least 1, got {}", tables);
  ANNBENCH_CHECK(hashes >= 1 && hashes <= static_cast<std::int64_t>(kMaxHashes),
                 "lsh: K (hashes per table) must be in [1, {}], got {}", kMaxHashes, hashes);
  ANNBENCH_CHECK(std::isfinite(width) && width > 0.0,
                 "lsh: w must be a positive finite width, got {}", width);
  HashOptions options;
  options.kind = metric == Metric::L2 ? HashKind::PStable : HashKind::Hyperplane;
  options.tables = static_cast<std::size_t>(tables);
  options.hashes = static_cast<std::size_t>(hashes);
  options.relative_width = width;
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  const std::string& tune_mode = build.get_string("tune");
  ANNBENCH_CHECK(tune_mode == "off" || tune_mode == "auto",
                 "lsh: tune must be 'off' or 'auto', got '{}'", tune_mode);
  const double target = build.get_float("target_recall");
  ANNBENCH_CHECK(target > 0.0 && target < 1.0, "lsh: target_recall must be in (0, 1), got {}",
                 target);
  const std::int64_t tune_probes = build.get_int("tune_probes");
  ANNBENCH_CHECK(tune_probes >= 0 && tune_probes <= kMaxProbes,
                 "lsh: tune_probes must be in [0, {}], got {}", kMaxProbes, tune_probes);
  auto index = std::make_unique<LshIndex>(metric, dim, options);
  if (tune_mode == "auto") {
    TuneRequest request;
    request.kind = options.kind;
    request.target_recall = target;
    request.probes = static_cast<std::size_t>(tune_probes);
    request.seed = options.seed;
    index->enable_tuning(request);
  }
  return index;
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"L", ParamType::Int, std::int64_t{16}, "hash tables (ignored with tune: auto)", 1, 4096},
    {"K", ParamType::Int, std::int64_t{12},
     "hashes concatenated per table (at most 32; ignored with tune: auto)", 1,
     static_cast<double>(kMaxHashes)},
    {"w", ParamType::Float, 1.5,
     "euclidean bucket width, in units of the data's RMS distance to its centroid (angular: "
     "unused; ignored with tune: auto)",
     1e-4, 1e4},
    {"tune", ParamType::String, std::string("off"),
     "off: use K, L, w as given; auto: pick K, L (and w) from the base for target_recall at "
     "tune_probes probes, at the least expected cost (the choice is in build_report)"},
    {"target_recall", ParamType::Float, 0.9, "tune: auto: the recall@10 to reach, in (0, 1)", 0, 1},
    {"tune_probes", ParamType::Int, std::int64_t{0},
     "tune: auto: the probes the searches will use (set it to the probes you search with)", 0,
     static_cast<double>(kMaxProbes)},
    {"seed", ParamType::Int, std::int64_t{1}, "hash-function seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"probes", ParamType::Int, std::int64_t{0},
     "perturbed buckets probed beyond the L home buckets, over all tables (0: plain LSH)", 0,
     static_cast<double>(kMaxProbes)}};
// A few hundred points of a dozen dimensions: fewer hashes per table, so buckets are not
// singletons, and enough probes to gather most of the true neighbours.
const std::array kSmallBuild = {ParamSetting{"K", std::int64_t{4}}};
const std::array kSmallSearch = {ParamSetting{"probes", std::int64_t{64}}};

const ModuleInfo kInfo = {
    .name = kName,
    .description = "multi-probe LSH: p-stable (euclidean) / hyperplane (angular), exact re-rank",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapInsert | kCapDelete | kCapSaveLoad,
    .create = &create,
    .load = &LshIndex::load,
    .small_data_build = kSmallBuild,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::lsh

ANNBENCH_MODULE(annbench::lsh::kInfo)
