// The ivf-pq index; see ivf_pq_index.h.

#include "ivf_pq_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace annbench::ivf {
namespace {

constexpr const char* kName = kPqName;
// Re-ranked rows requested ahead of use (see rerank()).
constexpr std::size_t kPrefetchAhead = 2;

// What an index file's "meta" section holds.
struct FileMeta {
  std::uint64_t nlist = 0;  // trained lists (0: a streaming index not trained yet)
  std::uint64_t param_nlist = 0, train_size = 0, iterations = 0, seed = 0;
  std::uint64_t m = 0, nbits = 0, pq_iterations = 0;
  std::uint32_t precompute = 0, refine = 0;
};

}  // namespace

IvfPqIndex::IvfPqIndex(Metric metric, std::size_t dim, const PqParams& params)
    : metric_(metric), dim_(dim), params_(params), pq_(dim, params.m, params.nbits, kName) {}

void IvfPqIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "{}: base vectors have dimension {}, expected {}", kName,
                 base.dim, dim_);
  ANNBENCH_CHECK(base.rows < std::numeric_limits<std::uint32_t>::max(),
                 "{}: {} vectors do not fit 32-bit list ids", kName, base.rows);
  built_ = true;
  quantizer_ = CoarseQuantizer{};
  lists_.reset(0, pq_.m());
  precomputed_.clear();
  originals_.reset(dim_);
  inverse_norms_.clear();
  scratch_.clear();
  // Zero rows: a streaming index, trained by its first add().
  if (base.rows == 0) return;
  const PreparedBase prepared(base, metric_, kName);
  const MatrixView data = prepared.view();
  std::vector<std::uint32_t> labels;
  FloatMatrix residuals;
  train(data, labels, residuals);
  std::vector<std::uint8_t> codes(data.rows * pq_.m());
  pq_.encode(residuals.view(), codes.data());

  const ListLayout layout = layout_lists(labels, quantizer_.nlist());
  lists_.reset(quantizer_.nlist(), pq_.m());
  lists_.assign_static(layout.offsets, layout.order, [&](std::uint32_t row, std::uint8_t* entry) {
    std::copy_n(codes.data() + row * pq_.m(), pq_.m(), entry);
  });
  if (params_.refine) keep_originals(base);
}

void IvfPqIndex::add(std::span<const std::int64_t> ids, MatrixView vectors) {
  ANNBENCH_CHECK(built_, "{}: add() before build()", kName);
  lists_.check_new(ids, vectors, dim_, kName);
  if (vectors.rows == 0) return;
  const PreparedBase prepared(vectors, metric_, kName);
  const MatrixView data = prepared.view();
  std::vector<std::uint32_t> labels;
  FloatMatrix residuals;
  if (quantizer_.nlist() == 0) {
    check_first_batch(data.rows, params_.coarse.nlist, kName);
    ANNBENCH_CHECK(data.rows >= pq_.ksub(),
                   "{}: the first add() trains the PQ codebooks on its batch, which needs at "
                   "least 2^nbits ({}) vectors, got {}",
                   kName, pq_.ksub(), data.rows);
    train(data, labels, residuals);
    lists_.reset(quantizer_.nlist(), pq_.m());
  } else {
    labels = quantizer_.assign(data);
    residuals = residuals_of(data, labels);
  }
  std::vector<std::uint8_t> codes(data.rows * pq_.m());
  pq_.encode(residuals.view(), codes.data());
  const auto ip = distance_kernels().inner_product;
  for (std::size_t i = 0; i < data.rows; ++i) {
    std::uint8_t* entry = nullptr;
    const std::uint32_t label = lists_.insert(labels[i], ids[i], &entry);
    std::copy_n(codes.data() + i * pq_.m(), pq_.m(), entry);
    if (!params_.refine) continue;
    originals_.set(label, vectors.row(i));
    if (metric_ != Metric::Angular) continue;
    if (inverse_norms_.size() <= label) inverse_norms_.resize(lists_.label_count());
    const float norm2 = ip(vectors.row(i), vectors.row(i), dim_);
    inverse_norms_[label] = norm2 > 0.0f ? 1.0f / std::sqrt(norm2) : 0.0f;
  }
}

