#include "metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

namespace annbench {

QualityMetrics compute_quality(const FloatMatrix& true_distances, const IdMatrix& run_ids,
                               const FloatMatrix& run_distances, std::size_t k) {
  const std::size_t queries = run_ids.rows();
  ANNBENCH_CHECK(k >= 1 && true_distances.cols() >= k && run_ids.cols() == k &&
                     run_distances.cols() == k && true_distances.rows() >= queries &&
                     run_distances.rows() == queries,
                 "compute_quality: shapes do not match (k = {})", k);
  QualityMetrics metrics;
  metrics.per_query_recall.resize(queries);
  double hits_total = 0, epsilon_total = 0, large_total = 0;
  double true_sum = 0, run_sum = 0;
  std::unordered_set<std::int32_t> seen;
  for (std::size_t q = 0; q < queries; ++q) {
    const double kth = true_distances(q, k - 1);
    const double knn_threshold = kth + kRecallTieEpsilon;
    const double epsilon_threshold = kth * (1 + kEpsilonRecall);
    const double large_threshold = kth * (1 + kLargeEpsilonRecall);
    seen.clear();
    std::size_t hits = 0, epsilon_hits = 0, large_hits = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const std::int32_t id = run_ids(q, j);
      const double distance = run_distances(q, j);
      run_sum += distance;
      if (id < 0) continue;
      if (!seen.insert(id).second) {
        ++metrics.duplicate_ids;
        continue;
      }
      hits += distance <= knn_threshold;
      epsilon_hits += distance <= epsilon_threshold;
      large_hits += distance <= large_threshold;
    }
    for (std::size_t j = 0; j < k; ++j) true_sum += true_distances(q, j);
    metrics.per_query_recall[q] = static_cast<float>(hits) / static_cast<float>(k);
    hits_total += static_cast<double>(hits);
    epsilon_total += static_cast<double>(epsilon_hits);
    large_total += static_cast<double>(large_hits);
  }
  const double denominator = static_cast<double>(queries * k);
  if (queries > 0) {
    metrics.recall = hits_total / denominator;
    metrics.epsilon_recall = epsilon_total / denominator;
    metrics.largeepsilon_recall = large_total / denominator;
  }
  // ANN-Benchmarks returns inf when the true distances are (near) zero.
  metrics.rel = true_sum < 0.01 ? std::numeric_limits<double>::infinity() : run_sum / true_sum;
  return metrics;
}

LatencyStats latency_stats(std::vector<double> seconds) {
  LatencyStats stats;
  if (seconds.empty()) return stats;
  std::sort(seconds.begin(), seconds.end());
  double sum = 0;
  for (double s : seconds) sum += s;
  stats.mean_s = sum / static_cast<double>(seconds.size());
  auto percentile_ms = [&](double p) {
    const double position = p / 100.0 * static_cast<double>(seconds.size() - 1);
    const auto lower = static_cast<std::size_t>(std::floor(position));
    const std::size_t upper = std::min(lower + 1, seconds.size() - 1);
    const double fraction = position - static_cast<double>(lower);
    return 1000.0 * (seconds[lower] + (seconds[upper] - seconds[lower]) * fraction);
  };
  stats.p50_ms = percentile_ms(50);
  stats.p95_ms = percentile_ms(95);
  stats.p99_ms = percentile_ms(99);
  stats.p999_ms = percentile_ms(99.9);
  return stats;
}

std::string run_slug(const std::string& build_json, const std::string& search_json) {
  const std::string text = build_json + search_json;
  std::string slug;
  bool pending_separator = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // A minus sign before a digit is kept: dropping it (as ANN-Benchmarks does) would give
    // search_k = -1 and search_k = 1 the same name, and resume would skip the second.
    const bool negative =
        c == '-' && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]));
    const bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || negative;
    if (!word) {
      pending_separator = true;
      continue;
    }
    if (pending_separator && !slug.empty()) slug += '_';
    pending_separator = false;
    slug += c;
  }
  return slug.empty() ? "default" : slug;
}

}  // namespace annbench
