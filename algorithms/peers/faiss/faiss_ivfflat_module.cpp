// faiss-ivfflat: faiss::IndexIVFFlat, an inverted file over k-means cells (flat coarse
// quantizer), full vectors in the lists. Build: nlist; search: nprobe. Filtered search: the
// probed lists' codes outside the filter are skipped (SearchParametersIVF's IDSelector).

#include "faiss_peer.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace annbench::peers {
namespace {

FaissRecipe recipe(std::size_t nlist) {
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
  recipe.filter = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FaissPeer>(recipe(static_cast<std::size_t>(build.get_int("nlist"))),
                                     metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"nlist", ParamType::Int, std::int64_t{1024}, "k-means cells (inverted lists)", 1, 1 << 20}};
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "cells scanned per query (<= nlist)", 1, 1 << 20}};

// An IndexIVFFlat over a flat coarse quantizer holding its nlist centroids.
std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load("faiss-ivfflat", path, metric, dim,
                         [](faiss::Index& index) -> std::optional<FaissRecipe> {
                           if (typeid(index) != typeid(faiss::IndexIVFFlat)) return std::nullopt;
                           auto& ivf = static_cast<faiss::IndexIVFFlat&>(index);
                           if (!usable_ivf(ivf)) return std::nullopt;
                           ivf.nprobe = static_cast<std::size_t>(default_int(kSearch, "nprobe"));
                           return recipe(ivf.nlist);
                         });
}

// 400 points cannot fill 1,024 cells; probing all 8 is exact.
constexpr std::array kSmallBuild = {ParamSetting{"nlist", std::int64_t{8}}};
constexpr std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}}};

const ModuleInfo kInfo = {
    .name = "faiss-ivfflat",
    .description = "faiss IndexIVFFlat: k-means inverted file, exact distances in probed cells",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapFilter | kCapInsert | kCapDelete | kCapSaveLoad,
    .library = faiss_library(),
    .create = &create,
    .load = &load,
    .small_data_build = kSmallBuild,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
