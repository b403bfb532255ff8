// The hnsw module: parameters, factory and loader around HnswIndex.

#include "hnsw_index.h"
#include "hnsw_module.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <memory>
#include <vector>

namespace annbench::hnsw {
namespace {

const std::vector<ParamSpec> kBuildParams = {
    {"M", ParamType::Int, std::int64_t{16}, "links per node on layers >= 1 (2M on layer 0)", 2,
     static_cast<double>(kMaxM)},
    {"ef_construction", ParamType::Int, std::int64_t{200}, "beam width while inserting", 1,
     1 << 20},
    {"seed", ParamType::Int, std::int64_t{42}, "seed of the level draws", 0, 9.0e15},
    {"repair_threshold", ParamType::Float, 0.1,
     "deleted fraction of the nodes at which remove() repairs links to deleted nodes and frees "
     "their slots (add() also does before growing; 1: remove() never does)",
     0, 1},
};

const std::vector<ParamSpec> kSearchParams = {
    {"ef", ParamType::Int, std::int64_t{10}, "beam width at query time (raised to k when below)", 1,
     1 << 20},
};
const std::vector<ParamSpec> kFilterSearchParams = {
    {"filter_exact_below", ParamType::Float, kFilterExactBelow,
     "filtered search: below this selectivity (fraction of the base a filter allows) scan the "
     "allowed points exactly instead of searching the graph (0: always the graph)",
     0, 1},
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  HnswConfig config;
  config.M = static_cast<std::size_t>(build.get_int("M"));
  config.ef_construction = static_cast<std::size_t>(build.get_int("ef_construction"));
  config.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  config.repair_threshold = build.get_float("repair_threshold");
  return std::make_unique<HnswIndex>(metric, dim, config);
}

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return HnswIndex::load(path, metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
// The default build (M 16, ef_construction 200) already links a few hundred points densely; the
// default ef of 10 is too narrow a beam for recall >= 0.9 at k = 10 on every metric.
const std::array<ParamSetting, 1> kSmallDataSearch = {{{"ef", std::int64_t{64}}}};

const ModuleInfo kInfo = {
    .name = "hnsw",
    .description = "hierarchical navigable small-world graph (Malkov & Yashunin 2018)",
    .metrics = kMetrics,
    .build_params = kBuildParams,
    .search_params = kSearchParams,
    .filter_search_params = kFilterSearchParams,
    .capabilities = kCapSaveLoad | kCapInsert | kCapDelete | kCapFilter,
    .create = &create,
    .load = &load,
    .small_data_search = kSmallDataSearch,
};

}  // namespace

const ModuleInfo& module_info() {
  return kInfo;
}

}  // namespace annbench::hnsw

ANNBENCH_MODULE(annbench::hnsw::kInfo)
