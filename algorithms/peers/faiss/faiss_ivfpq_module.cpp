// faiss-ivfpq: faiss::IndexIVFPQ, an inverted file whose lists hold product-quantised residuals
// (m sub-quantizers of nbits each); distances are asymmetric PQ estimates. Build: nlist, m,
// nbits; search: nprobe. Filtered search: the probed lists' codes outside the filter are skipped
// (SearchParametersIVF's IDSelector).

#include "faiss_peer.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace annbench::peers {
namespace {

FaissRecipe recipe(std::size_t nlist, std::size_t m, std::size_t nbits) {
  FaissRecipe recipe;
  recipe.module = "faiss-ivfpq";
  recipe.make = [nlist, m, nbits](std::size_t d, faiss::MetricType metric_type) {
    FaissHolder holder;
    holder.quantizer = std::make_unique<faiss::IndexFlat>(d, metric_type);
    holder.index = std::make_unique<faiss::IndexIVFPQ>(holder.quantizer.get(), d, nlist, m, nbits,
                                                       metric_type);
    return holder;
  };
  recipe.apply_search = [](faiss::Index& index, const Params& params) {
    apply_ivf_nprobe("faiss-ivfpq", index, params);
  };
  // Lists hold codes, not vectors: faiss's ndis counts PQ table look-ups, not distances.
  recipe.counting = FaissCounting::kNone;
  recipe.filter = true;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto nlist = static_cast<std::size_t>(build.get_int("nlist"));
  const auto m = static_cast<std::size_t>(build.get_int("m"));
  const auto nbits = static_cast<std::size_t>(build.get_int("nbits"));
  ANNBENCH_CHECK(dim % m == 0, "faiss-ivfpq: m={} must divide the dimension {}", m, dim);
  return std::make_unique<FaissPeer>(recipe(nlist, m, nbits), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"nlist", ParamType::Int, std::int64_t{1024}, "k-means cells (inverted lists)", 1, 1 << 20},
    {"m", ParamType::Int, std::int64_t{16}, "PQ sub-quantizers (must divide the dimension)", 1,
     4096},
    {"nbits", ParamType::Int, std::int64_t{8}, "bits per sub-quantizer code", 1, 16}};
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "cells scanned per query (<= nlist)", 1, 1 << 20}};

// An IndexIVFPQ over a flat coarse quantizer holding its nlist centroids.
std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(
      "faiss-ivfpq", path, metric, dim, [](faiss::Index& index) -> std::optional<FaissRecipe> {
        if (typeid(index) != typeid(faiss::IndexIVFPQ)) return std::nullopt;
        auto& ivf = static_cast<faiss::IndexIVFPQ&>(index);
        const faiss::ProductQuantizer& pq = ivf.pq;
        if (!usable_ivf(ivf) || pq.M == 0 || pq.M * pq.dsub != static_cast<std::size_t>(ivf.d) ||
            pq.nbits < 1 || pq.nbits > 16 || pq.centroids.size() != pq.M * pq.ksub * pq.dsub)
          return std::nullopt;
        ivf.nprobe = static_cast<std::size_t>(default_int(kSearch, "nprobe"));
        return recipe(ivf.nlist, ivf.pq.M, ivf.pq.nbits);
      });
}

// 8 cells for 400 points; one 6-bit code per dimension (the conformance insert test's first
// add() of 200 rows trains 64 centroids per sub-quantizer) estimates distances closely enough
// for recall 0.9.
constexpr std::array kSmallBuild = {ParamSetting{"nlist", std::int64_t{8}},
                                    ParamSetting{"m", std::int64_t{12}},
                                    ParamSetting{"nbits", std::int64_t{6}}};
constexpr std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}}};

const ModuleInfo kInfo = {
    .name = "faiss-ivfpq",
    .description = "faiss IndexIVFPQ: inverted file with product-quantised residuals",
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
