#pragma once
// Exact k-nearest-neighbour and range ground truth: blocked SIMD kernels, OpenMP over query
// blocks.

#include <annbench/datasets/dataset.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>

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

}  // namespace annbench
