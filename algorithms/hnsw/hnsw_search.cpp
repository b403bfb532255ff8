// HNSW search: the layer-0 beam search (Algorithm 2 of the paper), the greedy descent through
// the upper layers, and filtered search (the beam keeping only allowed nodes, or an exact scan).
// This is the hot path of both queries and construction. The walks run on what the blocks
// hold (storage float, fp16, SQ8, uint8 or int8, a template parameter); finish() re-ranks the
// short list with exact float distances when the index keeps a float copy.

#include "hnsw_index.h"
#include "search_scratch.h"

#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <type_traits>
#include <vector>

namespace annbench::hnsw {
namespace {

// Heap orders: the frontier pops the closest, the result heap evicts the farthest. Lambdas, not
// functions: each has its own type, so the heap algorithms inline them instead of calling
// through a pointer.
constexpr auto farther = [](const Candidate& a, const Candidate& b) {
  return a.distance > b.distance;
};
constexpr auto closer = [](const Candidate& a, const Candidate& b) {
  return a.distance < b.distance;
};

// Replaces the farthest of a full result heap (its root) with c, which is closer, and restores
// the heap: one sift-down where a push and a pop would take two passes.
inline void replace_farthest(std::vector<Candidate>& heap, Candidate c) {
  const std::size_t n = heap.size();
  std::size_t i = 0;
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && closer(heap[child], heap[child + 1])) ++child;
    if (!closer(c, heap[child])) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = c;
}

// Cache lines of a neighbour's vector fetched while the previous distance is computed: the whole
// vector up to this cap (fashion-mnist: 49 lines). Measured on fashion-mnist against hnswlib in
// alternation (README): 1 line (hnswlib's choice) 1.08x, 4 lines 1.12x, 16 or all 1.22x.
constexpr std::size_t kPrefetchLines = 64;

inline void prefetch_lines(const void* p, std::size_t lines) {
  const char* c = static_cast<const char*>(p);
  for (std::size_t i = 0; i < lines; ++i) _mm_prefetch(c + 64 * i, _MM_HINT_T0);
}

// Calls f(std::integral_constant<Storage, s>{}): the one switch on the storage per walk, so
// that the loops below are compiled once per storage with the distance inlined.
template <typename F>
decltype(auto) with_storage(Storage storage, F&& f) {
  switch (storage) {
    case Storage::Sq8: return f(std::integral_constant<Storage, Storage::Sq8>{});
    case Storage::Fp16: return f(std::integral_constant<Storage, Storage::Fp16>{});
    case Storage::Uint8: return f(std::integral_constant<Storage, Storage::Uint8>{});
    case Storage::Int8: return f(std::integral_constant<Storage, Storage::Int8>{});
    case Storage::Float: break;
  }
  return f(std::integral_constant<Storage, Storage::Float>{});
}

// The re-ranked order: exact distance, ties by node id (independent of the beam's order).
constexpr auto exact_order = [](const Candidate& a, const Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
};

}  // namespace

template <bool kLocked, bool kSkipDeleted>
std::size_t HnswIndex::search_layer(const float* query, Candidate start, std::size_t ef, int level,
                                    SearchScratch& scratch) const {
  return with_storage(config_.storage, [&](auto storage) {
    constexpr Storage S = decltype(storage)::value;
    // A tombstone is expanded like any node (it still navigates) but never kept.
    if constexpr (kSkipDeleted) {
      return beam_search<S, kLocked>(query, start, ef, level, scratch,
                                     [this](std::uint32_t id) { return !is_deleted(id); });
    } else {
      return beam_search<S, kLocked>(query, start, ef, level, scratch,
                                     [](std::uint32_t) { return true; });
    }
  });
}

