// The bruteforce index; see bruteforce_index.h.

#include "bruteforce_index.h"

#include <annbench/common/index_file.h>
#include <annbench/common/kmeans.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>

namespace annbench::bruteforce {
namespace {

struct FileMeta {
  std::uint64_t rows = 0;
  std::uint32_t has_ids = 0;  // 1: "ids" maps rows to the caller's ids (a changed index)
  std::uint32_t reserved = 0;
};

}  // namespace

void BruteForceIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "bruteforce: base vectors have dimension {}, expected {}",
                 base.dim, dim_);
  knn_.reset();
  integer_.reset();
  owned_.clear();
  ids_.clear();
  position_.clear();
  dynamic_ = base.rows == 0;
  index_rows(base);
}

void BruteForceIndex::build_uint8(U8MatrixView base) {
  build_integer(base.data, base.rows, base.dim, ElementType::kUint8);
}

void BruteForceIndex::build_int8(I8MatrixView base) {
  build_integer(base.data, base.rows, base.dim, ElementType::kInt8);
}

void BruteForceIndex::build_integer(const void* data, std::size_t rows, std::size_t dim,
                                    ElementType type) {
  ANNBENCH_CHECK(dim == dim_, "bruteforce: base vectors have dimension {}, expected {}", dim, dim_);
  // Constructed first: a refused metric leaves the index as it was.
  IntegerScan scan(data, rows, dim, type, metric_);
  knn_.reset();
  owned_.clear();
  ids_.clear();
  position_.clear();
  dynamic_ = false;
  integer_.emplace(scan);
}

void BruteForceIndex::add(std::span<const std::int64_t> ids, MatrixView vectors) {
  make_dynamic();
  ANNBENCH_CHECK(vectors.dim == dim_ && ids.size() == vectors.rows,
                 "bruteforce: add() of {} vectors of dimension {} with {} ids (dimension {})",
                 vectors.rows, vectors.dim, ids.size(), dim_);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ANNBENCH_CHECK(position_.emplace(ids[i], ids_.size()).second,
                   "bruteforce: add() of id {}, which is already live", ids[i]);
    ids_.push_back(ids[i]);
    owned_.insert(owned_.end(), vectors.row(i), vectors.row(i) + dim_);
  }
  refresh();
}

void BruteForceIndex::remove(std::span<const std::int64_t> ids) {
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

void BruteForceIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  if (integer_) {
    integer_->search(query, k, out);
    distances_.add(integer_->rows());
    return;
  }
  exact().search(query, k, out);
  to_ids(out, k);
  distances_.add(exact().size());
}

void BruteForceIndex::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  if (integer_) {
    integer_->search_batch(queries, k, out);
    distances_.add(integer_->rows() * queries.rows);
    return;
  }
  exact().search_batch(queries, k, out);
  to_ids(out, queries.rows * k);
  distances_.add(exact().size() * queries.rows);
}

void BruteForceIndex::range_search(const float* query, float radius,
                                   std::vector<Neighbor>& out) const {
  if (integer_) {
    integer_->range_search(query, radius, out);
    distances_.add(integer_->rows());
    return;
  }
  const std::size_t first = out.size();
  exact().range_search(query, radius, out);
  to_ids(out.data() + first, out.size() - first);
  distances_.add(exact().size());
}

void BruteForceIndex::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                      Neighbor* out) const {
  if (integer_) {
    distances_.add(integer_->search_filtered(query, k, filter, out));
    return;
  }
  exact();
  distances_.add(filtered_.search(
      query, k, filter,
      dynamic_ ? std::span<const std::int64_t>(ids_) : std::span<const std::int64_t>(), out));
}

std::size_t BruteForceIndex::memory_bytes() const {
  if (integer_) return integer_->bytes();
  if (!knn_) return 0;
  return knn_->size() * knn_->dim() * sizeof(float) + knn_->owned_bytes() + filtered_.bytes() +
         ids_.capacity() * sizeof(std::int64_t) +
         position_.size() * (sizeof(std::int64_t) + sizeof(std::size_t) + 2 * sizeof(void*)) +
         (owned_.capacity() - owned_.size()) * sizeof(float);
}

