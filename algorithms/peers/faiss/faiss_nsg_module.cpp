// faiss-nsg: faiss::IndexNSGFlat, the navigating spreading-out graph (Fu, Xiang, Wang, Cai,
// VLDB 2019) over full vectors. faiss builds a kNN graph of GK neighbours first (build_type 1:
// NNDescent, IndexNSGFlat's default; 0: brute force, O(n^2 d)), then prunes it to at most R
// links per node, spread out, and links every node to a navigating node. Build: R, GK,
// build_type; search: search_L (the candidate pool).
//
// No filtered search (IndexNSG::search refuses SearchParameters in 1.7.3) and no add() /
// remove() (one build only: "NSG does not support incremental addition").

#include "faiss_peer.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexNSG.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace annbench::peers {
namespace {

constexpr const char* kModule = "faiss-nsg";

// IndexNSGFlat that refuses a base faiss cannot build a graph of, instead of failing inside
// faiss: NNDescent draws 2 * nndescent_S distinct random ids per node (a division by zero for
// n <= 2 S) and reads GK neighbours from each node's pool whether or not it holds that many;
// brute force needs GK neighbours besides the point itself; and NSG's own build searches with a
// pool of L = R + 32 distinct nodes, drawn at random until there are that many (it never ends
// for n < L).
struct CheckedNsgFlat final : faiss::IndexNSGFlat {
  using faiss::IndexNSGFlat::IndexNSGFlat;
  void add(idx_t n, const float* x) override {
    const idx_t needed =
        std::max<idx_t>({GK + 1, nsg.L, build_type == 0 ? 0 : 2 * nndescent_S + 1});
    ANNBENCH_CHECK(n >= needed,
                   "{}: {} vectors are too few for GK={}, R={} (build pool L={}){}: at least {} "
                   "are needed",
                   kModule, n, GK, nsg.R, nsg.L, build_type == 0 ? "" : " with NNDescent", needed);
    faiss::IndexNSGFlat::add(n, x);
  }
};

void apply_search(faiss::Index& index, const Params& params) {
  // faiss's search draws random start nodes until it holds search_L distinct ones: never more
  // than there are (FaissPeer asks for at most ntotal results for the same reason).
  auto& nsg = dynamic_cast<faiss::IndexNSG&>(index);
  const auto limit = std::max<faiss::Index::idx_t>(nsg.ntotal, 1);
  nsg.nsg.search_L =
      static_cast<int>(std::min<faiss::Index::idx_t>(params.get_int("search_L"), limit));
}

FaissRecipe recipe(int r, int gk, int build_type) {
  FaissRecipe recipe;
  recipe.module = kModule;
  recipe.make = [r, gk, build_type](std::size_t d, faiss::MetricType metric_type) {
    auto index = std::make_unique<CheckedNsgFlat>(static_cast<int>(d), r, metric_type);
    index->GK = gk;
    index->build_type = static_cast<char>(build_type);
    return FaissHolder{nullptr, std::move(index)};
  };
  recipe.apply_search = &apply_search;
  // NSG keeps no distance counter.
  recipe.counting = FaissCounting::kNone;
  recipe.k_at_most_ntotal = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FaissPeer>(
      recipe(static_cast<int>(build.get_int("R")), static_cast<int>(build.get_int("GK")),
             static_cast<int>(build.get_int("build_type"))),
      metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"R", ParamType::Int, std::int64_t{32}, "links per node at most (graph degree)", 1, 1024},
    {"GK", ParamType::Int, std::int64_t{64}, "neighbours per node of the kNN graph NSG prunes", 1,
     1024},
    {"build_type", ParamType::Int, std::int64_t{1},
     "kNN graph construction: 1 NNDescent (faiss's default), 0 brute force", 0, 1}};
const std::vector<ParamSpec> kSearch = {
    {"search_L", ParamType::Int, std::int64_t{16},
     "candidate pool while searching (at least k; capped at the index size)", 1, 1 << 20}};

// The graph faiss read back, checked so that a search never leaves the arrays: flat storage of
// the index's vectors, one row of R links per node, each -1 or a node, a navigating node.
bool usable_graph(const faiss::IndexNSGFlat& index) {
  const auto* storage = dynamic_cast<const faiss::IndexFlat*>(index.storage);
  if (storage == nullptr || storage->d != index.d || storage->ntotal != index.ntotal ||
      storage->metric_type != index.metric_type)
    return false;
  const faiss::NSG& nsg = index.nsg;
  if (index.ntotal == 0) return !nsg.is_built;
  const auto& graph = nsg.final_graph;
  if (!nsg.is_built || graph == nullptr || graph->data == nullptr) return false;
  if (nsg.ntotal != index.ntotal || graph->N != nsg.ntotal || graph->K != nsg.R || nsg.R < 1)
    return false;
  if (nsg.enterpoint < 0 || nsg.enterpoint >= nsg.ntotal) return false;
  const std::size_t links = static_cast<std::size_t>(graph->N) * static_cast<std::size_t>(graph->K);
  return std::all_of(graph->data, graph->data + links,
                     [&](int id) { return id >= -1 && id < nsg.ntotal; });
}

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(kModule, path, metric, dim,
                         [](faiss::Index& index) -> std::optional<FaissRecipe> {
                           if (typeid(index) != typeid(faiss::IndexNSGFlat)) return std::nullopt;
                           auto& nsg = static_cast<faiss::IndexNSGFlat&>(index);
                           if (!usable_graph(nsg)) return std::nullopt;
                           FaissRecipe loaded = recipe(nsg.nsg.R, nsg.GK, nsg.build_type);
                           Params defaults;
                           defaults.set("search_L", default_int(kSearch, "search_L"));
                           apply_search(nsg, defaults);
                           return loaded;
                         });
}

// 400 points: a kNN graph of GK 64 neighbours; a pool of 64 candidates.
constexpr std::array kSmallSearch = {ParamSetting{"search_L", std::int64_t{64}}};

const ModuleInfo kInfo = {
    .name = kModule,
    .description = "faiss IndexNSGFlat: navigating spreading-out graph over full vectors",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapSaveLoad,
    .library = faiss_library(),
    .create = &create,
    .load = &load,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
