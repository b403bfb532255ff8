// FaissPeer::search_filtered: filtered k-NN the way faiss's own users run it (faiss >= 1.7.3):
// one search call with per-query SearchParameters whose `sel` is an IDSelector over the ids
// faiss stores. The IVF indexes skip unselected codes while scanning the probed lists, the flat
// scan computes distances for selected vectors only, the HNSW graph is walked as usual and only
// selected nodes enter the result list.

#include "faiss_peer.h"
#include "peer_util.h"

#include <annbench/error.h>

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

namespace annbench::peers {
namespace {

using idx_t = faiss::Index::idx_t;

// Filter::allowed for a stored id: ids outside the base never pass. Used where the bitset's
// bytes are not faiss's bitmap layout (big-endian words).
class FilterSelector final : public faiss::IDSelector {
 public:
  explicit FilterSelector(const Filter& filter) : filter_(filter) {}
  bool is_member(idx_t id) const override {
    return id >= 0 && static_cast<std::size_t>(id) < filter_.base_rows() && filter_.allowed(id);
  }

 private:
  const Filter& filter_;
};

// faiss 1.7.3's IndexIDMap::search refuses SearchParameters ("search params not supported for
// this index"; later versions translate the selector themselves). The sub-index is searched
// instead, with the selector applied to the caller's id of each position, and the labels are
// translated back: what IndexIDMap::search does. Counts the positions that passed: the flat
// scan computes exactly those distances.
class TranslatedSelector final : public faiss::IDSelector {
 public:
  TranslatedSelector(const std::vector<idx_t>& id_map, const faiss::IDSelector& inner)
      : id_map_(id_map), inner_(inner) {}
  bool is_member(idx_t position) const override {
    const bool member = inner_.is_member(id_map_[static_cast<std::size_t>(position)]);
    if (member) passed_.fetch_add(1, std::memory_order_relaxed);
    return member;
  }
  std::uint64_t passed() const { return passed_.load(std::memory_order_relaxed); }

 private:
  const std::vector<idx_t>& id_map_;
  const faiss::IDSelector& inner_;
  mutable std::atomic<std::uint64_t> passed_{0};
};

// One query through `index` with `sel`, carrying the index's current search parameters in the
// parameter type it reads (faiss would otherwise fall back to the struct's defaults: nprobe 1).
void search_selected(const faiss::Index& index, const float* query, idx_t k, float* distances,
                     idx_t* labels, faiss::IDSelector* sel) {
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    faiss::SearchParametersIVF params;
    params.sel = sel;
    params.nprobe = ivf->nprobe;
    params.max_codes = ivf->max_codes;
    index.search(1, query, k, distances, labels, &params);
  } else if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&index)) {
    // faiss 1.7.3 reads efSearch from the index, not from these parameters (measured); both hold
    // the module's efSearch.
    faiss::SearchParametersHNSW params;
    params.sel = sel;
    params.efSearch = hnsw->hnsw.efSearch;
    params.check_relative_distance = hnsw->hnsw.check_relative_distance;
    index.search(1, query, k, distances, labels, &params);
  } else {
    faiss::SearchParameters params;
    params.sel = sel;
    index.search(1, query, k, distances, labels, &params);
  }
}

}  // namespace

void FaissPeer::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                Neighbor* out) const {
  ANNBENCH_CHECK(recipe_.filter, "{}: filtered search is not supported", recipe_.module);
  const faiss::Index& index = ready();
  if (index.ntotal == 0 || k == 0) {
    pad_results(out, 0, k);
    return;
  }
  QueryBuffers& buffers = query_buffers(query, k);
  query = buffers.query;
  auto& distances = buffers.distances;
  auto& labels = buffers.labels;
  // The bitset's words are little-endian: their bytes are then faiss's bitmap (id i is bit i % 8
  // of byte i / 8, and ids past the bytes given are not members).
  FilterSelector by_filter(filter);
  faiss::IDSelectorBitmap by_bitmap((filter.base_rows() + 7) / 8,
                                    reinterpret_cast<const std::uint8_t*>(filter.bits().data()));
  faiss::IDSelector* selector = &by_filter;
  if constexpr (std::endian::native == std::endian::little) selector = &by_bitmap;

  const auto* map = dynamic_cast<const faiss::IndexIDMap*>(&index);
  const auto kk = static_cast<idx_t>(k);
  std::uint64_t selected = filter.count();
  try {
    if (map != nullptr) {
      TranslatedSelector translated(map->id_map, *selector);
      search_selected(*map->index, query, kk, distances.data(), labels.data(), &translated);
      for (idx_t& label : labels) {
        if (label >= 0) label = map->id_map[static_cast<std::size_t>(label)];
      }
      selected = translated.passed();
    } else {
      search_selected(index, query, kk, distances.data(), labels.data(), selector);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_faiss(recipe_.module, "search with a filter", e);
  }
  convert(1, k, query, distances.data(), labels.data(), out);
  // A static flat index stores ids 0..n-1 = the base rows, so it computes count() distances.
  if (recipe_.counting == FaissCounting::kFullScan) own_count_.add(selected);
  if (recipe_.counting == FaissCounting::kIvfStats) own_count_.add(recipe_.coarse_per_query);
}

}  // namespace annbench::peers
