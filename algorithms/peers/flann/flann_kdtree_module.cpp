// flann-kdtree: FLANN 1.9.2's randomised k-d forest (Muja & Lowe, VISAPP 2009 / TPAMI 2014):
// `trees` k-d trees split on randomly chosen high-variance dimensions, searched together with
// one priority queue until `checks` leaves were examined (-1: unlimited, i.e. exact). L2 only;
// angular is served on a normalised copy, and its k results get 1 - cos from that copy.
// Save/load: FLANN's own Index::save bytes (through a temporary file) as the "flann" section of
// annbench's index file, and the vectors FLANN indexed as "vectors" (FLANN does not store its
// dataset; SavedIndexParams loads the trees over the vectors given).

#include "peer_util.h"

#include <annbench/common/index_file.h>
#include <annbench/common/rerank.h>
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
#include <string>
#include <vector>

namespace annbench::peers {
namespace {

constexpr const char* kModule = "flann-kdtree";
constexpr std::uint32_t kFormatVersion = 1;

struct SavedMeta {
  std::int64_t trees;
};

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
    mapping_.reset();
    rows_ = base.rows;
    built_ = true;
    data_ = base;
    if (rows_ == 0) return;
    if (metric_ == Metric::Angular) {
      normalized_ = normalized_copy(base);
      data_ = normalized_.view();
    }
    // FLANN references the data (no copy): the harness keeps base alive, we keep normalized_.
    const flann::Matrix<float> matrix(const_cast<float*>(data_.data), data_.rows, data_.dim);
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
    return static_cast<std::size_t>(index_->usedMemory()) + rows_ * dim_ * sizeof(float);
  }

  void save(const std::string& path) const override {
    ANNBENCH_CHECK(built_, "flann-kdtree: save() before build()");
    std::vector<std::byte> bytes;
    if (index_) {
      const TempFile temp(kModule);
      try {
        index_->save(temp.path());
      } catch (const std::exception& e) {
        ANNBENCH_FAIL("flann-kdtree: FLANN failed to save its index: {}", e.what());
      }
      bytes = temp.read();
    }
    IndexFileWriter file(kModule, kFormatVersion, metric_, dim_, rows_);
    file.add_value("meta", SavedMeta{trees_});
    file.add("flann", bytes);
    file.add("vectors", std::span<const float>(data_.data, rows_ * dim_));
    file.write(path);
  }

  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
    const auto file = IndexFileReader::open(path, kModule, kFormatVersion, metric, dim);
    const auto meta = file.value<SavedMeta>("meta");
    if (meta.trees < 1 || meta.trees > 1024)
      file.fail(fmt::format("meta section: trees={} out of range", meta.trees));
    auto peer = std::make_unique<FlannKdTree>(metric, dim, static_cast<int>(meta.trees));
    peer->built_ = true;
    peer->rows_ = file.rows();
    peer->data_ = {file.array<float>("vectors", peer->rows_ * dim).data(), peer->rows_, dim};
    peer->mapping_ = file.mapping();
    const auto bytes = file.array<std::byte>("flann");
    if (peer->rows_ == 0) {
      if (!bytes.empty()) file.fail("an empty index with a FLANN section");
      return peer;
    }
    const TempFile temp(kModule);
    temp.write(bytes);
    const flann::Matrix<float> matrix(const_cast<float*>(peer->data_.data), peer->rows_, dim);
    try {
      peer->index_ = std::make_unique<FlannIndex>(matrix, flann::SavedIndexParams(temp.path()));
    } catch (const std::exception& e) {
      file.fail(fmt::format("FLANN cannot read the index it holds: {}", e.what()));
    }
    // FLANN checks its header's data type only: the kind of index and its shape are ours to check
    // (the trees themselves cannot be inspected through FLANN's interface).
    if (peer->index_->getType() != flann::FLANN_INDEX_KDTREE ||
        peer->index_->size() != peer->rows_ || peer->index_->veclen() != dim)
      file.fail(
          fmt::format("FLANN index of type {}, {} points of dimension {}; expected a k-d "
                      "forest of {} points of dimension {}",
                      static_cast<int>(peer->index_->getType()), peer->index_->size(),
                      peer->index_->veclen(), peer->rows_, dim));
    return peer;
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
    std::vector<std::uint32_t> rows;
    for (std::size_t i = 0; i < n; ++i) {
      if (metric_ == Metric::Angular) {
        // Squared L2 of unit vectors ranks as 1 - cos but is not it (a zero vector is at 1, not
        // 0.5): the k results' distances come from the normalised copy.
        rows.clear();
        for (std::size_t j = 0; j < kk; ++j) {
          if (ids[i * kk + j] < rows_) rows.push_back(static_cast<std::uint32_t>(ids[i * kk + j]));
        }
        rerank_exact(metric_, queries + i * dim_, data_, rows, k, out + i * k);
        continue;
      }
      for (std::size_t j = 0; j < kk; ++j) {
        const std::size_t id = ids[i * kk + j];
        // FLANN leaves unfilled slots at -1 (size_t max) when it found fewer than kk.
        if (id < rows_)
          out[i * k + j] =
              Neighbor{static_cast<std::int64_t>(id),
                       to_metric_scale(metric_, Score::kSquaredL2, distances[i * kk + j])};
      }
    }
  }

  Metric metric_;
  std::size_t dim_;
  int trees_;
  int checks_ = 32;
  std::size_t rows_ = 0;
  bool built_ = false;
  // The vectors FLANN indexed (normalised for angular): the harness's base, normalized_, or a
  // loaded file's mapping.
  MatrixView data_;
  FloatMatrix normalized_;
  std::shared_ptr<const MappedFile> mapping_;
  std::unique_ptr<FlannIndex> index_;  // after the vectors: destroyed first
};

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return FlannKdTree::load(path, metric, dim);
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<FlannKdTree>(metric, dim, static_cast<int>(build.get_int("trees")));
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"trees", ParamType::Int, std::int64_t{4}, "randomised k-d trees", 1, 1024}};
const std::vector<ParamSpec> kSearch = {
    {"checks", ParamType::Int, std::int64_t{32}, "leaves examined per query (-1: unlimited, exact)",
     -1, static_cast<double>(std::numeric_limits<std::int32_t>::max())}};

// 512 leaves of 400 points: every point is examined (exact, without FLANN's complaint about an
// unlimited search over several trees).
constexpr std::array kSmallSearch = {ParamSetting{"checks", std::int64_t{512}}};

const ModuleInfo kInfo = {
    .name = "flann-kdtree",
    .description = "FLANN 1.9.2 randomised k-d forest (Muja & Lowe)",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapNativeBatch | kCapSaveLoad,
    .library = "FLANN " FLANN_VERSION_,
    .create = &create,
    .load = &load,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
