// The hnsw module: parameters, factory and loader around HnswIndex.

#include "hnsw_index.h"
#include "hnsw_module.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <array>
#include <memory>
#include <string>
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
    {"storage", ParamType::String, std::string("float"),
     "what the graph stores and walks on: float (float32), fp16, or sq8 (one byte per dimension, "
     "per-dimension scale trained on the base); fp16 and sq8 re-rank with a float copy "
     "(keep_float); uint8 / int8 datasets are stored as they are (exact), with float only"},
    {"keep_float", ParamType::Bool, true,
     "fp16 / sq8: keep a float copy of the vectors and re-rank the candidates with exact "
     "distances (false: less memory, results and distances from the compact vectors); ignored "
     "for float"},
    {"alpha", ParamType::Float, 1.0,
     "neighbour selection (Vamana's RobustPrune): a candidate is dropped when a kept neighbour "
     "is alpha times nearer to it than the node is; 1: HNSW's heuristic; not for metric dot",
     1, 2},
    {"passes", ParamType::Int, std::int64_t{1},
     "2: after a build with alpha 1, re-select every layer-0 list with alpha from its links and "
     "their links, then add reverse links",
     1, 2},
};

const std::vector<ParamSpec> kSearchParams = {
    {"ef", ParamType::Int, std::int64_t{10}, "beam width at query time (raised to k when below)", 1,
     1 << 20},
    {"rerank", ParamType::Int, std::int64_t{0},
     "fp16 / sq8 with keep_float: candidates re-ranked with exact float distances (0: all ef "
     "found; n: the best n, at least k); ignored for storage float",
     0, 1 << 20},
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
  config.storage = parse_storage(build.get_string("storage"));
  config.keep_float = build.get_bool("keep_float");
  config.alpha = build.get_float("alpha");
  config.passes = static_cast<int>(build.get_int("passes"));
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
    .capabilities = kCapSaveLoad | kCapInsert | kCapDelete | kCapFilter | kCapUint8 | kCapInt8,
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
