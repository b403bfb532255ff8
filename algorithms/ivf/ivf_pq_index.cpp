// ivf-pq: inverted file with product-quantized residuals (IVFADC, Jégou, Douze and Schmid,
// "Product quantization for nearest neighbor search", TPAMI 2011). Each base vector x in list l
// is stored as the PQ code of its residual r = x - c_l (m bytes) and a 32-bit id. A query ranks
// the codes of its nprobe lists by asymmetric distance (query exact, base quantized), then
// optionally re-ranks the best `rerank` of them against the original vectors.
//
// Squared L2 tables, per probed list l, come from
//   |q - c_l - p|^2 = |q - c_l|^2 + (|p|^2 + 2 <c_l, p>) - 2 <q, p>      (p = PQ codeword part)
// where the middle term depends only on (l, codeword) and is precomputed at build
// (precompute=true, nlist × m × 2^nbits floats), and <q, p> is one m × 2^nbits table per query;
// a list then costs m × 2^nbits additions instead of 2^nbits × dim multiply-adds.

#include "coarse_quantizer.h"
#include "inverted_lists.h"
#include "product_quantizer.h"

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

constexpr const char* kName = "ivf-pq";
// Re-ranked rows requested ahead of use (see rerank()).
constexpr std::size_t kPrefetchAhead = 2;

struct PqParams {
  CoarseParams coarse;
  std::size_t m = 0, nbits = 8, pq_iterations = 25;
  bool precompute = true, refine = false;
};

// Per-thread buffers, so a search allocates nothing once warm.
struct Scratch {
  ProbeScratch probe;
  std::vector<float> residual, query_table, table;
  TopK<float> top, best;
};

class IvfPqIndex final : public Index {
 public:
  IvfPqIndex(Metric metric, std::size_t dim, const PqParams& params)
      : metric_(metric), dim_(dim), params_(params), pq_(dim, params.m, params.nbits, kName) {}

