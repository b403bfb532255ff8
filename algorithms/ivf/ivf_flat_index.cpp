// The ivf-flat index; see ivf_flat_index.h.

#include "ivf_flat_index.h"

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

constexpr const char* kName = kFlatName;

double squared_norm(const float* x, std::size_t dim) {
  double sum = 0.0;
  for (std::size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

// What an index file's "meta" section holds.
struct FileMeta {
  std::uint64_t nlist = 0;  // trained lists (0: a streaming index not trained yet)
  std::uint64_t param_nlist = 0, train_size = 0, iterations = 0, seed = 0;
  double max_norm = 0.0;
};

}  // namespace

void IvfFlatIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "{}: base vectors have dimension {}, expected {}", kName,
                 base.dim, dim_);
  ANNBENCH_CHECK(base.rows < std::numeric_limits<std::uint32_t>::max(),
                 "{}: {} vectors do not fit 32-bit list ids", kName, base.rows);
  built_ = true;
  quantizer_ = CoarseQuantizer{};
  lists_.reset(0, dim_);
  raw_.reset(dim_);
  scratch_.clear();
  max_norm_ = 0.0;
  // Zero rows: a streaming index, trained by its first add().
  if (base.rows == 0) return;
  const PreparedBase prepared(base, metric_, kName);
  const MatrixView data = prepared.view();
  if (metric_ == Metric::Angular) raw_.reference(base);
  for (std::size_t i = 0; i < data.rows; ++i) {
    max_norm_ = std::max(max_norm_, std::sqrt(squared_norm(data.row(i), dim_)));
  }
  quantizer_.train(data, metric_ == Metric::InnerProduct, params_, kName);
  const ListLayout layout = layout_lists(quantizer_.assign(data), quantizer_.nlist());
  lists_.reset(quantizer_.nlist(), dim_);
  lists_.assign_static(layout.offsets, layout.order, [&](std::uint32_t row, float* entry) {
    std::copy_n(data.row(row), dim_, entry);
  });
}

void IvfFlatIndex::add(std::span<const std::int64_t> ids, MatrixView vectors) {
  ANNBENCH_CHECK(built_, "{}: add() before build()", kName);
  lists_.check_new(ids, vectors, dim_, kName);
  if (vectors.rows == 0) return;
  const PreparedBase prepared(vectors, metric_, kName);
  const MatrixView data = prepared.view();
  if (quantizer_.nlist() == 0) {
    check_first_batch(data.rows, params_.nlist, kName);
    quantizer_.train(data, metric_ == Metric::InnerProduct, params_, kName);
    lists_.reset(quantizer_.nlist(), dim_);
  }
  const std::vector<std::uint32_t> assigned = quantizer_.assign(data);
  for (std::size_t i = 0; i < data.rows; ++i) {
    float* entry = nullptr;
    const std::uint32_t label = lists_.insert(assigned[i], ids[i], &entry);
    std::copy_n(data.row(i), dim_, entry);
    if (metric_ == Metric::Angular) raw_.set(label, vectors.row(i));
    max_norm_ = std::max(max_norm_, std::sqrt(squared_norm(data.row(i), dim_)));
  }
}

void IvfFlatIndex::remove(std::span<const std::int64_t> ids) {
  ANNBENCH_CHECK(built_, "{}: remove() before build()", kName);
  lists_.check_live(ids, kName);
  for (const std::int64_t id : ids) lists_.erase(id);
}

void IvfFlatIndex::set_search_params(const Params& params) {
  nprobe_ = static_cast<std::size_t>(params.get_int("nprobe"));
  filter_max_probe_ = filter_max_probe(params);
}

void IvfFlatIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(built_, "{}: search before build", kName);
  if (quantizer_.nlist() == 0) {  // streaming, nothing added yet
    std::fill_n(out, k, Neighbor{});
    return;
  }
  const auto scratch = scratch_.acquire();
  const float* q = quantizer_.probe_query(query, metric_, nprobe_, scratch->probe);
  TopK<float>& top = scratch->top;
  top.reset(k);
  float worst = top.worst();
  const std::size_t scanned =
      scan_lists(q, scratch->probe.lists, [&](const float*, std::uint32_t label, float score) {
        if (score < worst) {
          top.push(score, label);
          worst = top.worst();
        }
      });
  distances_.add(quantizer_.nlist() + scanned);
  top.write_sorted(out, k);
  to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out, k);
  if (!lists_.identity()) {
    for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) out[i].id = lists_.id(out[i].id);
  }
}

