// flann-kdtree: FLANN 1.9.2's randomised k-d forest (Muja & Lowe, VISAPP 2009 / TPAMI 2014):
// `trees` k-d trees split on randomly chosen high-variance dimensions, searched together with
// one priority queue until `checks` leaves were examined (-1: unlimited, i.e. exact). L2 only;
// angular is served on a normalised copy.

#include "peer_util.h"

#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <flann/flann.hpp>
#include <limits>
#include <memory>
#include <vector>

namespace annbench::peers {
namespace {

using FlannIndex = flann::Index<flann::L2<float>>;

// FLANN picks split dimensions with rand(): a fixed seed makes builds repeatable.
constexpr unsigned kFlannSeed = 42;

class FlannKdTree final : public Index {
 public:
  FlannKdTree(Metric metric, std::size_t dim, int trees)
      : metric_(metric), dim_(dim), trees_(trees) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "flann-kdtree: base vectors have dimension {}, expected {}",
                   base.dim, dim_);
    index_.reset();
    normalized_ = FloatMatrix();
    rows_ = base.rows;
    if (rows_ == 0) return;
    MatrixView data = base;
    if (metric_ == Metric::Angular) {
      normalized_ = normalized_copy(base);
      data = normalized_.view();
    }
    base_bytes_ = rows_ * dim_ * sizeof(float);
    // FLANN references the data (no copy): the harness keeps base alive, we keep normalized_.
    const flann::Matrix<float> matrix(const_cast<float*>(data.data), data.rows, data.dim);
    flann::seed_random(kFlannSeed);
    try {
      index_ = std::make_unique<FlannIndex>(matrix, flann::KDTreeIndexParams(trees_));
      index_->buildIndex();
    } catch (const std::exception& e) {
      ANNBENCH_FAIL("flann-kdtree: build failed (trees={}): {}", trees_, e.what());
    }
  }

  void set_search_params(const Params& params) override {
    checks_ = static_cast<int>(params.get_int("checks"));
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    search_many(query, 1, k, out, 1);
  }

  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    search_many(queries.data, queries.rows, k, out, omp_get_max_threads());
  }

  // FLANN's own accounting (trees, index arrays, node pool) plus the referenced vectors.
  std::size_t memory_bytes() const override {
    if (!index_) return 0;
    return static_cast<std::size_t>(index_->usedMemory()) + base_bytes_;
  }

 private:
  void search_many(const float* queries, std::size_t n, std::size_t k, Neighbor* out,
                   int cores) const {
    std::fill(out, out + n * k, Neighbor{});
    if (rows_ == 0 || n == 0 || k == 0) return;
    ANNBENCH_CHECK(index_ != nullptr, "flann-kdtree: search before build");
    std::vector<float> unit;
    if (metric_ == Metric::Angular) {
      unit.resize(n * dim_);
      for (std::size_t i = 0; i < n; ++i)
        normalize_into(queries + i * dim_, dim_, unit.data() + i * dim_);
      queries = unit.data();
    }
    const std::size_t kk = std::min(k, rows_);  // FLANN cannot return more than it holds
    std::vector<std::size_t> ids(n * kk);
    std::vector<float> distances(n * kk);
    flann::Matrix<std::size_t> id_matrix(ids.data(), n, kk);
    flann::Matrix<float> distance_matrix(distances.data(), n, kk);
    flann::SearchParams params(checks_);
    params.cores = cores;
    index_->knnSearch(flann::Matrix<float>(const_cast<float*>(queries), n, dim_), id_matrix,
                      distance_matrix, kk, params);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < kk; ++j) {
        const std::size_t id = ids[i * kk + j];
        // FLANN leaves unfilled slots at -1 (size_t max) when it found fewer than kk.
        if (id < rows_)
          out[i * k + j] = Neighbor{static_cast<std::int64_t>(id), distances[i * kk + j]};
      }
    }
  }

  Metric metric_;
  std::size_t dim_;
  int trees_;
  int checks_ = 32;
  std::size_t rows_ = 0;
  std::size_t base_bytes_ = 0;
  FloatMatrix normalized_;
  std::unique_ptr<FlannIndex> index_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FlannKdTree>(metric, dim, static_cast<int>(build.get_int("trees")));
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"trees", ParamType::Int, std::int64_t{4}, "randomised k-d trees", 1, 1024}};
const std::vector<ParamSpec> kSearch = {
    {"checks", ParamType::Int, std::int64_t{32}, "leaves examined per query (-1: unlimited, exact)",
     -1, static_cast<double>(std::numeric_limits<std::int32_t>::max())}};

const ModuleInfo kInfo = {
    .name = "flann-kdtree",
    .description = "FLANN 1.9.2 randomised k-d forest (Muja & Lowe)",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch,
    .library = "FLANN " FLANN_VERSION_,
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