template <Storage S, bool kLocked, typename Keep>
std::size_t HnswIndex::beam_search(const float* query, Candidate start, std::size_t ef, int level,
                                   SearchScratch& scratch, const Keep& keep) const {
  scratch.begin(capacity_);
  ByteVisitedSet::Marker visited = scratch.visited.marker();
  auto& frontier = scratch.frontier;
  auto& results = scratch.results;
  visited.insert(start.id);
  frontier.push_back(start);
  if (keep(start.id)) results.push_back(start);
  // The worst kept result: only read once the results hold ef nodes, so the start's distance is
  // as good as any.
  float bound = start.distance;

  const std::size_t cap = max_degree(level);
  const std::size_t vector_lines = std::min<std::size_t>(kPrefetchLines, (code_bytes_ + 63) / 64);
  // A vector of one or two lines (SQ8 or bytes up to 128-d) is prefetched whole as soon as it is
  // found unvisited; a longer one only by its first line there, since asking early for all the
  // lines of every neighbour's vector slowed float Fashion-MNIST (784-d) by about 3 %.
  const std::size_t early_lines = vector_lines <= 2 ? vector_lines : 1;
  std::uint32_t copy[kMaxLinksPerList];
  std::uint32_t fresh[kMaxLinksPerList];
  std::size_t count = 0;

  while (!frontier.empty()) {
    const Candidate current = frontier.front();
    // Everything left in the frontier is farther than the worst kept result: done.
    if (current.distance > bound && results.size() >= ef) break;
    std::pop_heap(frontier.begin(), frontier.end(), farther);
    frontier.pop_back();

    const std::uint32_t* links = link_list(current.id, level);
    if constexpr (kLocked) {
      lock(current.id);
      std::copy_n(links, cap, copy);
      unlock(current.id);
      links = copy;
    }
    // Two passes over the links: first the tags (prefetched together, so their misses
    // overlap), then the unvisited ones' vectors, so that several vector fetches are in
    // flight before the first distance needs its data.
    std::size_t degree = 0;
    while (degree < cap && links[degree] != kNoLink) {
      _mm_prefetch(reinterpret_cast<const char*>(visited.tag_address(links[degree])), _MM_HINT_T0);
      ++degree;
    }
    std::size_t m = 0;
    for (std::size_t j = 0; j < degree; ++j) {
      const std::uint32_t id = links[j];
      if (!visited.insert(id)) continue;
      fresh[m++] = id;
      prefetch_lines(stored(id), early_lines);
    }
    if (m > 0) prefetch_lines(stored(fresh[0]), vector_lines);
    for (std::size_t t = 0; t < m; ++t) {
      if (t + 1 < m) prefetch_lines(stored(fresh[t + 1]), vector_lines);
      const std::uint32_t id = fresh[t];
      const float d = dist<S>(query, id);
      if (results.size() < ef || d < bound) {
        frontier.push_back({d, id});
        std::push_heap(frontier.begin(), frontier.end(), farther);
        // Its links are read when it is expanded, likely soon.
        _mm_prefetch(reinterpret_cast<const char*>(link_list(id, level)), _MM_HINT_T0);
        // A node `keep` rejects is expanded like any other (it still navigates) but never kept.
        if (!keep(id)) continue;
        if (results.size() < ef) {
          results.push_back({d, id});
          std::push_heap(results.begin(), results.end(), closer);
        } else {
          replace_farthest(results, {d, id});
        }
        bound = results.front().distance;
      }
    }
    count += m;
  }
  return count;
}

template <bool kLocked>
Candidate HnswIndex::greedy_step(const float* query, Candidate start, int level,
                                 std::size_t& count) const {
  return with_storage(config_.storage, [&](auto storage) {
    return greedy_walk<decltype(storage)::value, kLocked>(query, start, level, count);
  });
}

template <Storage S, bool kLocked>
Candidate HnswIndex::greedy_walk(const float* query, Candidate start, int level,
                                 std::size_t& count) const {
  Candidate best = start;
  std::uint32_t copy[kMaxLinksPerList];
  const std::size_t cap = max_degree(level);
  for (bool moved = true; moved;) {
    moved = false;
    const std::uint32_t* links = link_list(best.id, level);
    if constexpr (kLocked) {
      lock(best.id);
      std::copy_n(links, cap, copy);
      unlock(best.id);
      links = copy;
    }
    for (std::size_t j = 0; j < cap && links[j] != kNoLink; ++j) {
      const float d = dist<S>(query, links[j]);
      ++count;
      if (d < best.distance) {
        best = {d, links[j]};
        moved = true;
      }
    }
  }
  return best;
}

