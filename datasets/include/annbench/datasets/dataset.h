#pragma once
// ANN-Benchmarks dataset files (HDF5): datasets train (N × d), test (Q × d), neighbors (Q × K,
// int), distances (Q × K, float, dataset metric, ascending), root attribute `distance`
// (euclidean | angular | dot), plus `type`, `dimension`, `point_type` when written by us.
//
// Range ground truth (annbench's extra datasets, written by `annbench groundtruth --range R`):
// big-ann-benchmarks' CSR layout (benchmark/plotting/eval_range_search.py) in three datasets,
//   range_lims       (Q + 1, int32)  query q's results are entries lims[q] .. lims[q + 1] - 1
//   range_neighbors  (lims[Q], int32) train ids, per query ascending by distance then id
//   range_distances  (lims[Q], float) dataset metric, every one <= the radius
// and the root attribute range_radius (float64, dataset metric). One radius per file.
//
// Filter metadata (annbench's extra datasets for the filtered track), every part optional:
//   train_labels_indptr (N + 1, int64) + train_labels (indptr[N], uint32): each train row's
//       labels (CSR; a row lists a label at most once), every label < root attribute
//       label_count (uint32);
//   test_filters_indptr (Q + 1, int64) + test_filters (uint32): the labels a result must all
//       carry (big-ann-benchmarks' filter semantics); a query with none has no label condition;
//   train_attr (N, float32): one numeric attribute per train row, finite;
//   test_attr_range (Q × 2, float32): inclusive [lo, hi] on train_attr, lo <= hi;
//   filtered_neighbors (Q × K, int32) + filtered_distances (Q × K, float32): exact top-K of the
//       rows passing every condition of the query, nearest first; -1 / +inf padded when fewer
//       than K rows pass (written by `annbench groundtruth --filtered`).

#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace annbench {

using IdMatrix = Matrix<std::int32_t>;

// Every train point within `radius` of each query, CSR style (see above).
struct RangeGroundTruth {
  double radius = 0;
  std::vector<std::size_t> lims;  // Q + 1, lims[0] = 0
  std::vector<std::int32_t> ids;  // lims[Q]
  std::vector<float> distances;   // lims[Q]
  std::size_t queries() const { return lims.empty() ? 0 : lims.size() - 1; }
  std::size_t total() const { return lims.empty() ? 0 : lims.back(); }
};

// Labels per row, CSR: row r's labels are labels[indptr[r] .. indptr[r + 1]).
struct LabelCsr {
  std::vector<std::int64_t> indptr;  // rows + 1, indptr[0] = 0
  std::vector<std::uint32_t> labels;
  std::size_t rows() const { return indptr.empty() ? 0 : indptr.size() - 1; }
  std::span<const std::uint32_t> row(std::size_t r) const {
    return {labels.data() + indptr[r], static_cast<std::size_t>(indptr[r + 1] - indptr[r])};
  }
};

struct FilterMetadata {
  std::uint32_t label_count = 0;
  std::optional<LabelCsr> train_labels;  // N rows
  std::optional<LabelCsr> test_filters;  // Q rows
  std::vector<float> train_attr;         // N values, or empty
  FloatMatrix test_attr_range;           // Q × 2, or empty
  IdMatrix filtered_neighbors;           // Q × K, -1 padded (empty when the file has none)
  FloatMatrix filtered_distances;        // Q × K, +inf padded
  // "labels", "range" or "labels+range": the conditions the queries carry.
  std::string kind() const;
};

struct Dataset {
  std::filesystem::path path;
  std::string name;      // file stem, e.g. fashion-mnist-784-euclidean
  std::string distance;  // root attribute as stored
  Metric metric = Metric::L2;
  // The type train and test are stored in (point_type uint8 / int8, byte-wide HDF5 integers).
  ElementType element_type = ElementType::kFloat32;
  // N × d. For uint8 / int8 files loaded with native_integers, empty until
  // materialize_float_train(); the base is then in train_u8 or train_i8.
  FloatMatrix train;
  Matrix<std::uint8_t> train_u8;  // N × d when element_type is uint8 and loaded natively
  Matrix<std::int8_t> train_i8;   // N × d when element_type is int8 and loaded natively
  FloatMatrix test;               // Q × d, always float (exact for integer datasets)
  IdMatrix neighbors;     // Q × K true neighbours, nearest first (empty if the file has none)
  FloatMatrix distances;  // Q × K, dataset metric
  std::optional<RangeGroundTruth> range;  // when loaded with load_range_ground_truth
  std::optional<FilterMetadata> filters;  // when loaded with load_filters
  // Train rows and dimension, whichever type holds them.
  std::size_t rows() const;
  std::size_t dim() const;
};

