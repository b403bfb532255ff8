#pragma once
// How queries are timed, and how the timing lands in a run record; shared by k-NN runs
// (track_knn.cpp) and range runs (track_range.cpp).

#include "metrics.h"
#include "results.h"

#include <annbench/index.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace annbench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The best run's per-query times and results.
template <typename Results>
struct Timed {
  std::vector<float> times;  // seconds per query
  Results results;
  double best_mean = std::numeric_limits<double>::infinity();
  std::optional<double> distcomps_per_query;
};

template <typename Results>
void record_distance_counts(Timed<Results>& timed, const Index& index,
                            std::optional<std::uint64_t> before, std::size_t queries, int runs) {
  const auto after = index.distance_count();
  if (before && after && queries > 0) {
    timed.distcomps_per_query =
        static_cast<double>(*after - *before) / (static_cast<double>(queries) * runs);
  }
}

// Each query timed alone on one thread, as ANN-Benchmarks does, after a warm-up pass over a
// tenth of the queries; the best (lowest mean) of `runs` repetitions is kept, with its times.
// answer(q, results) answers query q into `results`; clear(results) resets them before each
// run, outside the timed calls.
template <typename Results, typename Answer, typename Clear>
Timed<Results> time_each_query(const Index& index, std::size_t q_count, int runs, Results results,
                               Answer answer, Clear clear) {
  omp_set_num_threads(1);
  Timed<Results> best;
  std::vector<float> times(q_count);
  for (std::size_t q = 0; q < std::max<std::size_t>(1, q_count / 10) && q < q_count; ++q) {
    answer(q, results);
  }
  const auto before = index.distance_count();
  for (int run = 0; run < runs; ++run) {
    clear(results);
    double total = 0;
    for (std::size_t q = 0; q < q_count; ++q) {
      const auto start = Clock::now();
      answer(q, results);
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
  record_distance_counts(best, index, before, q_count, runs);
  return best;
}

// All queries in one answer_all(results) call on `threads` threads; per-query time = total / Q.
template <typename Results, typename AnswerAll, typename Clear>
Timed<Results> time_all_queries(const Index& index, std::size_t q_count, int runs, int threads,
                                Results results, AnswerAll answer_all, Clear clear) {
  omp_set_num_threads(threads);
  Timed<Results> best;
  const auto before = index.distance_count();
  for (int run = 0; run < runs; ++run) {
    clear(results);
    const auto start = Clock::now();
    answer_all(results);
    const double mean = seconds_since(start) / static_cast<double>(q_count);
    if (mean < best.best_mean) {
      best.best_mean = mean;
      best.results = results;
    }
  }
  best.times.assign(q_count, static_cast<float>(best.best_mean));
  record_distance_counts(best, index, before, q_count, runs);
  return best;
}

// The speed half of a finished run: best mean, QPS, latency percentiles, distance counts and
// the per-query times.
template <typename Results>
void record_speed(RunRecord& record, const Timed<Results>& timed) {
  const LatencyStats latency =
      latency_stats(std::vector<double>(timed.times.begin(), timed.times.end()));
  record.best_search_time = timed.best_mean;
  record.qps = timed.best_mean > 0 ? 1.0 / timed.best_mean : 0;
  record.p50_ms = latency.p50_ms;
  record.p95_ms = latency.p95_ms;
  record.p99_ms = latency.p99_ms;
  record.p999_ms = latency.p999_ms;
  record.distcomps = timed.distcomps_per_query;
  record.times = timed.times;
}

}  // namespace annbench
