// annbench groundtruth FILE: recompute a dataset's exact neighbours in place (reading train block
// by block within --memory, so a train set larger than memory works), with --range R add its
// exact range ground truth (range_lims / range_neighbors / range_distances), or with --filtered
// its exact filtered ground truth (filtered_neighbors / filtered_distances, for the query filters
// the file carries); see datasets/dataset.h.

#include "args.h"
#include "commands.h"
#include "isolation.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/registry.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace annbench {

namespace fs = std::filesystem;

namespace {

int range_groundtruth(const fs::path& path, Metric metric, const FloatMatrix& train,
                      const FloatMatrix& test, double radius) {
  // Modules receive the radius as a float, so it must be finite as one.
  ANNBENCH_CHECK(std::isfinite(static_cast<float>(radius)),
                 "annbench groundtruth: --range must be a finite float, got {}", radius);
  ANNBENCH_CHECK(radius >= 0 || metric == Metric::InnerProduct,
                 "annbench groundtruth: --range must be >= 0 for {} distances, got {}",
                 metric_name(metric), radius);
  const auto start = std::chrono::steady_clock::now();
  const RangeGroundTruth truth =
      compute_range_ground_truth(train.view(), test.view(), metric, radius);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_range_ground_truth(path, truth);
  std::size_t empty = 0;
  for (std::size_t q = 0; q < truth.queries(); ++q) empty += truth.lims[q + 1] == truth.lims[q];
  fmt::print(
      "{}: range ground truth for {} queries x {} points ({}-d, {}), radius {}: {} results "
      "({:.1f} per query, {} queries with none): {:.2f} s on {} threads\n",
      path.string(), test.rows(), train.rows(), train.cols(), metric_name(metric), truth.radius,
      truth.total(), static_cast<double>(truth.total()) / static_cast<double>(truth.queries()),
      empty, seconds, omp_get_max_threads());
  return 0;
}

int filtered_groundtruth(const fs::path& path, std::size_t k) {
  DatasetLoadOptions options;
  options.require_ground_truth = false;
  options.load_filters = true;
  const Dataset dataset = load_dataset(path, options);
  const FilterMetadata& meta = *dataset.filters;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::size_t> passing;
  GroundTruth truth = compute_filtered_ground_truth(dataset, k, &passing);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::size_t kept = truth.neighbors.cols();
  // Only the two ground-truth datasets: the labels, attributes and filters stay as they are.
  FilterMetadata written;
  written.filtered_neighbors = std::move(truth.neighbors);
  written.filtered_distances = std::move(truth.distances);
  write_filter_metadata(path, written);

  double selectivity = 0;
  std::size_t short_queries = 0;
  std::size_t empty = 0;
  for (const std::size_t count : passing) {
    selectivity += static_cast<double>(count) / static_cast<double>(dataset.train.rows());
    short_queries += count < kept;
    empty += count == 0;
  }
  selectivity /= static_cast<double>(std::max<std::size_t>(passing.size(), 1));
  fmt::print(
      "{}: filtered ground truth ({}) for {} queries x {} points ({}-d, {}), k = {}: mean "
      "selectivity {:.4g} ({} queries with fewer than k passing rows, {} with none): {:.2f} s on "
      "{} threads\n",
      path.string(), meta.kind(), dataset.test.rows(), dataset.train.rows(), dataset.dim(),
      metric_name(dataset.metric), kept, selectivity, short_queries, empty, seconds,
      omp_get_max_threads());
  return 0;
}

// --memory SIZE ("512M", "2G"), else a quarter of the machine's memory.
std::size_t memory_budget(const Args& args) {
  const std::optional<std::string> text = args.get("memory");
  if (!text) return default_ground_truth_memory();
  try {
    return parse_bytes(*text);
  } catch (const Error& error) {
    ANNBENCH_FAIL("annbench groundtruth: --memory '{}': {}", *text, error.what());
  }
}

// Exact k-NN over train read from the file block by block (hyperslabs): memory holds one block,
// the queries and the top-k, never the whole train set.
int knn_groundtruth(const fs::path& path, std::size_t k, std::size_t memory) {
  // Only test and the shape of train are read here, and not through load_dataset: the ground
  // truth being replaced may be exactly what is broken in this file.
  Metric metric;
  FloatMatrix test;
  std::size_t train_rows = 0;
  std::size_t train_dim = 0;
  const h5::File file = h5::File::open_read(path);
  {
    const auto distance = file.string_attribute("distance");
    ANNBENCH_CHECK(distance.has_value(), "'{}' has no attribute 'distance'", path.string());
    metric = dataset_metric(*distance, path);
    test = file.read_floats("test");
    const std::vector<std::size_t> shape = file.shape("train");
    ANNBENCH_CHECK(shape.size() == 1 || shape.size() == 2,
                   "'{}': dataset 'train' has rank {}, expected a matrix", path.string(),
                   shape.size());
    train_rows = shape[0];
    train_dim = shape.size() == 2 ? shape[1] : 1;
  }
  ANNBENCH_CHECK(train_rows > 0 && !test.empty() && train_dim == test.cols(),
                 "'{}': train ({} x {}) and test ({} x {}) do not make a dataset", path.string(),
                 train_rows, train_dim, test.rows(), test.cols());
  std::size_t block_rows = 0;
  try {
    block_rows = ground_truth_block_rows(train_rows, test.rows(), train_dim, metric, k, memory);
  } catch (const Error& error) {
    ANNBENCH_FAIL("annbench groundtruth '{}' (--memory): {}", path.string(), error.what());
  }

  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const auto gflops = [&](std::size_t rows, double elapsed) {
    return 2.0 * static_cast<double>(test.rows()) * static_cast<double>(rows) *
           static_cast<double>(train_dim) / std::max(elapsed, 1e-9) / 1e9;
  };
  double reading = 0;
  const TrainRowReader read_train = [&](std::size_t first, std::size_t count, float* out) {
    const auto read_start = std::chrono::steady_clock::now();
    file.read_float_rows("train", first, count, out);
    reading += std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
  };
  // A line every few seconds: often enough to see it move, rarely enough to read in a log.
  constexpr double kReportEvery = 3.0;
  double reported = 0;
  const GroundTruthProgress progress = [&](std::size_t done, std::size_t total) {
    const double elapsed = seconds();
    if (elapsed - reported < kReportEvery || done == total) return;
    reported = elapsed;
    fmt::print(stderr, "ground truth: {} / {} train rows ({:.1f}%), {:.1f} s, {:.1f} GFLOP/s\n",
               done, total, 100.0 * static_cast<double>(done) / static_cast<double>(total), elapsed,
               gflops(done, elapsed));
    std::fflush(stderr);
  };
  const GroundTruth truth = compute_ground_truth_streamed(read_train, train_rows, test.view(),
                                                          metric, k, memory, progress);
  const double elapsed = seconds();

  // Copy, replace the two datasets, rename: everything else in the file (attributes, extra
  // datasets, the stored type of train) is kept, and a crash leaves the old file intact.
  h5::write_atomically(path, [&](const fs::path& temporary) {
    fs::copy_file(path, temporary, fs::copy_options::overwrite_existing);
    h5::File copy = h5::File::open_read_write(temporary);
    copy.write_ints("neighbors", truth.neighbors.data(), truth.neighbors.rows(),
                    truth.neighbors.cols());
    copy.write_floats("distances", truth.distances.data(), truth.distances.rows(),
                      truth.distances.cols());
  });
  fmt::print(
      "{}: ground truth for {} queries x {} points ({}-d, {}), k = {}: {:.2f} s ({:.2f} s "
      "reading train), {:.1f} GFLOP/s, on {} threads in blocks of {} rows (--memory {} "
      "bytes)\n",
      path.string(), test.rows(), train_rows, train_dim, metric_name(metric),
      truth.neighbors.cols(), elapsed, reading, gflops(train_rows, elapsed), omp_get_max_threads(),
      block_rows, memory);
  return 0;
}

}  // namespace

