#pragma once
// ANN-Benchmarks dataset files (HDF5): datasets train (N × d), test (Q × d), neighbors (Q × K,
// int), distances (Q × K, float, dataset metric, ascending), root attribute `distance`
// (euclidean | angular | dot), plus `type`, `dimension`, `point_type` when written by us.

#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace annbench {

using IdMatrix = Matrix<std::int32_t>;

struct Dataset {
  std::filesystem::path path;
  std::string name;      // file stem, e.g. fashion-mnist-784-euclidean
  std::string distance;  // root attribute as stored
  Metric metric = Metric::L2;
  FloatMatrix train;      // N × d
  FloatMatrix test;       // Q × d
  IdMatrix neighbors;     // Q × K true neighbours, nearest first (empty if the file has none)
  FloatMatrix distances;  // Q × K, dataset metric
  std::size_t dim() const { return train.cols(); }
};

struct DatasetLoadOptions {
  std::size_t max_queries = 0;  // 0 = all test vectors; otherwise the first max_queries
  bool require_ground_truth = true;
};

// Reads straight into aligned buffers (no second copy of train), converting float64 data chunk
// by chunk. Throws annbench::Error naming the file and dataset for: missing file or dataset,
// non-HDF5 file, wrong rank, test/train dimension mismatch, neighbours/distances shape not
// matching test, neighbour ids outside train, NaN or Inf in train/test, unknown `distance`.
Dataset load_dataset(const std::filesystem::path& path, const DatasetLoadOptions& options = {});

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