void IvfFlatIndex::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                   Neighbor* out) const {
  ANNBENCH_CHECK(built_, "{}: search before build", kName);
  std::fill_n(out, k, Neighbor{});
  if (quantizer_.nlist() == 0 || k == 0 || filter.count() == 0) return;
  const auto scratch = scratch_.acquire();
  ProbeScratch& probe = scratch->probe;
  const float* q = quantizer_.probe_query(query, metric_, nprobe_, probe);
  TopK<float>& top = scratch->top;
  top.reset(k);
  std::size_t computed = quantizer_.nlist();
  const std::size_t probed = probe.lists.size();
  for (const auto& list : probe.lists)
    computed += scan_allowed(q, static_cast<std::size_t>(list.id), filter, top);
  const std::size_t limit = probe_limit(quantizer_.nlist(), nprobe_, filter_max_probe_);
  if (top.size() < k && limit > probed) {
    // The first nprobe of the longer ranking are the lists already scanned (the ranking is a
    // total order), so the scan resumes after them.
    quantizer_.probe(q, limit, probe.heap, probe.lists);
    computed += quantizer_.nlist();
    for (std::size_t i = probed; i < probe.lists.size() && top.size() < k; ++i)
      computed += scan_allowed(q, static_cast<std::size_t>(probe.lists[i].id), filter, top);
  }
  distances_.add(computed);
  top.write_sorted(out, k);
  to_metric_scale(metric_, metric_ == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot, out, k);
  if (!lists_.identity()) {
    for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) out[i].id = lists_.id(out[i].id);
  }
}

std::size_t IvfFlatIndex::scan_allowed(const float* q, std::size_t l, const Filter& filter,
                                       TopK<float>& top) const {
  const auto& kernels = distance_kernels();
  const bool l2 = metric_ == Metric::L2;
  const std::size_t size = lists_.size(l);
  const float* vectors = lists_.entries(l);
  const std::uint32_t* labels = lists_.labels(l);
  const bool identity = lists_.identity();
  const std::size_t rows = filter.base_rows();
  float worst = top.worst();
  std::size_t computed = 0;
  for (std::size_t p = 0; p < size; ++p) {
    const std::int64_t id = identity ? labels[p] : lists_.id(labels[p]);
    if (static_cast<std::uint64_t>(id) >= rows || !filter.allowed(id)) continue;
    const float* x = vectors + p * dim_;
    const float score = l2 ? kernels.l2_squared(q, x, dim_) : -kernels.inner_product(q, x, dim_);
    ++computed;
    if (score < worst) {
      top.push(score, labels[p]);
      worst = top.worst();
    }
  }
  return computed;
}

void IvfFlatIndex::range_search(const float* query, float radius,
                                std::vector<Neighbor>& out) const {
  ANNBENCH_CHECK(built_, "{}: range search before build", kName);
  ANNBENCH_CHECK(!std::isnan(radius), "{}: range search radius is NaN", kName);
  if (radius < 0.0f && metric_ != Metric::InnerProduct) return;
  if (quantizer_.nlist() == 0) return;
  const auto scratch = scratch_.acquire();
  const float* q = quantizer_.probe_query(query, metric_, nprobe_, scratch->probe);
  const float limit = range_score_limit(query, radius);
  const auto exact = distance_kernels().exact;
  const std::size_t scanned =
      scan_lists(q, scratch->probe.lists, [&](const float* x, std::uint32_t label, float score) {
        if (!(score <= limit)) return;
        const float* original = !raw_.empty() ? raw_.row(label) : x;
        const double distance = exact(metric_, query, original, dim_);
        if (distance <= static_cast<double>(radius))
          out.push_back({lists_.id(label), static_cast<float>(distance)});
      });
  distances_.add(quantizer_.nlist() + scanned);
}

template <typename Visit>
std::size_t IvfFlatIndex::scan_lists(const float* q, const std::vector<TopK<float>::Entry>& lists,
                                     Visit&& visit) const {
  const auto& kernels = distance_kernels();
  const bool l2 = metric_ == Metric::L2;
  std::size_t scanned = 0;
  for (const auto& list : lists) {
    const auto l = static_cast<std::size_t>(list.id);
    const std::size_t size = lists_.size(l);
    const float* vectors = lists_.entries(l);
    const std::uint32_t* labels = lists_.labels(l);
    scanned += size;
    for (std::size_t p = 0; p < size; ++p) {
      const float* x = vectors + p * dim_;
      visit(x, labels[p], l2 ? kernels.l2_squared(q, x, dim_) : -kernels.inner_product(q, x, dim_));
    }
  }
  return scanned;
}