void IvfPqIndex::remove(std::span<const std::int64_t> ids) {
  ANNBENCH_CHECK(built_, "{}: remove() before build()", kName);
  lists_.check_live(ids, kName);
  for (const std::int64_t id : ids) lists_.erase(id);
}

void IvfPqIndex::set_search_params(const Params& params) {
  nprobe_ = static_cast<std::size_t>(params.get_int("nprobe"));
  rerank_ = static_cast<std::size_t>(params.get_int("rerank"));
  filter_max_probe_ = filter_max_probe(params);
  ANNBENCH_CHECK(rerank_ == 0 || params_.refine,
                 "{}: rerank={} needs the original vectors: build with refine=true", kName,
                 rerank_);
}

void IvfPqIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(built_, "{}: search before build", kName);
  if (quantizer_.nlist() == 0) {  // streaming, nothing added yet
    std::fill_n(out, k, Neighbor{});
    return;
  }
  const auto lease = scratch_.acquire();
  Scratch& s = *lease;
  const float* q = quantizer_.probe_query(query, metric_, nprobe_, s.probe);
  begin_tables(q, s);
  TopK<float>& top = s.top;
  top.reset(rerank_ > 0 ? std::max(k, rerank_) : k);
  const auto all = [](std::uint32_t) { return true; };
  for (const auto& list : s.probe.lists) {
    const auto l = static_cast<std::size_t>(list.id);
    scan_list(l, list_table(q, l, list.distance, s), s.table.data(), top, all);
  }
  distances_.add(quantizer_.nlist());
  finish(query, q, k, s, out);
}

void IvfPqIndex::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                 Neighbor* out) const {
  ANNBENCH_CHECK(built_, "{}: search before build", kName);
  std::fill_n(out, k, Neighbor{});
  if (quantizer_.nlist() == 0 || k == 0 || filter.count() == 0) return;
  const auto lease = scratch_.acquire();
  Scratch& s = *lease;
  ProbeScratch& probe = s.probe;
  const float* q = quantizer_.probe_query(query, metric_, nprobe_, probe);
  begin_tables(q, s);
  TopK<float>& top = s.top;
  top.reset(rerank_ > 0 ? std::max(k, rerank_) : k);
  // The bit test comes before the code is looked up: a disallowed entry costs one load.
  const bool identity = lists_.identity();
  const std::size_t rows = filter.base_rows();
  const auto allowed = [&](std::uint32_t label) {
    const std::int64_t id = identity ? label : lists_.id(label);
    return static_cast<std::uint64_t>(id) < rows && filter.allowed(id);
  };
  const auto scan = [&](const TopK<float>::Entry& list) {
    const auto l = static_cast<std::size_t>(list.id);
    scan_list(l, list_table(q, l, list.distance, s), s.table.data(), top, allowed);
  };
  std::size_t computed = quantizer_.nlist();
  const std::size_t probed = probe.lists.size();
  for (const auto& list : probe.lists) scan(list);
  const std::size_t limit = probe_limit(quantizer_.nlist(), nprobe_, filter_max_probe_);
  if (top.size() < k && limit > probed) {
    // The longer ranking starts with the lists already scanned (a total order): resume after.
    quantizer_.probe(q, limit, probe.heap, probe.lists);
    computed += quantizer_.nlist();
    for (std::size_t i = probed; i < probe.lists.size() && top.size() < k; ++i)
      scan(probe.lists[i]);
  }
  distances_.add(computed);
  finish(query, q, k, s, out);
}

void IvfPqIndex::begin_tables(const float* q, Scratch& s) const {
  const std::size_t table_size = pq_.m() * pq_.ksub();
  s.table.resize(table_size);
  s.query_table.resize(table_size);
  const bool per_query_table = inner_product() || !precomputed_.empty();
  if (!per_query_table) return;
  pq_.inner_product_table(q, s.query_table.data());
  // Inner product: score = -<q, c_l> - <q, p>, the same table for every list.
  if (inner_product()) {
    for (std::size_t i = 0; i < table_size; ++i) s.table[i] = -s.query_table[i];
  }
}

