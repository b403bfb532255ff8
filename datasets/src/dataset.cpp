// Loading and writing ANN-Benchmarks dataset files, with every check that would otherwise surface
// later as a crash or as silently wrong recall.

#include "binary_file.h"

#include <annbench/datasets/bigann.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <span>
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

// The element type a file's point_type attribute and the stored types of train and test agree
// on; an Error naming the file when they disagree (a uint8 base with float queries, say).
ElementType element_type_of(const h5::File& file) {
  const fs::path& path = file.path();
  const auto kind = [&](std::string_view name) {
    switch (file.stored_element(name)) {
      case h5::StoredElement::kUint8: return ElementType::kUint8;
      case h5::StoredElement::kInt8: return ElementType::kInt8;
      default: return ElementType::kFloat32;
    }
  };
  const ElementType train = kind("train");
  const ElementType test = kind("test");
  if (train != test) {
    ANNBENCH_FAIL(
        "'{}': train is stored as {} but test as {}; queries must have the base's type (convert "
        "both with the same --point-type)",
        path.string(), element_type_name(train), element_type_name(test));
  }
  if (auto point_type = file.string_attribute("point_type"); point_type) {
    const ElementType declared = *point_type == "uint8"  ? ElementType::kUint8
                                 : *point_type == "int8" ? ElementType::kInt8
                                                         : ElementType::kFloat32;
    if (*point_type != "float" && *point_type != "uint8" && *point_type != "int8") {
      ANNBENCH_FAIL("'{}' has point_type '{}'; expected float, uint8 or int8", path.string(),
                    *point_type);
    }
    if (declared != train) {
      ANNBENCH_FAIL("'{}' has point_type '{}' but its train vectors are stored as {}",
                    path.string(), *point_type, element_type_name(train));
    }
  }
  return train;
}

// A contiguous float32 train mapped instead of read, when `when` asks for it and the layout
// allows it; an empty matrix otherwise.
FloatMatrix map_float_train(const h5::File& file, std::size_t rows, std::size_t cols,
                            MapTrain when) {
  const std::size_t bytes = rows * cols * sizeof(float);
  if (when == MapTrain::kNever || (when == MapTrain::kAuto && bytes < kMapTrainBytes)) return {};
  const std::optional<std::uint64_t> offset = file.contiguous_float32_offset("train");
  if (!offset) return {};
  return detail::map_floats(file.path(), *offset, rows, cols);
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

// ---------------------------------------------------------------------------------------------
// Filter metadata. The checks are shared by the loader (prefix "'FILE': dataset") and the writer
// (prefix "cannot write filter metadata to 'FILE':"), so both name the dataset and the numbers.

// Offsets of a CSR: rows + 1 entries, starting at 0, non-decreasing, ending at labels_length.
void check_csr_offsets(std::span<const std::int64_t> indptr, std::size_t labels_length,
                       std::size_t rows, std::string_view rows_name, std::string_view prefix,
                       std::string_view name) {
  ANNBENCH_CHECK(indptr.size() == rows + 1,
                 "{} '{}' has {} entries but '{}' has {} rows (expected {})", prefix, name,
                 indptr.size(), rows_name, rows, rows + 1);
  ANNBENCH_CHECK(indptr[0] == 0, "{} '{}' starts at {}, expected 0", prefix, name, indptr[0]);
  for (std::size_t r = 0; r < rows; ++r) {
    ANNBENCH_CHECK(indptr[r + 1] >= indptr[r], "{} '{}' decreases at row {} ({} then {})", prefix,
                   name, r, indptr[r], indptr[r + 1]);
  }
  ANNBENCH_CHECK(static_cast<std::uint64_t>(indptr[rows]) == labels_length,
                 "{} '{}' ends at {} but its label list has {} entries", prefix, name, indptr[rows],
                 labels_length);
}

// Every label < label_count, none listed twice in one row. indptr must be checked already.
void check_csr_labels(const LabelCsr& csr, std::uint32_t label_count, std::string_view prefix,
                      std::string_view name) {
  std::vector<std::uint32_t> sorted;
  for (std::size_t r = 0; r < csr.rows(); ++r) {
    const std::span<const std::uint32_t> row = csr.row(r);
    for (const std::uint32_t label : row) {
      ANNBENCH_CHECK(label < label_count, "{} '{}': row {} has label {}, not below label_count {}",
                     prefix, name, r, label, label_count);
    }
    if (row.size() < 2) continue;
    sorted.assign(row.begin(), row.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    ANNBENCH_CHECK(twice == sorted.end(), "{} '{}': row {} lists label {} twice", prefix, name, r,
                   twice == sorted.end() ? 0u : *twice);
  }
}

void check_attr_values(std::span<const float> values, std::string_view prefix) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    ANNBENCH_CHECK(std::isfinite(values[i]), "{} 'train_attr' is {} at row {} (must be finite)",
                   prefix, values[i], i);
  }
}

