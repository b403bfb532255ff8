// faiss-flat: faiss::IndexFlat, exact search by full scan. The peer of our bruteforce module.
// IndexFlat numbers its vectors itself, so add() with caller ids goes through an IndexIDMap
// around it (removal then shifts the stored vectors: O(n) per remove()).

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexFlat.h>

#include <array>
#include <memory>

namespace annbench::peers {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build*/) {
  FaissRecipe recipe;
  recipe.module = "faiss-flat";
  recipe.make = [](std::size_t d, faiss::MetricType m) {
    return FaissHolder{nullptr, std::make_unique<faiss::IndexFlat>(d, m)};
  };
  recipe.counting = FaissCounting::kFullScan;
  recipe.id_map = true;
  return std::make_unique<FaissPeer>(std::move(recipe), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = "faiss-flat",
    .description = "faiss IndexFlat: exact full scan (Debian's generic faiss 1.7.3, no AVX2)",
    .metrics = kMetrics,
    .build_params = {},
    .search_params = {},
    .capabilities = kCapNativeBatch | kCapInsert | kCapDelete,
    .library = kFaissLibrary,
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
