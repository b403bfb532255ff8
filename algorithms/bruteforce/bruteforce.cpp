// bruteforce: exact k-NN and range search by scanning every base vector. The reference module:
// exact results (re-ranked in double, ties by smaller id, equal to the ground truth) and the
// baseline that relative QPS is measured against. All the work is in ExactKnn (annbench_common),
// which ground truth uses too.

#include <annbench/common/exact_knn.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <array>
#include <memory>
#include <optional>
#include <vector>

namespace annbench {
namespace {

class BruteForceIndex final : public Index {
 public:
  BruteForceIndex(Metric metric, std::size_t dim) : metric_(metric), dim_(dim) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "bruteforce: base vectors have dimension {}, expected {}",
                   base.dim, dim_);
    knn_.reset();
    knn_.emplace(base, metric_);
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    exact().search(query, k, out);
    distances_.add(exact().size());
  }

  // Native batch: blocks of queries against blocks of base vectors with the many-to-many
  // kernel, so each base vector is loaded once per query block instead of once per query.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    exact().search_batch(queries, k, out);
    distances_.add(exact().size() * queries.rows);
  }

  // Exact: every point within the radius, boundary ties included (see ExactKnn).
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    exact().range_search(query, radius, out);
    distances_.add(exact().size());
  }

  // The referenced base counts: the index cannot answer without it.
  std::size_t memory_bytes() const override {
    if (!knn_) return 0;
    return knn_->size() * knn_->dim() * sizeof(float) + knn_->owned_bytes();
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  const ExactKnn& exact() const {
    ANNBENCH_CHECK(knn_.has_value(), "bruteforce: search before build");
    return *knn_;
  }

  Metric metric_;
  std::size_t dim_;
  std::optional<ExactKnn> knn_;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build_params*/) {
  return std::make_unique<BruteForceIndex>(metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = "bruteforce",
    .description = "exact search by full scan (SIMD block kernel, exact re-ranking)",
    .metrics = kMetrics,
    .build_params = {},
    .search_params = {},
    .capabilities = kCapNativeBatch | kCapRangeSearch,
    .create = &create,
};

}  // namespace
}  // namespace annbench

ANNBENCH_MODULE(annbench::kInfo)
