#include "index_store.h"
#include "result_fields.h"
#include "results.h"
#include "runner.h"
#include "system_info.h"
#include "timing.h"
#include "track.h"

#include <annbench/datasets/registry.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace annbench {

namespace {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  if (seconds < 60) return fmt::format("{:.0f}s", seconds);
  if (seconds < 3600)
    return fmt::format("{:.0f}m{:02.0f}s", std::floor(seconds / 60), std::fmod(seconds, 60));
  return fmt::format("{:.0f}h{:02.0f}m", std::floor(seconds / 3600), std::fmod(seconds, 3600) / 60);
}

bool module_serves(const ModuleInfo& info, Metric metric) {
  return std::find(info.metrics.begin(), info.metrics.end(), metric) != info.metrics.end();
}

// The command line over the config, resolved once.
SweepSettings resolve_settings(const SweepConfig& config, const RunOptions& options) {
  SweepSettings settings;
  settings.datasets =
      options.dataset ? std::vector<std::string>{*options.dataset} : config.datasets;
  settings.counts = options.counts.value_or(config.counts);
  settings.runs = options.runs.value_or(config.runs);
  settings.runbook = config.runbook;
  settings.clients = config.clients;
  settings.duration = config.duration;
  settings.selectivities = config.selectivities;
  settings.sharding = config.sharding;
  settings.queries = options.queries.value_or(config.queries);
  settings.batch = options.batch.value_or(config.batch);
  settings.single = config.single || !settings.batch;
  const int threads = options.threads.value_or(config.threads);
  settings.threads = threads > 0 ? threads : omp_get_num_procs();
  ANNBENCH_CHECK(settings.runs >= 1, "runs must be at least 1, got {}", settings.runs);
  return settings;
}

// The build points of the config, narrowed to --algorithm.
std::vector<BuildPoint> selected_points(const SweepConfig& config, const ModuleRegistry& registry,
                                        const RunOptions& options) {
  std::vector<BuildPoint> points = expand_sweep(config, registry);
  if (options.algorithms.empty()) return points;
  auto wanted = [&](const BuildPoint& p, const std::string& name) {
    return p.algorithm == name || name == p.module->info->name;
  };
  for (const auto& name : options.algorithms) {
    ANNBENCH_CHECK(std::any_of(points.begin(), points.end(),
                               [&](const BuildPoint& p) { return wanted(p, name); }),
                   "--algorithm '{}' matches no entry of {}", name, config.file.string());
  }
  std::erase_if(points, [&](const BuildPoint& p) {
    return std::none_of(options.algorithms.begin(), options.algorithms.end(),
                        [&](const std::string& name) { return wanted(p, name); });
  });
  return points;
}

// What one process runs: dataset index -> build point indices (this shard, or the child's item).
std::map<std::size_t, std::vector<std::size_t>> plan_items(std::size_t datasets, std::size_t points,
                                                           const RunOptions& options) {
  std::map<std::size_t, std::vector<std::size_t>> items;
  if (options.run_item) {
    ANNBENCH_CHECK(options.run_item->dataset < datasets && options.run_item->point < points,
                   "--run-item {} is outside this config's {} datasets and {} build points",
                   options.run_item->serialize(), datasets, points);
    items[options.run_item->dataset] = {options.run_item->point};
    return items;
  }
  for (std::size_t d = 0; d < datasets; ++d) {
    for (std::size_t p = 0; p < points; ++p) {
      if ((d * points + p) % options.shard_count == options.shard_index) items[d].push_back(p);
    }
  }
  return items;
}

