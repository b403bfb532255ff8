// The range track (config `mode: range`): every search point at the radius of the dataset's
// range ground truth; big-ann-benchmarks' range recall and average precision (metrics.h).

#include "metrics.h"
#include "timing.h"
#include "track.h"

#include <annbench/common/distance.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <span>

namespace annbench {

namespace {

// The best run's per-query times and results, per query as the module returned them.
using RangeMeasurement = Timed<std::vector<std::vector<Neighbor>>>;

void clear_each(std::vector<std::vector<Neighbor>>& results) {
  for (auto& result : results) result.clear();  // keeps capacity: no allocation once warm
}

RangeMeasurement measure_single_range(const Index& index, const FloatMatrix& queries, float radius,
                                      int runs) {
  return time_each_query(
      index, queries.rows(), runs, std::vector<std::vector<Neighbor>>(queries.rows()),
      [&](std::size_t q, std::vector<std::vector<Neighbor>>& results) {
        index.range_search(queries.row(q), radius, results[q]);
      },
      clear_each);
}

// OpenMP over single range searches (the Index API has no batch range call).
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

// Distances recomputed in the dataset metric, results stored CSR style in id order, range
// recall and AP against the file's range ground truth.
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

class RangeTrack final : public Track {
 public:
  std::string_view name() const override { return "range"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = false;
    options.load_range_ground_truth = true;
  }

  void check_settings(const SweepSettings&, bool counts_overridden,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!counts_overridden,
                   "--k does not apply to {} (mode: range; the radius comes from the dataset)",
                   config.string());
  }

  void check_dataset(const Dataset&, const std::filesystem::path&,
                     const SweepSettings&) const override {}

  std::string describe(const Dataset& dataset) const override {
    return fmt::format(", range search at radius {} ({:.1f} true results per query)",
                       dataset.range->radius,
                       static_cast<double>(dataset.range->total()) /
                           static_cast<double>(dataset.range->queries()));
  }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point,
                               const Dataset& dataset,
                               const SweepSettings& settings) const override {
    // Range runs have no k: count 0.
    std::vector<PlannedRun> runs = plan_search_points(prototype, point, {0}, settings);
    for (auto& run : runs) run.record.radius = dataset.range->radius;
    return runs;
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    return static_cast<std::size_t>(settings.single) + static_cast<std::size_t>(settings.batch);
  }

  std::string refuse(const ModuleInfo& info, const BuildPoint& point) const override {
    if ((info.capabilities & kCapRangeSearch) == 0)
      return fmt::format("module '{}' does not support range search (no kCapRangeSearch)",
                         info.name);
    if (point.transform) {
      return fmt::format(
          "a {} stage cannot serve range search (the radius is a distance in the original space)",
          point.transform->key());
    }
    return "";
  }

  void measure(const Index& index, const Dataset& dataset, RunRecord& record,
               const SweepSettings& settings) const override {
    const auto radius = static_cast<float>(record.radius.value_or(0.0));
    const RangeMeasurement m =
        record.batch_mode
            ? measure_batch_range(index, dataset.test, radius, settings.runs, settings.threads)
            : measure_single_range(index, dataset.test, radius, settings.runs);
    score_range(record, m, dataset);
  }

  std::string progress(const RunRecord& record) const override {
    return fmt::format("radius={}{}: range recall {:.4f}  AP {:.4f}", record.radius.value_or(0.0),
                       record.batch_mode ? " batch" : "", record.range_recall.value_or(0),
                       record.range_ap.value_or(0));
  }
};

}  // namespace

const Track& range_track() {
  static const RangeTrack track;
  return track;
}

}  // namespace annbench
