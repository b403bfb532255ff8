// faiss-lsh: faiss::IndexLSH, sign bits of nbits random projections (random rotation first),
// searched by a full Hamming scan over the codes. An angular hash: for euclidean data it ranks
// by angle to the origin, which is why its recall stays low there.

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexLSH.h>

#include <array>
#include <memory>
#include <vector>

namespace annbench::peers {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto nbits = static_cast<int>(build.get_int("nbits"));
  FaissRecipe recipe;
  recipe.module = "faiss-lsh";
  recipe.make = [nbits](std::size_t d, faiss::MetricType /*metric*/) {
    return FaissHolder{nullptr,
                       std::make_unique<faiss::IndexLSH>(static_cast<faiss::Index::idx_t>(d), nbits,
                                                         /*rotate_data=*/true)};
  };
  recipe.counting = FaissCounting::kNone;  // Hamming distances on codes, not vector distances
  return std::make_unique<FaissPeer>(std::move(recipe), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"nbits", ParamType::Int, std::int64_t{256}, "hash bits per vector", 1, 1 << 16}};

const ModuleInfo kInfo = {
    .name = "faiss-lsh",
    .description = "faiss IndexLSH: random-rotation sign bits, full Hamming scan",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = {},
    .capabilities = kCapNativeBatch,
    .library = kFaissLibrary,
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