template std::size_t HnswIndex::search_layer<true, false>(const float*, Candidate, std::size_t, int,
                                                          SearchScratch&) const;
template std::size_t HnswIndex::search_layer<true, true>(const float*, Candidate, std::size_t, int,
                                                         SearchScratch&) const;
template std::size_t HnswIndex::search_layer<false, false>(const float*, Candidate, std::size_t,
                                                           int, SearchScratch&) const;
template std::size_t HnswIndex::search_layer<false, true>(const float*, Candidate, std::size_t, int,
                                                          SearchScratch&) const;
template Candidate HnswIndex::greedy_step<true>(const float*, Candidate, int, std::size_t&) const;
template Candidate HnswIndex::greedy_step<false>(const float*, Candidate, int, std::size_t&) const;

template <Storage S>
Candidate HnswIndex::descend(const float* query, std::size_t& count) const {
  ++count;
  Candidate current{dist<S>(query, entry_), entry_};
  for (int level = max_level_; level > 0; --level) {
    current = greedy_walk<S, false>(query, current, level, count);
  }
  return current;
}

const float* HnswIndex::prepare_query(const float* query, SearchScratch& scratch) const {
  if (is_integer(config_.storage)) return walk_query(query, scratch);
  if (metric_ != Metric::Angular) return query;
  scratch.query.resize(dim_);
  normalize_into(query, dim_, scratch.query.data());
  return scratch.query.data();
}

template <Storage S>
std::size_t HnswIndex::walk(const float* query, std::size_t k, SearchScratch& scratch) const {
  std::size_t count = 0;
  const Candidate current = descend<S>(query, count);
  // Checked once per search: without tombstones the loop has no per-node state test.
  const std::size_t ef = std::max(ef_, k);
  count += deleted_ == 0
               ? beam_search<S, false>(query, current, ef, 0, scratch,
                                       [](std::uint32_t) { return true; })
               : beam_search<S, false>(query, current, ef, 0, scratch,
                                       [this](std::uint32_t id) { return !is_deleted(id); });
  return count;
}

std::size_t HnswIndex::rerank_count(std::size_t k, std::size_t found) const {
  if (!float_copy_) return 0;
  if (rerank_ == 0) return found;
  return std::min(found, std::max(rerank_, k));
}

std::size_t HnswIndex::finish(const float* query, std::size_t k, SearchScratch& scratch,
                              Neighbor* out) const {
  auto& results = scratch.results;
  std::sort_heap(results.begin(), results.end(), closer);
  // Compact storage with a float copy: the best candidates by the stored-vector distance get
  // their exact float distance (the same one storage float computes), and the k best of those
  // are returned.
  const std::size_t reranked = rerank_count(k, results.size());
  if (reranked > 0) {
    results.resize(reranked);
    for (Candidate& c : results) c.distance = distance(query, float_row(c.id));
    const std::size_t best = std::min(k, reranked);
    std::partial_sort(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(best),
                      results.end(), exact_order);
  }
  const std::size_t found = std::min(k, results.size());
  for (std::size_t i = 0; i < found; ++i) {
    out[i] = {external_id(results[i].id), results[i].distance};
  }
  // Ranked by squared L2 or -<q, x> (on unit vectors for angular); the caller gets the metric's.
  to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out,
                  found);
  return reranked;
}

void HnswIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  std::fill_n(out, k, Neighbor{});
  if (entry_ == kNoLink || k == 0) return;
  auto lease = scratch_.acquire();
  SearchScratch& scratch = *lease;
  const float* q = prepare_query(query, scratch);
  std::size_t count = with_storage(
      config_.storage, [&](auto storage) { return walk<decltype(storage)::value>(q, k, scratch); });
  count += finish(q, k, scratch, out);
  distances_.add(count);
}

void HnswIndex::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  if (is_integer(config_.storage)) {
    for (std::size_t q = 0; q < queries.rows; ++q) check_integer_query(queries.row(q), "query");
  }
  Index::search_batch(queries, k, out);
}