void check_attr_ranges(const FloatMatrix& ranges, std::string_view prefix) {
  ANNBENCH_CHECK(ranges.cols() == 2, "{} 'test_attr_range' has {} columns, expected 2 (lo, hi)",
                 prefix, ranges.cols());
  for (std::size_t q = 0; q < ranges.rows(); ++q) {
    const float lo = ranges(q, 0);
    const float hi = ranges(q, 1);
    ANNBENCH_CHECK(std::isfinite(lo) && std::isfinite(hi),
                   "{} 'test_attr_range' row {} is [{}, {}] (must be finite)", prefix, q, lo, hi);
    ANNBENCH_CHECK(lo <= hi, "{} 'test_attr_range' row {} is [{}, {}]: lo > hi", prefix, q, lo, hi);
  }
}

// Ids in [-1, train_rows), -1 only as padding at the end of a row; distances finite for real
// ids and +inf for padding.
void check_filtered_truth(const IdMatrix& ids, const FloatMatrix& distances, std::size_t train_rows,
                          std::string_view prefix) {
  ANNBENCH_CHECK(ids.rows() == distances.rows() && ids.cols() == distances.cols(),
                 "{} 'filtered_neighbors' is {} x {} but 'filtered_distances' is {} x {}", prefix,
                 ids.rows(), ids.cols(), distances.rows(), distances.cols());
  for (std::size_t q = 0; q < ids.rows(); ++q) {
    bool padding = false;
    for (std::size_t j = 0; j < ids.cols(); ++j) {
      const std::int32_t id = ids(q, j);
      const float distance = distances(q, j);
      ANNBENCH_CHECK(id >= -1 && (id < 0 || static_cast<std::size_t>(id) < train_rows),
                     "{} 'filtered_neighbors' row {} column {} holds id {}, outside -1..{}", prefix,
                     q, j, id, static_cast<std::int64_t>(train_rows) - 1);
      if (id < 0) {
        padding = true;
        ANNBENCH_CHECK(distance == std::numeric_limits<float>::infinity(),
                       "{} 'filtered_distances' row {} column {} is {} for padding id -1 "
                       "(expected inf)",
                       prefix, q, j, distance);
        continue;
      }
      ANNBENCH_CHECK(!padding,
                     "{} 'filtered_neighbors' row {} column {} holds id {} after a -1 (padding "
                     "must come last)",
                     prefix, q, j, id);
      ANNBENCH_CHECK(std::isfinite(distance),
                     "{} 'filtered_distances' row {} column {} is {} for id {}", prefix, q, j,
                     distance, id);
    }
  }
}

// A CSR pair from the file: the full offsets are checked, the labels of the first `read_rows`
// rows are read and checked.
LabelCsr read_label_csr(const h5::File& file, std::string_view indptr_name,
                        std::string_view labels_name, std::size_t rows, std::string_view rows_name,
                        std::size_t read_rows, std::uint32_t label_count) {
  const std::string prefix = fmt::format("'{}': dataset", file.path().string());
  const std::vector<std::size_t> labels_shape = file.shape(labels_name);
  ANNBENCH_CHECK(labels_shape.size() == 1, "{} '{}' has rank {}, expected a vector (rank 1)",
                 prefix, labels_name, labels_shape.size());
  std::vector<std::int64_t> indptr = file.read_int64s(indptr_name);
  check_csr_offsets(indptr, labels_shape[0], rows, rows_name, prefix, indptr_name);
  LabelCsr csr;
  indptr.resize(read_rows + 1);
  csr.indptr = std::move(indptr);
  const auto length = static_cast<std::size_t>(csr.indptr.back());
  if (length > 0) csr.labels = file.read_uint32s(labels_name, length);
  check_csr_labels(csr, label_count, prefix, labels_name);
  return csr;
}

