// kdtree: k-d tree with exact depth-first search and a budgeted best-bin-first mode over an
// optional randomised forest. The module's entry point: parameters and their checks; the index
// is in kdtree_index.h.

#include "kdtree_index.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <limits>
#include <memory>
#include <vector>

namespace annbench::kdtree {
namespace {

SplitRule parse_split(const std::string& name) {
  if (name == "median") return SplitRule::Median;
  if (name == "midpoint") return SplitRule::SlidingMidpoint;
  ANNBENCH_FAIL("kdtree: build parameter 'split' = '{}' is not a rule (median, midpoint)", name);
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  IndexOptions options;
  const std::int64_t leaf_size = build.get_int("leaf_size");
  ANNBENCH_CHECK(leaf_size >= 1, "kdtree: build parameter 'leaf_size' = {} must be >= 1",
                 leaf_size);
  const std::int64_t n_trees = build.get_int("n_trees");
  ANNBENCH_CHECK(n_trees >= 1, "kdtree: build parameter 'n_trees' = {} must be >= 1", n_trees);
  options.tree.leaf_size = static_cast<std::size_t>(leaf_size);
  options.tree.split = parse_split(build.get_string("split"));
  options.tree.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  options.n_trees = static_cast<std::size_t>(n_trees);
  return std::make_unique<KdTreeIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"leaf_size", ParamType::Int, std::int64_t{16}, "most rows per leaf", 1, 1 << 24},
    {"split", ParamType::String, std::string("median"),
     "cut rule on the dimension of largest extent: median or midpoint (sliding midpoint)"},
    {"n_trees", ParamType::Int, std::int64_t{1},
     "trees; beyond the first, cut dimensions are drawn from the 5 of largest extent "
     "(exact search uses the first tree only)",
     1, 256},
    {"seed", ParamType::Int, std::int64_t{1}, "seed of the randomised trees", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"checks", ParamType::Int, std::int64_t{-1},
     "points to examine before stopping, best bin first over all trees (-1: no budget, exact "
     "depth-first search)",
     -1, static_cast<double>(std::numeric_limits<std::int32_t>::max())},
    {"eps", ParamType::Float, 0.0,
     "skip a cell unless (1 + eps) x its distance bound beats the k-th distance (0: exact)", 0.0,
     1e6}};

const ModuleInfo kInfo = {
    .name = "kdtree",
    .description = "k-d tree: exact depth-first search, best-bin-first budget over a forest",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapSaveLoad,
    .create = &create,
    .load = &KdTreeIndex::load,
    // The defaults (exact search, leaf_size 16) already suit a few hundred points.
};

}  // namespace
}  // namespace annbench::kdtree

ANNBENCH_MODULE(annbench::kdtree::kInfo)
