// Exact ground truth over a train set read block by block (see groundtruth.h): the same exact
// scan per block, the per-query top-k merged across blocks.

#include <annbench/common/distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace annbench {

namespace {

// One kept neighbour of the streamed scan, ranked as ExactKnn ranks its final k: exact distance
// in double, then id. (Ranking the float distances instead would reorder pairs whose doubles
// differ but round to the same float.)
struct Ranked {
  double distance;
  std::int64_t id;
  bool operator<(const Ranked& other) const {
    return distance < other.distance || (distance == other.distance && id < other.id);
  }
};

std::size_t multiply_or_max(std::size_t a, std::size_t b) {
  std::size_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<std::size_t>::max() : product;
}

std::size_t add_or_max(std::size_t a, std::size_t b) {
  std::size_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::size_t>::max() : sum;
}

struct BufferFree {
  void operator()(float* p) const { std::free(p); }
};

// The train block, on transparent huge pages where the kernel grants them on request (madvise
// mode): faulting in a fresh buffer 4 KiB at a time took 0.8 s per 268 MB on the project's
// virtual machine, as long as scanning 1M × 96 rows for 1,000 queries; with 2 MiB pages, 0.03 s.
std::unique_ptr<float, BufferFree> block_buffer(std::size_t floats) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const std::size_t bytes = std::max<std::size_t>(floats, 1) * sizeof(float);
  // Small blocks (tiny budgets, tests) stay plain allocations within their budget.
  const bool huge = bytes >= 2 * kHugePage;
  const std::size_t size = huge ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes;
  void* raw = std::aligned_alloc(huge ? kHugePage : 64, (size + 63) / 64 * 64);
  ANNBENCH_CHECK(raw != nullptr, "ground truth: out of memory allocating a {}-byte train block",
                 size);
  if (huge) ::madvise(raw, size, MADV_HUGEPAGE);  // advice only: refused or ignored is fine
  return std::unique_ptr<float, BufferFree>(static_cast<float*>(raw));
}

std::string mib(std::size_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

std::size_t ground_truth_block_rows(std::size_t train_rows, std::size_t queries, std::size_t dim,
                                    Metric metric, std::size_t k, std::size_t memory_bytes) {
  if (train_rows == 0) return 0;
  k = std::min(k, train_rows);
  // The queries, the kept top-k of every query and one block's top-k, as Ranked / Neighbor.
  const std::size_t fixed =
      add_or_max(multiply_or_max(multiply_or_max(queries, dim), sizeof(float)),
                 multiply_or_max(multiply_or_max(queries, k), std::size_t{2 * 16}));
  // A train row, plus what ExactKnn keeps per row: |x|^2 (euclidean) or a unit copy (angular).
  std::size_t per_row = dim * sizeof(float);
  if (metric == Metric::L2) per_row += sizeof(float);
  if (metric == Metric::Angular) per_row += dim * sizeof(float);
  const std::size_t needed = add_or_max(fixed, per_row);
  ANNBENCH_CHECK(memory_bytes >= needed,
                 "ground truth: a memory budget of {} bytes ({}) cannot hold the {} queries and "
                 "their top-{} state ({} bytes) plus one {}-d train row ({} bytes); it needs at "
                 "least {} bytes, and much more to run at speed",
                 memory_bytes, mib(memory_bytes), queries, k, fixed, dim, per_row, needed);
  std::size_t rows = (memory_bytes - fixed) / per_row;
  // As large as the budget allows, up to 512 MiB: each block restarts the scan's candidate
  // thresholds at +inf, which costs about a thousand heap pushes per query per block (with 1,000
  // queries over 1M × 96 rows, blocks of 178k rows were 10-20 % slower than one scan, 690k rows
  // a few per cent). The cap bounds the buffer whose pages are faulted in once per run.
  constexpr std::size_t kMaxBlockBytes = std::size_t{512} << 20;
  const std::size_t target = std::max<std::size_t>(1, kMaxBlockBytes / per_row);
  rows = std::min({rows, target, train_rows});
  // Whole multiples of the block kernel's largest base block (1024 rows), so the scan inside
  // each block is tiled as in one scan over all rows.
  if (rows >= 1024 && rows < train_rows) rows -= rows % 1024;
  return rows;
}

GroundTruth compute_ground_truth_streamed(const TrainRowReader& read_train, std::size_t train_rows,
                                          MatrixView queries, Metric metric, std::size_t k,
                                          std::size_t memory_bytes,
                                          const GroundTruthProgress& progress) {
  ANNBENCH_CHECK(static_cast<bool>(read_train), "ground truth: no train reader");
  ANNBENCH_CHECK(train_rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "ground truth: {} train vectors do not fit int32 neighbour ids", train_rows);
  const std::size_t dim = queries.dim;
  const std::size_t nq = queries.rows;
  k = std::min(k, train_rows);
  GroundTruth truth{IdMatrix(nq, k), FloatMatrix(nq, k)};
  if (k == 0 || nq == 0) return truth;

  const std::size_t block_rows =
      ground_truth_block_rows(train_rows, nq, dim, metric, k, memory_bytes);
  const std::unique_ptr<float, BufferFree> block = block_buffer(block_rows * dim);
  std::vector<Ranked> best(nq * k);
  std::vector<Neighbor> found(nq * k);
  std::size_t held = 0;  // entries kept per query so far: the same for every query
  const auto exact = distance_kernels().exact;
  for (std::size_t first = 0; first < train_rows; first += block_rows) {
    const std::size_t count = std::min(block_rows, train_rows - first);
    read_train(first, count, block.get());
    const MatrixView rows{block.get(), count, dim};
    const std::size_t block_k = std::min(k, count);
    {
      const ExactKnn knn(rows, metric);
      knn.search_batch(queries, block_k, found.data());
    }
    const std::size_t kept = std::min(k, held + block_k);
    const auto n = static_cast<std::int64_t>(nq);
#pragma omp parallel
    {
      std::vector<Ranked> incoming(block_k);
      std::vector<Ranked> merged(kept);
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        const auto q = static_cast<std::size_t>(i);
        // ExactKnn ranked these by the same exact_distance in double: recomputing it gives the
        // very values it compared, which the float distances in `found` no longer carry.
        for (std::size_t j = 0; j < block_k; ++j) {
          const Neighbor& hit = found[q * block_k + j];
          const auto local = static_cast<std::size_t>(hit.id);
          incoming[j] = {exact(metric, queries.row(q), rows.row(local), dim),
                         static_cast<std::int64_t>(first + local)};
        }
        Ranked* current = best.data() + q * k;
        std::size_t a = 0;
        std::size_t b = 0;
        for (std::size_t out = 0; out < kept; ++out) {
          merged[out] =
              b == block_k || (a < held && current[a] < incoming[b]) ? current[a++] : incoming[b++];
        }
        std::copy(merged.begin(), merged.end(), current);
      }
    }
    held = kept;
    if (progress) progress(first + count, train_rows);
  }
  for (std::size_t q = 0; q < nq; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const Ranked& entry = best[q * k + j];
      truth.neighbors(q, j) = static_cast<std::int32_t>(entry.id);
      truth.distances(q, j) = static_cast<float>(entry.distance);
    }
  }
  return truth;
}

std::size_t default_ground_truth_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string key;
    std::size_t kib = 0;
    if (fields >> key >> kib && key == "MemTotal:" && kib > 0) return kib * 1024 / 4;
  }
  // Without /proc (not Linux), the page count the C library reports.
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0)
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size) / 4;
  return std::size_t{1} << 30;
}

}  // namespace annbench
