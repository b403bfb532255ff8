#pragma once
// The vptree module's index: a vantage-point tree searched exactly (stretch 1) or approximately
// (stretch > 1 shrinks the pruning radius, as NMSLIB's VP-tree does with its linear pruner),
// with the final candidates re-ranked in double precision, ties by smaller id, like the
// bruteforce module; the re-ranked distances are the metric's own (plain L2, 1 - cos), which
// search() writes as they are. Angular data is served as the euclidean distance between unit
// vectors, a true metric that orders like 1 - cos. See README.md.

#include "tree.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annbench::vptree {

class VpTreeIndex final : public Index {
 public:
  // Throws annbench::Error for dimension 0 or a metric without a triangle inequality (dot).
  VpTreeIndex(Metric metric, std::size_t dim, const TreeOptions& options);
  ~VpTreeIndex() override;

  // Reads what save() wrote (ModuleInfo::load): the tree's rows in tree order and its nodes,
  // and for angular the raw rows the re-ranking needs, so the dataset is not needed.
  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

  void build(MatrixView base) override;
  // stretch >= 1, finite: 1 is exact.
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // Exact at stretch 1, like search().
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  void save(const std::string& path) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  struct Scratch;  // per-search state (defined in the .cpp)

 private:
  void check_built() const;
  const float* prepare(const float* query, Scratch& s) const;
  double exact(const float* query, std::uint32_t position) const;
  void add_zero_vectors(std::size_t k,
                        std::vector<std::pair<double, std::int64_t>>& candidates) const;

  Metric metric_;
  std::size_t dim_;
  TreeOptions options_;
  std::size_t rows_ = 0;  // base rows: tree points plus angular zero rows
  MatrixView base_{};     // angular: the raw rows re-ranking reads (the dataset's, or raw_)
  FloatMatrix raw_;       // a loaded angular index's own raw rows
  VpTree tree_;
  std::vector<std::int64_t> zero_ids_;  // angular: ids of zero base vectors, ascending
  bool built_ = false;
  float stretch_ = 1.0f;
  DistanceCounter distances_;
  ScratchPool<Scratch> pool_;
};

}  // namespace annbench::vptree
