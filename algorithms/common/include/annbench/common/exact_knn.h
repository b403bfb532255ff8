#pragma once
// Exact k-nearest neighbours by full scan: what exact ground truth and the bruteforce module
// share.
//
// Candidates are chosen with fast float scores (inner products; |x|^2 - 2 <q, x> for euclidean,
// cosine of normalised copies for angular), keeping a margin beyond k, then re-ranked with
// exact_distance. A rounding-error bound on the float scores then proves the re-ranked k are the
// true k: when the margin's worst candidate is not clearly beyond the k-th exact distance (many
// near-ties, duplicates), the query is rescanned, keeping everything the bound cannot exclude.
// So results equal a naive double-precision scan, ties broken by smaller id.
//
// Range search uses the same bound the other way round: every point whose float score is within
// the error bound of the radius is checked with exact_distance, so the result is exactly the
// points with exact_distance <= radius, boundary ties included.

#include <annbench/common/topk.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/neighbor.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace annbench {

class ExactKnn {
 public:
  // base: n × dim, row-major; referenced, so it must outlive this object unchanged. Computes
  // squared norms (euclidean) or a normalised copy (angular) with the OpenMP threads in effect.
  ExactKnn(MatrixView base, Metric metric);

  ExactKnn(const ExactKnn&) = delete;
  ExactKnn& operator=(const ExactKnn&) = delete;

  Metric metric() const { return metric_; }
  std::size_t size() const { return base_.rows; }
  std::size_t dim() const { return base_.dim; }
  MatrixView base() const { return base_; }

  // query: dim floats. out: k slots, nearest first, distance = exact_distance(metric) as float;
  // slots past size() get id -1 and +inf. Thread-safe. Single-threaded per call.
  void search(const float* query, std::size_t k, Neighbor* out) const;

  // queries: nq × dim; out: nq × k, row-major, as search(). Blocked: query blocks over the
  // OpenMP threads in effect, each block against base blocks with the block kernel.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const;

  // Every base point with exact_distance(metric, query, x) <= radius (compared in double),
  // appended to `out` in id order with the distance rounded to float. A NaN radius is an error;
  // a negative one finds nothing for euclidean and angular. Thread-safe, single-threaded.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const;

  // queries: nq × dim. out[i] receives range_search(queries.row(i)) (cleared first), in id
  // order. Blocked like search_batch, over the OpenMP threads in effect.
  void range_search_batch(MatrixView queries, float radius,
                          std::vector<std::vector<Neighbor>>& out) const;

  // Bytes held here (norms, normalised copy), not counting the referenced base.
  std::size_t owned_bytes() const;

  // Queries that needed the rescan since construction (for tests and diagnostics).
  std::uint64_t rescans() const { return rescans_.load(std::memory_order_relaxed); }

 private:
  struct Query {
    const float* raw = nullptr;   // as given: exact distances use it
    const float* scan = nullptr;  // what the float scores use (normalised for angular)
    double norm2 = 0.0;           // |q|^2
    double error = 0.0;           // bound on |float score - exact score|
  };

  Query prepare(const float* query, float* normalised) const;
  const float* scan_row(std::size_t i) const;
  float score(std::size_t i, float inner_product) const;
  double exact_score(const Query& query, double distance) const;
  std::size_t candidate_count(std::size_t k) const;
  void scan_block(const float* inner_products, std::size_t first, std::size_t count,
                  TopK<float>& candidates, std::uint32_t* hit_ids, float* hit_scores) const;
  void finish(const Query& query, TopK<float>& candidates, std::size_t k, Neighbor* out) const;
  // The float score at or below which a point may lie within `radius` (+inf: none excluded,
  // nullopt: nothing can be within it).
  std::optional<float> range_score_limit(const Query& query, float radius) const;
  void check_range(const Query& query, float radius, std::size_t id,
                   std::vector<Neighbor>& out) const;

  MatrixView base_;
  Metric metric_;
  FloatMatrix normalised_;   // angular: unit rows (zero rows stay zero)
  std::vector<float> bias_;  // euclidean: |x|^2, rounded to float
  double max_norm_ = 0.0;    // largest |x| of the rows the scores use
  double error_factor_ = 0.0;
  mutable std::atomic<std::uint64_t> rescans_{0};
};

}  // namespace annbench
