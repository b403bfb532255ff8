// faiss-ivfsq: faiss::IndexIVFScalarQuantizer with QT_8bit (SQ8), an inverted file whose lists
// hold one byte per dimension (each dimension's trained range cut into 256 steps), of the
// residual to the cell's centroid by default as in faiss. Build: nlist, by_residual; search:
// nprobe. Filtered search: the probed lists' codes outside the filter are skipped
// (SearchParametersIVF's IDSelector, honoured by 1.7.3's scalar-quantizer scanner).

#include "faiss_peer.h"

#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace annbench::peers {
namespace {

constexpr const char* kModule = "faiss-ivfsq";

FaissRecipe recipe(std::size_t nlist, bool by_residual) {
  FaissRecipe recipe;
  recipe.module = kModule;
  recipe.make = [nlist, by_residual](std::size_t d, faiss::MetricType metric_type) {
    FaissHolder holder;
    holder.quantizer = std::make_unique<faiss::IndexFlat>(d, metric_type);
    holder.index = std::make_unique<faiss::IndexIVFScalarQuantizer>(
        holder.quantizer.get(), d, nlist, faiss::ScalarQuantizer::QT_8bit, metric_type,
        by_residual);
    return holder;
  };
  recipe.apply_search = [](faiss::Index& index, const Params& params) {
    apply_ivf_nprobe(kModule, index, params);
  };
  // Each scanned code costs one distance over all d dimensions (decoded on the fly), as in
  // IndexIVFFlat: indexIVF_stats.ndis counts them.
  recipe.counting = FaissCounting::kIvfStats;
  recipe.coarse_per_query = nlist;
  recipe.filter = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FaissPeer>(
      recipe(static_cast<std::size_t>(build.get_int("nlist")), build.get_bool("by_residual")),
      metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"nlist", ParamType::Int, std::int64_t{1024}, "k-means cells (inverted lists)", 1, 1 << 20},
    {"by_residual", ParamType::Bool, true,
     "quantise the residual to the cell's centroid (faiss's default) instead of the vector"}};
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "cells scanned per query (<= nlist)", 1, 1 << 20}};

// An IndexIVFScalarQuantizer over a flat coarse quantizer holding its nlist centroids, with 8-bit
// codes of the index's dimension and a trained range per dimension (QT_8bit: d minima, d widths).
std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(kModule, path, metric, dim,
                         [](faiss::Index& index) -> std::optional<FaissRecipe> {
                           if (typeid(index) != typeid(faiss::IndexIVFScalarQuantizer))
                             return std::nullopt;
                           auto& ivf = static_cast<faiss::IndexIVFScalarQuantizer&>(index);
                           const faiss::ScalarQuantizer& sq = ivf.sq;
                           const auto d = static_cast<std::size_t>(ivf.d);
                           if (!usable_ivf(ivf) || sq.qtype != faiss::ScalarQuantizer::QT_8bit ||
                               sq.d != d || sq.code_size != d || ivf.code_size != d)
                             return std::nullopt;
                           if (ivf.is_trained && sq.trained.size() != 2 * d) return std::nullopt;
                           ivf.nprobe = static_cast<std::size_t>(default_int(kSearch, "nprobe"));
                           return recipe(ivf.nlist, ivf.by_residual);
                         });
}

// 400 points cannot fill 1,024 cells; probing all 8 leaves only the 8-bit rounding.
constexpr std::array kSmallBuild = {ParamSetting{"nlist", std::int64_t{8}}};
constexpr std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}}};

const ModuleInfo kInfo = {
    .name = kModule,
    .description = "faiss IndexIVFScalarQuantizer (SQ8): k-means inverted file, 8-bit codes",
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
