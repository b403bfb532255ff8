// The streaming track (config `mode: streaming`, `runbook: FILE`): the index starts empty and
// replays the runbook's inserts, deletes and replaces (runbook.h); at each search step every
// search point is measured (each query timed alone, best of `runs`) and scored against the exact
// neighbours among the points live at that step. A run (one search point and k) records its
// per-step recall, QPS and p99 latency and the index's memory after every step; its `recall` is
// the mean over the search steps, as big-ann-benchmarks ranks streaming entries.

#include "metrics.h"
#include "runbook.h"
#include "system_info.h"
#include "timing.h"
#include "track.h"

#include <annbench/common/distance.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>

namespace annbench {

namespace {

// What a dataset needs for this track: its runbook and per-step ground truth, loaded (and the
// ground truth computed if needed) by check_dataset before any index is built.
struct StreamingData {
  Runbook runbook;
  std::vector<StepGroundTruth> truth;  // one per search step, in step order
};

class StreamingTrack final : public Track {
 public:
  std::string_view name() const override { return "streaming"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = false;  // each search step has its own
  }

  void check_settings(const SweepSettings& settings, bool,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!settings.runbook.empty(), "{}: mode: streaming needs 'runbook: FILE'",
                   config.string());
    ANNBENCH_CHECK(!settings.counts.empty(), "{}: no k to run", config.string());
  }

  void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                     const SweepSettings& settings) const override {
    auto data = std::make_shared<StreamingData>();
    data->runbook = load_runbook(settings.runbook, dataset.name, dataset.train.rows());
    data->truth = step_ground_truth(path, dataset, data->runbook, false);
    for (std::size_t k : settings.counts) {
      ANNBENCH_CHECK(k <= data->truth.front().neighbors.cols(),
                     "k = {} is larger than the {} neighbours of the runbook's ground truth", k,
                     data->truth.front().neighbors.cols());
    }
    const std::lock_guard lock(mutex_);
    data_[dataset.name] = std::move(data);
  }

  std::string describe(const Dataset& dataset) const override {
    const auto data = find(dataset);
    return fmt::format(", runbook {}: {} steps, {} searches, max_pts {}",
                       data->runbook.file.string(), data->runbook.steps.size(),
                       data->runbook.search_steps(), data->runbook.max_pts);
  }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point, const Dataset&,
                               const SweepSettings& settings) const override {
    // Single-query timing only: batch mode would measure the same curve on more threads.
    SweepSettings single = settings;
    single.single = true;
    single.batch = false;
    std::vector<PlannedRun> runs = plan_search_points(prototype, point, settings.counts, single);
    for (auto& run : runs) run.record.runbook = settings.runbook.string();
    return runs;
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    return settings.counts.size();
  }

  std::string refuse(const ModuleInfo& info, const BuildPoint& point) const override {
    if ((info.capabilities & kCapInsert) == 0)
      return fmt::format("module '{}' cannot insert (no kCapInsert): streaming needs it",
                         info.name);
    if (point.transform) {
      return fmt::format("a {} stage cannot serve streaming (it is fitted once, on the base)",
                         point.transform->key());
    }
    return "";
  }

  void measure(const Index&, const Dataset&, RunRecord&, const SweepSettings&) const override {
    ANNBENCH_FAIL("the streaming track measures all runs of a build point together");
  }

  bool shares_index() const override { return true; }

  void measure_together(const ModuleInfo& info, const BuildPoint& point, const Dataset& dataset,
                        std::vector<PlannedRun>& runs,
                        const SweepSettings& settings) const override;

  std::string progress(const RunRecord& record) const override {
    return fmt::format("k={}: mean recall {:.4f} (min {:.4f}), updates {:.2f} s", record.count,
                       record.recall, record.min_recall.value_or(0), record.update_s.value_or(0));
  }

 private:
  std::shared_ptr<const StreamingData> find(const Dataset& dataset) const {
    const std::lock_guard lock(mutex_);
    const auto it = data_.find(dataset.name);
    ANNBENCH_CHECK(it != data_.end(), "streaming: no runbook loaded for dataset '{}'",
                   dataset.name);
    return it->second;
  }

  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const StreamingData>> data_;
};

// Per run: what it accumulates over the search steps.
struct Curve {
  std::vector<float> step, recall, qps, p99_ms;
  std::vector<float> times;       // every timed query of every search step
  std::vector<float> last_times;  // those of the last search step
  double search_seconds = 0;
  std::size_t queries = 0;
  std::uint64_t distances = 0;
  bool counted = true;  // the module counts distances
};

