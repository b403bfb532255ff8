// annbench groundtruth FILE: recompute a dataset's exact neighbours in place, or with --range R
// add its exact range ground truth (range_lims / range_neighbors / range_distances, see
// datasets/dataset.h).

#include "args.h"
#include "commands.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/registry.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <filesystem>

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

}  // namespace

int groundtruth_command(const std::vector<std::string>& argv) {
  constexpr const char* kUsage =
      "annbench groundtruth FILE|NAME [--k 100 | --range RADIUS] [--threads T]";
  const Args args(argv, {"k", "threads", "range"}, {}, "annbench groundtruth");
  args.expect_positionals(1, 1, kUsage);
  const long long k = args.get_int_or("k", 100);
  ANNBENCH_CHECK(k > 0, "annbench groundtruth: --k must be positive, got {}", k);
  if (const long long threads = args.get_int_or("threads", 0); threads != 0) {
    ANNBENCH_CHECK(threads > 0, "annbench groundtruth: --threads must be positive, got {}",
                   threads);
    omp_set_num_threads(static_cast<int>(threads));
  }
  const fs::path path = resolve_dataset(args.positionals()[0]);

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

  if (args.get("range")) {
    ANNBENCH_CHECK(!args.get("k"), "annbench groundtruth: --k and --range are exclusive ({})",
                   kUsage);
    return range_groundtruth(path, metric, train, test, args.get_float_or("range", 0.0));
  }

  const auto start = std::chrono::steady_clock::now();
  const GroundTruth truth =
      compute_ground_truth(train.view(), test.view(), metric, static_cast<std::size_t>(k));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Copy, replace the two datasets, rename: everything else in the file (attributes, extra
  // datasets, the stored type of train) is kept, and a crash leaves the old file intact.
  h5::write_atomically(path, [&](const fs::path& temporary) {
    fs::copy_file(path, temporary, fs::copy_options::overwrite_existing);
    h5::File file = h5::File::open_read_write(temporary);
    file.write_ints("neighbors", truth.neighbors.data(), truth.neighbors.rows(),
                    truth.neighbors.cols());
    file.write_floats("distances", truth.distances.data(), truth.distances.rows(),
                      truth.distances.cols());
  });
  fmt::print(
      "{}: ground truth for {} queries x {} points ({}-d, {}), k = {}: {:.2f} s on {} "
      "threads\n",
      path.string(), test.rows(), train.rows(), train.cols(), metric_name(metric),
      truth.neighbors.cols(), seconds, omp_get_max_threads());
  return 0;
}

}  // namespace annbench