// What every run of one build point shares (track.h: Track::plan): the identity the track's
// plan completes and the reproducibility fields. The runner and planned_run_files() both plan
// from it, so that a merge expects exactly the files a run writes.
RunRecord run_prototype(const SweepConfig& config, const Track& track,
                        const SweepSettings& settings, const BuildPoint& point,
                        const Dataset& dataset, const std::string& sha256) {
  const ModuleInfo& info = *point.module->info;
  const SystemInfo& system = system_info();
  RunRecord prototype;
  prototype.dataset = dataset.name;
  prototype.algorithm = point.algorithm;
  prototype.module = info.name;
  prototype.library = info.library != nullptr ? info.library : "";
  prototype.build_params = point.recorded_build().to_json();
  prototype.queries = dataset.test.rows();
  prototype.runs = settings.runs;
  prototype.distance = std::string(metric_name(dataset.metric));
  prototype.mode = std::string(track.name());
  prototype.config = config.file.string();
  prototype.git_commit = system.git_commit;
  prototype.compiler = system.compiler;
  prototype.flags = system.flags;
  prototype.cpu = system.cpu;
  prototype.hostname = system.hostname;
  prototype.dataset_sha256 = sha256;
  return prototype;
}

// Loads the dataset file at `path` as the settings and the track ask, and checks it.
Dataset load_sweep_dataset(const std::filesystem::path& path, const Track& track,
                           const SweepSettings& settings) {
  DatasetLoadOptions load_options;
  load_options.max_queries = settings.queries;
  track.configure_load(load_options);
  Dataset dataset = load_dataset(path, load_options);
  track.check_dataset(dataset, path, settings);
  return dataset;
}

// Runs the build points of one dataset. Holds what every run item of a sweep shares.
class SweepRunner {
 public:
  SweepRunner(const SweepConfig& config, const RunOptions& options, const SweepSettings& settings,
              const Track& track, std::size_t total_runs)
      : config_(config),
        options_(options),
        settings_(settings),
        track_(track),
        total_runs_(total_runs),
        start_(Clock::now()) {}

  void run_item(std::size_t d, std::size_t p, const BuildPoint& point, const Dataset& dataset,
                const std::string& sha256) {
    const ModuleInfo& info = *point.module->info;
    const RunRecord prototype = run_prototype(config_, track_, settings_, point, dataset, sha256);

    std::vector<PlannedRun> pending;
    for (auto& run : track_.plan(prototype, point, dataset, settings_)) {
      if (!options_.force && std::filesystem::exists(run_file(options_.results_root, run.record))) {
        ++outcome_.runs_skipped;
      } else {
        pending.push_back(std::move(run));
      }
    }
    if (pending.empty()) return;

    if (options_.isolate) {
      run_in_child(RunItem{d, p, sha256}, pending);
      return;
    }
    std::string refusal = track_.refuse(info, point);
    if (refusal.empty() && !module_serves(info, dataset.metric))
      refusal = fmt::format("module '{}' does not serve metric {}", info.name, dataset.distance);
    if (!refusal.empty()) {
      fail(refusal, pending.begin(), pending.end());
      return;
    }
    if (track_.shares_index()) {
      measure_together(point, dataset, pending);
    } else {
      measure_point(point, dataset, pending);
    }
  }

  const SweepOutcome& outcome() const { return outcome_; }

 private:
  using Iterator = std::vector<PlannedRun>::iterator;

  void fail(const std::string& reason, Iterator begin, Iterator end) {
    for (auto it = begin; it != end; ++it) {
      it->record.ok = false;
      it->record.error = reason;
      it->record.timestamp = utc_timestamp();
      write_run(options_.results_root, it->record);
      ++outcome_.runs_failed;
      fmt::print(stderr, "  FAILED {} {} {}: {}\n", it->record.algorithm, it->record.build_params,
                 it->record.search_params, reason);
    }
  }

