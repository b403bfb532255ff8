#pragma once
// Exact re-ranking of a candidate list: what approximate modules that search on compressed or
// projected data (lsh, annoy, ivf-pq's refinement) finish with.

#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/neighbor.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace annbench {

// The k best of `candidates` (distinct row ids of `base`) by the dataset metric's
// distance to `query`, nearest first, ties by smaller id, distances in the metric's scale
// (float kernels). For angular, `base` and `query` must be unit normalised (zero rows allowed);
// for euclidean and dot they are the raw vectors. Slots beyond the candidates get id -1. `ids`,
// when not empty, maps a row to the id written out (a streaming index's ids).
void rerank_exact(Metric metric, const float* query, MatrixView base,
                  std::span<const std::uint32_t> candidates, std::size_t k, Neighbor* out,
                  std::span<const std::int64_t> ids = {});

}  // namespace annbench
