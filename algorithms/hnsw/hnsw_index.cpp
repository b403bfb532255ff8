// HnswIndex storage: block layout, per-node locks, search parameters, memory accounting.

#include "hnsw_index.h"
#include "search_scratch.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace annbench::hnsw {

void HnswIndex::AlignedFree::operator()(std::byte* p) const {
  std::free(p);
}

HnswIndex::HnswIndex(Metric metric, std::size_t dim, HnswConfig config)
    : metric_(metric), dim_(dim), config_(config), level_rng_(config.seed) {
  ANNBENCH_CHECK(dim > 0, "hnsw: dimension must be positive");
  ANNBENCH_CHECK(config.M >= 2 && config.M <= kMaxM, "hnsw: M = {} out of range [2, {}]", config.M,
                 kMaxM);
  ANNBENCH_CHECK(config.ef_construction >= 1, "hnsw: ef_construction must be at least 1");
  ANNBENCH_CHECK(config.repair_threshold >= 0.0 && config.repair_threshold <= 1.0,
                 "hnsw: repair_threshold = {} out of range [0, 1]", config.repair_threshold);
  ANNBENCH_CHECK(config.alpha >= 1.0 && config.alpha <= 2.0, "hnsw: alpha = {} out of range [1, 2]",
                 config.alpha);
  ANNBENCH_CHECK(config.passes == 1 || config.passes == 2, "hnsw: passes = {} must be 1 or 2",
                 config.passes);
  // Scaling a distance by alpha means "alpha times farther" only for a distance; the negative
  // inner product can be negative and obeys no triangle inequality (README, "alpha").
  ANNBENCH_CHECK(config.alpha == 1.0 || metric != Metric::InnerProduct,
                 "hnsw: alpha = {} is not available for metric {}: the negative inner product is "
                 "not a distance, so RobustPrune's 'alpha times nearer' has no meaning; use alpha "
                 "1 (passes 2 still re-selects with the heuristic)",
                 config.alpha, metric_name(metric));
  const DistanceKernels& kernels = distance_kernels();
  // Angular: vectors are normalised, so the negative dot product ranks like 1 - cos.
  kernel_ = metric == Metric::L2 ? kernels.l2_squared : kernels.inner_product;
  negate_ = metric != Metric::L2;
  const CompactKernels& compact = compact_kernels();
  fp16_kernel_ = metric == Metric::L2 ? compact.l2sq_f32_fp16 : compact.dot_f32_fp16;
  sq8_kernel_ = metric == Metric::L2 ? compact.sq8_l2sq : compact.sq8_dot;
  u8_kernel_ = metric == Metric::L2 ? compact.l2sq_u8 : compact.dot_u8;
  i8_kernel_ = metric == Metric::L2 ? compact.l2sq_i8 : compact.dot_i8;
  requested_storage_ = config.storage;
  set_storage(config.storage);
}

void HnswIndex::set_storage(Storage storage) {
  config_.storage = storage;
  // Padded to 4 bytes: the links that follow are uint32.
  const std::size_t element = storage == Storage::Float  ? sizeof(float)
                              : storage == Storage::Fp16 ? sizeof(std::uint16_t)
                                                         : sizeof(std::uint8_t);
  code_bytes_ = (dim_ * element + 3) / 4 * 4;
  // Integer storage is exact: nothing to re-rank with.
  float_copy_ = (storage == Storage::Sq8 || storage == Storage::Fp16) && config_.keep_float;
  stride_ = (code_bytes_ + max_degree(0) * sizeof(std::uint32_t) + 63) / 64 * 64;
}

HnswIndex::~HnswIndex() = default;

void HnswIndex::allocate(std::size_t n, std::vector<std::uint8_t> levels) {
  ANNBENCH_CHECK(n < kNoLink, "hnsw: {} vectors exceed the 32-bit id space", n);
  ANNBENCH_CHECK(levels.size() == n, "hnsw: {} levels for {} nodes", levels.size(), n);
  n_ = n;
  capacity_ = n;
  stride_ = (code_bytes_ + max_degree(0) * sizeof(std::uint32_t) + 63) / 64 * 64;
  float_ = std::vector<float>(float_copy_ ? n * dim_ : 0);
  level0_.reset();
  if (n > 0) {
    void* raw = std::aligned_alloc(64, n * stride_);
    ANNBENCH_CHECK(raw != nullptr, "hnsw: out of memory allocating {} bytes for layer 0",
                   n * stride_);
    level0_.reset(static_cast<std::byte*>(raw));
    // Padding zero, links empty: saved files are then a function of the graph alone.
    std::memset(raw, 0, n * stride_);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t* links = link_list(static_cast<std::uint32_t>(i), 0);
      std::fill_n(links, max_degree(0), kNoLink);
    }
  }
  levels_ = std::move(levels);
  upper_offset_.assign(n, 0);
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (levels_[i] == 0) continue;
    upper_offset_[i] = static_cast<std::uint32_t>(total);
    total += levels_[i] * config_.M;
    ANNBENCH_CHECK(total < kNoLink, "hnsw: upper layers exceed 2^32 links");
  }
  upper_.assign(total, kNoLink);
  locks_ = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  max_level_ = -1;
  entry_ = kNoLink;
  state_ = std::vector<std::uint8_t>();
  deleted_ = 0;
  free_ = std::vector<std::uint32_t>();
  external_ = std::vector<std::int64_t>();
  ids_.clear();
  unchecked_ = 0;
  scratch_.clear();
}

std::uint8_t HnswIndex::draw_level() {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double ml = 1.0 / std::log(static_cast<double>(config_.M));
  const double u = 1.0 - uniform(level_rng_);  // (0, 1]: log stays finite
  return static_cast<std::uint8_t>(std::min<double>(std::floor(-std::log(u) * ml), kMaxLevel));
}