  void run_in_child(const RunItem& item, std::vector<PlannedRun>& pending) {
    std::vector<std::string> command = options_.child_command;
    command.emplace_back("--run-item");
    command.push_back(item.serialize());
    const ChildOutcome result = run_child(command, options_.limits);
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      if (std::filesystem::exists(run_file(options_.results_root, it->record))) {
        ++outcome_.runs_done;
      } else if (!result.clean) {
        fail(result.reason, it, it + 1);
      } else if (std::filesystem::exists(failed_file(options_.results_root, it->record))) {
        ++outcome_.runs_failed;  // the child recorded why
      } else {
        fail("the isolated child wrote no result for this run", it, it + 1);
      }
    }
  }

  void measure_point(const BuildPoint& point, const Dataset& dataset,
                     std::vector<PlannedRun>& pending) {
    const ModuleInfo& info = *point.module->info;
    std::unique_ptr<Index> index;
    double build_time = 0, rss_growth_kb = 0;
    std::optional<double> load_time;
    const auto transform_report = std::make_shared<TransformReport>();
    const std::string build_json = pending.front().record.build_params;
    // A transform stage in front of the module is fitted at build time and not saved with it.
    const bool saves = (info.capabilities & kCapSaveLoad) != 0 && !point.transform;
    const SavedIndex saved =
        saved_index_path(options_.load_index_dir.value_or(options_.save_index_dir.value_or(".")),
                         pending.front().record, dataset.dim());
    const SavedIndex to_save =
        options_.save_index_dir
            ? saved_index_path(*options_.save_index_dir, pending.front().record, dataset.dim())
            : SavedIndex{};
    const char* stage = "index load";
    try {
      omp_set_num_threads(settings_.threads);
      const std::size_t rss_before = resident_bytes();
      const std::optional<double> saved_build =
          saves && options_.load_index_dir ? saved_build_seconds(saved, pending.front().record)
                                           : std::nullopt;
      const auto start = Clock::now();
      if (saved_build) {
        index = info.load(saved.file.string(), dataset.metric, dataset.dim());
        ANNBENCH_CHECK(index != nullptr, "module '{}' loaded no index", info.name);
        load_time = seconds_since(start);
        build_time = *saved_build;
      } else {
        stage = "build";
        index = build_index(point, dataset, transform_report);
        build_time = seconds_since(start);
      }
      rss_growth_kb =
          static_cast<double>(resident_bytes()) / 1024.0 - static_cast<double>(rss_before) / 1024.0;
      if (saves && options_.save_index_dir && !(load_time && to_save.file == saved.file)) {
        stage = "index save";
        std::filesystem::create_directories(to_save.file.parent_path());
        index->save(to_save.file.string());
        write_saved_index_sidecar(to_save, pending.front().record, build_time);
      }
    } catch (const std::exception& error) {
      fail(fmt::format("{} failed: {}", stage, error.what()), pending.begin(), pending.end());
      return;
    }
    if (!saves && (options_.save_index_dir || options_.load_index_dir) && !options_.quiet) {
      fmt::print("{}: {}, built here\n", point.algorithm,
                 point.transform ? "a transform stage is not saved with the index"
                                 : "the module cannot save its index");
    }
    const double index_kb = static_cast<double>(index->memory_bytes()) / 1024.0;
    const std::string build_report = index->build_report();
    if (!options_.quiet) {
      if (load_time) {
        fmt::print("{} {}: loaded in {:.2f}s from {} (built in {:.2f}s), index {:.0f} kB\n",
                   point.algorithm, build_json, *load_time, saved.file.string(), build_time,
                   index_kb);
      } else {
        fmt::print("{} {}: built in {:.2f}s, index {:.0f} kB\n", point.algorithm, build_json,
                   build_time, index_kb);
      }
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
      r.load_time = load_time;
      if (load_time) r.index_file = saved.file.string();
      r.index_kb = index_kb;
      r.build_report = build_report;
      r.rss_growth_kb = rss_growth_kb;
      r.transform = transform_report->summary;
      r.transform_s = transform_report->fit_seconds;
      try {
        if (current_search != it->search) {
          index->set_search_params(*it->search);
          current_search = it->search;
        }
        track_.measure(*index, dataset, r, settings_);
        r.peak_rss_kb = static_cast<double>(peak_resident_bytes()) / 1024.0;
        r.timestamp = utc_timestamp();
        write_run(options_.results_root, r);
        ++outcome_.runs_done;
      } catch (const std::exception& error) {
        current_search = nullptr;
        fail(fmt::format("search failed: {}", error.what()), it, it + 1);
      }
      if (!options_.quiet && r.ok) print_progress(r);
    }
    std::fflush(stdout);
  }

  std::unique_ptr<Index> build_index(const BuildPoint& point, const Dataset& dataset,
                                     const std::shared_ptr<TransformReport>& transform_report) {
    const ModuleInfo& info = *point.module->info;
    if (point.transform) {
      ANNBENCH_CHECK(point.transform->dim <= dataset.dim(),
                     "{}: dim {} is larger than the dataset's {} dimensions",
                     point.transform->key(), point.transform->dim, dataset.dim());
    }
    const std::size_t index_dim = point.transform ? point.transform->dim : dataset.dim();
    std::unique_ptr<Index> index = info.create(dataset.metric, index_dim, point.build);
    ANNBENCH_CHECK(index != nullptr, "module '{}' returned no index", info.name);
    if (point.transform) {
      index = make_transformed_index(std::move(index), *point.transform, dataset.metric,
                                     dataset.dim(), transform_report);
    }
    if (!dataset.train.empty()) {
      index->build(dataset.train.view());
      return index;
    }
    // An integer dataset loaded natively: modules that take its type get it as it is; the
    // others share one float copy, made on first need.
    const bool typed = !point.transform && dataset.metric != Metric::Angular;
    if (typed && !dataset.train_u8.empty() && (info.capabilities & kCapUint8) != 0) {
      index->build_uint8(dataset.train_u8.typed_view());
    } else if (typed && !dataset.train_i8.empty() && (info.capabilities & kCapInt8) != 0) {
      index->build_int8(dataset.train_i8.typed_view());
    } else {
      if (float_train_.empty()) float_train_ = float_train_copy(dataset);
      index->build(float_train_.view());
    }
    return index;
  }

  void measure_together(const BuildPoint& point, const Dataset& dataset,
                        std::vector<PlannedRun>& pending) {
    try {
      omp_set_num_threads(settings_.threads);
      track_.measure_together(*point.module->info, point, dataset, pending, settings_);
    } catch (const std::exception& error) {
      fail(fmt::format("{} run failed: {}", track_.name(), error.what()), pending.begin(),
           pending.end());
      return;
    }
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      RunRecord& r = it->record;
      if (!r.ok) {
        fail(r.error.empty() ? std::string("no result") : r.error, it, it + 1);
        continue;
      }
      // A track whose work runs elsewhere (sharded: MPI ranks) reports their peak itself.
      if (!r.peak_rss_kb) r.peak_rss_kb = static_cast<double>(peak_resident_bytes()) / 1024.0;
      r.timestamp = utc_timestamp();
      write_run(options_.results_root, r);
      ++outcome_.runs_done;
      if (!options_.quiet) print_progress(r);
    }
    std::fflush(stdout);
  }

  void print_progress(const RunRecord& r) const {
    const std::size_t done = outcome_.runs_done + outcome_.runs_failed;
    const double elapsed = seconds_since(start_);
    const double remaining =
        static_cast<double>(total_runs_ - std::min(total_runs_, done + outcome_.runs_skipped));
    const double eta = elapsed / static_cast<double>(done) * remaining;
    fmt::print(
        "  [{}/{}] {} {} {}  qps {:.1f}  p99 {:.3f} ms{}  ETA {}\n", done + outcome_.runs_skipped,
        total_runs_, r.algorithm, r.search_params, track_.progress(r), r.qps, r.p99_ms,
        r.distcomps ? fmt::format("  dist/q {:.0f}", *r.distcomps) : "", format_duration(eta));
  }

  const SweepConfig& config_;
  const RunOptions& options_;
  const SweepSettings& settings_;
  const Track& track_;
  std::size_t total_runs_;
  Clock::time_point start_;
  SweepOutcome outcome_;
  FloatMatrix float_train_;  // an integer dataset's train as floats, for modules needing them
};

}  // namespace

