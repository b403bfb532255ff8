// bruteforce: exact k-NN and range search by scanning every base vector. The reference module:
// exact results (re-ranked in double, ties by smaller id, equal to the ground truth) and the
// baseline that relative QPS is measured against. All the work is in ExactKnn (annbench_common),
// which ground truth uses too. For streaming it keeps its own copy of the live vectors and their
// ids, and rebuilds ExactKnn's norms after each add/remove (O(n·d), as cheap as one query).

#include <annbench/common/exact_knn.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
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
    owned_.clear();
    ids_.clear();
    position_.clear();
    dynamic_ = base.rows == 0;
    knn_.emplace(base, metric_);
  }

  void add(std::span<const std::int64_t> ids, MatrixView vectors) override {
    make_dynamic();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ANNBENCH_CHECK(position_.emplace(ids[i], ids_.size()).second,
                     "bruteforce: add() of id {}, which is already live", ids[i]);
      ids_.push_back(ids[i]);
      owned_.insert(owned_.end(), vectors.row(i), vectors.row(i) + dim_);
    }
    refresh();
  }

  void remove(std::span<const std::int64_t> ids) override {
    make_dynamic();
    for (const std::int64_t id : ids) {
      const auto it = position_.find(id);
      ANNBENCH_CHECK(it != position_.end(), "bruteforce: remove() of id {}, which is not live", id);
      // Swap with the last row: O(d) per removal, and the rows stay contiguous.
      const std::size_t slot = it->second;
      const std::size_t last = ids_.size() - 1;
      position_.erase(it);
      if (slot != last) {
        std::copy(owned_.begin() + static_cast<std::ptrdiff_t>(last * dim_),
                  owned_.begin() + static_cast<std::ptrdiff_t>((last + 1) * dim_),
                  owned_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
        ids_[slot] = ids_[last];
        position_[ids_[slot]] = slot;
      }
      ids_.pop_back();
      owned_.resize(last * dim_);
    }
    refresh();
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    exact().search(query, k, out);
    to_ids(out, k);
    distances_.add(exact().size());
  }

  // Native batch: blocks of queries against blocks of base vectors with the many-to-many
  // kernel, so each base vector is loaded once per query block instead of once per query.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    exact().search_batch(queries, k, out);
    to_ids(out, queries.rows * k);
    distances_.add(exact().size() * queries.rows);
  }

  // Exact: every point within the radius, boundary ties included (see ExactKnn).
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    const std::size_t first = out.size();
    exact().range_search(query, radius, out);
    to_ids(out.data() + first, out.size() - first);
    distances_.add(exact().size());
  }

  // The referenced base counts: the index cannot answer without it.
  std::size_t memory_bytes() const override {
    if (!knn_) return 0;
    return knn_->size() * knn_->dim() * sizeof(float) + knn_->owned_bytes() +
           ids_.capacity() * sizeof(std::int64_t) +
           position_.size() * (sizeof(std::int64_t) + sizeof(std::size_t) + 2 * sizeof(void*)) +
           (owned_.capacity() - owned_.size()) * sizeof(float);
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  const ExactKnn& exact() const {
    ANNBENCH_CHECK(knn_.has_value(), "bruteforce: search before build");
    return *knn_;
  }

  // A static index (built on the harness's base) turns into an owned copy at its first update,
  // its ids being the row positions.
  void make_dynamic() {
    ANNBENCH_CHECK(knn_.has_value(), "bruteforce: update before build");
    if (dynamic_) return;
    for (std::size_t i = 0; i < knn_->size(); ++i) {
      position_.emplace(static_cast<std::int64_t>(i), i);
      ids_.push_back(static_cast<std::int64_t>(i));
    }
    const MatrixView base = knn_->base();
    owned_.assign(base.data, base.data + base.rows * base.dim);
    dynamic_ = true;
  }

  void refresh() {
    knn_.reset();
    knn_.emplace(MatrixView{owned_.data(), ids_.size(), dim_}, metric_);
  }

  // Positions -> ids (identity for a static index).
  void to_ids(Neighbor* results, std::size_t count) const {
    if (!dynamic_) return;
    for (std::size_t i = 0; i < count; ++i) {
      if (results[i].id >= 0) results[i].id = ids_[static_cast<std::size_t>(results[i].id)];
    }
  }

  Metric metric_;
  std::size_t dim_;
  std::optional<ExactKnn> knn_;
  bool dynamic_ = false;
  std::vector<float> owned_;                                // dynamic: live vectors, row-major
  std::vector<std::int64_t> ids_;                           // dynamic: id of each row of owned_
  std::unordered_map<std::int64_t, std::size_t> position_;  // id -> row
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
    .capabilities = kCapNativeBatch | kCapRangeSearch | kCapInsert | kCapDelete,
    .create = &create,
};

}  // namespace
}  // namespace annbench

ANNBENCH_MODULE(annbench::kInfo)
