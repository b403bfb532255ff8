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
  return dataset;
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
