// faiss-ivfpqfs: faiss::IndexIVFPQFastScan, the inverted file of faiss-ivfpq with 4-bit PQ codes
// stored in blocks of 32 (bbs) so that SIMD registers hold the look-up tables and compare 32
// codes at once; by default (refine) under a faiss::IndexRefineFlat, which keeps the full vectors
// and re-ranks the k_factor * k best code distances exactly: the "IVF...,PQ...x4fs,RFlat" of
// faiss's index factory. Build: nlist, m, refine; search: nprobe, k_factor.
//
// No filtered search: in 1.7.3 IndexIVFFastScan::search and IndexRefine::search refuse any
// SearchParameters ("search params not supported for this index"), so an IDSelector cannot
// reach them. No add() / remove() either: IndexRefine has no add_with_ids.

#include "faiss_peer.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/IndexRefine.h>
#include <faiss/invlists/BlockInvertedLists.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <variant>
#include <vector>

namespace annbench::peers {
namespace {

constexpr const char* kModule = "faiss-ivfpqfs";
// The fast-scan kernels are written for 4-bit codes (16 centroids per sub-quantizer) and, in
// 1.7.3's single-query paths, for blocks of 32 vectors.
constexpr std::size_t kNbits = 4;
constexpr int kBbs = 32;

faiss::IndexIVFPQFastScan& fast_scan_of(faiss::Index& index) {
  if (auto* refine = dynamic_cast<faiss::IndexRefine*>(&index))
    return dynamic_cast<faiss::IndexIVFPQFastScan&>(*refine->base_index);
  return dynamic_cast<faiss::IndexIVFPQFastScan&>(index);
}

void apply_search(faiss::Index& index, const Params& params) {
  apply_ivf_nprobe(kModule, fast_scan_of(index), params);
  if (auto* refine = dynamic_cast<faiss::IndexRefine*>(&index))
    refine->k_factor = static_cast<float>(params.get_float("k_factor"));
}

FaissRecipe recipe(std::size_t nlist, std::size_t m, bool refine) {
  FaissRecipe recipe;
  recipe.module = kModule;
  recipe.make = [nlist, m, refine](std::size_t d, faiss::MetricType metric_type) {
    FaissHolder holder;
    holder.quantizer = std::make_unique<faiss::IndexFlat>(d, metric_type);
    auto fast_scan = std::make_unique<faiss::IndexIVFPQFastScan>(holder.quantizer.get(), d, nlist,
                                                                 m, kNbits, metric_type, kBbs);
    if (!refine) {
      holder.index = std::move(fast_scan);
      return holder;
    }
    // The wrapper owns (and deletes) the fast-scan index from here on; the holder the quantizer.
    auto wrapper = std::make_unique<faiss::IndexRefineFlat>(fast_scan.release());
    wrapper->own_fields = true;
    holder.index = std::move(wrapper);
    return holder;
  };
  recipe.apply_search = &apply_search;
  // Codes compared 32 at a time by table look-ups: no distance count.
  recipe.counting = FaissCounting::kNone;
  return recipe;
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto nlist = static_cast<std::size_t>(build.get_int("nlist"));
  const auto m = static_cast<std::size_t>(build.get_int("m"));
  ANNBENCH_CHECK(dim % m == 0, "{}: m={} does not divide the dimension d={}", kModule, m, dim);
  return std::make_unique<FaissPeer>(recipe(nlist, m, build.get_bool("refine")), metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"nlist", ParamType::Int, std::int64_t{1024}, "k-means cells (inverted lists)", 1, 1 << 20},
    {"m", ParamType::Int, std::int64_t{16}, "4-bit PQ sub-quantizers (must divide the dimension)",
     1, 4096},
    {"refine", ParamType::Bool, true,
     "wrap in IndexRefineFlat: keep the vectors and re-rank k_factor * k candidates exactly"}};
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "cells scanned per query (<= nlist)", 1, 1 << 20},
    {"k_factor", ParamType::Float, 4.0,
     "with refine: k_factor * k code-ranked candidates re-ranked exactly (ignored without refine)",
     1.0, 1 << 16}};

// A fast-scan IVF-PQ over a flat coarse quantizer holding its nlist centroids, with 4-bit
// sub-quantizers dividing the dimension and block lists of 32 codes (what its search assumes).
bool usable_fast_scan(const faiss::IndexIVFPQFastScan& ivf) {
  const faiss::ProductQuantizer& pq = ivf.pq;
  if (!usable_ivf(ivf) || pq.M == 0 || pq.M != ivf.M || pq.nbits != kNbits || ivf.nbits != kNbits)
    return false;
  if (pq.M * pq.dsub != static_cast<std::size_t>(ivf.d) || pq.ksub != (1u << kNbits)) return false;
  if (ivf.is_trained && pq.centroids.size() != pq.M * pq.ksub * pq.dsub) return false;
  if (ivf.bbs != kBbs || ivf.M2 != (ivf.M + 1) / 2 * 2) return false;
  const auto* lists = dynamic_cast<const faiss::BlockInvertedLists*>(ivf.invlists);
  return lists != nullptr && lists->n_per_block == static_cast<std::size_t>(kBbs) &&
         lists->block_size == kBbs * ivf.M2 / 2;
}

// IndexRefineFlat over such an index, with a flat refinement index holding the same vectors,
// or the bare fast-scan index (refine false).
std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FaissPeer::load(
      kModule, path, metric, dim, [](faiss::Index& index) -> std::optional<FaissRecipe> {
        auto* refine = dynamic_cast<faiss::IndexRefineFlat*>(&index);
        faiss::Index* base = refine != nullptr ? refine->base_index : &index;
        if (base == nullptr || typeid(*base) != typeid(faiss::IndexIVFPQFastScan))
          return std::nullopt;
        if (refine != nullptr) {
          if (typeid(index) != typeid(faiss::IndexRefineFlat)) return std::nullopt;
          const auto* flat = dynamic_cast<const faiss::IndexFlat*>(refine->refine_index);
          if (flat == nullptr || flat->d != index.d || flat->ntotal != index.ntotal ||
              base->ntotal != index.ntotal || base->d != index.d ||
              flat->metric_type != index.metric_type || base->metric_type != index.metric_type)
            return std::nullopt;
          refine->k_factor = static_cast<float>(std::get<double>(kSearch[1].default_value));
        }
        auto& ivf = static_cast<faiss::IndexIVFPQFastScan&>(*base);
        if (!usable_fast_scan(ivf)) return std::nullopt;
        ivf.nprobe = static_cast<std::size_t>(default_int(kSearch, "nprobe"));
        return recipe(ivf.nlist, ivf.pq.M, refine != nullptr);
      });
}

// 8 cells for 400 points; 6 sub-quantizers of 2 dimensions (16 centroids each, trained on 400
// points) and the default re-ranking of 4 k candidates.
constexpr std::array kSmallBuild = {ParamSetting{"nlist", std::int64_t{8}},
                                    ParamSetting{"m", std::int64_t{6}}};
constexpr std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}}};

const ModuleInfo kInfo = {
    .name = kModule,
    .description = "faiss IndexIVFPQFastScan (4-bit PQ, SIMD blocks of 32) under IndexRefineFlat",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapSaveLoad,
    .library = faiss_library(),
    .create = &create,
    .load = &load,
    .small_data_build = kSmallBuild,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
