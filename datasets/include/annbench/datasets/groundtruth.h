#pragma once
// Exact k-nearest-neighbour and range ground truth: blocked SIMD kernels, OpenMP over query
// blocks.

#include <annbench/datasets/dataset.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>
#include <functional>
#include <vector>

namespace annbench {

struct GroundTruth {
  IdMatrix neighbors;     // Q × k, nearest first, ties broken by smaller id
  FloatMatrix distances;  // Q × k, in the dataset metric (exact_distance below)
};

// k is clamped to train.rows. Uses the OpenMP thread count in effect.
GroundTruth compute_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                 std::size_t k);

// Fills out (count × dim floats, row-major) with train rows [first, first + count).
using TrainRowReader = std::function<void(std::size_t first, std::size_t count, float* out)>;
// Told after each block: train rows scanned so far, of train_rows.
using GroundTruthProgress = std::function<void(std::size_t rows_done, std::size_t train_rows)>;

// compute_ground_truth over a train set read block by block, for one that does not fit in memory:
// each block goes through the same exact scan, and the per-query top-k are merged across blocks
// by (exact distance in double, id), so the result is compute_ground_truth's bit for bit. Holds
// one block of train rows, its per-row scan data and the top-k state, within memory_bytes (see
// ground_truth_block_rows); the scan's own per-thread scratch (about 1 MiB) is not counted.
// Reads every row once, in order. k is clamped to train_rows.
GroundTruth compute_ground_truth_streamed(const TrainRowReader& read_train, std::size_t train_rows,
                                          MatrixView queries, Metric metric, std::size_t k,
                                          std::size_t memory_bytes,
                                          const GroundTruthProgress& progress = {});

// The train rows per block compute_ground_truth_streamed uses: what memory_bytes leaves after the
// queries and the top-k state (2 × Q × k × 16 bytes), at most 512 MiB of block, whole multiples
// of 1024 rows (the block kernel's tiling) when a block is that large. An Error with the numbers
// when memory_bytes cannot hold the fixed state plus one train row.
std::size_t ground_truth_block_rows(std::size_t train_rows, std::size_t queries, std::size_t dim,
                                    Metric metric, std::size_t k, std::size_t memory_bytes);

// A quarter of the machine's memory (MemTotal in /proc/meminfo): the default ground-truth budget.
std::size_t default_ground_truth_memory();

// Every train point with exact_distance <= radius (dataset metric, compared in double, so
// boundary ties are in), per query ascending by distance then id. radius must not be NaN; it is
// rounded to float first (what modules receive) and recorded as such.
RangeGroundTruth compute_range_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                            double radius);

// Exact filtered top-k: for each query, the k nearest train rows among those passing every
// condition of the query's filter (dataset.filters' test_filters and/or test_attr_range),
// nearest first, ties by smaller id, -1 / +inf padded when fewer than k rows pass. Needs
// dataset.filters with train labels / attributes for the conditions the queries carry. k is
// clamped to train.rows. Uses the OpenMP thread count in effect. `passing`, when given, receives
// each query's number of passing train rows (its selectivity times train.rows).
GroundTruth compute_filtered_ground_truth(const Dataset& dataset, std::size_t k,
                                          std::vector<std::size_t>* passing = nullptr);

}  // namespace annbench
