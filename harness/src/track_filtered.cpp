// The filtered track (config `mode: filtered`): every query carries its metadata filter (labels a
// result must all carry, a range on a numeric attribute; dataset.h), and the module answers
// with Index::search_filtered. Queries are grouped by selectivity (the fraction of the base their
// filter allows) into the config's bands, one run per band, because an index's behaviour at 1 %
// and at 50 % are different questions. As in a database, evaluating the filter (intersecting
// posting lists, setting the bitset) is part of each query's time. Recall is against the exact
// filtered ground truth (`annbench groundtruth FILE --filtered`), and a returned id the filter
// does not allow fails the run.

#include "metrics.h"
#include "result_fields.h"
#include "timing.h"
#include "track.h"

#include <annbench/common/distance.h>
#include <annbench/common/label_filter.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace annbench {

namespace {

// What the track derives from a dataset once: the metadata indexes and each query's band.
struct FilterState {
  const Dataset* dataset = nullptr;
  const float* train_data = nullptr;
  std::size_t queries = 0;
  std::vector<double> bands;  // the settings' bands
  LabelIndex labels;
  AttributeIndex attributes;
  bool has_labels = false, has_attributes = false;
  std::vector<FilterQuery> filters;             // per test row
  std::vector<double> selectivity;              // per test row, exact
  std::vector<std::vector<std::int32_t>> rows;  // per band: its test rows, ascending

  std::unique_ptr<FilterBuilder> builder() const {
    return std::make_unique<FilterBuilder>(dataset->train.rows(), has_labels ? &labels : nullptr,
                                           has_attributes ? &attributes : nullptr);
  }
};

// The band nearest to a selectivity on a log scale (a query no row passes belongs to the lowest).
std::size_t band_of(double selectivity, const std::vector<double>& bands) {
  const double s = std::log10(std::max(selectivity, 1e-12));
  std::size_t best = 0;
  for (std::size_t b = 1; b < bands.size(); ++b) {
    if (std::abs(std::log10(bands[b]) - s) < std::abs(std::log10(bands[best]) - s)) best = b;
  }
  return best;
}

std::string band_json(const std::string& search_json, double band) {
  // {"ef":10} -> {"ef":10,"selectivity":0.01}: the band is part of what the run measured, so it
  // goes into the run's name as the concurrent track's client count does.
  const std::string inner =
      search_json.size() >= 2 ? search_json.substr(1, search_json.size() - 2) : std::string();
  return fmt::format("{{{}{}\"selectivity\":{}}}", inner, inner.empty() ? "" : ",", band);
}

using Measurement = Timed<std::vector<Neighbor>>;

class FilteredTrack final : public Track {
 public:
  std::string_view name() const override { return "filtered"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = true;
    options.load_filters = true;
  }

  void check_settings(const SweepSettings& settings, bool,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!settings.counts.empty(), "{}: no k to run", config.string());
    ANNBENCH_CHECK(!settings.selectivities.empty(), "{}: mode: filtered needs 'selectivities'",
                   config.string());
  }

