// faiss-hnsw: faiss::IndexHNSWFlat, faiss's HNSW graph over full vectors. Build: M,
// efConstruction; search: efSearch, check_relative_distance. (faiss's own parameter names, so
// configs read like its docs.)
// Filtered search: the graph is walked as usual, only allowed nodes enter the results
// (SearchParametersHNSW's IDSelector).

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexHNSW.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace annbench::peers {
namespace {

void apply_ef(faiss::Index& index, const Params& params) {
  faiss::HNSW& hnsw = dynamic_cast<faiss::IndexHNSW&>(index).hnsw;
  hnsw.efSearch = static_cast<int>(params.get_int("efSearch"));
  hnsw.check_relative_distance = params.get_bool("check_relative_distance");
}

FaissRecipe recipe(int m, int ef_construction) {
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
  recipe.filter = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FaissPeer>(recipe(static_cast<int>(build.get_int("M")),
                                            static_cast<int>(build.get_int("efConstruction"))),
                                     metric, dim);
}

// faiss reads the graph without checking it: every neighbour id, level and offset is checked
// here, so that a search never leaves the arrays.
bool usable_graph(const faiss::IndexHNSWFlat& index) {
  const faiss::HNSW& g = index.hnsw;
  const auto n = static_cast<std::size_t>(index.ntotal);
  if (index.storage == nullptr || index.storage->ntotal != index.ntotal) return false;
  if (g.levels.size() != n || g.offsets.size() != n + 1 || g.offsets[0] != 0) return false;
  if (g.offsets[n] != g.neighbors.size() || g.cum_nneighbor_per_level.empty()) return false;
  const auto& cum = g.cum_nneighbor_per_level;
  for (std::size_t l = 1; l < cum.size(); ++l) {
    if (cum[l] < cum[l - 1]) return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const int levels = g.levels[i];
    if (levels < 1 || static_cast<std::size_t>(levels) >= cum.size() || levels > g.max_level + 1)
      return false;
    if (g.offsets[i + 1] - g.offsets[i] != static_cast<std::size_t>(cum[levels])) return false;
  }
  for (const auto neighbor : g.neighbors) {
    if (neighbor < -1 || neighbor >= static_cast<faiss::HNSW::storage_idx_t>(n)) return false;
  }
  if (n == 0) return g.entry_point == -1;
  return g.entry_point >= 0 && static_cast<std::size_t>(g.entry_point) < n &&
         g.levels[static_cast<std::size_t>(g.entry_point)] == g.max_level + 1;
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"M", ParamType::Int, std::int64_t{16}, "links per node (2 M on layer 0)", 2, 1024},
    {"efConstruction", ParamType::Int, std::int64_t{40}, "candidate list size while building", 1,
     1 << 20}};
// check_relative_distance is the one other field of 1.7.3's SearchParametersHNSW (the
// filtered search passes it there too). HNSW::search_bounded_queue is left at faiss's default:
// it is not a SearchParametersHNSW field in 1.7.3, and its unbounded branch ignores the
// IDSelector.
const std::vector<ParamSpec> kSearch = {
    {"efSearch", ParamType::Int, std::int64_t{16}, "candidate list size while searching", 1,
     1 << 20},
    {"check_relative_distance", ParamType::Bool, true,
     "true (faiss's default): stop when efSearch queued candidates are nearer than the next one "
     "to expand; false: stop after expanding efSearch nodes"}};

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(
      "faiss-hnsw", path, metric, dim, [](faiss::Index& index) -> std::optional<FaissRecipe> {
        if (typeid(index) != typeid(faiss::IndexHNSWFlat)) return std::nullopt;
        auto& hnsw = static_cast<faiss::IndexHNSWFlat&>(index);
        if (!usable_graph(hnsw)) return std::nullopt;
        hnsw.hnsw.efSearch = static_cast<int>(default_int(kSearch, "efSearch"));
        hnsw.hnsw.check_relative_distance = true;
        return recipe(static_cast<int>(hnsw.hnsw.nb_neighbors(1)), hnsw.hnsw.efConstruction);
      });
}

// 128: filtered searches (selectivity 0.05, 20 allowed of 400) walk the graph through
// disallowed nodes, and at 64 reached 0.94-0.98 filtered recall; 128 reaches 0.995-1.0.
constexpr std::array kSmallSearch = {ParamSetting{"efSearch", std::int64_t{128}}};

const ModuleInfo kInfo = {
    .name = "faiss-hnsw",
    .description = "faiss IndexHNSWFlat: HNSW graph over full vectors",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapFilter | kCapSaveLoad,
    .library = faiss_library(),
    .create = &create,
    .load = &load,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
