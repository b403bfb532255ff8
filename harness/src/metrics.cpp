#include "metrics.h"

#include <algorithm>
#include <array>
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
  double true_sum = 0, run_sum = 0;
  std::unordered_set<std::int32_t> seen;
  double per_query_total = 0, epsilon_total = 0, large_total = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    // Filtered ground truth pads with +inf where fewer than k rows pass the query's filter: the
    // query is then scored on the m rows that exist (all of them found = recall 1).
    std::size_t m = 0;
    while (m < k && std::isfinite(true_distances(q, m))) ++m;
    seen.clear();
    std::size_t hits = 0, epsilon_hits = 0, large_hits = 0, returned = 0;
    const double kth = m > 0 ? true_distances(q, m - 1) : 0.0;
    const double knn_threshold = kth + kRecallTieEpsilon;
    const double epsilon_threshold = kth * (1 + kEpsilonRecall);
    const double large_threshold = kth * (1 + kLargeEpsilonRecall);
    for (std::size_t j = 0; j < k; ++j) {
      const std::int32_t id = run_ids(q, j);
      const double distance = run_distances(q, j);
      if (j < m) run_sum += distance;
      if (id < 0) continue;
      ++returned;
      if (!seen.insert(id).second) {
        ++metrics.duplicate_ids;
        continue;
      }
      hits += distance <= knn_threshold;
      epsilon_hits += distance <= epsilon_threshold;
      large_hits += distance <= large_threshold;
    }
    for (std::size_t j = 0; j < m; ++j) true_sum += true_distances(q, j);
    const auto share = [m, returned](std::size_t found) {
      if (m == 0) return returned == 0 ? 1.0 : 0.0;
      return static_cast<double>(std::min(found, m)) / static_cast<double>(m);
    };
    metrics.per_query_recall[q] = static_cast<float>(share(hits));
    per_query_total += share(hits);
    epsilon_total += share(epsilon_hits);
    large_total += share(large_hits);
  }
  if (queries > 0) {
    const auto n = static_cast<double>(queries);
    metrics.recall = per_query_total / n;
    metrics.epsilon_recall = epsilon_total / n;
    metrics.largeepsilon_recall = large_total / n;
  }
  // ANN-Benchmarks returns inf when the true distances are (near) zero.
  metrics.rel = true_sum < 0.01 ? std::numeric_limits<double>::infinity() : run_sum / true_sum;
  return metrics;
}

namespace {

// counts_to_PR's "overall" recall: the no-truth case is perfect only when nothing was returned.
double overall_recall(double hits, double truths, double results) {
  if (truths > 0) return hits / truths;
  return results == 0 ? 1.0 : 0.0;
}

}  // namespace

RangeQuality compute_range_quality(std::span<const std::size_t> truth_lims,
                                   std::span<const std::int32_t> truth_ids,
                                   std::span<const std::size_t> lims,
                                   std::span<const std::int32_t> ids,
                                   std::span<const float> distances) {
  ANNBENCH_CHECK(!truth_lims.empty() && truth_lims.size() == lims.size() &&
                     truth_lims.back() == truth_ids.size() && lims.back() == ids.size() &&
                     ids.size() == distances.size(),
                 "compute_range_quality: shapes do not match ({} and {} lims, {} true ids, {} "
                 "ids, {} distances)",
                 truth_lims.size(), lims.size(), truth_ids.size(), ids.size(), distances.size());
  const std::size_t queries = lims.size() - 1;
  RangeQuality quality;
  quality.results = ids.size();

  // numpy.linspace(-0.001, dmax, 100) as numpy computes it: start + i * step, last = dmax.
  constexpr std::size_t kThresholds = 100;
  constexpr double kStart = -0.001;
  double dmax = -std::numeric_limits<double>::infinity();
  for (float d : distances) dmax = std::max(dmax, static_cast<double>(d));
  std::array<double, kThresholds> thresholds{};
  const double step = (dmax - kStart) / static_cast<double>(kThresholds - 1);
  for (std::size_t t = 0; t < kThresholds; ++t)
    thresholds[t] = static_cast<double>(t) * step + kStart;
  thresholds[kThresholds - 1] = dmax;

  // Per threshold, summed over queries: results with distance < t, and hits among them.
  std::array<double, kThresholds> results_below{};
  std::array<double, kThresholds> hits_below{};
  double truths = 0, hits = 0;
  std::vector<std::int32_t> truth;
  std::vector<char> matched;  // per true id of the query: already hit
  for (std::size_t q = 0; q < queries; ++q) {
    ANNBENCH_CHECK(truth_lims[q] <= truth_lims[q + 1] && lims[q] <= lims[q + 1],
                   "compute_range_quality: lims decrease at query {}", q);
    truth.assign(truth_ids.begin() + static_cast<std::ptrdiff_t>(truth_lims[q]),
                 truth_ids.begin() + static_cast<std::ptrdiff_t>(truth_lims[q + 1]));
    std::sort(truth.begin(), truth.end());
    truths += static_cast<double>(truth.size());
    matched.assign(truth.size(), 0);
    for (std::size_t i = lims[q]; i < lims[q + 1]; ++i) {
      const auto at = std::lower_bound(truth.begin(), truth.end(), ids[i]);
      bool hit = at != truth.end() && *at == ids[i];
      if (hit) {
        // Distances are the harness's own, so copies of an id have equal distances: which copy
        // counts as the hit does not change any threshold's counts.
        const auto slot = static_cast<std::size_t>(at - truth.begin());
        hit = !matched[slot];
        quality.duplicate_ids += !hit;
        matched[slot] = 1;
      }
      hits += hit;
      const auto d = static_cast<double>(distances[i]);
      for (std::size_t t = 0; t < kThresholds; ++t) {
        if (d < thresholds[t]) {
          results_below[t] += 1;
          hits_below[t] += hit;
        }
      }
    }
  }
  quality.recall = overall_recall(hits, truths, static_cast<double>(ids.size()));
  if (ids.empty()) return quality;  // compute_AP: 0 when nothing was returned

  std::array<double, kThresholds> precision{}, recall{};
  for (std::size_t t = 0; t < kThresholds; ++t) {
    precision[t] = results_below[t] > 0 ? hits_below[t] / results_below[t] : 1.0;
    recall[t] = overall_recall(hits_below[t], truths, results_below[t]);
  }
  double area = 0;
  for (std::size_t t = 0; t + 1 < kThresholds; ++t)
    area += (recall[t + 1] - recall[t]) * (precision[t + 1] + precision[t]) / 2;
  quality.average_precision = area;
  return quality;
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