void BruteForceIndex::save(const std::string& path) const {
  if (integer_) {
    // As floats (exact): the file format stays the float index's.
    std::vector<float> rows(integer_->rows() * dim_);
    for (std::size_t i = 0; i < integer_->rows(); ++i) integer_->row_as_float(i, &rows[i * dim_]);
    FileMeta meta;
    meta.rows = integer_->rows();
    IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, integer_->rows());
    writer.add_value("meta", meta);
    writer.add("vectors", rows.data(), rows.size() * sizeof(float));
    writer.write(path);
    return;
  }
  const ExactKnn& knn = exact();
  const MatrixView base = knn.base();
  FileMeta meta;
  meta.rows = base.rows;
  meta.has_ids = dynamic_ ? 1 : 0;
  IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, base.rows);
  writer.add_value("meta", meta);
  writer.add("vectors", base.data, base.rows * dim_ * sizeof(float));
  if (dynamic_) writer.add("ids", ids_);
  writer.write(path);
}

std::unique_ptr<Index> BruteForceIndex::load(const std::string& path, Metric metric,
                                             std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  if (meta.has_ids > 1) reader.fail(fmt::format("'meta' has an invalid flag {}", meta.has_ids));
  if (meta.rows != reader.rows())
    reader.fail(fmt::format("'meta' says {} rows, the header {}", meta.rows, reader.rows()));
  const auto rows = static_cast<std::size_t>(meta.rows);
  if (dim != 0 && rows > reader.info().file_bytes / (dim * sizeof(float)))
    reader.fail(fmt::format("{} rows of dimension {} do not fit in the file", rows, dim));
  auto index = std::make_unique<BruteForceIndex>(metric, dim);
  index->owned_ = reader.copy<float>("vectors", rows * dim);
  for (const float x : index->owned_) {
    if (!std::isfinite(x)) reader.fail("'vectors' holds a non-finite value");
  }
  if (meta.has_ids == 1) {
    index->dynamic_ = true;
    index->ids_ = reader.copy<std::int64_t>("ids", rows);
    index->position_.reserve(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::int64_t id = index->ids_[i];
      if (id < 0 || !index->position_.emplace(id, i).second)
        reader.fail(fmt::format("'ids' holds id {} at row {}: negative or repeated", id, i));
    }
  } else if (reader.has("ids")) {
    reader.fail("'ids' is present but 'meta' says the rows are their own ids");
  }
  index->index_rows(MatrixView{index->owned_.data(), rows, dim});
  return index;
}

const ExactKnn& BruteForceIndex::exact() const {
  ANNBENCH_CHECK(knn_.has_value(), "bruteforce: search before build");
  return *knn_;
}

void BruteForceIndex::make_dynamic() {
  if (integer_) {
    // Updates keep float rows: the integer base becomes an owned float copy (exact).
    owned_.resize(integer_->rows() * dim_);
    for (std::size_t i = 0; i < integer_->rows(); ++i) integer_->row_as_float(i, &owned_[i * dim_]);
    index_rows(MatrixView{owned_.data(), integer_->rows(), dim_});
    integer_.reset();
  }
  ANNBENCH_CHECK(knn_.has_value(), "bruteforce: update before build");
  if (dynamic_) return;
  for (std::size_t i = 0; i < knn_->size(); ++i) {
    position_.emplace(static_cast<std::int64_t>(i), i);
    ids_.push_back(static_cast<std::int64_t>(i));
  }
  // A loaded index already owns its rows.
  const MatrixView base = knn_->base();
  if (base.data != owned_.data()) owned_.assign(base.data, base.data + base.rows * base.dim);
  dynamic_ = true;
}

void BruteForceIndex::refresh() {
  index_rows(MatrixView{owned_.data(), ids_.size(), dim_});
}

void BruteForceIndex::index_rows(MatrixView rows) {
  knn_.reset();
  knn_.emplace(rows, metric_);
  filtered_.prepare(rows, metric_);
}

void BruteForceIndex::to_ids(Neighbor* results, std::size_t count) const {
  if (!dynamic_) return;
  for (std::size_t i = 0; i < count; ++i) {
    if (results[i].id >= 0) results[i].id = ids_[static_cast<std::size_t>(results[i].id)];
  }
}

}  // namespace annbench::bruteforce
