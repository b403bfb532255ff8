// Build, search and memory accounting of AnnoyIndex (file I/O is in annoy_file.cpp).

#include "annoy_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/normalize.h>
#include <annbench/common/topk.h>
#include <annbench/common/visited.h>
#include <annbench/error.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace annbench::annoy {

// Per-search scratch, leased from the index's pool: no allocation per query once warm.
// `visited` holds the ids already collected by the current query.
struct Scratch {
  VisitedSet visited;
  std::vector<std::int32_t> candidates;
  std::vector<std::pair<float, std::int32_t>> queue;
  std::vector<float> query;
  TopK<float> top;

  void begin(std::size_t n) {
    visited.reset(n);
    candidates.clear();
    queue.clear();
  }

  std::size_t bytes() const {
    return visited.bytes() + candidates.capacity() * sizeof(std::int32_t) +
           queue.capacity() * sizeof(queue[0]) + query.capacity() * sizeof(float) +
           top.capacity() * sizeof(TopK<float>::Entry);
  }
};

namespace {

constexpr std::size_t kBlock = 16;  // floats per re-ranking block: one cache line
// Blocks between two checks against the k-th best distance: a check costs a horizontal sum,
// so checking after every block would cost more than the lines it saves.
constexpr std::size_t kBlocksPerCheck = 4;
// Candidates ahead whose first blocks are prefetched: far enough for the loads to arrive
// before use, near enough that abandoned candidates do not evict them.
constexpr std::size_t kPrefetchAhead = 4;
// Blocks prefetched for a candidate ahead: the hardware prefetcher streams the rest of a row
// once reading has started, but not its start, which is a fresh miss for every candidate.
constexpr std::size_t kPrefetchBlocks = 4 * kBlocksPerCheck;

void prefetch_block(const float* p) {
  __builtin_prefetch(p);
  // A block spans two lines unless it starts on one (rows of 16k floats in aligned storage).
  if (reinterpret_cast<std::uintptr_t>(p) % 64 != 0) __builtin_prefetch(p + kBlock - 1);
}

// Lane-wise squared differences of one block, added into acc (vectorised by the compiler).
inline void add_block(const float* a, const float* b, float* acc) {
  for (std::size_t j = 0; j < kBlock; ++j) {
    const float d = a[j] - b[j];
    acc[j] += d * d;
  }
}

// Adding non-negative floats never decreases a lane, and the lanes are always summed in the same
// order, so successive sums are non-decreasing and the last one is the distance reported. A
// pairwise tree: four dependent adds instead of fifteen, as this runs once per check.
inline float lane_sum(const float* acc) {
  std::array<float, kBlock / 2> half;
  for (std::size_t j = 0; j < kBlock / 2; ++j) half[j] = acc[j] + acc[j + kBlock / 2];
  for (std::size_t j = 0; j < kBlock / 4; ++j) half[j] += half[j + kBlock / 4];
  return (half[0] + half[2]) + (half[1] + half[3]);
}

}  // namespace

AnnoyIndex::AnnoyIndex(Metric metric, std::size_t dim, const ForestOptions& options)
    : metric_(metric), dim_(dim), options_(options) {}

AnnoyIndex::~AnnoyIndex() = default;

void AnnoyIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "annoy: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
  // A NaN would send every split and margin comparison one way and poison the re-ranking.
  const auto values = static_cast<std::int64_t>(base.rows * dim_);
  std::int64_t bad = values;
#pragma omp parallel for reduction(min : bad) schedule(static)
  for (std::int64_t i = 0; i < values; ++i) {
    if (!std::isfinite(base.data[i])) bad = std::min(bad, i);
  }
  ANNBENCH_CHECK(bad == values, "annoy: base vector {} has a non-finite value at dimension {}",
                 bad / static_cast<std::int64_t>(dim_), bad % static_cast<std::int64_t>(dim_));
  data_ = base;
  normalized_.clear();
  file_.reset();
  scratch_.clear();
  if (metric_ == Metric::Angular) {
    // Unit rows (zero rows stay zero): the forest splits and the re-ranking ranks by -<q, x>.
    normalized_.resize(base.rows * dim_);
    const auto n = static_cast<std::int64_t>(base.rows);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto row = static_cast<std::size_t>(i);
      normalize_into(base.row(row), dim_, normalized_.data() + row * dim_);
    }
    data_ = MatrixView{normalized_.data(), base.rows, dim_};
  }
  forest_.build(data_, options_);
  built_ = true;
}

void AnnoyIndex::adopt(MatrixView vectors) {
  normalized_ = {};
  data_ = vectors;
  built_ = true;
}

void AnnoyIndex::set_search_params(const Params& params) {
  search_k_ = params.get_int("search_k");
}

void AnnoyIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(built_, "annoy: search before build");
  const auto lease = scratch_.acquire();
  Scratch& s = *lease;
  s.begin(data_.rows);
  const float* q = query;
  if (metric_ == Metric::Angular) {
    s.query.resize(dim_);
    normalize_into(query, dim_, s.query.data());
    q = s.query.data();
  }
  // Annoy's default budget is n_trees * k; an explicit budget below k could not fill k slots.
  const std::size_t budget =
      search_k_ < 0 ? forest_.tree_count() * k : std::max(static_cast<std::size_t>(search_k_), k);
  collect(q, budget, s);
  rerank(q, k, s, out);
  // Ranked by squared L2, or -<q, x> on unit vectors for angular.
  to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out, k);
  distances_.add(s.candidates.size());
}

// Best-first walk over all trees until `budget` ids were collected (duplicates counted, as in
// Annoy, so search_k means the same in both); unique ids land in s.candidates.
void AnnoyIndex::collect(const float* q, std::size_t budget, Scratch& s) const {
  const auto cmp = [](const auto& a, const auto& b) { return a.first < b.first; };
  const DistanceKernels& kernels = distance_kernels();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (const std::int32_t root : forest_.roots()) s.queue.emplace_back(kInf, root);
  std::make_heap(s.queue.begin(), s.queue.end(), cmp);
  std::size_t collected = 0;
  while (collected < budget && !s.queue.empty()) {
    std::pop_heap(s.queue.begin(), s.queue.end(), cmp);
    const auto [priority, ref] = s.queue.back();
    s.queue.pop_back();
    if (ref < 0) {
      const std::int32_t* begin = forest_.leaf_begin(~ref);
      const std::int32_t* end = forest_.leaf_end(~ref);
      for (const std::int32_t* it = begin; it != end; ++it) {
        if (s.visited.insert(static_cast<std::size_t>(*it))) s.candidates.push_back(*it);
      }
      collected += static_cast<std::size_t>(end - begin);
      continue;
    }
    const float* plane = forest_.plane(ref);
    const float margin = kernels.inner_product(plane, q, dim_) + plane[dim_];
    const std::int32_t* children = forest_.children(ref);
    s.queue.emplace_back(std::min(priority, margin), children[1]);
    std::push_heap(s.queue.begin(), s.queue.end(), cmp);
    s.queue.emplace_back(std::min(priority, -margin), children[0]);
    std::push_heap(s.queue.begin(), s.queue.end(), cmp);
  }
}

// Exact distances of the candidates into a TopK. Euclidean: the squared distance is summed in
// 64-float groups and a candidate is dropped as soon as its partial sum exceeds the k-th best
// (partial sums only grow), so most far candidates are read only in part; rows are read front
// to back, which the hardware prefetcher streams (reading high-variance dimensions first
// dropped candidates sooner but lost the streaming, and was slower). Result unchanged: a
// dropped candidate could not have entered the TopK.
void AnnoyIndex::rerank(const float* q, std::size_t k, Scratch& s, Neighbor* out) const {
  s.top.reset(k);
  const std::vector<std::int32_t>& candidates = s.candidates;
  const std::size_t count = candidates.size();
  const auto row = [&](std::size_t i) {
    return data_.row(static_cast<std::size_t>(candidates[i]));
  };
  if (metric_ != Metric::L2) {
    const DistanceKernels& kernels = distance_kernels();
    for (std::size_t i = 0; i < count; ++i) {
      if (i + kPrefetchAhead < count) prefetch_block(row(i + kPrefetchAhead));
      s.top.push(-kernels.inner_product(q, row(i), dim_), candidates[i]);
    }
    s.top.write_sorted(out, k);
    return;
  }
  const std::size_t blocks = dim_ / kBlock;
  const std::size_t tail = blocks * kBlock;
  const std::size_t prefetched = std::min(blocks, kPrefetchBlocks);
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) {
      const float* ahead = row(i + kPrefetchAhead);
      for (std::size_t b = 0; b < prefetched; ++b) prefetch_block(ahead + b * kBlock);
    }
    const float* x = row(i);
    const float worst = s.top.worst();
    alignas(64) std::array<float, kBlock> acc{};
    bool abandoned = false;
    for (std::size_t b = 0; b < blocks; b += kBlocksPerCheck) {
      const std::size_t group_end = std::min(blocks, b + kBlocksPerCheck);
      for (std::size_t g = b; g < group_end; ++g) {
        add_block(q + g * kBlock, x + g * kBlock, acc.data());
      }
      if (lane_sum(acc.data()) > worst) {
        abandoned = true;
        break;
      }
    }
    if (abandoned) continue;
    for (std::size_t j = tail; j < dim_; ++j) {
      const float d = q[j] - x[j];
      acc[j - tail] += d * d;
    }
    s.top.push(lane_sum(acc.data()), candidates[i]);
  }
  s.top.write_sorted(out, k);
}

std::size_t AnnoyIndex::memory_bytes() const {
  return forest_.bytes() + data_.rows * dim_ * sizeof(float) + scratch_.bytes();
}

std::size_t AnnoyIndex::heap_bytes() const {
  return forest_.heap_bytes() + normalized_.capacity() * sizeof(float);
}

}  // namespace annbench::annoy