bool has_label_csr(const h5::File& file, std::string_view indptr_name,
                   std::string_view labels_name) {
  const bool has_indptr = file.has_dataset(indptr_name);
  const bool has_labels = file.has_dataset(labels_name);
  if (has_labels && !has_indptr) {
    ANNBENCH_FAIL(
        "'{}' has dataset '{}' but no '{}': filter labels are a CSR pair (offsets int64, labels "
        "uint32; a plain per-row class vector is not); add them with `annbench dataset tags {}`",
        file.path().string(), labels_name, indptr_name, file.path().string());
  }
  if (has_indptr && !has_labels) {
    ANNBENCH_FAIL("'{}' has dataset '{}' but no '{}'", file.path().string(), indptr_name,
                  labels_name);
  }
  return has_indptr;
}

FilterMetadata read_filter_metadata(const h5::File& file, std::size_t train_rows,
                                    std::size_t test_rows, std::size_t queries,
                                    bool require_ground_truth) {
  const fs::path& path = file.path();
  const std::string prefix = fmt::format("'{}': dataset", path.string());
  FilterMetadata meta;
  const bool has_train_labels = has_label_csr(file, "train_labels_indptr", "train_labels");
  const bool has_test_filters = has_label_csr(file, "test_filters_indptr", "test_filters");
  const bool has_attr = file.has_dataset("train_attr");
  const bool has_range = file.has_dataset("test_attr_range");
  if (!has_test_filters && !has_range) {
    ANNBENCH_FAIL(
        "'{}' has no query filters (datasets test_filters_indptr + test_filters, or "
        "test_attr_range): add them with `annbench dataset tags {}` or `annbench dataset convert "
        "... --train-labels A.spmat --query-filters B.spmat`",
        path.string(), path.string());
  }
  ANNBENCH_CHECK(!has_test_filters || has_train_labels,
                 "'{}' has query label filters (test_filters) but no train labels "
                 "(train_labels_indptr + train_labels)",
                 path.string());
  ANNBENCH_CHECK(!has_range || has_attr,
                 "'{}' has query attribute ranges (test_attr_range) but no train attribute "
                 "(train_attr)",
                 path.string());

  if (has_train_labels || has_test_filters) {
    const std::optional<double> count = file.number_attribute("label_count");
    ANNBENCH_CHECK(count.has_value(), "'{}' has filter labels but no attribute label_count",
                   path.string());
    ANNBENCH_CHECK(*count >= 0 && *count <= std::numeric_limits<std::uint32_t>::max() &&
                       std::floor(*count) == *count,
                   "'{}': attribute label_count is {}, expected an integer 0..{}", path.string(),
                   *count, std::numeric_limits<std::uint32_t>::max());
    meta.label_count = static_cast<std::uint32_t>(*count);
  }
  if (has_train_labels) {
    meta.train_labels = read_label_csr(file, "train_labels_indptr", "train_labels", train_rows,
                                       "train", train_rows, meta.label_count);
  }
  if (has_test_filters) {
    meta.test_filters = read_label_csr(file, "test_filters_indptr", "test_filters", test_rows,
                                       "test", queries, meta.label_count);
  }
  if (has_attr) {
    const std::vector<std::size_t> shape = file.shape("train_attr");
    ANNBENCH_CHECK(shape.size() == 1 && shape[0] == train_rows,
                   "{} 'train_attr' has shape {} but 'train' has {} rows (expected a vector of "
                   "{})",
                   prefix, fmt::join(shape, " x "), train_rows, train_rows);
    const FloatMatrix values = file.read_floats("train_attr");
    meta.train_attr.assign(values.data(), values.data() + values.size());
    check_attr_values(meta.train_attr, prefix);
  }
  if (has_range) {
    const std::vector<std::size_t> shape = file.shape("test_attr_range");
    ANNBENCH_CHECK(shape.size() == 2 && shape[0] == test_rows && shape[1] == 2,
                   "{} 'test_attr_range' has shape {} but 'test' has {} rows (expected {} x 2)",
                   prefix, fmt::join(shape, " x "), test_rows, test_rows);
    meta.test_attr_range = file.read_floats("test_attr_range", queries);
    check_attr_ranges(meta.test_attr_range, prefix);
  }

  const bool has_ids = file.has_dataset("filtered_neighbors");
  const bool has_distances = file.has_dataset("filtered_distances");
  if (!has_ids && !has_distances) {
    ANNBENCH_CHECK(!require_ground_truth,
                   "'{}' has no filtered ground truth (datasets filtered_neighbors, "
                   "filtered_distances); run `annbench groundtruth {} --filtered`",
                   path.string(), path.string());
    return meta;
  }
  ANNBENCH_CHECK(has_ids && has_distances, "'{}' has dataset '{}' but no '{}'", path.string(),
                 has_ids ? "filtered_neighbors" : "filtered_distances",
                 has_ids ? "filtered_distances" : "filtered_neighbors");
  const Shape ids = matrix_shape(file, "filtered_neighbors");
  const Shape distances = matrix_shape(file, "filtered_distances");
  ANNBENCH_CHECK(ids.rows == test_rows && ids.cols > 0,
                 "{} 'filtered_neighbors' is {} x {} but 'test' has {} rows", prefix, ids.rows,
                 ids.cols, test_rows);
  ANNBENCH_CHECK(distances.rows == ids.rows && distances.cols == ids.cols,
                 "{} 'filtered_distances' is {} x {} but 'filtered_neighbors' is {} x {}", prefix,
                 distances.rows, distances.cols, ids.rows, ids.cols);
  meta.filtered_neighbors = file.read_ints("filtered_neighbors", queries);
  meta.filtered_distances = file.read_floats("filtered_distances", queries);
  check_filtered_truth(meta.filtered_neighbors, meta.filtered_distances, train_rows, prefix);
  return meta;
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
  dataset.element_type = element_type_of(file);
  if (options.native_integers && dataset.element_type == ElementType::kUint8) {
    dataset.train_u8 = file.read_uint8s("train");
  } else if (options.native_integers && dataset.element_type == ElementType::kInt8) {
    dataset.train_i8 = file.read_int8s("train");
  } else {
    dataset.train = map_float_train(file, train.rows, train.cols, options.map_train);
    if (dataset.train.empty()) dataset.train = file.read_floats("train");
    check_finite(dataset.train, path, "train");
  }
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
  if (options.load_filters) {
    dataset.filters =
        read_filter_metadata(file, train.rows, test.rows, queries, options.require_ground_truth);
  }
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

std::size_t Dataset::rows() const {
  if (!train.empty()) return train.rows();
  return element_type == ElementType::kInt8 ? train_i8.rows() : train_u8.rows();
}

std::size_t Dataset::dim() const {
  if (!train.empty()) return train.cols();
  if (!train_u8.empty()) return train_u8.cols();
  if (!train_i8.empty()) return train_i8.cols();
  return test.cols();
}

FloatMatrix float_train_copy(const Dataset& dataset) {
  const auto convert = [](const auto& source) {
    FloatMatrix out(source.rows(), source.cols());
    const auto* in = source.data();
    float* to = out.data();
    for (std::size_t i = 0; i < source.size(); ++i) to[i] = static_cast<float>(in[i]);
    return out;
  };
  if (!dataset.train.empty()) return convert(dataset.train);
  if (!dataset.train_u8.empty()) return convert(dataset.train_u8);
  return convert(dataset.train_i8);
}

void materialize_float_train(Dataset& dataset) {
  if (dataset.train.empty()) dataset.train = float_train_copy(dataset);
}

namespace {

// Shared by the float and the integer writers: everything but the vectors themselves.
void write_dataset_file(const fs::path& path, Metric metric, std::string_view point_type,
                        const FloatMatrix& train, const FloatMatrix& test,
                        const IdMatrix& neighbors, const FloatMatrix& distances,
                        const std::map<std::string, std::string>& attributes,
                        const std::function<void(h5::File&)>& write_vectors) {
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
    file.set_attribute("point_type", point_type);
    for (const auto& [key, value] : attributes) file.set_attribute(key, std::string_view(value));
    write_vectors(file);
    if (!neighbors.empty()) {
      file.write_ints("neighbors", neighbors.data(), neighbors.rows(), neighbors.cols());
      file.write_floats("distances", distances.data(), distances.rows(), distances.cols());
    }
  });
}

