#include "metrics.h"
#include "range_runs.h"
#include "results.h"
#include "runner.h"
#include "system_info.h"
#include "timing.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/registry.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace annbench {

namespace {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  if (seconds < 60) return fmt::format("{:.0f}s", seconds);
  if (seconds < 3600)
    return fmt::format("{:.0f}m{:02.0f}s", std::floor(seconds / 60), std::fmod(seconds, 60));
  return fmt::format("{:.0f}h{:02.0f}m", std::floor(seconds / 3600), std::fmod(seconds, 3600) / 60);
}

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

// Fills the record's per-query data and metrics from a measurement. Throws when the module
// returned ids that are not rows of train.
void score(RunRecord& record, const Measurement& m, const Dataset& dataset, std::size_t k) {
  const std::size_t q_count = dataset.test.rows();
  const std::size_t n = dataset.train.rows();
  record.neighbors = IdMatrix(q_count, k, -1);
  record.distances = FloatMatrix(q_count, k, std::numeric_limits<float>::infinity());
  std::size_t returned = 0;
  for (std::size_t q = 0; q < q_count; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = m.results[q * k + j].id;
      if (id == -1) continue;
      ANNBENCH_CHECK(id >= 0 && static_cast<std::size_t>(id) < n,
                     "module returned id {} for query {}, outside the {} train vectors", id, q, n);
      ++returned;
      record.neighbors(q, j) = static_cast<std::int32_t>(id);
      record.distances(q, j) = static_cast<float>(
          exact_distance(dataset.metric, dataset.test.row(q),
                         dataset.train.row(static_cast<std::size_t>(id)), dataset.dim()));
    }
  }
  const QualityMetrics quality =
      compute_quality(dataset.distances, record.neighbors, record.distances, k);
  record.recall = quality.recall;
  record.epsilon_recall = quality.epsilon_recall;
  record.largeepsilon_recall = quality.largeepsilon_recall;
  record.rel = quality.rel;
  record.duplicate_ids = quality.duplicate_ids;
  record_speed(record, m);
  record.candidates = static_cast<double>(returned) / static_cast<double>(q_count);
  record.ok = true;
}

struct PlannedRun {
  RunRecord record;
  const Params* search = nullptr;
};

bool module_serves(const ModuleInfo& info, Metric metric) {
  return std::find(info.metrics.begin(), info.metrics.end(), metric) != info.metrics.end();
}

}  // namespace

std::pair<std::size_t, std::size_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::size_t index = 0, count = 0;
  bool ok = slash != std::string::npos;
  try {
    if (ok) {
      std::size_t used = 0;
      index = std::stoul(text.substr(0, slash), &used);
      ok = used == slash;
      count = std::stoul(text.substr(slash + 1), &used);
      ok = ok && used == text.size() - slash - 1;
    }
  } catch (const std::exception&) {
    ok = false;
  }
  ANNBENCH_CHECK(ok && count >= 1 && index < count,
                 "--shard expects i/N with 0 <= i < N (e.g. 0/4 for the first of 4), got '{}'",
                 text);
  return {index, count};
}

