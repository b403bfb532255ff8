// balltree: a ball tree searched exactly or with a budget of leaves. The module's entry point:
// parameters and their checks; the index is in balltree_index.h. See README.md.

#include "balltree_index.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace annbench::balltree {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  BuildOptions options;
  const std::int64_t leaf_size = build.get_int("leaf_size");
  ANNBENCH_CHECK(leaf_size >= 1, "balltree: leaf_size must be at least 1, got {}", leaf_size);
  options.leaf_size = static_cast<std::size_t>(leaf_size);
  const std::string& split = build.get_string("split");
  if (split == "farthest")
    options.split = SplitRule::Farthest;
  else if (split == "principal")
    options.split = SplitRule::PrincipalAxis;
  else
    ANNBENCH_FAIL("balltree: split '{}' is not one of farthest, principal", split);
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return std::make_unique<BallTreeIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"leaf_size", ParamType::Int, std::int64_t{16},
     "most points per leaf (leaves hold leaf_size/2 to leaf_size)", 1, 1 << 24},
    {"split", ParamType::String, std::string("principal"),
     "split direction: farthest (two farthest-point sweeps) or principal (principal axis, power "
     "iteration)"},
    {"seed", ParamType::Int, std::int64_t{1}, "seed for the farthest-point sweeps' start", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"max_leaves", ParamType::Int, kNoLeafLimit,
     "leaves scanned at most, best-first (2147483647: no limit; with eps 0 the search is exact)", 1,
     static_cast<double>(kNoLeafLimit)},
    {"eps", ParamType::Float, 0.0,
     "prune balls whose bound times (1 + eps) exceeds the k-th distance", 0.0,
     std::numeric_limits<double>::infinity()}};

const ModuleInfo kInfo = {
    .name = "balltree",
    .description = "ball tree, exact or budgeted best-first search, exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapSaveLoad,
    .create = &create,
    .load = &BallTreeIndex::load,
    // The defaults (exact search, leaf_size 16) already suit a few hundred points.
};

}  // namespace
}  // namespace annbench::balltree

ANNBENCH_MODULE(annbench::balltree::kInfo)
