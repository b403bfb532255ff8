// vptree: a vantage-point tree searched exactly or approximately (stretch). The module's entry
// point: parameters and their checks; the index is in vptree_index.h. See README.md.

#include "vptree_index.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <limits>
#include <memory>
#include <vector>

namespace annbench::vptree {
namespace {

std::size_t positive(const Params& build, const char* key) {
  const std::int64_t value = build.get_int(key);
  ANNBENCH_CHECK(value >= 1, "vptree: {} must be at least 1, got {}", key, value);
  return static_cast<std::size_t>(value);
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  TreeOptions options;
  options.leaf_size = positive(build, "leaf_size");
  options.vp_candidates = positive(build, "vp_candidates");
  options.vp_sample = positive(build, "vp_sample");
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return std::make_unique<VpTreeIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"leaf_size", ParamType::Int, std::int64_t{32}, "most points per leaf", 1, 1 << 20},
    {"vp_candidates", ParamType::Int, std::int64_t{8},
     "vantage-point candidates sampled per node (1: random choice)", 1, 1024},
    {"vp_sample", ParamType::Int, std::int64_t{64},
     "points each candidate's distance spread is measured on", 1, 1 << 16},
    {"seed", ParamType::Int, std::int64_t{1}, "vantage-point sampling seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"stretch", ParamType::Float, 1.0,
     "pruning-radius shrink factor: a branch is skipped when stretch x its bound exceeds the "
     "k-th distance (1 = exact)",
     1.0, 1e6}};

const ModuleInfo kInfo = {
    .name = "vptree",
    .description = "vantage-point tree (exact, or approximate by stretch), exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapSaveLoad,
    .create = &create,
    .load = &VpTreeIndex::load,
    // The defaults (exact search, leaf_size 32) already suit a few hundred points.
};

}  // namespace
}  // namespace annbench::vptree

ANNBENCH_MODULE(annbench::vptree::kInfo)
