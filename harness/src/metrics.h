#pragma once
// Quality and speed metrics, defined exactly as ANN-Benchmarks defines them
// (ann_benchmarks/plotting/metrics.py), except `rel`, which uses the first k true distances.

#include <annbench/datasets/dataset.h>
#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace annbench {

inline constexpr double kRecallTieEpsilon = 1e-3;   // absolute, added to the k-th true distance
inline constexpr double kEpsilonRecall = 0.01;      // threshold × 1.01
inline constexpr double kLargeEpsilonRecall = 0.1;  // threshold × 1.1

struct QualityMetrics {
  double recall = 0;  // k-nn recall in [0, 1]
  double epsilon_recall = 0;
  double largeepsilon_recall = 0;
  double rel = 0;                 // sum of returned distances / sum of the first k true ones
  std::size_t duplicate_ids = 0;  // repeated ids in a query's result (each repeat scores a miss)
  std::vector<float> per_query_recall;
};

// true_distances: Q × K (K ≥ k), ascending; run_ids / run_distances: Q × k, the distances
// recomputed in the dataset metric (+inf where the module returned fewer than k ids).
QualityMetrics compute_quality(const FloatMatrix& true_distances, const IdMatrix& run_ids,
                               const FloatMatrix& run_distances, std::size_t k);

// Range search quality, defined exactly as big-ann-benchmarks defines it
// (benchmark/plotting/eval_range_search.py: counts_to_PR in "overall" mode, compute_AP; read
// from harsha-simhadri/big-ann-benchmarks, not copied):
//   recall = sum over queries of |result ∩ truth| / sum of |truth|; when no query has a true
//            neighbour, 1 if nothing was returned either, else 0.
//   average_precision: thresholds t_0..t_99 = linspace(-0.001, largest returned distance, 100);
//            at each t, a query's results are those with distance < t; precision(t) =
//            sum of hits / sum of results (1 when there are none), recall(t) as above; AP is
//            the trapezoid sum of precision over recall, 0 when nothing at all was returned.
// One difference: a repeated true id in a query's result counts as a result but only once as a
// hit (in big-ann-benchmarks each copy would count as a hit); `duplicate_ids` counts the
// repeats. Their thresholds start at -0.001, so AP assumes non-negative distances: for dot
// datasets it is computed by the same formula but means little.
struct RangeQuality {
  double recall = 0;
  double average_precision = 0;
  std::size_t duplicate_ids = 0;
  std::size_t results = 0;  // entries returned, over all queries
};

// Query q's true ids are truth_ids[truth_lims[q] .. truth_lims[q + 1]) (any order); its
// returned ids and distances (dataset metric) are ids/distances[lims[q] .. lims[q + 1]) (any
// order). Both lims have Q + 1 entries.
RangeQuality compute_range_quality(std::span<const std::size_t> truth_lims,
                                   std::span<const std::int32_t> truth_ids,
                                   std::span<const std::size_t> lims,
                                   std::span<const std::int32_t> ids,
                                   std::span<const float> distances);

struct LatencyStats {
  double mean_s = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0;
};

// Percentiles with linear interpolation between order statistics (numpy's default, which
// ANN-Benchmarks uses).
LatencyStats latency_stats(std::vector<double> seconds);

// Run slug as ANN-Benchmarks builds it: the parameters' JSON with runs of non-word characters
// replaced by '_', trimmed, except that a minus sign before a digit is kept; "default" when
// there are no parameters.
std::string run_slug(const std::string& build_json, const std::string& search_json);

}  // namespace annbench
