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

#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
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

struct Dataset {
  std::filesystem::path path;
  std::string name;      // file stem, e.g. fashion-mnist-784-euclidean
  std::string distance;  // root attribute as stored
  Metric metric = Metric::L2;
  FloatMatrix train;      // N × d
  FloatMatrix test;       // Q × d
  IdMatrix neighbors;     // Q × K true neighbours, nearest first (empty if the file has none)
  FloatMatrix distances;  // Q × K, dataset metric
  std::optional<RangeGroundTruth> range;  // when loaded with load_range_ground_truth
  std::size_t dim() const { return train.cols(); }
};

struct DatasetLoadOptions {
  std::size_t max_queries = 0;  // 0 = all test vectors; otherwise the first max_queries
  bool require_ground_truth = true;
  // Read range_lims / range_neighbors / range_distances / range_radius too; a file without
  // them is then an error that says how to add them.
  bool load_range_ground_truth = false;
};

// Reads straight into aligned buffers (no second copy of train), converting float64 data chunk
// by chunk. Throws annbench::Error naming the file and dataset for: missing file or dataset,
// non-HDF5 file, wrong rank, test/train dimension mismatch, neighbours/distances shape not
// matching test, neighbour ids outside train, NaN or Inf in train/test, unknown `distance`.
Dataset load_dataset(const std::filesystem::path& path, const DatasetLoadOptions& options = {});

// Adds (or replaces) the range ground truth datasets and attribute in an existing file,
// atomically, keeping everything else. truth.queries() must equal the file's test rows.
void write_range_ground_truth(const std::filesystem::path& path, const RangeGroundTruth& truth);

// Writes atomically (temporary file in the same folder, then rename). `attributes` are extra
// string attributes on the root (e.g. source, seed).
void write_dataset(const std::filesystem::path& path, Metric metric, const FloatMatrix& train,
                   const FloatMatrix& test, const IdMatrix& neighbors, const FloatMatrix& distances,
                   const std::map<std::string, std::string>& attributes = {});

// The metric named by a file's `distance` attribute (euclidean, angular, dot / ip /
// inner_product). Throws annbench::Error naming `path` for hamming/jaccard (not supported yet)
// and for unknown names.
Metric dataset_metric(std::string_view distance, const std::filesystem::path& path);

// Hex SHA-256 of a file's bytes (recorded with every run for reproducibility).
std::string file_sha256(const std::filesystem::path& path);

}  // namespace annbench