void HnswIndex::reserve_slots(std::size_t slots, bool exact) {
  ANNBENCH_CHECK(slots < kNoLink, "hnsw: {} vectors exceed the 32-bit id space", slots);
  if (slots <= capacity_) return;
  const std::size_t capacity =
      exact ? slots
            : std::min<std::size_t>(std::max(slots, capacity_ + capacity_ / 2), kNoLink - 1);
  void* raw = std::aligned_alloc(64, capacity * stride_);
  ANNBENCH_CHECK(raw != nullptr, "hnsw: out of memory allocating {} bytes for layer 0",
                 capacity * stride_);
  if (n_ > 0) std::memcpy(raw, level0_.get(), n_ * stride_);
  level0_.reset(static_cast<std::byte*>(raw));
  // No insertion or search runs during add()'s growth, so no lock is held.
  locks_ = std::make_unique<std::atomic<std::uint8_t>[]>(capacity);
  levels_.reserve(capacity);
  upper_offset_.reserve(capacity);
  external_.reserve(capacity);
  if (!state_.empty()) state_.reserve(capacity);
  if (float_copy_) float_.resize(capacity * dim_);
  capacity_ = capacity;
}

void HnswIndex::init_slot(std::uint32_t node, std::uint8_t level, const float* source) {
  std::memset(level0_.get() + node * stride_, 0, stride_);
  copy_vector(node, source);
  std::fill_n(link_list(node, 0), max_degree(0), kNoLink);
  levels_[node] = level;
  upper_offset_[node] = 0;
  if (level > 0) {
    const std::size_t offset = upper_.size();
    ANNBENCH_CHECK(offset + level * config_.M < kNoLink, "hnsw: upper layers exceed 2^32 links");
    upper_offset_[node] = static_cast<std::uint32_t>(offset);
    upper_.resize(offset + level * config_.M, kNoLink);
  }
}

std::uint32_t HnswIndex::find_live(std::int64_t id) const {
  if (external_.empty()) {
    if (id < 0 || static_cast<std::uint64_t>(id) >= n_) return kNoLink;
    const auto node = static_cast<std::uint32_t>(id);
    return state(node) == SlotState::Live ? node : kNoLink;
  }
  return ids_.find(id, external_);
}

void HnswIndex::copy_vector(std::uint32_t node, const float* source) {
  if (config_.storage != Storage::Float) return store_compact(node, source);
  float* dst = const_cast<float*>(vector(node));
  if (metric_ == Metric::Angular) {
    annbench::normalize_into(source, dim_, dst);
  } else {
    std::memcpy(dst, source, dim_ * sizeof(float));
  }
}

void HnswIndex::lock(std::uint32_t node) const {
  std::atomic<std::uint8_t>& flag = locks_[node];
  while (flag.exchange(1, std::memory_order_acquire) != 0) {
    while (flag.load(std::memory_order_relaxed) != 0) _mm_pause();
  }
}

void HnswIndex::unlock(std::uint32_t node) const {
  locks_[node].store(0, std::memory_order_release);
}

void HnswIndex::set_search_params(const Params& params) {
  const std::int64_t ef = params.get_int("ef");
  ANNBENCH_CHECK(ef >= 1, "hnsw: ef = {} must be at least 1", ef);
  ef_ = static_cast<std::size_t>(ef);
  // Only filtered sweeps resolve this filter-only parameter; elsewhere the default holds.
  filter_exact_below_ = params.contains("filter_exact_below")
                            ? params.get_float("filter_exact_below")
                            : kFilterExactBelow;
  // Searches before this parameter existed, and callers that do not resolve it, re-rank all.
  const std::int64_t rerank = params.contains("rerank") ? params.get_int("rerank") : 0;
  ANNBENCH_CHECK(rerank >= 0,
                 "hnsw: rerank = {} must be at least 0 (0: re-rank every candidate the beam "
                 "found; n > 0: the best n, at least k)",
                 rerank);
  rerank_ = static_cast<std::size_t>(rerank);
}

std::string HnswIndex::build_report() const {
  std::uint64_t links = 0, full = 0, live = 0;
  const std::size_t cap = max_degree(0);
  for (std::uint32_t node = 0; node < n_; ++node) {
    if (!state_.empty() && state_[node] != static_cast<std::uint8_t>(SlotState::Live)) continue;
    const std::size_t degree = neighbors(node, 0).size();
    links += degree;
    full += degree == cap ? 1 : 0;
    ++live;
  }
  if (live == 0) return {};
  const auto per_node = [live](std::uint64_t total) {
    return static_cast<double>(total) / static_cast<double>(live);
  };
  return fmt::format(
      R"({{"layer0_mean_degree":{:.2f},"layer0_full_lists":{:.3f},"layer0_max_degree":{}}})",
      per_node(links), per_node(full), cap);
}

std::size_t HnswIndex::memory_bytes() const {
  return sizeof(*this) + capacity_ * stride_ + levels_.capacity() +
         upper_offset_.capacity() * sizeof(std::uint32_t) +
         upper_.capacity() * sizeof(std::uint32_t) + capacity_ * sizeof(std::atomic<std::uint8_t>) +
         state_.capacity() + free_.capacity() * sizeof(std::uint32_t) +
         external_.capacity() * sizeof(std::int64_t) + ids_.bytes() + scratch_.bytes() +
         float_.capacity() * sizeof(float) + (sq8_ ? 2 * dim_ * sizeof(float) : 0);
}

}  // namespace annbench::hnsw
