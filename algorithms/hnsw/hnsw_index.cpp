// HnswIndex storage: block layout, per-node locks, search parameters, memory accounting.

#include "hnsw_index.h"
#include "scratch_pool.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>

#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace annbench::hnsw {

void HnswIndex::AlignedFree::operator()(std::byte* p) const {
  std::free(p);
}

HnswIndex::HnswIndex(Metric metric, std::size_t dim, HnswConfig config)
    : metric_(metric), dim_(dim), config_(config), scratch_(std::make_unique<ScratchPool>()) {
  ANNBENCH_CHECK(dim > 0, "hnsw: dimension must be positive");
  ANNBENCH_CHECK(config.M >= 2 && config.M <= kMaxM, "hnsw: M = {} out of range [2, {}]", config.M,
                 kMaxM);
  ANNBENCH_CHECK(config.ef_construction >= 1, "hnsw: ef_construction must be at least 1");
  const DistanceKernels& kernels = distance_kernels();
  // Angular: vectors are normalised, so the negative dot product ranks like 1 - cos.
  kernel_ = metric == Metric::L2 ? kernels.l2_squared : kernels.inner_product;
  negate_ = metric != Metric::L2;
}

HnswIndex::~HnswIndex() = default;

void HnswIndex::allocate(std::size_t n, std::vector<std::uint8_t> levels) {
  ANNBENCH_CHECK(n < kNoLink, "hnsw: {} vectors exceed the 32-bit id space", n);
  ANNBENCH_CHECK(levels.size() == n, "hnsw: {} levels for {} nodes", levels.size(), n);
  n_ = n;
  stride_ = (dim_ * sizeof(float) + max_degree(0) * sizeof(std::uint32_t) + 63) / 64 * 64;
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
  scratch_->clear();
}

void HnswIndex::normalize_into(const float* src, float* dst) const {
  double norm2 = 0.0;
  for (std::size_t i = 0; i < dim_; ++i) norm2 += static_cast<double>(src[i]) * src[i];
  const float scale = norm2 > 0.0 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
  for (std::size_t i = 0; i < dim_; ++i) dst[i] = src[i] * scale;
}

void HnswIndex::copy_vector(std::uint32_t node, const float* source) {
  float* dst = const_cast<float*>(vector(node));
  if (metric_ == Metric::Angular) {
    normalize_into(source, dst);
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
}

std::size_t HnswIndex::memory_bytes() const {
  return sizeof(*this) + n_ * stride_ + levels_.capacity() +
         upper_offset_.capacity() * sizeof(std::uint32_t) +
         upper_.capacity() * sizeof(std::uint32_t) + n_ * sizeof(std::atomic<std::uint8_t>) +
         scratch_->bytes();
}

}  // namespace annbench::hnsw
