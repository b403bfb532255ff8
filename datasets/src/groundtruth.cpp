// Exact ground truth: the blocked exact scan of annbench_common (SIMD block kernel, OpenMP over
// query blocks, exact re-ranking), packed into the dataset file's shapes.

#include <annbench/common/exact_knn.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace annbench {

GroundTruth compute_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                 std::size_t k) {
  ANNBENCH_CHECK(train.dim == queries.dim,
                 "ground truth: train has dimension {}, test has dimension {}", train.dim,
                 queries.dim);
  // Dataset files store neighbour ids as int32.
  ANNBENCH_CHECK(train.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "ground truth: {} train vectors do not fit int32 neighbour ids", train.rows);
  k = std::min(k, train.rows);
  GroundTruth truth{IdMatrix(queries.rows, k), FloatMatrix(queries.rows, k)};
  if (k == 0 || queries.rows == 0) return truth;

  const ExactKnn knn(train, metric);
  std::vector<Neighbor> found(queries.rows * k);
  knn.search_batch(queries, k, found.data());
  for (std::size_t i = 0; i < found.size(); ++i) {
    // Distances come from exact_distance, rounded once to float: the harness recomputes
    // returned neighbours the same way, so a true neighbour compares equal, not "close".
    truth.neighbors.data()[i] = static_cast<std::int32_t>(found[i].id);
    truth.distances.data()[i] = found[i].distance;
  }
  return truth;
}

RangeGroundTruth compute_range_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                            double radius) {
  ANNBENCH_CHECK(train.dim == queries.dim,
                 "range ground truth: train has dimension {}, test has dimension {}", train.dim,
                 queries.dim);
  ANNBENCH_CHECK(!std::isnan(radius), "range ground truth: radius is NaN");
  ANNBENCH_CHECK(train.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "range ground truth: {} train vectors do not fit int32 neighbour ids", train.rows);
  // Modules receive the radius as a float: the truth uses (and records) that same value.
  const auto radius_f = static_cast<float>(radius);
  RangeGroundTruth truth;
  truth.radius = static_cast<double>(radius_f);
  truth.lims.assign(queries.rows + 1, 0);
  if (queries.rows == 0) return truth;
  std::vector<std::vector<Neighbor>> found;
  const ExactKnn scan(train, metric);
  scan.range_search_batch(queries, radius_f, found);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    auto& hits = found[q];
    std::sort(hits.begin(), hits.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
    });
    truth.lims[q + 1] = truth.lims[q] + hits.size();
    for (const Neighbor& hit : hits) {
      truth.ids.push_back(static_cast<std::int32_t>(hit.id));
      truth.distances.push_back(hit.distance);
    }
  }
  return truth;
}

}  // namespace annbench
