// faiss-flat: faiss::IndexFlat, exact search by full scan. The peer of our bruteforce module.
// IndexFlat numbers its vectors itself, so add() with caller ids goes through an IndexIDMap
// around it (removal then shifts the stored vectors: O(n) per remove()). Filtered search: a scan
// of the allowed vectors only (SearchParameters' IDSelector).

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexFlat.h>

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace annbench::peers {
namespace {

FaissRecipe recipe() {
  FaissRecipe recipe;
  recipe.module = "faiss-flat";
  recipe.make = [](std::size_t d, faiss::MetricType m) {
    return FaissHolder{nullptr, std::make_unique<faiss::IndexFlat>(d, m)};
  };
  recipe.counting = FaissCounting::kFullScan;
  recipe.id_map = true;
  recipe.filter = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build*/) {
  return std::make_unique<FaissPeer>(recipe(), metric, dim);
}

// An IndexFlat (read back as IndexFlatL2 / IndexFlatIP), inside an IndexIDMap after streaming.
std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(
      "faiss-flat", path, metric, dim, [](faiss::Index& index) -> std::optional<FaissRecipe> {
        if (dynamic_cast<const faiss::IndexFlat*>(&unwrap_id_map(index)) == nullptr)
          return std::nullopt;
        return recipe();
      });
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = "faiss-flat",
    .description = "faiss IndexFlat: exact full scan",
    .metrics = kMetrics,
    .build_params = {},
    .search_params = {},
    .capabilities = kCapNativeBatch | kCapFilter | kCapInsert | kCapDelete | kCapSaveLoad,
    .library = faiss_library(),
    .create = &create,
    .load = &load,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
