#pragma once
// The balltree module's index: a ball tree (nested centroid balls, median splits along a
// far-apart or principal direction) searched with triangle-inequality pruning: exactly
// (depth-first, nearer ball first) or with a budget of leaves (best-first) and a (1 + eps)
// pruning factor. Candidates the float walk cannot rule out are re-ranked in double, ties by
// smaller id, so exact mode returns what the bruteforce module returns; the re-ranked distances
// are the metric's own (plain L2, 1 - cos), which search() writes as they are. See README.md.

#include "tree.h"
#include "walk.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annbench::balltree {

inline constexpr std::int64_t kNoLeafLimit = std::numeric_limits<std::int32_t>::max();

class BallTreeIndex final : public Index {
 public:
  // Throws annbench::Error for dimension 0 or a metric without a triangle inequality (dot).
  BallTreeIndex(Metric metric, std::size_t dim, const BuildOptions& options);

  // Reads what save() wrote (ModuleInfo::load): the tree's point copy, centres and nodes, and
  // for angular the raw rows the re-ranking needs, so the dataset is not needed.
  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

  void build(MatrixView base) override;
  // max_leaves >= 1: leaves scanned at most (best-first); eps >= 0: pruning factor 1 + eps.
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override;
  // Always exact (budget and eps do not apply).
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  void save(const std::string& path) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  // Per-search buffers, pooled: no allocation per query once warm.
  struct Scratch {
    WalkScratch walk;
    std::vector<float> query;
    std::vector<std::pair<double, std::int64_t>> ranked;
    std::size_t bytes() const;
  };

 private:
  void check_built() const;
  void build_angular(MatrixView base);
  const float* prepare(const float* query, Scratch& s) const;
  void rank(const float* query, Scratch& s) const;

  Metric metric_;
  std::size_t dim_;
  BuildOptions options_;
  ErrorModel errors_;
  std::size_t rows_ = 0;  // base rows: tree points plus angular zero rows
  MatrixView base_{};     // angular: the raw rows re-ranking reads (the dataset's, or raw_)
  FloatMatrix raw_;       // a loaded angular index's own raw rows
  BallTree tree_;
  std::vector<std::uint32_t> zero_ids_;  // angular: zero base vectors, ascending
  bool built_ = false;
  std::size_t max_leaves_ = kNoLeafLimit;
  double eps_ = 0.0;
  DistanceCounter distances_;
  ScratchPool<Scratch> pool_;
};

}  // namespace annbench::balltree