// values as T, after checking that every one is an exact integer T can hold.
template <typename T>
Matrix<T> exact_integers(const FloatMatrix& values, const fs::path& path, std::string_view name) {
  check_representable(std::is_signed_v<T> ? BinElement::Int8 : BinElement::UInt8, values.view(),
                      fmt::format("cannot write '{}': {}", path.string(), name));
  Matrix<T> out(values.rows(), values.cols());
  for (std::size_t i = 0; i < values.size(); ++i) out.data()[i] = static_cast<T>(values.data()[i]);
  return out;
}

}  // namespace

void write_dataset(const fs::path& path, Metric metric, const FloatMatrix& train,
                   const FloatMatrix& test, const IdMatrix& neighbors, const FloatMatrix& distances,
                   const std::map<std::string, std::string>& attributes) {
  write_dataset_file(path, metric, "float", train, test, neighbors, distances, attributes,
                     [&](h5::File& file) {
                       file.write_floats("train", train.data(), train.rows(), train.cols());
                       file.write_floats("test", test.data(), test.rows(), test.cols());
                     });
}

void write_integer_dataset(const fs::path& path, Metric metric, ElementType type,
                           const FloatMatrix& train, const FloatMatrix& test,
                           const IdMatrix& neighbors, const FloatMatrix& distances,
                           const std::map<std::string, std::string>& attributes) {
  ANNBENCH_CHECK(type != ElementType::kFloat32,
                 "cannot write '{}': write_integer_dataset needs uint8 or int8", path.string());
  // Converted before the file is created, so a value out of range leaves nothing behind.
  if (type == ElementType::kUint8) {
    const auto base = exact_integers<std::uint8_t>(train, path, "train");
    const auto queries = exact_integers<std::uint8_t>(test, path, "test");
    write_dataset_file(path, metric, "uint8", train, test, neighbors, distances, attributes,
                       [&](h5::File& file) {
                         file.write_uint8s("train", base.data(), base.rows(), base.cols());
                         file.write_uint8s("test", queries.data(), queries.rows(), queries.cols());
                       });
  } else {
    const auto base = exact_integers<std::int8_t>(train, path, "train");
    const auto queries = exact_integers<std::int8_t>(test, path, "test");
    write_dataset_file(path, metric, "int8", train, test, neighbors, distances, attributes,
                       [&](h5::File& file) {
                         file.write_int8s("train", base.data(), base.rows(), base.cols());
                         file.write_int8s("test", queries.data(), queries.rows(), queries.cols());
                       });
  }
}

