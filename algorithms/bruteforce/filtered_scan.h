#pragma once
// Exact filtered k-NN for bruteforce: the k nearest among the rows a Filter allows, equal to a
// naive double-precision scan of those rows (ties by smaller id).
//
// The scheme is ExactKnn's (common/exact_knn.h) restricted to the allowed rows: float scores
// choose k + margin candidates, exact_distance re-ranks them, and a rounding-error bound on the
// float scores proves that no allowed row left out could enter the top k (else the allowed rows
// the bound cannot exclude are re-ranked too). ExactKnn keeps its per-row data private, so this
// keeps its own: |x|^2 (euclidean) or 1 / |x| (angular), one float per row, and the largest norm.
//
// Two ways to find the candidates, chosen per query by the filter's selectivity (README):
// - sparse: walk filter.ids() (the allowed rows, ascending), one single-vector inner product per
//   allowed row, the next rows prefetched: O(count d);
// - dense: every row through the block kernel (1 query × 3 rows per tile, contiguous), the
//   disallowed rows' scores skipped by the bit test: O(n d), but cheaper per row.

#include <annbench/filter.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/neighbor.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace annbench::bruteforce {

// At or above this selectivity the dense scan is used (README, "Filtered search").
inline constexpr double kDenseSelectivity = 0.5;

class FilteredScan {
 public:
  // base: rows × dim, referenced (must outlive this object unchanged).
  void prepare(MatrixView base, Metric metric);

  // k nearest allowed rows, nearest first, exact distances in the metric's scale, -1 / +inf
  // padded. ids: empty when the rows are their own ids (a static index); else the caller's id
  // of each row, and a row is allowed when its id is a row of the filter's base that the
  // filter allows. Returns the distances computed. Thread-safe.
  std::size_t search(const float* query, std::size_t k, const Filter& filter,
                     std::span<const std::int64_t> ids, Neighbor* out) const;

  std::size_t bytes() const { return per_row_.capacity() * sizeof(float); }

 private:
  struct Query;
  Query prepare_query(const float* query, std::vector<float>& normalised) const;
  float score(std::size_t row, float inner_product) const;
  double exact_score(const Query& query, double distance) const;

  MatrixView base_{};
  Metric metric_ = Metric::L2;
  std::vector<float> per_row_;  // euclidean: |x|^2; angular: 1 / |x| (0 for a zero row)
  double max_norm_ = 0.0;
};

}  // namespace annbench::bruteforce
