// The sharded-search track (config `mode: sharded`, `shards: [1, 2, 4]`, `partition:
// contiguous|kmeans`, `probe_shards: [...]`): a vector database splits a base too big for one
// machine into shards. For each shard count R this track starts R MPI ranks (`mpirun -np R
// annbench-shard`); every rank loads the dataset, keeps its shard (contiguous rows, or the rows
// nearest one of R k-means centroids) and builds the module on it, which does not know it is
// sharded. Rank 0 broadcasts the queries (one at a time, or in batches of kShardBatch in batch
// mode), every rank a query is routed to answers with its local top k (global ids), rank 0
// gathers and merges them; recall is scored here against the global ground truth. With kmeans,
// a query visits only its `probe_shards` nearest shards. Besides recall, QPS and latency (at
// rank 0, communication included) a run records payload bytes exchanged per query and the
// largest shard's size over the mean.
//
// mpirun comes from ANNBENCH_MPIRUN or PATH; ANNBENCH_MPIRUN_ARGS adds options (a hostfile on a
// cluster). Open MPI is told to allow more ranks than cores and to run as root (these machines'
// CI), through its environment variables, which other MPIs ignore. A rank that fails aborts the
// job (MPI_Abort), so every run of that shard count fails with the rank's message, never hangs.

#include "isolation.h"
#include "metrics.h"
#include "result_fields.h"
#include "shard_protocol.h"
#include "track.h"

#include <annbench/datasets/registry.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace annbench {

namespace {

// Appends `"key":value` pairs to a JSON object's text.
std::string with_fields(const std::string& json, const std::string& fields) {
  const std::string inner = json.size() >= 2 ? json.substr(1, json.size() - 2) : std::string();
  return fmt::format("{{{}{}{}}}", inner, inner.empty() ? "" : ",", fields);
}

std::filesystem::path mpirun_path() {
  if (const char* configured = std::getenv("ANNBENCH_MPIRUN"); configured && *configured) {
    ANNBENCH_CHECK(::access(configured, X_OK) == 0,
                   "ANNBENCH_MPIRUN='{}' is not an executable file", configured);
    return configured;
  }
  auto found = find_program("mpirun");
  ANNBENCH_CHECK(found.has_value(),
                 "mode: sharded starts its ranks with mpirun, which is not on PATH (Debian: "
                 "openmpi-bin); or set ANNBENCH_MPIRUN to its path");
  return *found;
}

std::filesystem::path worker_path() {
  if (const char* configured = std::getenv("ANNBENCH_SHARD_WORKER"); configured && *configured)
    return configured;
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  auto worker = self.parent_path() / "annbench-shard";
  ANNBENCH_CHECK(!error && std::filesystem::exists(worker),
                 "mode: sharded needs the MPI worker annbench-shard beside this binary ('{}' not "
                 "found): this build found no MPI (Debian: libopenmpi-dev), install it and "
                 "reconfigure",
                 worker.string());
  return worker;
}

std::vector<std::string> split_words(const char* text) {
  std::vector<std::string> words;
  std::stringstream stream(text != nullptr ? text : "");
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

// The lines a failing rank printed (the worker prefixes them), else the output's last lines.
std::string rank_failure(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::vector<std::string> lines, ranks;
  for (std::string line; std::getline(in, line);) {
    if (line.find("annbench-shard: rank") != std::string::npos) ranks.push_back(line);
    // mpirun frames its notices with rules of dashes.
    if (line.find_first_not_of("- \t") != std::string::npos) lines.push_back(line);
  }
  const auto& chosen = ranks.empty() ? lines : ranks;
  std::string text;
  const std::size_t from = chosen.size() > 4 ? chosen.size() - 4 : 0;
  for (std::size_t i = from; i < chosen.size(); ++i)
    text += (text.empty() ? "" : " | ") + chosen[i];
  return text.empty() ? std::string("no output") : text;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "annbench-shard-XXXXXX").string();
    ANNBENCH_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary folder");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class ShardedTrack final : public Track {
 public:
  std::string_view name() const override { return "sharded"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = true;
  }

  void check_settings(const SweepSettings& settings, bool,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!settings.sharding.shards.empty(), "{}: mode: sharded needs 'shards'",
                   config.string());
    ANNBENCH_CHECK(!settings.counts.empty(), "{}: no k to run", config.string());
  }