void StreamingTrack::measure_together(const ModuleInfo& info, const BuildPoint& point,
                                      const Dataset& dataset, std::vector<PlannedRun>& runs,
                                      const SweepSettings& settings) const {
  const auto data = find(dataset);
  const Runbook& runbook = data->runbook;
  const std::size_t dim = dataset.dim();
  const std::size_t q_count = dataset.test.rows();
  if (runbook.steps.end() != std::find_if(runbook.steps.begin(), runbook.steps.end(),
                                          [](const RunbookStep& s) {
                                            return s.op == RunbookStep::Op::Delete ||
                                                   s.op == RunbookStep::Op::Replace;
                                          }) &&
      (info.capabilities & kCapDelete) == 0) {
    for (auto& run : runs) {
      run.record.ok = false;
      run.record.error = fmt::format(
          "module '{}' cannot delete (no kCapDelete) and runbook {} deletes or replaces", info.name,
          runbook.file.string());
    }
    return;
  }

  const std::size_t rss_before = resident_bytes();
  std::unique_ptr<Index> index = info.create(dataset.metric, dim, point.build);
  ANNBENCH_CHECK(index != nullptr, "module '{}' returned no index", info.name);
  index->build(MatrixView{nullptr, 0, dim});

  std::vector<std::int64_t> live(dataset.train.rows(), -1);  // tag -> row
  std::vector<std::int64_t> ids;
  std::vector<float> buffer;
  double insert_s = 0, delete_s = 0;
  std::size_t inserted = 0, deleted = 0;
  std::vector<float> memory_step, memory_kb;
  std::vector<Curve> curves(runs.size());
  std::size_t search_index = 0;

  // Copies the rows of `count` tags starting at `first_tag` (rows first_row...) and adds them.
  auto add = [&](std::size_t first_tag, std::size_t first_row, std::size_t count) {
    ids.resize(count);
    buffer.resize(count * dim);
    for (std::size_t i = 0; i < count; ++i) {
      ids[i] = static_cast<std::int64_t>(first_tag + i);
      const float* row = dataset.train.row(first_row + i);
      std::copy(row, row + dim, buffer.data() + i * dim);
    }
    const auto start = Clock::now();
    index->add(ids, MatrixView{buffer.data(), count, dim});
    insert_s += seconds_since(start);
    inserted += count;
    for (std::size_t i = 0; i < count; ++i)
      live[first_tag + i] = static_cast<std::int64_t>(first_row + i);
  };
  auto remove = [&](std::size_t first_tag, std::size_t count) {
    ids.resize(count);
    std::iota(ids.begin(), ids.end(), static_cast<std::int64_t>(first_tag));
    const auto start = Clock::now();
    index->remove(ids);
    delete_s += seconds_since(start);
    deleted += count;
    for (std::size_t i = 0; i < count; ++i) live[first_tag + i] = -1;
  };

  for (std::size_t s = 0; s < runbook.steps.size(); ++s) {
    const RunbookStep& step = runbook.steps[s];
    switch (step.op) {
      case RunbookStep::Op::Insert: add(step.start, step.start, step.end - step.start); break;
      case RunbookStep::Op::Delete: remove(step.start, step.end - step.start); break;
      case RunbookStep::Op::Replace: {
        const std::size_t count = step.tags_end - step.tags_start;
        remove(step.tags_start, count);
        add(step.tags_start, step.ids_start, count);
        break;
      }
      case RunbookStep::Op::Search: {
        const StepGroundTruth& truth = data->truth[search_index++];
        const Params* current = nullptr;
        for (std::size_t r = 0; r < runs.size(); ++r) {
          RunRecord& record = runs[r].record;
          if (!record.error.empty()) continue;  // failed at an earlier step
          Curve& curve = curves[r];
          try {
            if (current != runs[r].search) {
              index->set_search_params(*runs[r].search);
              current = runs[r].search;
            }
            const std::size_t k = record.count;
            const auto timed = time_each_query(
                *index, q_count, settings.runs, std::vector<Neighbor>(q_count * k),
                [&](std::size_t q, std::vector<Neighbor>& results) {
                  index->search(dataset.test.row(q), k, results.data() + q * k);
                },
                [](std::vector<Neighbor>& results) {
                  std::fill(results.begin(), results.end(), Neighbor{});
                });
            IdMatrix neighbors(q_count, k, -1);
            FloatMatrix distances(q_count, k, std::numeric_limits<float>::infinity());
            for (std::size_t q = 0; q < q_count; ++q) {
              for (std::size_t j = 0; j < k; ++j) {
                const std::int64_t id = timed.results[q * k + j].id;
                if (id == -1) continue;
                ANNBENCH_CHECK(id >= 0 && static_cast<std::size_t>(id) < live.size() &&
                                   live[static_cast<std::size_t>(id)] >= 0,
                               "step {}: module returned id {} for query {}, which is not live",
                               s + 1, id, q);
                neighbors(q, j) = static_cast<std::int32_t>(id);
                distances(q, j) = static_cast<float>(exact_distance(
                    dataset.metric, dataset.test.row(q),
                    dataset.train.row(static_cast<std::size_t>(live[static_cast<std::size_t>(id)])),
                    dim));
              }
            }
            const QualityMetrics quality =
                compute_quality(truth.distances, neighbors, distances, k);
            const LatencyStats latency =
                latency_stats(std::vector<double>(timed.times.begin(), timed.times.end()));
            curve.step.push_back(static_cast<float>(s + 1));
            curve.recall.push_back(static_cast<float>(quality.recall));
            curve.qps.push_back(static_cast<float>(1.0 / timed.best_mean));
            curve.p99_ms.push_back(static_cast<float>(latency.p99_ms));
            curve.times.insert(curve.times.end(), timed.times.begin(), timed.times.end());
            curve.last_times = timed.times;
            curve.search_seconds += timed.best_mean * static_cast<double>(q_count);
            curve.queries += q_count;
            if (timed.distcomps_per_query) {
              curve.distances += static_cast<std::uint64_t>(*timed.distcomps_per_query *
                                                            static_cast<double>(q_count));
            } else {
              curve.counted = false;
            }
            record.neighbors = std::move(neighbors);
            record.distances = std::move(distances);
            record.duplicate_ids = quality.duplicate_ids;
          } catch (const std::exception& error) {
            record.ok = false;
            record.error = fmt::format("search at step {} failed: {}", s + 1, error.what());
          }
        }
        break;
      }
    }
    memory_step.push_back(static_cast<float>(s + 1));
    memory_kb.push_back(static_cast<float>(static_cast<double>(index->memory_bytes()) / 1024.0));
  }

  const double rss_growth_kb =
      static_cast<double>(resident_bytes()) / 1024.0 - static_cast<double>(rss_before) / 1024.0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    RunRecord& record = runs[r].record;
    if (!record.error.empty()) continue;
    const Curve& curve = curves[r];
    record.recall = std::accumulate(curve.recall.begin(), curve.recall.end(), 0.0) /
                    static_cast<double>(curve.recall.size());
    record.min_recall = *std::min_element(curve.recall.begin(), curve.recall.end());
    record.best_search_time = curve.search_seconds / static_cast<double>(curve.queries);
    record.qps = 1.0 / record.best_search_time;
    const LatencyStats latency =
        latency_stats(std::vector<double>(curve.times.begin(), curve.times.end()));
    record.p50_ms = latency.p50_ms;
    record.p95_ms = latency.p95_ms;
    record.p99_ms = latency.p99_ms;
    record.p999_ms = latency.p999_ms;
    record.times = curve.last_times;  // Q entries, as ANN-Benchmarks' readers expect
    if (curve.counted)
      record.distcomps = static_cast<double>(curve.distances) / static_cast<double>(curve.queries);
    record.build_time = insert_s + delete_s;
    record.update_s = insert_s + delete_s;
    record.insert_per_s = insert_s > 0 ? static_cast<double>(inserted) / insert_s : 0.0;
    if (deleted > 0)
      record.delete_per_s = delete_s > 0 ? static_cast<double>(deleted) / delete_s : 0.0;
    record.index_kb = memory_kb.empty() ? 0 : memory_kb.back();
    record.rss_growth_kb = rss_growth_kb;
    std::size_t returned = 0;
    for (std::size_t i = 0; i < record.neighbors.rows() * record.neighbors.cols(); ++i)
      returned += record.neighbors.data()[i] != -1;
    record.candidates = static_cast<double>(returned) / static_cast<double>(q_count);
    record.series = {{"step", curve.step},         {"step_recall", curve.recall},
                     {"step_qps", curve.qps},      {"step_p99_ms", curve.p99_ms},
                     {"memory_step", memory_step}, {"memory_kb", memory_kb}};
    record.ok = true;
  }
}

}  // namespace

const Track& streaming_track() {
  static const StreamingTrack track;
  return track;
}

}  // namespace annbench
