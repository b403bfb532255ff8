#pragma once
// One query's walk over a BallTree: collects every point that may belong to the answer, as
// (float squared distance, position) candidates, for the caller to re-rank exactly.
//
// Float distances are trusted only up to an error model: the real (exact) L2 distance t of a
// point whose float squared distance is f satisfies
//   sqrt(f) / (1 + relative) - absolute  <=  t  <=  sqrt(f) * (1 + relative) + absolute,
// relative from the kernels' rounding bound, absolute from the unit-normalisation of angular
// vectors. The walk keeps a candidate, and enters a ball, whenever the lower end could still be
// within the current bound on the answer's distance, so no true neighbour is lost to rounding;
// ties at the k-th distance all survive as candidates.

#include "tree.h"

#include <annbench/common/distance.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace annbench::balltree {

struct ErrorModel {
  double relative = 0.0;
  double absolute = 0.0;
};

struct Candidate {
  float distance;  // float squared L2 in the tree's space
  std::uint32_t position;
};

// Reused buffers: one per thread, no allocation per query once warm.
struct WalkScratch {
  std::vector<Candidate> candidates;
  std::vector<float> nearest;  // max-heap of the k smallest float distances seen
  std::vector<std::pair<double, std::uint32_t>> queue;  // best-first: (bound, node)
};

class Walk {
 public:
  Walk(const BallTree& tree, const ErrorModel& errors, const float* query, WalkScratch& scratch);

  // k-nearest candidates. Exact (every point of the true k nearest is returned) when
  // max_leaves >= tree.leaf_count() and eps == 0. Otherwise best-first over the balls: stops
  // after max_leaves leaves, and prunes a ball whose bound times (1 + eps) exceeds the current
  // k-th distance.
  void nearest(std::size_t k, std::size_t max_leaves, double eps);

  // Every point whose real L2 distance may be at most `radius` (plus points slightly beyond).
  void within(double radius);

  // Candidates left in scratch.candidates: those that may still qualify at the end.
  void finish();

  std::uint64_t distance_count() const { return distances_; }

 private:
  double center_distance(std::uint32_t node);
  double lower_bound(std::uint32_t node);
  void scan_leaf(const Node& node);
  void offer(float distance, std::uint32_t position);
  void set_bound(double answer);
  void depth_first(std::uint32_t index);
  void best_first(std::size_t max_leaves);

  const BallTree& tree_;
  const DistanceKernels& kernels_;
  ErrorModel errors_;
  const float* query_;
  WalkScratch& scratch_;
  std::size_t k_ = 0;  // 0: range mode, the bound is fixed
  double eps_factor_ = 1.0;
  // A ball is entered when its lower bound (in real L2) is at most bound_.
  double bound_;
  // A candidate is kept when its float squared distance is at most keep_.
  float keep_;
  std::size_t compact_at_ = 0;
  std::uint64_t distances_ = 0;
};

}  // namespace annbench::balltree
