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

void clear_each(std::vector<std::vector<Neighbor>>& results) {
  for (auto& result : results) result.clear();  // keeps capacity: no allocation once warm
}

}  // namespace

RangeMeasurement measure_single_range(const Index& index, const FloatMatrix& queries, float radius,
                                      int runs) {
  return time_each_query(
      index, queries.rows(), runs, std::vector<std::vector<Neighbor>>(queries.rows()),
      [&](std::size_t q, std::vector<std::vector<Neighbor>>& results) {
        index.range_search(queries.row(q), radius, results[q]);
      },
      clear_each);
}

RangeMeasurement measure_batch_range(const Index& index, const FloatMatrix& queries, float radius,
                                     int runs, int threads) {
  const auto n = static_cast<std::int64_t>(queries.rows());
  return time_all_queries(
      index, queries.rows(), runs, threads, std::vector<std::vector<Neighbor>>(queries.rows()),
      [&](std::vector<std::vector<Neighbor>>& results) {
#pragma omp parallel for schedule(dynamic, 16)
        for (std::int64_t q = 0; q < n; ++q) {
          const auto row = static_cast<std::size_t>(q);
          index.range_search(queries.row(row), radius, results[row]);
        }
      },
      clear_each);
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
  record.range_recall = quality.recall;
  record.range_ap = quality.average_precision;
  record.recall = quality.recall;
  record.duplicate_ids = quality.duplicate_ids;
  record_speed(record, m);
  record.candidates = static_cast<double>(quality.results) / static_cast<double>(q_count);
  record.ok = true;
}

}  // namespace annbench