// Gives an integer dataset loaded natively its float train (converted exactly, kept beside the
// integer one); nothing to do for float datasets or when train is already there.
void materialize_float_train(Dataset& dataset);

// The train as floats: a copy of train, or train_u8 / train_i8 converted exactly.
FloatMatrix float_train_copy(const Dataset& dataset);

// When load_dataset memory-maps a float train instead of reading it.
enum class MapTrain {
  kAuto,    // contiguous little-endian float32 train of at least kMapTrainBytes
  kNever,   // always read into memory
  kAlways,  // whenever the layout allows it
};
inline constexpr std::size_t kMapTrainBytes = std::size_t{1} << 30;

struct DatasetLoadOptions {
  std::size_t max_queries = 0;  // 0 = all test vectors; otherwise the first max_queries
  bool require_ground_truth = true;
  // Read range_lims / range_neighbors / range_distances / range_radius too; a file without
  // them is then an error that says how to add them.
  bool load_range_ground_truth = false;
  // Read the filter metadata too (labels, attributes, query filters and, when
  // require_ground_truth, filtered_neighbors / filtered_distances); a file without query
  // filters is then an error that says how to add them.
  bool load_filters = false;
  // Keep a uint8 / int8 train in its type (Dataset::train_u8 / train_i8) instead of float.
  bool native_integers = false;
  // A mapped train is read from the page cache on demand: a train larger than memory does not
  // have to fit, and its pages can be dropped under pressure instead of failing the run.
  MapTrain map_train = MapTrain::kAuto;
};

// Reads straight into aligned buffers (no second copy of train), converting float64 data chunk
// by chunk. Throws annbench::Error naming the file and dataset for: missing file or dataset,
// non-HDF5 file, wrong rank, test/train dimension mismatch, neighbours/distances shape not
// matching test, neighbour ids outside train, NaN or Inf in train/test, unknown `distance`; with
// load_filters, for every inconsistency in the filter metadata (CSR offsets, labels >=
// label_count or listed twice in a row, attribute/range shapes and values, filtered ground truth
// shape and ids, query conditions without the train data they test, no query filters at all).
Dataset load_dataset(const std::filesystem::path& path, const DatasetLoadOptions& options = {});

// Adds (or replaces) the range ground truth datasets and attribute in an existing file,
// atomically, keeping everything else. truth.queries() must equal the file's test rows.
void write_range_ground_truth(const std::filesystem::path& path, const RangeGroundTruth& truth);

// Adds (or replaces) the filter metadata datasets and label_count in an existing file,
// atomically, keeping everything else. Parts left empty in `meta` are removed from the file only
// when `replace_all` is true, otherwise kept, with one exception: writing labels, attributes or
// filters without filtered_neighbors removes the stored filtered ground truth (it would be
// stale). label_count is written whenever meta holds a label CSR and must exceed every label in
// meta. Checks shapes against the file's train / test rows, and everything the loader checks
// about meta itself, before replacing the file.
void write_filter_metadata(const std::filesystem::path& path, const FilterMetadata& meta,
                           bool replace_all = false);

// Writes atomically (temporary file in the same folder, then rename). `attributes` are extra
// string attributes on the root (e.g. source, seed).
void write_dataset(const std::filesystem::path& path, Metric metric, const FloatMatrix& train,
                   const FloatMatrix& test, const IdMatrix& neighbors, const FloatMatrix& distances,
                   const std::map<std::string, std::string>& attributes = {});

// The same for vectors kept in a byte-wide type: train and test must hold exact integers of
// `type` (uint8 or int8), checked, with an Error naming `path`, the row and the value; they are
// stored as that type with point_type uint8 / int8.
void write_integer_dataset(const std::filesystem::path& path, Metric metric, ElementType type,
                           const FloatMatrix& train, const FloatMatrix& test,
                           const IdMatrix& neighbors, const FloatMatrix& distances,
                           const std::map<std::string, std::string>& attributes = {});

// The metric named by a file's `distance` attribute (euclidean, angular, dot / ip /
// inner_product). Throws annbench::Error naming `path` for hamming/jaccard (not supported yet)
// and for unknown names.
Metric dataset_metric(std::string_view distance, const std::filesystem::path& path);

// Hex SHA-256 of a file's bytes (recorded with every run for reproducibility).
std::string file_sha256(const std::filesystem::path& path);

}  // namespace annbench