std::size_t IvfFlatIndex::memory_bytes() const {
  return lists_.bytes() + raw_.bytes() + quantizer_.memory_bytes() + scratch_.bytes();
}

// The float score (squared L2 on the stored vectors, or minus the inner product) above which
// no point can be within `radius`. The margin is a worst-case bound on a float sum of dim
// terms (sequential order, the loosest), times the largest term scale, doubled for the
// rounding of the normalised copies and of the radius itself.
float IvfFlatIndex::range_score_limit(const float* query, float radius) const {
  if (std::isinf(radius)) return std::numeric_limits<float>::infinity();
  const double r = radius;
  const double error_factor = 2.0 * dot_error_factor(dim_, 1) + 1e-6;
  double limit = 0.0;
  switch (metric_) {
    case Metric::L2: {
      const double scale = std::sqrt(squared_norm(query, dim_)) + max_norm_;
      limit = r * r + error_factor * scale * scale;
      break;
    }
    // -<q^, x^> = (1 - cos) - 1 for unit vectors (zero ones included), both within a few ulps
    // of unit length.
    case Metric::Angular: limit = (r - 1.0) + error_factor * 2.0; break;
    case Metric::InnerProduct:
      limit = r + error_factor * std::sqrt(squared_norm(query, dim_)) * max_norm_;
      break;
  }
  float rounded = static_cast<float>(limit);
  if (static_cast<double>(rounded) < limit)
    rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
  return rounded;
}

void IvfFlatIndex::save(const std::string& path) const {
  ANNBENCH_CHECK(built_, "{}: save() before build()", kName);
  FileMeta meta;
  meta.nlist = quantizer_.nlist();
  meta.param_nlist = params_.nlist;
  meta.train_size = params_.train_size;
  meta.iterations = params_.iterations;
  meta.seed = params_.seed;
  meta.max_norm = max_norm_;
  IndexFileWriter writer(kName, kFlatFormatVersion, metric_, dim_, lists_.label_count());
  writer.add_value("meta", meta);
  writer.add("centroids", quantizer_.centroids().data(), quantizer_.centroids().bytes());
  InvertedLists<float>::Flat flat;
  lists_.save(writer, flat);
  if (metric_ == Metric::Angular) writer.add("raw", raw_.all());
  writer.write(path);
}

std::unique_ptr<Index> IvfFlatIndex::load(const std::string& path, Metric metric, std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFlatFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  CoarseParams params;
  params.nlist = static_cast<std::size_t>(meta.param_nlist);
  params.train_size = static_cast<std::size_t>(meta.train_size);
  params.iterations = static_cast<std::size_t>(meta.iterations);
  params.seed = meta.seed;
  if (params.nlist == 0 || !(meta.max_norm >= 0.0) || !std::isfinite(meta.max_norm))
    reader.fail("'meta' holds an invalid nlist or norm");
  auto index = std::make_unique<IvfFlatIndex>(metric, dim, params);
  index->built_ = true;
  index->max_norm_ = meta.max_norm;
  const auto centroids = reader.array<float>("centroids");
  if (centroids.size() % dim != 0 || centroids.size() / dim != meta.nlist)
    reader.fail(fmt::format("'centroids' does not hold {} rows of dimension {}", meta.nlist, dim));
  FloatMatrix matrix(static_cast<std::size_t>(meta.nlist), dim);
  std::copy(centroids.begin(), centroids.end(), matrix.data());
  index->quantizer_.set(std::move(matrix), metric == Metric::InnerProduct);
  index->lists_.load(reader, dim);
  if (index->lists_.nlist() != meta.nlist)
    reader.fail(fmt::format("{} lists for {} centroids", index->lists_.nlist(), meta.nlist));
  index->raw_.reset(dim);
  if (metric == Metric::Angular) {
    const std::size_t labels = index->lists_.label_count();
    index->raw_.assign(reader.array<float>("raw", labels * dim), labels);
  } else if (reader.has("raw")) {
    reader.fail("'raw' is present in a non-angular index");
  }
  return index;
}

}  // namespace annbench::ivf