int groundtruth_command(const std::vector<std::string>& argv) {
  constexpr const char* kUsage =
      "annbench groundtruth FILE|NAME [--k 100 | --range RADIUS | --filtered [--count 100]] "
      "[--threads T] [--memory SIZE]";
  constexpr const char* kHelp = R"(usage: annbench groundtruth FILE|NAME [options]

Recomputes a dataset file's exact ground truth in place.

  --k 100          exact k nearest neighbours (neighbors, distances). Train is read from the
                   file block by block, so it need not fit in memory; progress (rows, per cent,
                   elapsed, GFLOP/s) goes to stderr every few seconds
  --memory SIZE    memory for the k-NN ground truth: train block, queries and top-k state
                   (e.g. 512M, 2G; default a quarter of the machine's memory)
  --range RADIUS   exact range ground truth instead (range_lims, range_neighbors,
                   range_distances); loads the whole train set into memory
  --filtered [--count 100]
                   exact filtered top-k for the file's query filters (filtered_neighbors,
                   filtered_distances); loads the whole dataset into memory
  --threads T      OpenMP threads (default: all)
)";
  const Args args(argv, {"k", "threads", "range", "count", "memory"}, {"filtered"},
                  "annbench groundtruth", kHelp);
  args.expect_positionals(1, 1, kUsage);
  // --count is what `annbench dataset tags` calls the filtered ground truth's k; either name
  // works with --filtered.
  ANNBENCH_CHECK(!(args.get("k") && args.get("count")),
                 "annbench groundtruth: give --k or --count, not both ({})", kUsage);
  ANNBENCH_CHECK(!args.get("count") || args.flag("filtered"),
                 "annbench groundtruth: --count goes with --filtered; use --k ({})", kUsage);
  const long long k = args.get("count") ? args.get_int_or("count", 100) : args.get_int_or("k", 100);
  ANNBENCH_CHECK(k > 0, "annbench groundtruth: --{} must be positive, got {}",
                 args.get("count") ? "count" : "k", k);
  if (const long long threads = args.get_int_or("threads", 0); threads != 0) {
    ANNBENCH_CHECK(threads > 0, "annbench groundtruth: --threads must be positive, got {}",
                   threads);
    omp_set_num_threads(static_cast<int>(threads));
  }
  const std::size_t memory = memory_budget(args);
  const fs::path path = resolve_dataset(args.positionals()[0]);
  // Range and filtered ground truth scan the whole train set per query block; they still load
  // it whole, so a budget would be a promise they do not keep.
  ANNBENCH_CHECK(!args.get("memory") || (!args.flag("filtered") && !args.get("range")),
                 "annbench groundtruth: --memory applies to k-NN ground truth only (--range and "
                 "--filtered load the whole dataset)");
  if (args.flag("filtered")) {
    ANNBENCH_CHECK(!args.get("range"),
                   "annbench groundtruth: --filtered and --range are exclusive ({})", kUsage);
    return filtered_groundtruth(path, static_cast<std::size_t>(k));
  }
  if (!args.get("range")) return knn_groundtruth(path, static_cast<std::size_t>(k), memory);

  ANNBENCH_CHECK(!args.get("k"), "annbench groundtruth: --k and --range are exclusive ({})",
                 kUsage);
  // Read train/test directly rather than through load_dataset: the ground truth being replaced
  // may be exactly what is broken in this file.
  Metric metric;
  FloatMatrix train;
  FloatMatrix test;
  {
    const h5::File file = h5::File::open_read(path);
    const auto distance = file.string_attribute("distance");
    ANNBENCH_CHECK(distance.has_value(), "'{}' has no attribute 'distance'", path.string());
    metric = dataset_metric(*distance, path);
    train = file.read_floats("train");
    test = file.read_floats("test");
  }
  ANNBENCH_CHECK(!train.empty() && !test.empty() && train.cols() == test.cols(),
                 "'{}': train ({} x {}) and test ({} x {}) do not make a dataset", path.string(),
                 train.rows(), train.cols(), test.rows(), test.cols());
  return range_groundtruth(path, metric, train, test, args.get_float_or("range", 0.0));
}

}  // namespace annbench
