// Loading and writing ANN-Benchmarks dataset files, with every check that would otherwise surface
// later as a crash or as silently wrong recall.

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

namespace annbench {

namespace fs = std::filesystem;

Metric dataset_metric(std::string_view distance, const fs::path& path) {
  if (distance == "hamming" || distance == "jaccard") {
    ANNBENCH_FAIL(
        "'{}': distance '{}' is not supported yet (annbench handles dense euclidean, "
        "angular and dot datasets)",
        path.string(), distance);
  }
  constexpr std::array<std::string_view, 5> kAccepted = {"euclidean", "angular", "dot", "ip",
                                                         "inner_product"};
  if (std::find(kAccepted.begin(), kAccepted.end(), distance) == kAccepted.end()) {
    ANNBENCH_FAIL(
        "'{}': unknown distance '{}' in attribute 'distance' (expected euclidean, "
        "angular or dot)",
        path.string(), distance);
  }
  return parse_metric(distance);
}

namespace {

struct Shape {
  std::size_t rows = 0;
  std::size_t cols = 0;
};

Shape matrix_shape(const h5::File& file, std::string_view name) {
  if (!file.has_dataset(name))
    ANNBENCH_FAIL("'{}' has no dataset '{}'", file.path().string(), name);
  const std::vector<std::size_t> shape = file.shape(name);
  if (shape.size() != 2) {
    ANNBENCH_FAIL("dataset '{}' in '{}' has rank {}, expected a matrix (rows x columns)", name,
                  file.path().string(), shape.size());
  }
  return {shape[0], shape[1]};
}

// Exponent bits all ones <=> NaN or Inf. Integer test so the scan vectorises.
bool all_finite(const float* values, std::size_t count) {
  std::uint32_t any_bad = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    any_bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return any_bad == 0;
}

void check_finite(const FloatMatrix& matrix, const fs::path& path, std::string_view name) {
  for (std::size_t i = 0; i < matrix.rows(); ++i) {
    if (all_finite(matrix.row(i), matrix.cols())) continue;
    const float* row = matrix.row(i);
    const std::size_t column =
        std::find_if(row, row + matrix.cols(), [](float v) { return !std::isfinite(v); }) - row;
    ANNBENCH_FAIL("dataset '{}' in '{}' has a non-finite value ({}) in row {}, column {}", name,
                  path.string(), row[column], i, column);
  }
}

void check_neighbor_ids(const IdMatrix& neighbors, std::size_t train_rows, const fs::path& path) {
  for (std::size_t i = 0; i < neighbors.rows(); ++i) {
    const std::int32_t* row = neighbors.row(i);
    for (std::size_t j = 0; j < neighbors.cols(); ++j) {
      if (row[j] >= 0 && static_cast<std::size_t>(row[j]) < train_rows) continue;
      ANNBENCH_FAIL(
          "dataset 'neighbors' in '{}': row {} column {} holds id {}, outside train "
          "(0..{})",
          path.string(), i, j, row[j], train_rows - 1);
    }
  }
}

// Number of entries of a vector dataset (rank 1, or n x 1).
std::size_t vector_length(const h5::File& file, std::string_view name) {
  if (!file.has_dataset(name))
    ANNBENCH_FAIL("'{}' has no dataset '{}'", file.path().string(), name);
  const std::vector<std::size_t> shape = file.shape(name);
  if (shape.size() == 1) return shape[0];
  if (shape.size() == 2 && shape[1] == 1) return shape[0];
  ANNBENCH_FAIL("dataset '{}' in '{}' must be a vector (rank 1), got rank {}", name,
                file.path().string(), shape.size());
}

// The first `queries` queries' range ground truth, checked for consistency with the file.
RangeGroundTruth read_range_ground_truth(const h5::File& file, std::size_t test_rows,
                                         std::size_t train_rows, std::size_t queries) {
  const fs::path& path = file.path();
  const auto radius = file.number_attribute("range_radius");
  if (!radius || !file.has_dataset("range_lims")) {
    ANNBENCH_FAIL(
        "'{}' has no range ground truth (attribute range_radius, datasets range_lims, "
        "range_neighbors, range_distances); compute it with `annbench groundtruth {} --range "
        "RADIUS`",
        path.string(), path.string());
  }
  ANNBENCH_CHECK(std::isfinite(*radius), "'{}': attribute range_radius is {}", path.string(),
                 *radius);
  const std::size_t lims_length = vector_length(file, "range_lims");
  ANNBENCH_CHECK(lims_length == test_rows + 1,
                 "'{}': dataset 'range_lims' has {} entries but 'test' has {} rows (expected {})",
                 path.string(), lims_length, test_rows, test_rows + 1);
  const std::size_t entries = vector_length(file, "range_neighbors");
  ANNBENCH_CHECK(vector_length(file, "range_distances") == entries,
                 "'{}': datasets 'range_neighbors' ({} entries) and 'range_distances' ({}) differ",
                 path.string(), entries, vector_length(file, "range_distances"));
  const Matrix<std::int32_t> lims = file.read_ints("range_lims");
  ANNBENCH_CHECK(lims.data()[0] == 0, "'{}': range_lims[0] is {}, expected 0", path.string(),
                 lims.data()[0]);
  for (std::size_t q = 0; q < test_rows; ++q) {
    ANNBENCH_CHECK(lims.data()[q + 1] >= lims.data()[q],
                   "'{}': range_lims decreases at query {} ({} then {})", path.string(), q,
                   lims.data()[q], lims.data()[q + 1]);
  }
  ANNBENCH_CHECK(static_cast<std::size_t>(lims.data()[test_rows]) == entries,
                 "'{}': range_lims ends at {} but 'range_neighbors' has {} entries", path.string(),
                 lims.data()[test_rows], entries);

  RangeGroundTruth truth;
  truth.radius = *radius;
  truth.lims.assign(lims.data(), lims.data() + queries + 1);
  const std::size_t total = truth.lims.back();
  if (total == 0) return truth;  // max_rows = 0 would read everything
  const Matrix<std::int32_t> ids = file.read_ints("range_neighbors", total);
  const FloatMatrix distances = file.read_floats("range_distances", total);
  truth.ids.assign(ids.data(), ids.data() + total);
  truth.distances.assign(distances.data(), distances.data() + total);
  for (std::size_t i = 0; i < total; ++i) {
    ANNBENCH_CHECK(truth.ids[i] >= 0 && static_cast<std::size_t>(truth.ids[i]) < train_rows,
                   "'{}': range_neighbors[{}] is {}, outside train (0..{})", path.string(), i,
                   truth.ids[i], train_rows - 1);
    ANNBENCH_CHECK(std::isfinite(truth.distances[i]), "'{}': range_distances[{}] is {}",
                   path.string(), i, truth.distances[i]);
  }
  return truth;
}

}  // namespace

Dataset load_dataset(const fs::path& path, const DatasetLoadOptions& options) {
  const h5::File file = h5::File::open_read(path);
  Dataset dataset;
  dataset.path = path;
  dataset.name = path.stem().string();

  const std::optional<std::string> distance = file.string_attribute("distance");
  if (!distance) {
    ANNBENCH_FAIL("'{}' has no attribute 'distance' (expected euclidean, angular or dot)",
                  path.string());
  }
  dataset.distance = *distance;
  dataset.metric = dataset_metric(*distance, path);
  if (auto type = file.string_attribute("type"); type && *type != "dense") {
    ANNBENCH_FAIL("'{}' is a '{}' dataset; only dense datasets are supported yet", path.string(),
                  *type);
  }
  if (auto point_type = file.string_attribute("point_type"); point_type && *point_type != "float") {
    ANNBENCH_FAIL("'{}' has point_type '{}'; only float points are supported yet", path.string(),
                  *point_type);
  }

  const Shape train = matrix_shape(file, "train");
  const Shape test = matrix_shape(file, "test");
  if (train.rows == 0 || train.cols == 0) {
    ANNBENCH_FAIL("dataset 'train' in '{}' is empty ({} x {})", path.string(), train.rows,
                  train.cols);
  }
  if (test.rows == 0) ANNBENCH_FAIL("dataset 'test' in '{}' has no rows", path.string());
  if (test.cols != train.cols) {
    ANNBENCH_FAIL("'{}': dataset 'test' has dimension {} but 'train' has dimension {}",
                  path.string(), test.cols, train.cols);
  }
  if (auto dimension = file.number_attribute("dimension");
      dimension && *dimension != static_cast<double>(train.cols)) {
    ANNBENCH_FAIL("'{}': attribute 'dimension' is {} but dataset 'train' has {} columns",
                  path.string(), *dimension, train.cols);
  }

  const bool has_neighbors = file.has_dataset("neighbors");
  const bool has_distances = file.has_dataset("distances");
  if (options.require_ground_truth || has_neighbors || has_distances) {
    for (const char* name : {"neighbors", "distances"}) {
      if (!file.has_dataset(name)) {
        ANNBENCH_FAIL(
            "'{}' has no dataset '{}' (ground truth); compute it with `annbench "
            "groundtruth {}`",
            path.string(), name, path.string());
      }
    }
    const Shape neighbors = matrix_shape(file, "neighbors");
    const Shape distances = matrix_shape(file, "distances");
    if (neighbors.rows != test.rows || neighbors.cols == 0) {
      ANNBENCH_FAIL("'{}': dataset 'neighbors' is {} x {} but 'test' has {} rows", path.string(),
                    neighbors.rows, neighbors.cols, test.rows);
    }
    if (distances.rows != neighbors.rows || distances.cols != neighbors.cols) {
      ANNBENCH_FAIL("'{}': dataset 'distances' is {} x {} but 'neighbors' is {} x {}",
                    path.string(), distances.rows, distances.cols, neighbors.rows, neighbors.cols);
    }
  }

  const std::size_t queries =
      options.max_queries > 0 ? std::min(options.max_queries, test.rows) : test.rows;
  dataset.train = file.read_floats("train");
  check_finite(dataset.train, path, "train");
  dataset.test = file.read_floats("test", queries);
  check_finite(dataset.test, path, "test");
  if (has_neighbors) {
    // Stored int64 / uint32 ids are converted by HDF5, which clips out-of-range values; the
    // range check below then reports them.
    dataset.neighbors = file.read_ints("neighbors", queries);
    check_neighbor_ids(dataset.neighbors, train.rows, path);
    dataset.distances = file.read_floats("distances", queries);
    check_finite(dataset.distances, path, "distances");
  }
  if (options.load_range_ground_truth)
    dataset.range = read_range_ground_truth(file, test.rows, train.rows, queries);
  return dataset;
}

void write_range_ground_truth(const fs::path& path, const RangeGroundTruth& truth) {
  const std::size_t total = truth.total();
  ANNBENCH_CHECK(!truth.lims.empty() && truth.lims.front() == 0 && truth.ids.size() == total &&
                     truth.distances.size() == total,
                 "cannot write range ground truth to '{}': lims, ids and distances disagree",
                 path.string());
  // The file format stores lims as int32 (what HDF5 reads back here without clipping).
  ANNBENCH_CHECK(total <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "cannot write range ground truth to '{}': {} results do not fit int32 lims "
                 "(use a smaller radius)",
                 path.string(), total);
  std::vector<std::int32_t> lims(truth.lims.begin(), truth.lims.end());
  // Copy, add, rename: everything else in the file is kept, and a crash leaves the old file.
  h5::write_atomically(path, [&](const fs::path& temporary) {
    fs::copy_file(path, temporary, fs::copy_options::overwrite_existing);
    h5::File file = h5::File::open_read_write(temporary);
    const std::size_t test_rows = file.shape("test").at(0);
    ANNBENCH_CHECK(truth.queries() == test_rows,
                   "cannot write range ground truth to '{}': {} queries for {} test rows",
                   path.string(), truth.queries(), test_rows);
    file.write_ints("range_lims", lims.data(), lims.size(), 0);
    file.write_ints("range_neighbors", truth.ids.data(), total, 0);
    file.write_floats("range_distances", truth.distances.data(), total, 0);
    file.set_attribute("range_radius", truth.radius);
  });
}

void write_dataset(const fs::path& path, Metric metric, const FloatMatrix& train,
                   const FloatMatrix& test, const IdMatrix& neighbors, const FloatMatrix& distances,
                   const std::map<std::string, std::string>& attributes) {
  ANNBENCH_CHECK(!train.empty(), "cannot write '{}': train is empty", path.string());
  ANNBENCH_CHECK(test.cols() == train.cols(),
                 "cannot write '{}': test has dimension {} but train has {}", path.string(),
                 test.cols(), train.cols());
  ANNBENCH_CHECK(neighbors.rows() == distances.rows() && neighbors.cols() == distances.cols(),
                 "cannot write '{}': neighbors are {} x {} but distances are {} x {}",
                 path.string(), neighbors.rows(), neighbors.cols(), distances.rows(),
                 distances.cols());
  ANNBENCH_CHECK(neighbors.empty() || neighbors.rows() == test.rows(),
                 "cannot write '{}': {} rows of neighbors for {} test vectors", path.string(),
                 neighbors.rows(), test.rows());
  for (const auto& [key, value] : attributes) {
    ANNBENCH_CHECK(key != "distance" && key != "type" && key != "dimension" && key != "point_type",
                   "cannot write '{}': attribute '{}' is set by write_dataset itself",
                   path.string(), key);
  }

  h5::write_atomically(path, [&](const fs::path& temporary) {
    h5::File file = h5::File::create(temporary);
    file.set_attribute("distance", metric_name(metric));
    file.set_attribute("type", "dense");
    file.set_attribute("dimension", static_cast<std::int64_t>(train.cols()));
    file.set_attribute("point_type", "float");
    for (const auto& [key, value] : attributes) file.set_attribute(key, std::string_view(value));
    file.write_floats("train", train.data(), train.rows(), train.cols());
    file.write_floats("test", test.data(), test.rows(), test.cols());
    if (!neighbors.empty()) {
      file.write_ints("neighbors", neighbors.data(), neighbors.rows(), neighbors.cols());
      file.write_floats("distances", distances.data(), distances.rows(), distances.cols());
    }
  });
}

}  // namespace annbench
