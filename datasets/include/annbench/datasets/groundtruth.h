#pragma once
// Exact k-nearest-neighbour and range ground truth: blocked SIMD kernels, OpenMP over query
// blocks.

#include <annbench/datasets/dataset.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>
#include <vector>

namespace annbench {

struct GroundTruth {
  IdMatrix neighbors;     // Q × k, nearest first, ties broken by smaller id
  FloatMatrix distances;  // Q × k, in the dataset metric (exact_distance below)
};

// k is clamped to train.rows. Uses the OpenMP thread count in effect.
GroundTruth compute_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                 std::size_t k);

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
