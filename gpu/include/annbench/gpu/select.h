#pragma once
// Block-wide k-selection used by the gpu-flat module, written once for device and host: the
// CUDA kernel runs it with one thread block per query (Sync = __syncthreads), and the CPU unit
// tests run the same code with one "thread" (Sync = nothing), because CI has no GPU.
//
// The running best list of a query holds `width` (a power of two ≥ k) candidates sorted
// ascending by (distance, id). A chunk of `width` new candidates is sorted (bitonic sort), then
// merged: best[i] = min(best[i], chunk[width-1-i]) leaves a bitonic sequence holding the width
// smallest of both, which one bitonic merge sorts again. Per chunk: O(width log² width) work
// spread over the block.

#include <cstdint>

#if defined(__CUDACC__)
#define ANNBENCH_HD __host__ __device__
#else
#define ANNBENCH_HD
#endif

namespace annbench::gpu {

struct Candidate {
  float distance;
  std::int32_t id;  // -1: empty slot
};

ANNBENCH_HD inline bool before(const Candidate& a, const Candidate& b) {
  // Empty slots (+inf, id -1) go last; equal distances are ordered by smaller id.
  if (a.distance != b.distance) return a.distance < b.distance;
  const auto a_id = static_cast<std::uint32_t>(a.id);  // -1 becomes the largest
  const auto b_id = static_cast<std::uint32_t>(b.id);
  return a_id < b_id;
}

ANNBENCH_HD inline void order_pair(Candidate* values, int i, int j, bool ascending) {
  if (before(values[j], values[i]) == ascending) {
    const Candidate swap = values[i];
    values[i] = values[j];
    values[j] = swap;
  }
}

// Sorts values[0..width) ascending; width a power of two. Thread `thread` of `threads` handles
// comparisons thread, thread + threads, ...; Sync::sync() separates the stages.
template <typename Sync>
ANNBENCH_HD void bitonic_sort(Candidate* values, int width, int thread, int threads) {
  for (int size = 2; size <= width; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = thread; i < width / 2; i += threads) {
        // The i-th comparison of this stage: pair (low, low + stride) inside a run of `size`.
        const int low = 2 * i - (i & (stride - 1));
        const bool ascending = (low & size) == 0;
        order_pair(values, low, low + stride, ascending);
      }
      Sync::sync();
    }
  }
}

// Sorts a bitonic sequence values[0..width) ascending.
template <typename Sync>
ANNBENCH_HD void bitonic_merge(Candidate* values, int width, int thread, int threads) {
  for (int stride = width >> 1; stride > 0; stride >>= 1) {
    for (int i = thread; i < width / 2; i += threads) {
      const int low = 2 * i - (i & (stride - 1));
      order_pair(values, low, low + stride, true);
    }
    Sync::sync();
  }
}

// best[0..width): sorted ascending. chunk[0..width): arbitrary; destroyed. Afterwards best holds
// the width smallest of both, sorted.
template <typename Sync>
ANNBENCH_HD void merge_chunk(Candidate* best, Candidate* chunk, int width, int thread,
                             int threads) {
  bitonic_sort<Sync>(chunk, width, thread, threads);
  for (int i = thread; i < width; i += threads) {
    const Candidate& other = chunk[width - 1 - i];
    if (before(other, best[i])) best[i] = other;
  }
  Sync::sync();
  bitonic_merge<Sync>(best, width, thread, threads);
}

// Smallest power of two ≥ k (k ≥ 1).
ANNBENCH_HD inline int selection_width(int k) {
  int width = 1;
  while (width < k) width <<= 1;
  return width;
}

struct HostSync {
  static void sync() {}
};

}  // namespace annbench::gpu
