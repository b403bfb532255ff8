// The annoy module: parameters, factory and loader around AnnoyIndex.

#include "annoy_index.h"
#include "annoy_module.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <limits>
#include <memory>
#include <vector>

namespace annbench::annoy {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "annoy: metric '{}' is not supported (euclidean, angular)", metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "annoy: dimension must be at least 1");
  ForestOptions options;
  options.n_trees = static_cast<std::size_t>(build.get_int("n_trees"));
  ANNBENCH_CHECK(options.n_trees >= 1, "annoy: n_trees must be at least 1, got {}",
                 options.n_trees);
  const std::int64_t leaf_size = build.get_int("leaf_size");
  // 0 = Annoy's own bucket: a leaf holds as many ids as a split node holds floats (dim + 2).
  options.leaf_size = leaf_size > 0 ? static_cast<std::size_t>(leaf_size) : dim + 2;
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  options.through_origin = metric == Metric::Angular;
  return std::make_unique<AnnoyIndex>(metric, dim, options);
}

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "annoy: cannot load '{}' as a {} index: metric not supported (euclidean, "
                 "angular)",
                 path, metric_name(metric));
  return AnnoyIndex::load(path, metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"n_trees", ParamType::Int, std::int64_t{10}, "trees in the forest", 1, 100000},
    {"leaf_size", ParamType::Int, std::int64_t{0}, "most ids per leaf (0: Annoy's dim + 2)", 0,
     1 << 20},
    {"seed", ParamType::Int, std::int64_t{1}, "tree-building seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"search_k", ParamType::Int, std::int64_t{-1},
     "ids to collect from leaves before re-ranking (-1: n_trees * k; below k: k)", -1,
     static_cast<double>(std::numeric_limits<std::int32_t>::max())}};
// The default budget (n_trees * k: 100 ids at k = 10) is a quarter of a few hundred points; 2000
// ids (duplicates counted) is half of what the 10 default trees' leaves hold over 400 points, so
// the re-ranking sees nearly every near point.
const std::array<ParamSetting, 1> kSmallDataSearch = {{{"search_k", std::int64_t{2000}}}};

const ModuleInfo kInfo = {
    .name = "annoy",
    .description = "random-projection tree forest (Annoy-style), exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapSaveLoad,
    .create = &create,
    .load = &load,
    .small_data_search = kSmallDataSearch,
};

}  // namespace

const ModuleInfo& module_info() {
  return kInfo;
}

}  // namespace annbench::annoy

ANNBENCH_MODULE(annbench::annoy::kInfo)