  void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                     const SweepSettings& settings) const override {
    check_counts(dataset, path, settings.counts);
    const int most = settings.sharding.shards.back();
    ANNBENCH_CHECK(static_cast<std::size_t>(most) <= dataset.train.rows(),
                   "'{}' has {} train rows, fewer than the {} shards asked for", path.string(),
                   dataset.train.rows(), most);
  }

  std::string describe(const Dataset&) const override { return ""; }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point, const Dataset&,
                               const SweepSettings& settings) const override {
    const ShardingConfig& sharding = settings.sharding;
    std::vector<PlannedRun> runs;
    for (auto& base : plan_search_points(prototype, point, settings.counts, settings)) {
      for (int shards : sharding.shards) {
        for (int probe : probes(sharding, shards)) {
          PlannedRun run{copy_fields(base.record), base.search};
          RunRecord& r = run.record;
          r.shards = shards;
          r.partition = sharding.partition;
          // Shard count and partition change what is built, the probe what is searched: both
          // go into the run's name.
          r.build_params = with_fields(
              base.record.build_params,
              fmt::format("\"shards\":{},\"partition\":\"{}\"", shards, sharding.partition));
          if (sharding.partition == "kmeans") {
            r.probe_shards = probe;
            r.search_params =
                with_fields(base.record.search_params, fmt::format("\"probe_shards\":{}", probe));
          }
          r.slug = run_slug(r.build_params, r.search_params);
          runs.push_back(std::move(run));
        }
      }
    }
    return runs;
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    std::size_t per_mode = 0;
    for (int shards : settings.sharding.shards)
      per_mode += probes(settings.sharding, shards).size();
    return settings.counts.size() * per_mode *
           (static_cast<std::size_t>(settings.single) + static_cast<std::size_t>(settings.batch));
  }

  std::string refuse(const ModuleInfo&, const BuildPoint& point) const override {
    if (point.transform) {
      return fmt::format("a {} stage cannot run in mode: sharded (each rank would fit its own)",
                         point.transform->key());
    }
    return "";
  }

  void measure(const Index&, const Dataset&, RunRecord&, const SweepSettings&) const override {
    ANNBENCH_FAIL("the sharded track measures all runs of a build point together");
  }

  bool shares_index() const override { return true; }

  void measure_together(const ModuleInfo& info, const BuildPoint& point, const Dataset& dataset,
                        std::vector<PlannedRun>& runs,
                        const SweepSettings& settings) const override {
    const auto mpirun = mpirun_path();
    const auto worker = worker_path();
    // Open MPI reads these; a user's own setting wins.
    ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    std::map<int, std::vector<PlannedRun*>> by_shards;
    for (auto& run : runs) by_shards[static_cast<int>(*run.record.shards)].push_back(&run);
    for (auto& [shards, group] : by_shards) {
      ShardJob job;
      job.dataset = std::filesystem::absolute(dataset.path);
      job.max_queries = dataset.test.rows();
      job.module = info.name;
      job.module_dir = std::filesystem::absolute(point.module->path).parent_path();
      job.build_json = point.build.to_json();
      job.ranks = shards;
      job.partition = settings.sharding.partition;
      job.threads = std::max(1, settings.threads / shards);
      job.repetitions = settings.runs;
      for (const PlannedRun* run : group) {
        job.runs.push_back({run->search->to_json(), run->record.count,
                            static_cast<int>(run->record.probe_shards.value_or(shards)),
                            run->record.batch_mode});
      }
      try {
        measure_group(job, mpirun, worker, dataset, group);
      } catch (const std::exception& error) {
        for (PlannedRun* run : group) {
          run->record.ok = false;
          run->record.error = fmt::format("{} shards: {}", shards, error.what());
        }
      }
    }
  }

  std::string progress(const RunRecord& record) const override {
    return fmt::format("k={} shards={}{}{}: recall {:.4f}  {:.0f} B/query", record.count,
                       record.shards.value_or(1),
                       record.probe_shards ? fmt::format(" probe={}", *record.probe_shards) : "",
                       record.batch_mode ? " batch" : "", record.recall,
                       record.bytes_per_query.value_or(0));
  }

 private:
  // Shards a query visits, per probe_shards value (capped at the shard count, deduplicated).
  static std::vector<int> probes(const ShardingConfig& sharding, int shards) {
    if (sharding.partition != "kmeans" || sharding.probe_shards.empty()) return {shards};
    std::vector<int> result;
    for (int probe : sharding.probe_shards) result.push_back(std::min(probe, shards));
    result.erase(std::unique(result.begin(), result.end()), result.end());
    return result;
  }

  static void measure_group(const ShardJob& job, const std::filesystem::path& mpirun,
                            const std::filesystem::path& worker, const Dataset& dataset,
                            std::vector<PlannedRun*>& group) {
    const TempDir temp;
    const auto job_file = temp.path() / "job.yaml";
    const auto out_file = temp.path() / "out.bin";
    const auto log_file = temp.path() / "ranks.log";
    write_shard_job(job_file, job);
    std::vector<std::string> command = {mpirun.string(), "-np", std::to_string(job.ranks)};
    for (auto& word : split_words(std::getenv("ANNBENCH_MPIRUN_ARGS"))) command.push_back(word);
    command.insert(command.end(), {worker.string(), job_file.string(), out_file.string()});
    const ChildOutcome outcome = run_child(command, IsolationLimits{}, log_file);
    if (!outcome.clean || !std::filesystem::exists(out_file)) {
      ANNBENCH_FAIL("mpirun failed ({}): {}", outcome.clean ? "no output" : outcome.reason,
                    rank_failure(log_file));
    }
    const ShardOutput output = read_shard_output(out_file, job);
    double rows_sum = 0, rows_max = 0;
    for (auto rows : output.shard_rows) {
      rows_sum += static_cast<double>(rows);
      rows_max = std::max(rows_max, static_cast<double>(rows));
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      RunRecord& record = group[i]->record;
      const ShardRunResult& result = output.runs[i];
      ANNBENCH_CHECK(result.queries == dataset.test.rows(),
                     "the ranks answered {} queries, the dataset has {}", result.queries,
                     dataset.test.rows());
      record.threads = job.threads;
      record.build_time = output.build_s;
      record.index_kb = output.memory_bytes / 1024.0;
      record.peak_rss_kb = output.peak_rss_bytes / 1024.0;
      record.shard_imbalance = rows_max / (rows_sum / static_cast<double>(job.ranks));
      score_neighbors(record, result.neighbors, dataset, record.count);
      record.times = result.times;
      record.best_search_time = result.total_s / static_cast<double>(result.queries);
      record.qps = static_cast<double>(result.queries) / result.total_s;
      const LatencyStats latency =
          latency_stats(std::vector<double>(result.times.begin(), result.times.end()));
      record.p50_ms = latency.p50_ms;
      record.p95_ms = latency.p95_ms;
      record.p99_ms = latency.p99_ms;
      record.p999_ms = latency.p999_ms;
      record.bytes_per_query = result.bytes_per_query;
      if (result.distcomps >= 0) record.distcomps = result.distcomps;
      record.ok = true;
    }
  }
};

}  // namespace

const Track& sharded_track() {
  static const ShardedTrack track;
  return track;
}

}  // namespace annbench