float IvfPqIndex::list_table(const float* q, std::size_t l, float list_score, Scratch& s) const {
  if (inner_product()) return list_score;  // -<q, c_l>; the table is the query's
  const std::size_t table_size = pq_.m() * pq_.ksub();
  if (!precomputed_.empty()) {
    const float* pre = precomputed_.data() + l * table_size;
    for (std::size_t i = 0; i < table_size; ++i) s.table[i] = pre[i] - 2.0f * s.query_table[i];
    return list_score;  // |q - c_l|^2
  }
  s.residual.resize(dim_);
  const float* c = quantizer_.centroids().row(l);
  for (std::size_t d = 0; d < dim_; ++d) s.residual[d] = q[d] - c[d];
  pq_.l2_table(s.residual.data(), s.table.data());
  return 0.0f;
}

void IvfPqIndex::finish(const float* query, const float* q, std::size_t k, Scratch& s,
                        Neighbor* out) const {
  if (rerank_ == 0) {
    s.top.write_sorted(out, k);
    // Estimates: squared L2 (euclidean; on unit vectors for angular, where |q - x|^2 / 2 is
    // 1 - cos) or minus the inner product.
    if (metric_ == Metric::Angular) {
      for (std::size_t i = 0; i < k && out[i].id >= 0; ++i)
        out[i].distance = 0.5f * std::max(out[i].distance, 0.0f);
    } else {
      to_metric_scale(metric_, inner_product() ? Score::kNegativeDot : Score::kSquaredL2, out, k);
    }
  } else {
    rerank(query, q, k, s, out);
    to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out,
                    k);
  }
  if (!lists_.identity()) {
    for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) out[i].id = lists_.id(out[i].id);
  }
}

std::size_t IvfPqIndex::memory_bytes() const {
  std::size_t bytes = lists_.bytes() + quantizer_.memory_bytes() + pq_.memory_bytes() +
                      precomputed_.size() * sizeof(float) + scratch_.bytes();
  if (params_.refine) bytes += originals_.bytes() + inverse_norms_.capacity() * sizeof(float);
  return bytes;
}

// Trains the coarse quantizer on data, then the PQ codebooks on the residuals (and the
// precomputed tables); labels and residuals are data's lists and residuals.
void IvfPqIndex::train(MatrixView data, std::vector<std::uint32_t>& labels,
                       FloatMatrix& residuals) {
  quantizer_.train(data, inner_product(), params_.coarse, kName);
  labels = quantizer_.assign(data);
  residuals = residuals_of(data, labels);
  pq_.train(residuals.view(), params_.pq_iterations, params_.coarse.seed + 1);
  if (params_.precompute && !inner_product()) precompute_tables();
}

// x - c(x) for every row, c(x) the centroid of its list.
FloatMatrix IvfPqIndex::residuals_of(MatrixView data,
                                     const std::vector<std::uint32_t>& labels) const {
  FloatMatrix residuals(data.rows, dim_);
  const auto n = static_cast<std::int64_t>(data.rows);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    const float* c = quantizer_.centroids().row(labels[row]);
    for (std::size_t d = 0; d < dim_; ++d) residuals(row, d) = data.row(row)[d] - c[d];
  }
  return residuals;
}

// precomputed_[l][j][c] = |p_jc|^2 + 2 <c_l (sub-vector j), p_jc>.
void IvfPqIndex::precompute_tables() {
  const std::size_t table_size = pq_.m() * pq_.ksub();
  const std::size_t nlist = quantizer_.nlist();
  precomputed_.resize(nlist * table_size);
  std::vector<float> norms(table_size);
  pq_.norm_table(norms.data());
#pragma omp parallel for schedule(dynamic, 8)
  for (std::int64_t list = 0; list < static_cast<std::int64_t>(nlist); ++list) {
    const auto l = static_cast<std::size_t>(list);
    float* table = precomputed_.data() + l * table_size;
    pq_.inner_product_table(quantizer_.centroids().row(l), table);
    for (std::size_t i = 0; i < table_size; ++i) table[i] = norms[i] + 2.0f * table[i];
  }
}

