// The lsh module's entry point (lsh_index.h).

#include "lsh_index.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <cmath>
#include <limits>

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
  return std::make_unique<LshIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"L", ParamType::Int, std::int64_t{16}, "hash tables", 1, 4096},
    {"K", ParamType::Int, std::int64_t{12}, "hashes concatenated per table (at most 32)", 1,
     static_cast<double>(kMaxHashes)},
    {"w", ParamType::Float, 1.5,
     "euclidean bucket width, in units of the data's RMS distance to its centroid (angular: "
     "unused)",
     1e-4, 1e4},
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
