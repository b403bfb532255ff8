// ivf-flat: inverted file with uncompressed vectors (Sivic and Zisserman 2003; the IVF layer of
// Jégou, Douze and Schmid 2011). k-means splits the base into nlist cells; a query scans the
// vectors of its nprobe nearest cells exactly. With nprobe = nlist it is an exact scan. Range
// search is exact within the probed lists.

#include "coarse_quantizer.h"
#include "inverted_lists.h"

#include <annbench/common/distance.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <span>

namespace annbench::ivf {
namespace {

constexpr const char* kName = "ivf-flat";

// Per-thread buffers, so a search allocates nothing once warm.
struct Scratch {
  ProbeScratch probe;
  TopK<float> top;
};

class IvfFlatIndex final : public Index {
 public:
  IvfFlatIndex(Metric metric, std::size_t dim, const CoarseParams& params)
      : metric_(metric), dim_(dim), params_(params) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "{}: base vectors have dimension {}, expected {}", kName,
                   base.dim, dim_);
    ANNBENCH_CHECK(base.rows < std::numeric_limits<std::uint32_t>::max(),
                   "{}: {} vectors do not fit 32-bit list ids", kName, base.rows);
    built_ = true;
    quantizer_ = CoarseQuantizer{};
    lists_.reset(0, dim_);
    raw_.reset(dim_);
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

  // Each vector goes to the list of its nearest centroid, as in build(); the first add() of an
  // index built on zero rows trains the quantizer on its batch first.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override {
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

  void remove(std::span<const std::int64_t> ids) override {
    ANNBENCH_CHECK(built_, "{}: remove() before build()", kName);
    lists_.check_live(ids, kName);
    for (const std::int64_t id : ids) lists_.erase(id);
  }

  // nprobe above nlist means "every list": clamped, so one sweep fits indexes of any nlist.
  void set_search_params(const Params& params) override {
    nprobe_ = static_cast<std::size_t>(params.get_int("nprobe"));
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "{}: search before build", kName);
    if (quantizer_.nlist() == 0) {  // streaming, nothing added yet
      std::fill_n(out, k, Neighbor{});
      return;
    }
    thread_local Scratch scratch;
    const float* q = quantizer_.probe_query(query, metric_, nprobe_, scratch.probe);
    TopK<float>& top = scratch.top;
    top.reset(k);
    float worst = top.worst();
    const std::size_t scanned =
        scan_lists(q, scratch.probe.lists, [&](const float*, std::uint32_t label, float score) {
          if (score < worst) {
            top.push(score, label);
            worst = top.worst();
          }
        });
    distances_.add(quantizer_.nlist() + scanned);
    top.write_sorted(out, k);
    if (!lists_.identity()) {
      for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) out[i].id = lists_.id(out[i].id);
    }
  }

  // Exact within the probed lists: a float score filters with a margin wider than its rounding
  // error, and survivors are checked with exact_distance against the vector as given (for
  // angular the raw base, referenced; the normalised copy would move boundary ties), so with
  // nprobe = nlist the result equals an exact scan.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    ANNBENCH_CHECK(built_, "{}: range search before build", kName);
    ANNBENCH_CHECK(!std::isnan(radius), "{}: range search radius is NaN", kName);
    if (radius < 0.0f && metric_ != Metric::InnerProduct) return;
    if (quantizer_.nlist() == 0) return;
    thread_local Scratch scratch;
    const float* q = quantizer_.probe_query(query, metric_, nprobe_, scratch.probe);
    const float limit = range_score_limit(query, radius);
    const auto exact = distance_kernels().exact;
    const std::size_t scanned =
        scan_lists(q, scratch.probe.lists, [&](const float* x, std::uint32_t label, float score) {
          if (!(score <= limit)) return;
          const float* original = !raw_.empty() ? raw_.row(label) : x;
          const double distance = exact(metric_, query, original, dim_);
          if (distance <= static_cast<double>(radius))
            out.push_back({lists_.id(label), static_cast<float>(distance)});
        });
    distances_.add(quantizer_.nlist() + scanned);
  }

  // Calls visit(x, label, score) for every stored vector x of the probed lists, where score is
  // the squared L2 distance to q or minus the inner product; returns how many were scanned.
  template <typename Visit>
  std::size_t scan_lists(const float* q, const std::vector<TopK<float>::Entry>& lists,
                         Visit&& visit) const {
    const auto& kernels = distance_kernels();
    const bool inner_product = metric_ == Metric::InnerProduct;
    std::size_t scanned = 0;
    for (const auto& list : lists) {
      const auto l = static_cast<std::size_t>(list.id);
      const std::size_t size = lists_.size(l);
      const float* vectors = lists_.entries(l);
      const std::uint32_t* labels = lists_.labels(l);
      scanned += size;
      for (std::size_t p = 0; p < size; ++p) {
        const float* x = vectors + p * dim_;
        visit(x, labels[p],
              inner_product ? -kernels.inner_product(q, x, dim_) : kernels.l2_squared(q, x, dim_));
      }
    }
    return scanned;
  }

  // Vectors (normalised for angular) and 32-bit labels, list by list, and the list headers;
  // centroids; for angular the raw vectors (referenced, or copied once the index changes); once
  // it changes, the id maps.
  std::size_t memory_bytes() const override {
    return lists_.bytes() + raw_.bytes() + quantizer_.memory_bytes();
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  static double squared_norm(const float* x, std::size_t dim) {
    double sum = 0.0;
    for (std::size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
    return sum;
  }

  // The float score (squared L2 on the stored vectors, or minus the inner product) above which
  // no point can be within `radius`. The margin is a worst-case bound on a float sum of dim
  // terms (sequential order, the loosest), times the largest term scale, doubled for the
  // rounding of the normalised copies and of the radius itself.
  float range_score_limit(const float* query, float radius) const {
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
      // |q^ - x^|^2 = 2 (1 - cos) for unit vectors; both are within a few ulps of unit.
      case Metric::Angular: limit = 2.0 * r + error_factor * 4.0; break;
      case Metric::InnerProduct:
        limit = r + error_factor * std::sqrt(squared_norm(query, dim_)) * max_norm_;
        break;
    }
    float rounded = static_cast<float>(limit);
    if (static_cast<double>(rounded) < limit)
      rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
    return rounded;
  }

  Metric metric_;
  std::size_t dim_;
  CoarseParams params_;
  CoarseQuantizer quantizer_;
  InvertedLists<float> lists_;  // dim floats per entry
  RowStore raw_;                // angular: the vectors as given, by label, for exact range checks
  double max_norm_ = 0.0;       // largest |x| ever stored (range-search error margin)
  bool built_ = false;
  std::size_t nprobe_ = 1;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<IvfFlatIndex>(metric, dim, CoarseParams::from(build));
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = coarse_param_specs();
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "lists scanned per query (above nlist: all)", 1,
     1 << 24},
};

const ModuleInfo kInfo = {
    .name = kName,
    .description = "inverted file, k-means coarse quantizer, exact scan of nprobe lists",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapInsert | kCapDelete,
    .create = &create,
};

}  // namespace
}  // namespace annbench::ivf

ANNBENCH_MODULE(annbench::ivf::kInfo)
