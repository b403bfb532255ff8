// Exact search over native uint8 / int8 vectors; see integer_scan.h.

#include "integer_scan.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace annbench::bruteforce {
namespace {

// search_batch: queries per block, and bytes of base rows per block. A row block (64 KiB) stays
// in L2 while every query of the block scans it, so the base streams from memory once per query
// block instead of once per query.
constexpr std::size_t kBatchQueries = 16;
constexpr std::size_t kBatchRowBytes = std::size_t{64} << 10;

template <typename T>
void convert_to(const float* query, std::size_t dim, T* out) {
  constexpr auto lo = static_cast<float>(std::numeric_limits<T>::min());
  constexpr auto hi = static_cast<float>(std::numeric_limits<T>::max());
  for (std::size_t j = 0; j < dim; ++j) {
    const float v = query[j];
    // Written so that NaN fails too.
    if (!(v >= lo && v <= hi && v == std::trunc(v))) {
      ANNBENCH_FAIL(
          "bruteforce: query value {} (dimension {}) is not a {}: this index holds {} vectors, "
          "so queries must hold integers in [{}, {}]",
          v, j, element_type_name(std::is_signed_v<T> ? ElementType::kInt8 : ElementType::kUint8),
          element_type_name(std::is_signed_v<T> ? ElementType::kInt8 : ElementType::kUint8), lo,
          hi);
    }
    out[j] = static_cast<T>(v);
  }
}

// One converted query per thread, reused: a search allocates nothing in steady state.
std::uint8_t* query_buffer(std::size_t dim) {
  thread_local std::vector<std::uint8_t> buffer;
  if (buffer.size() < dim) buffer.resize(dim);
  return buffer.data();
}

}  // namespace

IntegerScan::IntegerScan(const void* base, std::size_t rows, std::size_t dim, ElementType type,
                         Metric metric)
    : base_(static_cast<const std::uint8_t*>(base)),
      rows_(rows),
      dim_(dim),
      type_(type),
      metric_(metric) {
  ANNBENCH_CHECK(type == ElementType::kUint8 || type == ElementType::kInt8,
                 "bruteforce: integer scan of {} vectors", element_type_name(type));
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::InnerProduct,
                 "bruteforce: {} vectors take metric euclidean or dot, not {} (angular data is "
                 "normalised, so it arrives as floats)",
                 element_type_name(type), metric_name(metric));
  ANNBENCH_CHECK(rows == 0 || base != nullptr, "bruteforce: {} rows without data", rows);
  const CompactKernels& kernels = compact_kernels();
  u8_kernel_ = metric == Metric::L2 ? kernels.l2sq_u8 : kernels.dot_u8;
  i8_kernel_ = metric == Metric::L2 ? kernels.l2sq_i8 : kernels.dot_i8;
}

void IntegerScan::row_as_float(std::size_t i, float* out) const {
  const std::uint8_t* row = base_ + i * dim_;
  if (type_ == ElementType::kUint8) {
    std::copy_n(row, dim_, out);
  } else {
    std::copy_n(reinterpret_cast<const std::int8_t*>(row), dim_, out);
  }
}

void IntegerScan::convert(const float* query, std::uint8_t* out) const {
  if (type_ == ElementType::kUint8) {
    convert_to(query, dim_, out);
  } else {
    convert_to(query, dim_, reinterpret_cast<std::int8_t*>(out));
  }
}

std::int64_t IntegerScan::score(const std::uint8_t* query, std::size_t row) const {
  const std::uint8_t* x = base_ + row * dim_;
  const std::int64_t s = type_ == ElementType::kUint8
                             ? u8_kernel_(query, x, dim_)
                             : i8_kernel_(reinterpret_cast<const std::int8_t*>(query),
                                          reinterpret_cast<const std::int8_t*>(x), dim_);
  return metric_ == Metric::L2 ? s : -s;
}

double IntegerScan::metric_distance(std::int64_t score) const {
  const auto d = static_cast<double>(score);
  return metric_ == Metric::L2 ? std::sqrt(d) : d;
}

