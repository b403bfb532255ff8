// faiss-ivfflat: faiss::IndexIVFFlat, an inverted file over k-means cells (flat coarse
// quantizer), full vectors in the lists. Build: nlist; search: nprobe.

#include "faiss_peer.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <array>
#include <memory>
#include <vector>

namespace annbench::peers {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto nlist = static_cast<std::size_t>(build.get_int("nlist"));
  FaissRecipe recipe;
  recipe.module = "faiss-ivfflat";
  recipe.make = [nlist](std::size_t d, faiss::MetricType m) {
    FaissHolder holder;
    holder.quantizer = std::make_unique<faiss::IndexFlat>(d, m);
    holder.index = std::make_unique<faiss::IndexIVFFlat>(holder.quantizer.get(), d, nlist, m);
    return holder;
  };
  recipe.apply_search = [](faiss::Index& index, const Params& params) {
    apply_ivf_nprobe("faiss-ivfflat", index, params);
  };
  recipe.counting = FaissCounting::kIvfStats;
  recipe.coarse_per_query = nlist;
  return std::make_unique<FaissPeer>(std::move(recipe), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"nlist", ParamType::Int, std::int64_t{1024}, "k-means cells (inverted lists)", 1, 1 << 20}};
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "cells scanned per query (<= nlist)", 1, 1 << 20}};

const ModuleInfo kInfo = {
    .name = "faiss-ivfflat",
    .description = "faiss IndexIVFFlat: k-means inverted file, exact distances in probed cells",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapInsert | kCapDelete,
    .library = kFaissLibrary,
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