std::vector<Candidate> HnswIndex::candidates(const float* query, std::size_t k) const {
  if (entry_ == kNoLink || k == 0) return {};
  auto lease = scratch_.acquire();
  SearchScratch& scratch = *lease;
  const float* q = prepare_query(query, scratch);
  with_storage(config_.storage,
               [&](auto storage) { return walk<decltype(storage)::value>(q, k, scratch); });
  auto& results = scratch.results;
  std::sort_heap(results.begin(), results.end(), closer);
  const std::size_t reranked = rerank_count(k, results.size());
  if (reranked > 0) results.resize(reranked);
  return {results.begin(), results.end()};
}

template <Storage S>
std::size_t HnswIndex::walk_filtered(const float* query, std::size_t k, const Filter& filter,
                                     SearchScratch& scratch) const {
  // Results: live nodes whose caller id is a row of the filter's base that it allows.
  const std::size_t rows = filter.base_rows();
  const auto keep = [&](std::uint32_t node) {
    if (!state_.empty() && state_[node] != static_cast<std::uint8_t>(SlotState::Live)) return false;
    const std::int64_t id = external_id(node);
    return static_cast<std::uint64_t>(id) < rows && filter.allowed(id);
  };
  std::size_t count = 0;
  const Candidate start = descend<S>(query, count);
  count += beam_search<S, false>(query, start, std::max(ef_, k), 0, scratch, keep);
  return count;
}

void HnswIndex::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                Neighbor* out) const {
  std::fill_n(out, k, Neighbor{});
  if (entry_ == kNoLink || k == 0 || filter.count() == 0) return;
  auto lease = scratch_.acquire();
  SearchScratch& scratch = *lease;
  const float* q = prepare_query(query, scratch);

  std::size_t count = 0;
  if (filter.selectivity() < filter_exact_below_) {
    count = scan_allowed(q, k, filter, scratch, out);
    to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out,
                    k);
  } else {
    count = with_storage(config_.storage, [&](auto storage) {
      return walk_filtered<decltype(storage)::value>(q, k, filter, scratch);
    });
    count += finish(q, k, scratch, out);
  }
  distances_.add(count);
}

std::size_t HnswIndex::scan_allowed(const float* query, std::size_t k, const Filter& filter,
                                    SearchScratch& scratch, Neighbor* out) const {
  // Exact wherever float vectors exist: storage float's blocks, or the float copy.
  if (float_copy_) return scan_on<Storage::Float, true>(query, k, filter, scratch, out);
  return with_storage(config_.storage, [&](auto storage) {
    return scan_on<decltype(storage)::value, false>(query, k, filter, scratch, out);
  });
}

template <Storage S, bool kFloatCopy>
std::size_t HnswIndex::scan_on(const float* query, std::size_t k, const Filter& filter,
                               SearchScratch& scratch, Neighbor* out) const {
  TopK<float>& top = scratch.exact;
  top.reset(k);
  const std::span<const std::int64_t> ids = filter.ids();
  const auto address = [this](std::uint32_t node) -> const void* {
    if constexpr (kFloatCopy) {
      return float_row(node);
    } else {
      return stored(node);
    }
  };
  const std::size_t bytes = kFloatCopy ? dim_ * sizeof(float) : code_bytes_;
  const std::size_t vector_lines = std::min<std::size_t>(kPrefetchLines, (bytes + 63) / 64);
  // Each id's node is looked up one step ahead, so that its vector is fetched while the current
  // distance is computed (the allowed points are scattered over the blocks).
  std::uint32_t next = ids.empty() ? kNoLink : find_live(ids[0]);
  std::size_t count = 0;
  float worst = top.worst();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint32_t node = next;
    next = i + 1 < ids.size() ? find_live(ids[i + 1]) : kNoLink;
    if (next != kNoLink) prefetch_lines(address(next), vector_lines);
    if (node == kNoLink) continue;  // deleted, or not in the index
    const float d = kFloatCopy ? distance(query, float_row(node)) : dist<S>(query, node);
    ++count;
    // Ids ascend, so a later tie (a larger id) would lose anyway.
    if (d < worst) {
      top.push(d, ids[i]);
      worst = top.worst();
    }
  }
  top.write_sorted(out, k);
  return count;
}

}  // namespace annbench::hnsw
