#pragma once
// The kdtree module's index: one k-d tree (exact search, depth-first with bounds-overlap
// pruning) or a forest searched best-bin-first from one shared priority queue under a budget of
// points checked (Arya & Mount; Silpa-Anan & Hartley / FLANN). See README.md.
//
// Candidates are chosen with float squared L2 distances and a pruning bound widened by a
// rounding-error margin, then re-ranked in double with exact_distance, ties by smaller id: in
// exact mode the result equals the bruteforce module's, ties included. The re-ranked distances
// are the metric's own (plain L2, 1 - cos), which search() writes as they are.

#include "tree.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace annbench::kdtree {

struct IndexOptions {
  TreeOptions tree;
  std::size_t n_trees = 1;
};

class KdTreeIndex final : public Index {
 public:
  // Throws annbench::Error for a metric a k-d tree cannot serve (dot) or dimension 0.
  KdTreeIndex(Metric metric, std::size_t dim, const IndexOptions& options);
  ~KdTreeIndex() override;

  // Reads what save() wrote (ModuleInfo::load): the file holds the tree rows, the trees and,
  // for angular, the raw rows the re-ranking needs, so the dataset is not needed.
  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

  void build(MatrixView base) override;
  // checks: -1 = no budget (exact when eps is 0), else points to examine (>= 1) before
  // stopping; eps >= 0: a cell is skipped unless (1 + eps) times its distance bound beats the
  // current k-th distance.
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override;
  // Always exact (budget and eps do not apply).
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  void save(const std::string& path) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  // For tests and README numbers.
  const Tree& tree(std::size_t i) const { return trees_[i]; }
  std::size_t tree_count() const { return trees_.size(); }

  struct Scratch;  // per-search state (defined in the .cpp)

 private:
  void check_built() const;
  void set_box();
  // The query in tree space (unit length for angular); nullptr for an angular zero query.
  const float* prepare(const float* query, Scratch& s) const;
  void start(const float* q, Scratch& s) const;
  void depth_first(const float* q, std::uint32_t index, double bound, Scratch& s) const;
  void best_bin_first(const float* q, std::size_t budget, Scratch& s) const;
  double reconstruct_cell(const float* q, std::size_t tree_index, std::uint32_t index,
                          double root_bound, Scratch& s) const;
  void scan_leaf(const float* q, const Tree& tree, const Node& leaf, bool dedupe, Scratch& s) const;
  double widen(float distance) const;
  double exact(const float* query, std::uint32_t position) const;

  static constexpr std::size_t kChunk = 64;  // floats per partial-distance step

  Metric metric_;
  std::size_t dim_;
  IndexOptions options_;
  std::int64_t checks_ = -1;
  double eps_factor_ = 1.0;  // (1 + eps)^2, on squared distances

  std::size_t rows_ = 0;  // base rows: tree rows plus angular zero rows
  MatrixView base_{};     // angular: the raw rows re-ranking reads (the dataset's, or raw_)
  FloatMatrix raw_;       // a loaded angular index's own raw rows
  FloatMatrix points_;    // tree rows in tree 0's leaf order (unit for angular)
  std::vector<std::uint32_t> ids_;      // points_ row -> base row
  std::vector<std::int64_t> zero_ids_;  // angular: zero rows, distance 1 to everything
  std::vector<float> box_lo_, box_hi_;  // extent of points_
  std::vector<Tree> trees_;
  double relative_margin_ = 0.0;
  double absolute_margin_ = 0.0;
  bool built_ = false;
  DistanceCounter distances_;
  ScratchPool<Scratch> pool_;
};

}  // namespace annbench::kdtree