SweepOutcome run_sweep(const SweepConfig& config, const ModuleRegistry& registry,
                       const RunOptions& options) {
  const std::vector<std::string> datasets =
      options.dataset ? std::vector<std::string>{*options.dataset} : config.datasets;
  const bool range = config.mode == SearchMode::Range;
  ANNBENCH_CHECK(!(range && options.counts),
                 "--k does not apply to {} (mode: range; the radius comes from the dataset)",
                 config.file.string());
  // Range runs have no k: one pass with count 0.
  const std::vector<std::size_t> counts =
      range ? std::vector<std::size_t>{0} : options.counts.value_or(config.counts);
  const int runs = options.runs.value_or(config.runs);
  const std::size_t queries = options.queries.value_or(config.queries);
  const bool batch = options.batch.value_or(config.batch);
  const bool single = config.single || !batch;
  const int configured_threads = options.threads.value_or(config.threads);
  const int threads = configured_threads > 0 ? configured_threads : omp_get_num_procs();
  ANNBENCH_CHECK(runs >= 1, "runs must be at least 1, got {}", runs);

  std::vector<BuildPoint> points = expand_sweep(config, registry);
  if (!options.algorithms.empty()) {
    for (const auto& wanted : options.algorithms) {
      const bool found = std::any_of(points.begin(), points.end(), [&](const BuildPoint& p) {
        return p.algorithm == wanted || wanted == p.module->info->name;
      });
      ANNBENCH_CHECK(found, "--algorithm '{}' matches no entry of {}", wanted,
                     config.file.string());
    }
    std::erase_if(points, [&](const BuildPoint& p) {
      return std::none_of(
          options.algorithms.begin(), options.algorithms.end(),
          [&](const std::string& w) { return p.algorithm == w || w == p.module->info->name; });
    });
  }

  const SystemInfo& system = system_info();
  SweepOutcome outcome;
  const std::size_t modes = static_cast<std::size_t>(single) + static_cast<std::size_t>(batch);
  std::size_t total_runs = 0;
  for (std::size_t d = 0; d < datasets.size(); ++d) {
    for (std::size_t p = 0; p < points.size(); ++p) {
      if ((d * points.size() + p) % options.shard_count == options.shard_index) {
        total_runs += points[p].searches.size() * counts.size() * modes;
      }
    }
  }
  const auto sweep_start = Clock::now();

  for (std::size_t d = 0; d < datasets.size(); ++d) {
    const auto path = resolve_dataset(datasets[d]);
    DatasetLoadOptions load_options;
    load_options.max_queries = queries;
    load_options.require_ground_truth = !range;
    load_options.load_range_ground_truth = range;
    const Dataset dataset = load_dataset(path, load_options);
    for (std::size_t k : range ? std::vector<std::size_t>{} : counts) {
      ANNBENCH_CHECK(k <= dataset.train.rows(),
                     "k = {} is larger than the {} train vectors of '{}'", k, dataset.train.rows(),
                     path.string());
      ANNBENCH_CHECK(k <= dataset.neighbors.cols(),
                     "k = {} is larger than the {} true neighbours stored in '{}' (recompute with "
                     "`annbench groundtruth {} --k {}`)",
                     k, dataset.neighbors.cols(), path.string(), path.string(), k);
    }
    const bool child = options.only_point.has_value();
    if (!options.quiet && !child) {
      fmt::print("dataset {}: {} train × {} dims, {} queries, metric {}{}\n", dataset.name,
                 dataset.train.rows(), dataset.dim(), dataset.test.rows(), dataset.distance,
                 range ? fmt::format(", range search at radius {} ({:.1f} true results per "
                                     "query)",
                                     dataset.range->radius,
                                     static_cast<double>(dataset.range->total()) /
                                         static_cast<double>(dataset.range->queries()))
                       : "");
    }
    if (options.dry_run) {
      for (std::size_t p = 0; p < points.size(); ++p) {
        if ((d * points.size() + p) % options.shard_count != options.shard_index) continue;
        for (const auto& search : points[p].searches) {
          fmt::print("  {} build {} search {}\n", points[p].algorithm, points[p].build.to_json(),
                     search.to_json());
        }
      }
      continue;
    }
    if (const std::size_t stray = clean_temporary_files(options.results_root / dataset.name);
        stray) {
      fmt::print(stderr, "annbench: removed {} temporary file(s) left by an interrupted run\n",
                 stray);
    }
    const std::string sha256 = file_sha256(path);

    for (std::size_t p = 0; p < points.size(); ++p) {
      if ((d * points.size() + p) % options.shard_count != options.shard_index) continue;
      if (child && *options.only_point != std::pair<std::size_t, std::size_t>{d, p}) continue;
      const BuildPoint& point = points[p];
      const ModuleInfo& info = *point.module->info;
      const std::string build_json = point.recorded_build().to_json();

      std::vector<PlannedRun> pending;
      for (const Params& search : point.searches) {
        for (std::size_t k : counts) {
          for (bool batch_mode : {false, true}) {
            if ((batch_mode && !batch) || (!batch_mode && !single)) continue;
            RunRecord r;
            r.dataset = dataset.name;
            r.count = k;
            r.algorithm = point.algorithm;
            r.module = info.name;
            r.library = info.library != nullptr ? info.library : "";
            r.build_params = build_json;
            r.search_params = search.to_json();
            r.slug = run_slug(r.build_params, r.search_params);
            r.batch_mode = batch_mode;
            r.threads = batch_mode ? threads : 1;
            r.queries = dataset.test.rows();
            r.runs = runs;
            r.distance = std::string(metric_name(dataset.metric));
            r.range_mode = range;
            r.radius = range ? dataset.range->radius : 0.0;
            r.config = config.file.string();
            r.git_commit = system.git_commit;
            r.compiler = system.compiler;
            r.flags = system.flags;
            r.cpu = system.cpu;
            r.hostname = system.hostname;
            r.dataset_sha256 = sha256;
            if (!options.force && std::filesystem::exists(run_file(options.results_root, r))) {
              ++outcome.runs_skipped;
              continue;
            }
            pending.push_back({std::move(r), &search});
          }
        }
      }
      if (pending.empty()) continue;

      auto fail_all = [&](const std::string& reason, auto begin, auto end) {
        for (auto it = begin; it != end; ++it) {
          it->record.ok = false;
          it->record.error = reason;
          it->record.timestamp = utc_timestamp();
          write_run(options.results_root, it->record);
          ++outcome.runs_failed;
          fmt::print(stderr, "  FAILED {} {} {}: {}\n", it->record.algorithm,
                     it->record.build_params, it->record.search_params, reason);
        }
      };

      if (options.isolate) {
        std::vector<std::string> command = options.child_command;
        command.push_back("--only-point");
        command.push_back(fmt::format("{}:{}", d, p));
        const ChildOutcome result = run_child(command, options.limits);
        for (auto it = pending.begin(); it != pending.end(); ++it) {
          if (std::filesystem::exists(run_file(options.results_root, it->record))) {
            ++outcome.runs_done;
          } else if (!result.clean) {
            fail_all(result.reason, it, it + 1);
          } else if (std::filesystem::exists(failed_file(options.results_root, it->record))) {
            ++outcome.runs_failed;  // the child recorded why
          } else {
            fail_all("the isolated child wrote no result for this run", it, it + 1);
          }
        }
        continue;
      }

      if (range && (info.capabilities & kCapRangeSearch) == 0) {
        fail_all(fmt::format("module '{}' does not support range search (no kCapRangeSearch)",
                             info.name),
                 pending.begin(), pending.end());
        continue;
      }
      if (!module_serves(info, dataset.metric)) {
        fail_all(fmt::format("module '{}' does not serve metric {}", info.name, dataset.distance),
                 pending.begin(), pending.end());
        continue;
      }
      if (range && point.transform) {
        fail_all(fmt::format("a {} stage cannot serve range search (the radius is a distance in "
                             "the original space)",
                             point.transform->key()),
                 pending.begin(), pending.end());
        continue;
      }

      std::unique_ptr<Index> index;
      double build_time = 0, rss_growth_kb = 0;
      const auto transform_report = std::make_shared<TransformReport>();
      try {
        omp_set_num_threads(threads);
        const std::size_t rss_before = resident_bytes();
        const auto start = Clock::now();
        if (point.transform) {
          ANNBENCH_CHECK(point.transform->dim <= dataset.dim(),
                         "{}: dim {} is larger than the dataset's {} dimensions",
                         point.transform->key(), point.transform->dim, dataset.dim());
        }
        const std::size_t index_dim = point.transform ? point.transform->dim : dataset.dim();
        index = info.create(dataset.metric, index_dim, point.build);
        ANNBENCH_CHECK(index != nullptr, "module '{}' returned no index", info.name);
        if (point.transform) {
          index = make_transformed_index(std::move(index), *point.transform, dataset.metric,
                                         dataset.dim(), transform_report);
        }
        index->build(dataset.train.view());
        build_time = seconds_since(start);
        rss_growth_kb = static_cast<double>(resident_bytes()) / 1024.0 -
                        static_cast<double>(rss_before) / 1024.0;
      } catch (const std::exception& error) {
        fail_all(fmt::format("build failed: {}", error.what()), pending.begin(), pending.end());
        continue;
      }
      const double index_kb = static_cast<double>(index->memory_bytes()) / 1024.0;
      if (!options.quiet) {
        fmt::print("{} {}: built in {:.2f}s, index {:.0f} kB\n", point.algorithm, build_json,
                   build_time, index_kb);
        if (point.transform) {
          fmt::print("  {}: fitted and applied in {:.2f}s, {:.0f} kB of weights\n",
                     transform_report->summary, transform_report->fit_seconds,
                     static_cast<double>(transform_report->bytes) / 1024.0);
        }
      }

      const Params* current_search = nullptr;
      for (auto it = pending.begin(); it != pending.end(); ++it) {
        RunRecord& r = it->record;
        r.build_time = build_time;
        r.index_kb = index_kb;
        r.rss_growth_kb = rss_growth_kb;
        r.transform = transform_report->summary;
        r.transform_s = transform_report->fit_seconds;
        try {
          if (current_search != it->search) {
            index->set_search_params(*it->search);
            current_search = it->search;
          }
          const auto radius = static_cast<float>(r.radius);
          if (r.range_mode) {
            const RangeMeasurement m =
                r.batch_mode ? measure_batch_range(*index, dataset.test, radius, runs, threads)
                             : measure_single_range(*index, dataset.test, radius, runs);
            score_range(r, m, dataset);
          } else {
            const Measurement m = r.batch_mode
                                      ? measure_batch(*index, dataset.test, r.count, runs, threads)
                                      : measure_single(*index, dataset.test, r.count, runs);
            score(r, m, dataset, r.count);
          }
          r.timestamp = utc_timestamp();
          write_run(options.results_root, r);
          ++outcome.runs_done;
        } catch (const std::exception& error) {
          current_search = nullptr;
          fail_all(fmt::format("search failed: {}", error.what()), it, it + 1);
        }
        if (!options.quiet && r.ok) {
          const std::size_t done = outcome.runs_done + outcome.runs_failed;
          const double elapsed = seconds_since(sweep_start);
          const double remaining =
              static_cast<double>(total_runs - std::min(total_runs, done + outcome.runs_skipped));
          const double eta = elapsed / static_cast<double>(done) * remaining;
          fmt::print(
              "  [{}/{}] {} {} {}{}: {}  qps {:.1f}  p99 {:.3f} ms{}  ETA {}\n",
              done + outcome.runs_skipped, total_runs, r.algorithm, r.search_params,
              r.range_mode ? fmt::format("radius={}", r.radius) : fmt::format("k={}", r.count),
              r.batch_mode ? " batch" : "",
              r.range_mode ? fmt::format("range recall {:.4f}  AP {:.4f}",
                                         r.range_recall.value_or(0), r.range_ap.value_or(0))
                           : fmt::format("recall {:.4f}", r.recall),
              r.qps, r.p99_ms, r.distcomps ? fmt::format("  dist/q {:.0f}", *r.distcomps) : "",
              format_duration(eta));
        }
      }
      std::fflush(stdout);
    }
    const std::size_t rows = write_summary(options.results_root, dataset.name);
    if (!options.quiet && !child) {
      fmt::print("summary: {} ({} runs)\n",
                 (options.results_root / dataset.name / "summary.csv").string(), rows);
    }
  }
  return outcome;
}

}  // namespace annbench
