// faiss-hnsw: faiss::IndexHNSWFlat, faiss's HNSW graph over full vectors. Build: M,
// efConstruction; search: efSearch. (faiss's own parameter names, so configs read like its docs.)

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexHNSW.h>

#include <array>
#include <memory>
#include <vector>

namespace annbench::peers {
namespace {

void apply_ef(faiss::Index& index, const Params& params) {
  dynamic_cast<faiss::IndexHNSW&>(index).hnsw.efSearch =
      static_cast<int>(params.get_int("efSearch"));
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto m = static_cast<int>(build.get_int("M"));
  const auto ef_construction = static_cast<int>(build.get_int("efConstruction"));
  FaissRecipe recipe;
  recipe.module = "faiss-hnsw";
  recipe.make = [m, ef_construction](std::size_t d, faiss::MetricType metric_type) {
    auto index = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), m, metric_type);
    index->hnsw.efConstruction = ef_construction;
    return FaissHolder{nullptr, std::move(index)};
  };
  recipe.apply_search = &apply_ef;
  // faiss 1.7.3's IndexHNSW::search leaves hnsw_stats.ndis at 0 (measured): unknown.
  recipe.counting = FaissCounting::kNone;
  return std::make_unique<FaissPeer>(std::move(recipe), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"M", ParamType::Int, std::int64_t{16}, "links per node (2 M on layer 0)", 2, 1024},
    {"efConstruction", ParamType::Int, std::int64_t{40}, "candidate list size while building", 1,
     1 << 20}};
const std::vector<ParamSpec> kSearch = {{"efSearch", ParamType::Int, std::int64_t{16},
                                         "candidate list size while searching", 1, 1 << 20}};

const ModuleInfo kInfo = {
    .name = "faiss-hnsw",
    .description = "faiss IndexHNSWFlat: HNSW graph over full vectors",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch,
    .library = kFaissLibrary,
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
