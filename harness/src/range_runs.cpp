// Range-search runs: timing and scoring (see range_runs.h).

#include "metrics.h"
#include "range_runs.h"

#include <annbench/common/distance.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <span>

namespace annbench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void finish_counts(RangeMeasurement& m, const Index& index, std::optional<std::uint64_t> before,
                   std::size_t queries, int runs) {
  const auto after = index.distance_count();
  if (before && after && queries > 0) {
    m.distcomps_per_query =
        static_cast<double>(*after - *before) / (static_cast<double>(queries) * runs);
  }
}

}  // namespace

// Range mode, timed like measure_single: each query alone on one thread, warm-up pass over a
// tenth of the queries, best mean of `runs`.
RangeMeasurement measure_single_range(const Index& index, const FloatMatrix& queries, float radius,
                                      int runs) {
  omp_set_num_threads(1);
  const std::size_t q_count = queries.rows();
  RangeMeasurement best;
  std::vector<std::vector<Neighbor>> results(q_count);
  std::vector<float> times(q_count);
  for (std::size_t q = 0; q < std::max<std::size_t>(1, q_count / 10) && q < q_count; ++q) {
    index.range_search(queries.row(q), radius, results[q]);
  }
  const auto before = index.distance_count();
  for (int run = 0; run < runs; ++run) {
    double total = 0;
    for (std::size_t q = 0; q < q_count; ++q) {
      results[q].clear();  // keeps capacity: no allocation inside the timed call once warm
      const auto start = Clock::now();
      index.range_search(queries.row(q), radius, results[q]);
      const double elapsed = seconds_since(start);
      times[q] = static_cast<float>(elapsed);
      total += elapsed;
    }
    const double mean = total / static_cast<double>(q_count);
    if (mean < best.best_mean) {
      best.best_mean = mean;
      best.times = times;
      best.results = results;
    }
  }
  finish_counts(best, index, before, q_count, runs);
  return best;
}

// Range mode in batch: OpenMP over single range searches on `threads` threads (the Index API
// has no batch range call); per-query time = total / Q.
RangeMeasurement measure_batch_range(const Index& index, const FloatMatrix& queries, float radius,
                                     int runs, int threads) {
  omp_set_num_threads(threads);
  const std::size_t q_count = queries.rows();
  const auto n = static_cast<std::int64_t>(q_count);
  RangeMeasurement best;
  std::vector<std::vector<Neighbor>> results(q_count);
  const auto before = index.distance_count();
  for (int run = 0; run < runs; ++run) {
    for (auto& result : results) result.clear();
    const auto start = Clock::now();
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t q = 0; q < n; ++q) {
      const auto row = static_cast<std::size_t>(q);
      index.range_search(queries.row(row), radius, results[row]);
    }
    const double mean = seconds_since(start) / static_cast<double>(q_count);
    if (mean < best.best_mean) {
      best.best_mean = mean;
      best.results = results;
    }
  }
  best.times.assign(q_count, static_cast<float>(best.best_mean));
  finish_counts(best, index, before, q_count, runs);
  return best;
}

// Range counterpart of score(): distances recomputed in the dataset metric, results stored
// CSR style in id order, range recall and AP against the file's range ground truth.
void score_range(RunRecord& record, const RangeMeasurement& m, const Dataset& dataset) {
  const std::size_t q_count = dataset.test.rows();
  const std::size_t n = dataset.train.rows();
  const RangeGroundTruth& truth = *dataset.range;
  record.range_lims.assign(1, 0);
  record.range_ids.clear();
  record.range_distances.clear();
  for (std::size_t q = 0; q < q_count; ++q) {
    std::vector<Neighbor> found = m.results[q];
    std::sort(found.begin(), found.end(),
              [](const Neighbor& a, const Neighbor& b) { return a.id < b.id; });
    for (const Neighbor& hit : found) {
      ANNBENCH_CHECK(hit.id >= 0 && static_cast<std::size_t>(hit.id) < n,
                     "module returned id {} for query {}, outside the {} train vectors", hit.id, q,
                     n);
      record.range_ids.push_back(static_cast<std::int32_t>(hit.id));
      record.range_distances.push_back(static_cast<float>(
          exact_distance(dataset.metric, dataset.test.row(q),
                         dataset.train.row(static_cast<std::size_t>(hit.id)), dataset.dim())));
    }
    record.range_lims.push_back(record.range_ids.size());
  }
  const RangeQuality quality =
      compute_range_quality(std::span<const std::size_t>(truth.lims.data(), q_count + 1), truth.ids,
                            record.range_lims, record.range_ids, record.range_distances);
  const LatencyStats latency = latency_stats(std::vector<double>(m.times.begin(), m.times.end()));
  record.range_recall = quality.recall;
  record.range_ap = quality.average_precision;
  record.recall = quality.recall;
  record.duplicate_ids = quality.duplicate_ids;
  record.best_search_time = m.best_mean;
  record.qps = m.best_mean > 0 ? 1.0 / m.best_mean : 0;
  record.p50_ms = latency.p50_ms;
  record.p95_ms = latency.p95_ms;
  record.p99_ms = latency.p99_ms;
  record.p999_ms = latency.p999_ms;
  record.distcomps = m.distcomps_per_query;
  record.candidates = static_cast<double>(quality.results) / static_cast<double>(q_count);
  record.times = m.times;
  record.ok = true;
}

}  // namespace annbench