  void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                     const SweepSettings& settings) const override {
    ANNBENCH_CHECK(dataset.filters.has_value(),
                   "'{}' has no filter metadata (add it with `annbench dataset tags {}`)",
                   path.string(), path.string());
    const FilterMetadata& meta = *dataset.filters;
    for (std::size_t k : settings.counts) {
      ANNBENCH_CHECK(k <= meta.filtered_neighbors.cols(),
                     "k = {} is larger than the {} filtered neighbours stored in '{}' (recompute "
                     "with `annbench groundtruth {} --filtered --count {}`)",
                     k, meta.filtered_neighbors.cols(), path.string(), path.string(), k);
    }
    ANNBENCH_CHECK(meta.filtered_neighbors.rows() == dataset.test.rows(),
                   "'{}': filtered ground truth has {} rows for {} queries", path.string(),
                   meta.filtered_neighbors.rows(), dataset.test.rows());
    // The runner calls this after every dataset load: the state is rebuilt here, so it never
    // outlives its dataset (a later one may even be allocated at the same address).
    state_.reset();
    state(dataset, settings);
  }

  std::string describe(const Dataset& dataset) const override {
    if (!state_ || state_->dataset != &dataset) return "";
    std::string text = fmt::format("filters {}:", dataset.filters->kind());
    for (std::size_t b = 0; b < state_->bands.size(); ++b) {
      if (state_->rows[b].empty()) continue;
      text += fmt::format(" {} queries at ~{:g}", state_->rows[b].size(), state_->bands[b]);
    }
    return text;
  }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point,
                               const Dataset& dataset,
                               const SweepSettings& settings) const override {
    const FilterState& s = state(dataset, settings);
    std::vector<PlannedRun> runs;
    for (auto& base : plan_search_points(prototype, point, settings.counts, settings)) {
      for (std::size_t b = 0; b < s.bands.size(); ++b) {
        if (s.rows[b].empty()) continue;
        PlannedRun run{copy_fields(base.record), base.search};
        RunRecord& r = run.record;
        r.selectivity = s.bands[b];
        r.filter_kind = dataset.filters->kind();
        r.search_params = band_json(base.record.search_params, s.bands[b]);
        r.slug = run_slug(r.build_params, r.search_params);
        runs.push_back(std::move(run));
      }
    }
    return runs;
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    // An upper bound: bands without queries in a dataset get no run.
    return settings.counts.size() * settings.selectivities.size() *
           (static_cast<std::size_t>(settings.single) + static_cast<std::size_t>(settings.batch));
  }

  std::string refuse(const ModuleInfo& info, const BuildPoint&) const override {
    if ((info.capabilities & kCapFilter) == 0)
      return fmt::format("module '{}' does not support filtered search (no kCapFilter)", info.name);
    return "";
  }

  void measure(const Index& index, const Dataset& dataset, RunRecord& record,
               const SweepSettings& settings) const override {
    const FilterState& s = state(dataset, settings);
    const auto band = static_cast<std::size_t>(
        std::find(s.bands.begin(), s.bands.end(), record.selectivity.value_or(-1)) -
        s.bands.begin());
    ANNBENCH_CHECK(band < s.bands.size(), "filtered run '{}' has no band", record.slug);
    const std::vector<std::int32_t>& rows = s.rows[band];
    const std::size_t k = record.count;
    // The band's queries and their filters, gathered outside the timed region.
    FloatMatrix queries(rows.size(), dataset.dim());
    std::vector<const FilterQuery*> filters(rows.size());
    double selectivity_sum = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto row = static_cast<std::size_t>(rows[i]);
      std::copy_n(dataset.test.row(row), dataset.dim(), queries.row(i));
      filters[i] = &s.filters[row];
      selectivity_sum += s.selectivity[row];
    }
    const Measurement m = record.batch_mode
                              ? measure_batch(index, s, queries, filters, k, settings)
                              : measure_single(index, s, queries, filters, k, settings.runs);
    score(record, m.results, s, dataset, rows, k);
    record_speed(record, m);
    record.queries = rows.size();
    record.mean_selectivity = selectivity_sum / static_cast<double>(rows.size());
  }

  std::string progress(const RunRecord& record) const override {
    return fmt::format("k={}{} selectivity {:g}: recall {:.4f}", record.count,
                       record.batch_mode ? " batch" : "", record.selectivity.value_or(0),
                       record.recall);
  }

 private:
  static Measurement measure_single(const Index& index, const FilterState& s,
                                    const FloatMatrix& queries,
                                    const std::vector<const FilterQuery*>& filters, std::size_t k,
                                    int runs) {
    const auto builder = s.builder();
    return time_each_query(
        index, queries.rows(), runs, std::vector<Neighbor>(queries.rows() * k),
        [&](std::size_t q, std::vector<Neighbor>& results) {
          const Filter filter = builder->make(*filters[q]);
          index.search_filtered(queries.row(q), k, filter, results.data() + q * k);
        },
        reset);
  }

  static Measurement measure_batch(const Index& index, const FilterState& s,
                                   const FloatMatrix& queries,
                                   const std::vector<const FilterQuery*>& filters, std::size_t k,
                                   const SweepSettings& settings) {
    // One builder per thread, made before timing starts (each holds a bitset of the base).
    std::vector<std::unique_ptr<FilterBuilder>> builders(
        static_cast<std::size_t>(settings.threads));
    for (auto& builder : builders) builder = s.builder();
    const auto n = static_cast<std::int64_t>(queries.rows());
    return time_all_queries(
        index, queries.rows(), settings.runs, settings.threads,
        std::vector<Neighbor>(queries.rows() * k),
        [&](std::vector<Neighbor>& results) {
#pragma omp parallel for schedule(dynamic, 16)
          for (std::int64_t i = 0; i < n; ++i) {
            const auto q = static_cast<std::size_t>(i);
            FilterBuilder& builder = *builders[static_cast<std::size_t>(omp_get_thread_num())];
            const Filter filter = builder.make(*filters[q]);
            index.search_filtered(queries.row(q), k, filter, results.data() + q * k);
          }
        },
        reset);
  }

  static void reset(std::vector<Neighbor>& results) {
    std::fill(results.begin(), results.end(), Neighbor{});
  }

  // Checks every id (a row of train, allowed by its query's filter), recomputes distances and
  // scores against the filtered ground truth of the band's rows.
  static void score(RunRecord& record, const std::vector<Neighbor>& results, const FilterState& s,
                    const Dataset& dataset, const std::vector<std::int32_t>& rows, std::size_t k) {
    const FilterMetadata& meta = *dataset.filters;
    const std::size_t n = dataset.train.rows();
    const std::size_t q_count = rows.size();
    record.neighbors = IdMatrix(q_count, k, -1);
    record.distances = FloatMatrix(q_count, k, std::numeric_limits<float>::infinity());
    FloatMatrix truth(q_count, k);
    const auto builder = s.builder();
    std::size_t returned = 0;
    for (std::size_t i = 0; i < q_count; ++i) {
      const auto row = static_cast<std::size_t>(rows[i]);
      std::copy_n(meta.filtered_distances.row(row), k, truth.row(i));
      const Filter filter = builder->make(s.filters[row]);
      for (std::size_t j = 0; j < k; ++j) {
        const std::int64_t id = results[i * k + j].id;
        if (id == -1) continue;
        ANNBENCH_CHECK(id >= 0 && static_cast<std::size_t>(id) < n,
                       "module returned id {} for query {}, outside the {} train vectors", id, row,
                       n);
        ANNBENCH_CHECK(filter.allowed(id),
                       "module returned id {} for query {}, which the query's filter does not "
                       "allow",
                       id, row);
        ++returned;
        record.neighbors(i, j) = static_cast<std::int32_t>(id);
        record.distances(i, j) = static_cast<float>(
            exact_distance(dataset.metric, dataset.test.row(row),
                           dataset.train.row(static_cast<std::size_t>(id)), dataset.dim()));
      }
    }
    const QualityMetrics quality = compute_quality(truth, record.neighbors, record.distances, k);
    record.recall = quality.recall;
    record.epsilon_recall = quality.epsilon_recall;
    record.largeepsilon_recall = quality.largeepsilon_recall;
    record.rel = quality.rel;
    record.duplicate_ids = quality.duplicate_ids;
    record.candidates = static_cast<double>(returned) / static_cast<double>(q_count);
    record.query_rows = rows;
    record.ok = true;
  }

  // The dataset's metadata indexes and bands, built by check_dataset (or on first use) and kept
  // while the runner works on that dataset (it loads one at a time).
  const FilterState& state(const Dataset& dataset, const SweepSettings& settings) const {
    if (state_ && state_->dataset == &dataset && state_->train_data == dataset.train.data() &&
        state_->queries == dataset.test.rows() && state_->bands == settings.selectivities) {
      return *state_;
    }
    ANNBENCH_CHECK(dataset.filters.has_value(), "dataset '{}' has no filter metadata",
                   dataset.name);
    const FilterMetadata& meta = *dataset.filters;
    auto s = std::make_unique<FilterState>();
    s->dataset = &dataset;
    s->train_data = dataset.train.data();
    s->queries = dataset.test.rows();
    s->bands = settings.selectivities;
    if (meta.train_labels) {
      s->labels =
          LabelIndex(meta.train_labels->indptr, meta.train_labels->labels, meta.label_count);
      s->has_labels = true;
    }
    if (!meta.train_attr.empty()) {
      s->attributes = AttributeIndex(meta.train_attr);
      s->has_attributes = true;
    }
    s->filters.resize(s->queries);
    s->selectivity.resize(s->queries);
    s->rows.resize(s->bands.size());
    const auto builder = s->builder();
    for (std::size_t q = 0; q < s->queries; ++q) {
      FilterQuery& f = s->filters[q];
      if (meta.test_filters) f.labels = meta.test_filters->row(q);
      if (meta.test_attr_range.rows() > 0) {
        f.range = std::make_pair(meta.test_attr_range(q, 0), meta.test_attr_range(q, 1));
      }
      s->selectivity[q] = builder->make(f).selectivity();
      s->rows[band_of(s->selectivity[q], s->bands)].push_back(static_cast<std::int32_t>(q));
    }
    state_ = std::move(s);
    return *state_;
  }

  mutable std::unique_ptr<FilterState> state_;
};

}  // namespace

const Track& filtered_track() {
  static const FilteredTrack track;
  return track;
}

}  // namespace annbench