std::string FilterMetadata::kind() const {
  const bool labels = test_filters.has_value();
  const bool range = !test_attr_range.empty();
  if (labels && range) return "labels+range";
  if (range) return "range";
  return "labels";
}

void write_filter_metadata(const fs::path& path, const FilterMetadata& meta, bool replace_all) {
  const std::string prefix = fmt::format("cannot write filter metadata to '{}':", path.string());
  // Everything that needs only `meta` is checked before the file is copied.
  const auto check_csr = [&](const std::optional<LabelCsr>& csr, std::string_view indptr_name,
                             std::string_view labels_name) {
    if (!csr) return;
    ANNBENCH_CHECK(!csr->indptr.empty(), "{} '{}' is empty (expected rows + 1 offsets)", prefix,
                   indptr_name);
    check_csr_offsets(csr->indptr, csr->labels.size(), csr->rows(), "itself", prefix, indptr_name);
    check_csr_labels(*csr, meta.label_count, prefix, labels_name);
  };
  check_csr(meta.train_labels, "train_labels_indptr", "train_labels");
  check_csr(meta.test_filters, "test_filters_indptr", "test_filters");
  check_attr_values(meta.train_attr, prefix);
  if (!meta.test_attr_range.empty()) check_attr_ranges(meta.test_attr_range, prefix);
  const bool has_truth = !meta.filtered_neighbors.empty() || !meta.filtered_distances.empty();
  const bool writes_conditions = meta.train_labels || meta.test_filters ||
                                 !meta.train_attr.empty() || !meta.test_attr_range.empty();

  h5::write_atomically(path, [&](const fs::path& temporary) {
    fs::copy_file(path, temporary, fs::copy_options::overwrite_existing);
    h5::File file = h5::File::open_read_write(temporary);
    const std::size_t train_rows = matrix_shape(file, "train").rows;
    const std::size_t test_rows = matrix_shape(file, "test").rows;
    const auto check_rows = [&](std::string_view name, std::size_t rows, std::size_t expected,
                                std::string_view of) {
      ANNBENCH_CHECK(rows == expected, "{} '{}' has {} rows but the file's '{}' has {}", prefix,
                     name, rows, of, expected);
    };
    if (meta.train_labels)
      check_rows("train_labels_indptr", meta.train_labels->rows(), train_rows, "train");
    if (meta.test_filters)
      check_rows("test_filters_indptr", meta.test_filters->rows(), test_rows, "test");
    if (!meta.train_attr.empty())
      check_rows("train_attr", meta.train_attr.size(), train_rows, "train");
    if (!meta.test_attr_range.empty())
      check_rows("test_attr_range", meta.test_attr_range.rows(), test_rows, "test");
    if (has_truth) {
      check_rows("filtered_neighbors", meta.filtered_neighbors.rows(), test_rows, "test");
      check_filtered_truth(meta.filtered_neighbors, meta.filtered_distances, train_rows, prefix);
    }

    const auto write_csr = [&](const std::optional<LabelCsr>& csr, const char* indptr_name,
                               const char* labels_name) {
      if (csr) {
        file.write_int64s(indptr_name, csr->indptr.data(), csr->indptr.size());
        file.write_uint32s(labels_name, csr->labels.data(), csr->labels.size());
      } else if (replace_all) {
        file.remove_dataset(indptr_name);
        file.remove_dataset(labels_name);
      }
    };
    write_csr(meta.train_labels, "train_labels_indptr", "train_labels");
    write_csr(meta.test_filters, "test_filters_indptr", "test_filters");
    if (meta.train_labels || meta.test_filters) {
      file.set_attribute("label_count", meta.label_count);
    } else if (replace_all) {
      file.remove_attribute("label_count");
    }
    if (!meta.train_attr.empty()) {
      file.write_floats("train_attr", meta.train_attr.data(), meta.train_attr.size(), 0);
    } else if (replace_all) {
      file.remove_dataset("train_attr");
    }
    if (!meta.test_attr_range.empty()) {
      file.write_floats("test_attr_range", meta.test_attr_range.data(), meta.test_attr_range.rows(),
                        2);
    } else if (replace_all) {
      file.remove_dataset("test_attr_range");
    }
    if (has_truth) {
      file.write_ints("filtered_neighbors", meta.filtered_neighbors.data(),
                      meta.filtered_neighbors.rows(), meta.filtered_neighbors.cols());
      file.write_floats("filtered_distances", meta.filtered_distances.data(),
                        meta.filtered_distances.rows(), meta.filtered_distances.cols());
    } else if (replace_all || writes_conditions) {
      // New labels, attributes or filters make any stored filtered ground truth stale: better
      // none (the loader then says how to compute it) than silently wrong recall.
      file.remove_dataset("filtered_neighbors");
      file.remove_dataset("filtered_distances");
    }
  });
}

}  // namespace annbench