  void build(MatrixView base) override {
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

  // Each vector is assigned and encoded as in build(); the first add() of an index built on
  // zero rows trains the coarse quantizer and the PQ codebooks on its batch first.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override {
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

  void remove(std::span<const std::int64_t> ids) override {
    ANNBENCH_CHECK(built_, "{}: remove() before build()", kName);
    lists_.check_live(ids, kName);
    for (const std::int64_t id : ids) lists_.erase(id);
  }

  void set_search_params(const Params& params) override {
    nprobe_ = static_cast<std::size_t>(params.get_int("nprobe"));
    rerank_ = static_cast<std::size_t>(params.get_int("rerank"));
    ANNBENCH_CHECK(rerank_ == 0 || params_.refine,
                   "{}: rerank={} needs the original vectors: build with refine=true", kName,
                   rerank_);
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "{}: search before build", kName);
    if (quantizer_.nlist() == 0) {  // streaming, nothing added yet
      std::fill_n(out, k, Neighbor{});
      return;
    }
    thread_local Scratch s;
    const float* q = quantizer_.probe_query(query, metric_, nprobe_, s.probe);
    const std::size_t table_size = pq_.m() * pq_.ksub();
    s.table.resize(table_size);
    s.query_table.resize(table_size);
    const bool per_query_table = inner_product() || !precomputed_.empty();
    if (per_query_table) {
      pq_.inner_product_table(q, s.query_table.data());
      // Inner product: score = -<q, c_l> - <q, p>, the same table for every list.
      if (inner_product()) {
        for (std::size_t i = 0; i < table_size; ++i) s.table[i] = -s.query_table[i];
      }
    }
    TopK<float>& top = s.top;
    top.reset(rerank_ > 0 ? std::max(k, rerank_) : k);
    for (const auto& list : s.probe.lists) {
      const auto l = static_cast<std::size_t>(list.id);
      float offset = list.distance;  // |q - c_l|^2, or -<q, c_l>
      if (!inner_product()) {
        if (!precomputed_.empty()) {
          const float* pre = precomputed_.data() + l * table_size;
          for (std::size_t i = 0; i < table_size; ++i)
            s.table[i] = pre[i] - 2.0f * s.query_table[i];
        } else {
          s.residual.resize(dim_);
          const float* c = quantizer_.centroids().row(l);
          for (std::size_t d = 0; d < dim_; ++d) s.residual[d] = q[d] - c[d];
          pq_.l2_table(s.residual.data(), s.table.data());
          offset = 0.0f;
        }
      }
      scan_list(l, offset, s.table.data(), top);
    }
    distances_.add(quantizer_.nlist());
    if (rerank_ == 0) {
      top.write_sorted(out, k);
    } else {
      rerank(query, q, k, s, out);
    }
    if (!lists_.identity()) {
      for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) out[i].id = lists_.id(out[i].id);
    }
  }

  // Codes (m bytes) and 32-bit labels per vector, list headers, centroids, codebooks; the
  // precomputed L2 tables; with refine, the original vectors (referenced, or copied once the
  // index changes) and, for angular, their inverse norms; once the index changes, the id maps.
  std::size_t memory_bytes() const override {
    std::size_t bytes = lists_.bytes() + quantizer_.memory_bytes() + pq_.memory_bytes() +
                        precomputed_.size() * sizeof(float);
    if (params_.refine) bytes += originals_.bytes() + inverse_norms_.capacity() * sizeof(float);
    return bytes;
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  bool inner_product() const { return metric_ == Metric::InnerProduct; }

  // Trains the coarse quantizer on data, then the PQ codebooks on the residuals (and the
  // precomputed tables); labels and residuals are data's lists and residuals.
  void train(MatrixView data, std::vector<std::uint32_t>& labels, FloatMatrix& residuals) {
    quantizer_.train(data, inner_product(), params_.coarse, kName);
    labels = quantizer_.assign(data);
    residuals = residuals_of(data, labels);
    pq_.train(residuals.view(), params_.pq_iterations, params_.coarse.seed + 1);
    if (params_.precompute && !inner_product()) precompute_tables();
  }

  // x - c(x) for every row, c(x) the centroid of its list.
  FloatMatrix residuals_of(MatrixView data, const std::vector<std::uint32_t>& labels) const {
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
  void precompute_tables() {
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
  void keep_originals(MatrixView base) {
    originals_.reference(base);
    if (metric_ != Metric::Angular) return;
    const auto ip = distance_kernels().inner_product;
    inverse_norms_.resize(base.rows);
    for (std::size_t i = 0; i < base.rows; ++i) {
      const float norm2 = ip(base.row(i), base.row(i), dim_);
      inverse_norms_[i] = norm2 > 0.0f ? 1.0f / std::sqrt(norm2) : 0.0f;
    }
  }

  void scan_list(std::size_t l, float offset, const float* table, TopK<float>& top) const {
    const std::size_t m = pq_.m(), ksub = pq_.ksub();
    float worst = top.worst();
    const std::size_t size = lists_.size(l);
    const std::uint8_t* codes = lists_.entries(l);
    const std::uint32_t* labels = lists_.labels(l);
    for (std::size_t p = 0; p < size; ++p) {
      const std::uint8_t* code = codes + p * m;
      float score = offset;
      for (std::size_t j = 0; j < m; ++j) score += table[j * ksub + code[j]];
      if (score < worst) {
        top.push(score, labels[p]);
        worst = top.worst();
      }
    }
  }

  // Exact (float) distances to the original vectors of the candidates, best k kept.
  void prefetch_row(const float* row) const {
    const char* bytes = reinterpret_cast<const char*>(row);
    for (std::size_t offset = 0; offset < dim_ * sizeof(float); offset += 64)
      __builtin_prefetch(bytes + offset);
  }

  void rerank(const float* raw, const float* normalised, std::size_t k, Scratch& s,
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

  Metric metric_;
  std::size_t dim_;
  PqParams params_;
  ProductQuantizer pq_;
  CoarseQuantizer quantizer_;
  InvertedLists<std::uint8_t> lists_;  // m code bytes per entry
  std::vector<float> precomputed_;
  RowStore originals_;                // refine: the vectors as given, by label
  std::vector<float> inverse_norms_;  // refine, angular: 1 / |x|, by label
  bool built_ = false;
  std::size_t nprobe_ = 1, rerank_ = 0;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  PqParams params;
  params.coarse = CoarseParams::from(build);
  params.m = static_cast<std::size_t>(build.get_int("m"));
  params.nbits = static_cast<std::size_t>(build.get_int("nbits"));
  params.pq_iterations = static_cast<std::size_t>(build.get_int("pq_iters"));
  params.precompute = build.get_bool("precompute");
  params.refine = build.get_bool("refine");
  return std::make_unique<IvfPqIndex>(metric, dim, params);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = [] {
  std::vector<ParamSpec> specs = coarse_param_specs();
  specs.push_back(
      {"m", ParamType::Int, std::int64_t{16}, "PQ sub-quantizers (must divide dim)", 1, 1 << 16});
  specs.push_back({"nbits", ParamType::Int, std::int64_t{8}, "bits per sub-quantizer code", 1, 8});
  specs.push_back({"pq_iters", ParamType::Int, std::int64_t{25},
                   "Lloyd iterations per PQ codebook (faiss's default)", 0, 1000});
  specs.push_back({"precompute", ParamType::Bool, true,
                   "precompute nlist x m x 2^nbits L2 table terms (faster, more memory)"});
  specs.push_back({"refine", ParamType::Bool, false,
                   "keep (reference) the original vectors so that searches may rerank"});
  return specs;
}();
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "lists scanned per query (above nlist: all)", 1,
     1 << 24},
    {"rerank", ParamType::Int, std::int64_t{0},
     "candidates re-ranked with exact distances (0: off; needs refine=true)", 0, 1 << 24},
};

const ModuleInfo kInfo = {
    .name = kName,
    .description = "inverted file + product-quantized residuals (IVFADC), optional re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapInsert | kCapDelete,
    .create = &create,
};

}  // namespace
}  // namespace annbench::ivf

ANNBENCH_MODULE(annbench::ivf::kInfo)
