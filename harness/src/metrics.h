#pragma once
// Quality and speed metrics, defined exactly as ANN-Benchmarks defines them
// (ann_benchmarks/plotting/metrics.py), except `rel`, which uses the first k true distances.

#include <annbench/datasets/dataset.h>
#include <annbench/matrix.h>

#include <cstddef>
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