std::string RunItem::serialize() const {
  return fmt::format("{}:{}:{}", dataset, point, dataset_sha256);
}

RunItem RunItem::parse(const std::string& text) {
  RunItem item;
  const auto first = text.find(':');
  const auto second = first == std::string::npos ? first : text.find(':', first + 1);
  bool ok = second != std::string::npos;
  try {
    std::size_t used = 0;
    if (ok) item.dataset = std::stoul(text.substr(0, first), &used);
    ok = ok && used == first;
    if (ok) item.point = std::stoul(text.substr(first + 1, second - first - 1), &used);
    ok = ok && used == second - first - 1;
  } catch (const std::exception&) {
    ok = false;
  }
  ANNBENCH_CHECK(ok, "--run-item expects D:P:SHA256, got '{}'", text);
  item.dataset_sha256 = text.substr(second + 1);
  return item;
}

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
  const Track& track = find_track(config.mode);
  const SweepSettings settings = resolve_settings(config, options);
  track.check_settings(settings, options.counts.has_value(), config.file);
  const std::vector<BuildPoint> points = selected_points(config, registry, options);
  const auto items = plan_items(settings.datasets.size(), points.size(), options);
  const bool child = options.run_item.has_value();

  std::size_t total_runs = 0;
  for (const auto& [d, indices] : items) {
    for (std::size_t p : indices)
      total_runs += points[p].searches.size() * track.runs_per_search_point(settings);
  }
  SweepRunner runner(config, options, settings, track, total_runs);

  for (const auto& [d, indices] : items) {
    const auto path = resolve_dataset(settings.datasets[d]);
    const Dataset dataset = load_sweep_dataset(path, track, settings);
    if (!options.quiet && !child) {
      fmt::print("dataset {}: {} train × {} dims, {} queries, metric {}{}\n", dataset.name,
                 dataset.rows(), dataset.dim(), dataset.test.rows(), dataset.distance,
                 track.describe(dataset));
    }
    if (options.dry_run) {
      for (std::size_t p : indices) {
        for (const auto& search : points[p].searches) {
          fmt::print("  {} build {} search {}\n", points[p].algorithm, points[p].build.to_json(),
                     search.to_json());
        }
      }
      continue;
    }
    if (!child) {
      if (const std::size_t stray = clean_temporary_files(options.results_root / dataset.name)) {
        fmt::print(stderr, "annbench: removed {} temporary file(s) left by an interrupted run\n",
                   stray);
      }
    }
    const std::string sha256 = child && !options.run_item->dataset_sha256.empty()
                                   ? options.run_item->dataset_sha256
                                   : file_sha256(path);
    for (std::size_t p : indices) runner.run_item(d, p, points[p], dataset, sha256);
    if (!child) {
      const std::size_t rows = write_summary(options.results_root, dataset.name);
      if (!options.quiet) {
        fmt::print("summary: {} ({} runs)\n",
                   (options.results_root / dataset.name / "summary.csv").string(), rows);
      }
    }
  }
  return runner.outcome();
}

std::size_t run_item_count(const SweepConfig& config, const ModuleRegistry& registry,
                           const RunOptions& options) {
  const SweepSettings settings = resolve_settings(config, options);
  return settings.datasets.size() * selected_points(config, registry, options).size();
}

std::vector<std::filesystem::path> planned_run_files(const SweepConfig& config,
                                                     const ModuleRegistry& registry,
                                                     const RunOptions& options) {
  const Track& track = find_track(config.mode);
  const SweepSettings settings = resolve_settings(config, options);
  track.check_settings(settings, options.counts.has_value(), config.file);
  const std::vector<BuildPoint> points = selected_points(config, registry, options);
  std::vector<std::filesystem::path> files;
  for (const auto& name : settings.datasets) {
    const auto path = resolve_dataset(name);
    const Dataset dataset = load_sweep_dataset(path, track, settings);
    for (const BuildPoint& point : points) {
      // The file's name does not depend on the dataset's hash: skip computing it.
      const RunRecord prototype = run_prototype(config, track, settings, point, dataset, "");
      for (const PlannedRun& run : track.plan(prototype, point, dataset, settings))
        files.push_back(run_file(options.results_root, run.record));
    }
  }
  return files;
}

}  // namespace annbench
