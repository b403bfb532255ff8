// The k-NN track: each search point at every k, each query timed alone (and in batch mode on
// request); recall@k and ANN-Benchmarks' other quality figures against the dataset's ground truth.

#include "metrics.h"
#include "timing.h"
#include "track.h"

#include <annbench/common/distance.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace annbench {

namespace {

// One timed k-NN measurement: Q × k results.
using Measurement = Timed<std::vector<Neighbor>>;

void reset_neighbors(std::vector<Neighbor>& results) {
  std::fill(results.begin(), results.end(), Neighbor{});
}

Measurement measure_single(const Index& index, const FloatMatrix& queries, std::size_t k,
                           int runs) {
  return time_each_query(
      index, queries.rows(), runs, std::vector<Neighbor>(queries.rows() * k),
      [&](std::size_t q, std::vector<Neighbor>& results) {
        index.search(queries.row(q), k, results.data() + q * k);
      },
      reset_neighbors);
}

Measurement measure_batch(const Index& index, const FloatMatrix& queries, std::size_t k, int runs,
                          int threads) {
  return time_all_queries(
      index, queries.rows(), runs, threads, std::vector<Neighbor>(queries.rows() * k),
      [&](std::vector<Neighbor>& results) {
        index.search_batch(queries.view(), k, results.data());
      },
      reset_neighbors);
}

void score(RunRecord& record, const Measurement& m, const Dataset& dataset, std::size_t k) {
  score_neighbors(record, m.results, dataset, k);
  record_speed(record, m);
}

class KnnTrack final : public Track {
 public:
  std::string_view name() const override { return "knn"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = true;
    options.native_integers = true;
  }

  void check_settings(const SweepSettings& settings, bool,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!settings.counts.empty(), "{}: no k to run", config.string());
  }

  void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                     const SweepSettings& settings) const override {
    check_counts(dataset, path, settings.counts);
  }

  std::string describe(const Dataset&) const override { return ""; }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point, const Dataset&,
                               const SweepSettings& settings) const override {
    return plan_search_points(prototype, point, settings.counts, settings);
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    return settings.counts.size() *
           (static_cast<std::size_t>(settings.single) + static_cast<std::size_t>(settings.batch));
  }

  std::string refuse(const ModuleInfo&, const BuildPoint&) const override { return ""; }

  void measure(const Index& index, const Dataset& dataset, RunRecord& record,
               const SweepSettings& settings) const override {
    const Measurement m =
        record.batch_mode
            ? measure_batch(index, dataset.test, record.count, settings.runs, settings.threads)
            : measure_single(index, dataset.test, record.count, settings.runs);
    score(record, m, dataset, record.count);
  }

  std::string progress(const RunRecord& record) const override {
    return fmt::format("k={}{}: recall {:.4f}", record.count, record.batch_mode ? " batch" : "",
                       record.recall);
  }
};

}  // namespace

void score_neighbors(RunRecord& record, const std::vector<Neighbor>& results,
                     const Dataset& dataset, std::size_t k) {
  const std::size_t q_count = dataset.test.rows();
  const std::size_t n = dataset.rows();
  // An integer train loaded natively has no float copy: its rows are converted one at a time
  // (exactly), so the distances are those of the float path.
  std::vector<float> converted(dataset.train.empty() ? dataset.dim() : 0);
  const auto train_row = [&](std::size_t id) -> const float* {
    if (!dataset.train.empty()) return dataset.train.row(id);
    if (!dataset.train_u8.empty()) {
      std::copy_n(dataset.train_u8.row(id), converted.size(), converted.begin());
    } else {
      std::copy_n(dataset.train_i8.row(id), converted.size(), converted.begin());
    }
    return converted.data();
  };
  record.neighbors = IdMatrix(q_count, k, -1);
  record.distances = FloatMatrix(q_count, k, std::numeric_limits<float>::infinity());
  std::size_t returned = 0;
  for (std::size_t q = 0; q < q_count; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = results[q * k + j].id;
      if (id == -1) continue;
      ANNBENCH_CHECK(id >= 0 && static_cast<std::size_t>(id) < n,
                     "module returned id {} for query {}, outside the {} train vectors", id, q, n);
      ++returned;
      record.neighbors(q, j) = static_cast<std::int32_t>(id);
      record.distances(q, j) = static_cast<float>(
          exact_distance(dataset.metric, dataset.test.row(q),
                         train_row(static_cast<std::size_t>(id)), dataset.dim()));
    }
  }
  const QualityMetrics quality =
      compute_quality(dataset.distances, record.neighbors, record.distances, k);
  record.recall = quality.recall;
  record.epsilon_recall = quality.epsilon_recall;
  record.largeepsilon_recall = quality.largeepsilon_recall;
  record.rel = quality.rel;
  record.duplicate_ids = quality.duplicate_ids;
  record.candidates = static_cast<double>(returned) / static_cast<double>(q_count);
  record.ok = true;
}

const Track& knn_track() {
  static const KnnTrack track;
  return track;
}

}  // namespace annbench