// The harness keeps the base alive for the index's lifetime, so re-ranking references it.
void IvfPqIndex::keep_originals(MatrixView base) {
  originals_.reference(base);
  if (metric_ != Metric::Angular) return;
  const auto ip = distance_kernels().inner_product;
  inverse_norms_.resize(base.rows);
  for (std::size_t i = 0; i < base.rows; ++i) {
    const float norm2 = ip(base.row(i), base.row(i), dim_);
    inverse_norms_[i] = norm2 > 0.0f ? 1.0f / std::sqrt(norm2) : 0.0f;
  }
}

template <typename Keep>
void IvfPqIndex::scan_list(std::size_t l, float offset, const float* table, TopK<float>& top,
                           const Keep& keep) const {
  const std::size_t m = pq_.m(), ksub = pq_.ksub();
  float worst = top.worst();
  const std::size_t size = lists_.size(l);
  const std::uint8_t* codes = lists_.entries(l);
  const std::uint32_t* labels = lists_.labels(l);
  for (std::size_t p = 0; p < size; ++p) {
    if (!keep(labels[p])) continue;
    const std::uint8_t* code = codes + p * m;
    float score = offset;
    for (std::size_t j = 0; j < m; ++j) score += table[j * ksub + code[j]];
    if (score < worst) {
      top.push(score, labels[p]);
      worst = top.worst();
    }
  }
}

void IvfPqIndex::prefetch_row(const float* row) const {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (std::size_t offset = 0; offset < dim_ * sizeof(float); offset += 64)
    __builtin_prefetch(bytes + offset);
}

// Exact (float) scores against the original vectors of the candidates, best k kept: squared
// L2, or minus the inner product (of unit vectors, for angular).
void IvfPqIndex::rerank(const float* raw, const float* normalised, std::size_t k, Scratch& s,
                        Neighbor* out) const {
  const auto& kernels = distance_kernels();
  const std::vector<TopK<float>::Entry> candidates = s.top.take_sorted();
  const auto row_of = [&](std::size_t i) {
    return originals_.row(static_cast<std::size_t>(candidates[i].id));
  };
  // Candidates are scattered over the base, each row dozens of cache lines: ask for the
  // rows a few candidates ahead so their misses overlap the distances being computed.
  for (std::size_t i = 0; i < std::min(kPrefetchAhead, candidates.size()); ++i)
    prefetch_row(row_of(i));
  s.best.reset(k);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i + kPrefetchAhead < candidates.size()) prefetch_row(row_of(i + kPrefetchAhead));
    const float* x = row_of(i);
    const auto id = candidates[i].id;
    float score = 0.0f;
    switch (metric_) {
      case Metric::L2: score = kernels.l2_squared(raw, x, dim_); break;
      case Metric::InnerProduct: score = -kernels.inner_product(raw, x, dim_); break;
      case Metric::Angular:
        score = -kernels.inner_product(normalised, x, dim_) *
                inverse_norms_[static_cast<std::size_t>(id)];
        break;
    }
    s.best.push(score, id);
  }
  distances_.add(candidates.size());
  s.best.write_sorted(out, k);
}

void IvfPqIndex::save(const std::string& path) const {
  ANNBENCH_CHECK(built_, "{}: save() before build()", kName);
  FileMeta meta;
  meta.nlist = quantizer_.nlist();
  meta.param_nlist = params_.coarse.nlist;
  meta.train_size = params_.coarse.train_size;
  meta.iterations = params_.coarse.iterations;
  meta.seed = params_.coarse.seed;
  meta.m = params_.m;
  meta.nbits = params_.nbits;
  meta.pq_iterations = params_.pq_iterations;
  meta.precompute = params_.precompute ? 1 : 0;
  meta.refine = params_.refine ? 1 : 0;
  IndexFileWriter writer(kName, kPqFormatVersion, metric_, dim_, lists_.label_count());
  writer.add_value("meta", meta);
  writer.add("centroids", quantizer_.centroids().data(), quantizer_.centroids().bytes());
  writer.add("codebooks", pq_.codebooks().data(), pq_.codebooks().bytes());
  writer.add("precomputed", precomputed_);
  InvertedLists<std::uint8_t>::Flat flat;
  lists_.save(writer, flat);
  if (params_.refine) {
    writer.add("originals", originals_.all());
    if (metric_ == Metric::Angular) writer.add("inverse_norms", inverse_norms_);
  }
  writer.write(path);
}