void IntegerScan::write(TopK<double>& top, std::size_t k, Neighbor* out) const {
  const std::vector<TopK<double>::Entry> best = top.take_sorted();
  for (std::size_t j = 0; j < k; ++j) {
    if (j >= best.size()) {
      out[j] = Neighbor{};
      continue;
    }
    // The score is an exact integer held in double; the distance rounds to float once.
    const double d = metric_distance(static_cast<std::int64_t>(best[j].distance));
    out[j] = Neighbor{best[j].id, static_cast<float>(d)};
  }
}

void IntegerScan::search(const float* query, std::size_t k, Neighbor* out) const {
  std::uint8_t* q = query_buffer(dim_);
  convert(query, q);
  // Scores are integers, exact in double: the collector's order is the exact one. Rows come in
  // id order, so a row tying with the worst kept has the larger id and stays out ('<').
  TopK<double> top(k);
  double worst = top.worst();
  for (std::size_t i = 0; i < rows_; ++i) {
    const auto s = static_cast<double>(score(q, i));
    if (s < worst && top.push(s, static_cast<std::int64_t>(i))) worst = top.worst();
  }
  write(top, k, out);
}

void IntegerScan::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(queries.dim == dim_, "bruteforce: queries of dimension {}, expected {}",
                 queries.dim, dim_);
  const std::size_t nq = queries.rows;
  // Checked before the parallel region: an Error cannot leave an OpenMP thread.
  std::vector<std::uint8_t> converted(nq * dim_);
  for (std::size_t q = 0; q < nq; ++q) convert(queries.row(q), converted.data() + q * dim_);
  const std::size_t block_rows =
      std::max<std::size_t>(1, kBatchRowBytes / std::max<std::size_t>(dim_, 1));
  const auto blocks = static_cast<std::int64_t>((nq + kBatchQueries - 1) / kBatchQueries);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::size_t q0 = static_cast<std::size_t>(b) * kBatchQueries;
    const std::size_t qn = std::min(kBatchQueries, nq - q0);
    std::vector<TopK<double>> tops(qn, TopK<double>(k));
    std::vector<double> worst(qn, tops[0].worst());
    for (std::size_t r0 = 0; r0 < rows_; r0 += block_rows) {
      const std::size_t r1 = std::min(rows_, r0 + block_rows);
      for (std::size_t j = 0; j < qn; ++j) {
        const std::uint8_t* q = converted.data() + (q0 + j) * dim_;
        for (std::size_t i = r0; i < r1; ++i) {
          const auto s = static_cast<double>(score(q, i));
          if (s < worst[j] && tops[j].push(s, static_cast<std::int64_t>(i))) {
            worst[j] = tops[j].worst();
          }
        }
      }
    }
    for (std::size_t j = 0; j < qn; ++j) write(tops[j], k, out + (q0 + j) * k);
  }
}

void IntegerScan::range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
  ANNBENCH_CHECK(!std::isnan(radius), "bruteforce: range search radius is NaN");
  std::uint8_t* q = query_buffer(dim_);
  convert(query, q);
  const auto r = static_cast<double>(radius);
  for (std::size_t i = 0; i < rows_; ++i) {
    const double d = metric_distance(score(q, i));
    if (d <= r) out.push_back({static_cast<std::int64_t>(i), static_cast<float>(d)});
  }
}

std::size_t IntegerScan::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                         Neighbor* out) const {
  std::uint8_t* q = query_buffer(dim_);
  convert(query, q);
  TopK<double> top(k);
  double worst = top.worst();
  std::size_t computed = 0;
  for (const std::int64_t id : filter.ids()) {
    if (id < 0 || static_cast<std::size_t>(id) >= rows_) continue;
    const auto s = static_cast<double>(score(q, static_cast<std::size_t>(id)));
    ++computed;
    if (s < worst && top.push(s, id)) worst = top.worst();
  }
  write(top, k, out);
  return computed;
}

}  // namespace annbench::bruteforce
