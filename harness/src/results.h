#pragma once
// Run results: one HDF5 file per run, readable by ANN-Benchmarks' own plotting (same attribute
// and dataset names), and a per-dataset summary.csv regenerated from those files.
//
//   <root>/<dataset>/<k>/<algorithm>[-batch]/<slug>.hdf5    finished run
//   <root>/<dataset>/<k>/<algorithm>[-batch]/<slug>.failed  failed run: one line, the reason
//   <root>/<dataset>/summary.csv                            one row per run (both kinds)
// Range runs use the folder range-<radius> instead of <k> (count 0), so knn and range runs, and
// range runs at different radii, never share a result file. Which fields a run has, and where
// each is stored, is one table: result_fields.h. Their .hdf5 holds lims (Q + 1),
// neighbors and distances (lims[Q] each) in big-ann-benchmarks' CSR layout instead of Q × k.

#include <annbench/datasets/dataset.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

struct RunRecord {
  bool range_mode() const { return mode == "range"; }

  // identity
  std::string dataset;
  std::size_t count = 0;  // k
  std::string algorithm;  // results folder name
  std::string module;
  std::string library;  // ModuleInfo::library: the peer library and version, empty for our own
  std::string slug;
  std::string build_params;   // JSON
  std::string search_params;  // JSON
  bool batch_mode = false;
  int threads = 1;
  std::size_t queries = 0;
  int runs = 0;
  std::string distance;          // dataset metric name
  std::string mode = "knn";      // the track that measured it: knn, range, ...
  std::optional<double> radius;  // range runs: the search radius (dataset metric)
  // outcome
  bool ok = false;
  std::string error;
  double recall = 0, epsilon_recall = 0, largeepsilon_recall = 0, rel = 0;
  double best_search_time = 0;  // seconds per query, best run
  double qps = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0;
  double build_time = 0;  // seconds
  // A build loaded from --load-index: the seconds the load took (build_time is then the time
  // recorded when the index was saved) and the file; unset / empty for a build made here.
  std::optional<double> load_time;
  std::string index_file;
  double index_kb = 0;  // memory_bytes() / 1024
  double rss_growth_kb = 0;
  std::string build_report;  // Index::build_report(): what the build chose (JSON), or empty
  // The process's peak resident set size when the run was written (with --isolate the build
  // point's child; sharded runs: the largest rank's).
  std::optional<double> peak_rss_kb;
  std::optional<double> distcomps;  // per query
  double candidates = 0;            // mean results returned per query
  std::size_t duplicate_ids = 0;
  // Range runs: big-ann-benchmarks' range recall and AP (metrics.h); `recall` repeats
  // range_recall so that tools ranking runs by recall (compare, check, plots) work unchanged.
  std::optional<double> range_recall, range_ap;
  // Streaming runs: `recall` is the mean recall over the runbook's search steps (big-ann's
  // ranking figure), `qps` over all their queries; update_s is the time spent in add/remove,
  // insert_per_s and delete_per_s their throughput (vectors per second).
  std::string runbook;  // file
  // Concurrent runs: client threads sending queries back to back.
  std::optional<double> clients;
  std::optional<double> min_recall, update_s, insert_per_s, delete_per_s;
  // Filtered runs: the selectivity band the run's queries fall in (the fraction of the base
  // their filters allow, nominal), their mean actual selectivity, the conditions they carry
  // (labels, range, labels+range), and which test rows they are (the rows of `neighbors`).
  std::optional<double> selectivity, mean_selectivity;
  std::string filter_kind;
  std::vector<std::int32_t> query_rows;
  // Sharded runs: ranks (one shard each), how the base was split (contiguous, kmeans), how many
  // shards each query visited, payload bytes sent between ranks per query (queries out,
  // answers back), and the largest shard's rows over the mean.
  std::optional<double> shards, probe_shards, bytes_per_query, shard_imbalance;
  std::string partition;
  // Per-step curves (streaming): name -> one value per step, written as datasets of the run's
  // .hdf5 (not read back by read_run_summary).
  std::vector<std::pair<std::string, std::vector<float>>> series;
  // A pca / random_projection stage in front of the module: what it did and its share of
  // build_time (empty / 0 without one).
  std::string transform;
  double transform_s = 0;
  // reproducibility
  std::string config;  // config file path
  std::string git_commit, compiler, flags, cpu, hostname, dataset_sha256, timestamp;
  // per-query data (ok runs)
  std::vector<float> times;  // seconds, best run
  IdMatrix neighbors;        // Q × k, -1 padded
  FloatMatrix distances;     // Q × k, dataset metric, +inf padded
  // per-query data (ok range runs): query q's results are [range_lims[q], range_lims[q + 1])
  std::vector<std::size_t> range_lims;  // Q + 1
  std::vector<std::int32_t> range_ids;
  std::vector<float> range_distances;  // dataset metric
};

// The folder between dataset and algorithm: "<k>" for k-NN runs, "range-<radius>" for range
// runs, "<mode>-<k>" for the other tracks (streaming-10, concurrent-10).
std::string mode_folder(const RunRecord& record);

std::filesystem::path run_directory(const std::filesystem::path& root, const RunRecord& record);
std::filesystem::path run_file(const std::filesystem::path& root, const RunRecord& record);
std::filesystem::path failed_file(const std::filesystem::path& root, const RunRecord& record);

// Writes the run's .hdf5 (ok) or .failed (failed) atomically, removing the other kind.
void write_run(const std::filesystem::path& root, const RunRecord& record);

// Reads a run's attributes (not its per-query data) back.
RunRecord read_run_summary(const std::filesystem::path& path);

// Every run (finished and failed) under `directory`, in path order. Unreadable files are
// reported on stderr and skipped.
std::vector<RunRecord> read_runs(const std::filesystem::path& directory);

// Rewrites <root>/<dataset>/summary.csv from every run file under it (atomically); returns
// the number of rows. Files that cannot be read are reported on stderr and skipped.
std::size_t write_summary(const std::filesystem::path& root, const std::string& dataset);

// Beside each summary.csv: summary.schema.json, the columns' names and types
// (summary_schema_json()), which plots/annbench_results.py reads.
// The summary.csv header and one row (exposed for tests and tools).
std::string summary_header();
std::string summary_row(const RunRecord& record, const std::filesystem::path& root);

// Removes stray temporary files left by a killed process under <root>/<dataset>; returns count.
std::size_t clean_temporary_files(const std::filesystem::path& directory);

}  // namespace annbench