std::unique_ptr<Index> IvfPqIndex::load(const std::string& path, Metric metric, std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kPqFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  PqParams params;
  params.coarse.nlist = static_cast<std::size_t>(meta.param_nlist);
  params.coarse.train_size = static_cast<std::size_t>(meta.train_size);
  params.coarse.iterations = static_cast<std::size_t>(meta.iterations);
  params.coarse.seed = meta.seed;
  params.m = static_cast<std::size_t>(meta.m);
  params.nbits = static_cast<std::size_t>(meta.nbits);
  params.pq_iterations = static_cast<std::size_t>(meta.pq_iterations);
  params.precompute = meta.precompute == 1;
  params.refine = meta.refine == 1;
  if (params.coarse.nlist == 0 || meta.precompute > 1 || meta.refine > 1)
    reader.fail("'meta' holds an invalid nlist or flag");
  if (params.m == 0 || dim % params.m != 0 || params.nbits < 1 || params.nbits > 8)
    reader.fail(fmt::format("'meta' holds m = {} and nbits = {}, invalid for dimension {}",
                            params.m, params.nbits, dim));
  auto index = std::make_unique<IvfPqIndex>(metric, dim, params);
  index->built_ = true;
  const auto nlist = static_cast<std::size_t>(meta.nlist);
  const std::size_t m = params.m, ksub = std::size_t{1} << params.nbits;

  const auto centroids = reader.array<float>("centroids");
  if (centroids.size() % dim != 0 || centroids.size() / dim != nlist)
    reader.fail(fmt::format("'centroids' does not hold {} rows of dimension {}", nlist, dim));
  FloatMatrix matrix(nlist, dim);
  std::copy(centroids.begin(), centroids.end(), matrix.data());
  index->quantizer_.set(std::move(matrix), metric == Metric::InnerProduct);

  // Trained (nlist > 0) means codebooks too; a streaming index not trained yet has neither.
  const std::size_t book_rows = nlist > 0 ? m * ksub : 0;
  const auto books = reader.array<float>("codebooks", book_rows * (dim / m));
  FloatMatrix codebooks(book_rows, dim / m);
  std::copy(books.begin(), books.end(), codebooks.data());
  index->pq_.set_codebooks(std::move(codebooks));
  const bool tables = nlist > 0 && params.precompute && metric != Metric::InnerProduct;
  index->precomputed_ = reader.copy<float>("precomputed", tables ? nlist * m * ksub : 0);

  index->lists_.load(reader, m);
  if (index->lists_.nlist() != nlist)
    reader.fail(fmt::format("{} lists for {} centroids", index->lists_.nlist(), nlist));
  // A code byte indexes a table of ksub entries: one out of range would read past it.
  for (std::size_t l = 0; l < nlist; ++l) {
    const std::uint8_t* codes = index->lists_.entries(l);
    const std::size_t bytes = index->lists_.size(l) * m;
    for (std::size_t i = 0; i < bytes; ++i) {
      if (codes[i] >= ksub)
        reader.fail(fmt::format("list {} holds code {} of {} codewords", l, codes[i], ksub));
    }
  }
  index->originals_.reset(dim);
  const std::size_t labels = index->lists_.label_count();
  if (params.refine) {
    index->originals_.assign(reader.array<float>("originals", labels * dim), labels);
    if (metric == Metric::Angular)
      index->inverse_norms_ = reader.copy<float>("inverse_norms", labels);
  }
  if ((!params.refine && reader.has("originals")) ||
      ((!params.refine || metric != Metric::Angular) && reader.has("inverse_norms")))
    reader.fail("original vectors are present in an index built without refine");
  return index;
}

}  // namespace annbench::ivf
