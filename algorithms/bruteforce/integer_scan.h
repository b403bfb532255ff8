#pragma once
// Exact k-NN, range and filtered search over native uint8 / int8 base vectors (Index::build_uint8
// / build_int8), for euclidean and dot.
//
// Every distance is an exact integer (compact_distance.h: squared L2 or the dot product, in
// 64 bits), so no float scoring, error bound or re-ranking is needed: the ranking is the exact
// one, ties by smaller id. Reported distances are what ExactKnn reports on the same values as
// floats: exact_distance sums exact integers in double without rounding, so sqrt(double(l2sq))
// and -double(dot), rounded to float, are bit for bit the float path's distances.
//
// Queries arrive as floats holding exact integers of the base's type; each is converted once.
// A value that is not such an integer (300 for uint8, 2.5, NaN) is an Error naming it: the
// nearest representable query would answer a different question.

#include <annbench/common/topk.h>
#include <annbench/filter.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/neighbor.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench::bruteforce {

class IntegerScan {
 public:
  // base: rows × dim of `type` (kUint8 or kInt8), referenced: it must outlive this object
  // unchanged. metric: L2 or InnerProduct (Error otherwise).
  IntegerScan(const void* base, std::size_t rows, std::size_t dim, ElementType type, Metric metric);

  ElementType type() const { return type_; }
  std::size_t rows() const { return rows_; }
  std::size_t dim() const { return dim_; }
  std::size_t bytes() const { return rows_ * dim_; }
  // Row i as floats (exact), for save() and for turning into a float index.
  void row_as_float(std::size_t i, float* out) const;

  // As ExactKnn::search: k slots nearest first, -1 / +inf padded. Thread-safe.
  void search(const float* query, std::size_t k, Neighbor* out) const;
  // queries: nq × dim; out: nq × k. All queries are converted (and checked) first, then blocks of
  // queries scan blocks of rows that stay in cache, over the OpenMP threads in effect.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const;
  // Every row at distance <= radius (compared in double, as ExactKnn), appended in id order.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const;
  // The k nearest among the rows `filter` allows (rows beyond its base are not allowed);
  // returns the distances computed.
  std::size_t search_filtered(const float* query, std::size_t k, const Filter& filter,
                              Neighbor* out) const;

 private:
  // The query as the base's type into out (dim bytes); Error when a value is not representable.
  void convert(const float* query, std::uint8_t* out) const;
  // The exact score: squared L2, or minus the dot product.
  std::int64_t score(const std::uint8_t* query, std::size_t row) const;
  // A score in the metric's scale, as exact_distance gives it.
  double metric_distance(std::int64_t score) const;
  // The kept scores into k slots, nearest first, in the metric's scale; -1 / +inf padded.
  void write(TopK<double>& top, std::size_t k, Neighbor* out) const;

  const std::uint8_t* base_;  // rows × dim bytes (int8 values for kInt8)
  std::size_t rows_;
  std::size_t dim_;
  ElementType type_;
  Metric metric_;
  // The metric's kernel for each type (compact_distance.h); only the base's type's is used.
  std::int64_t (*u8_kernel_)(const std::uint8_t*, const std::uint8_t*, std::size_t) = nullptr;
  std::int64_t (*i8_kernel_)(const std::int8_t*, const std::int8_t*, std::size_t) = nullptr;
};

}  // namespace annbench::bruteforce
