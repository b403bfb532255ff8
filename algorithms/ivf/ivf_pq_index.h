#pragma once
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
//
// Distances written: the PQ estimates in the metric's scale (euclidean: the square root of the
// squared estimate; angular: half the squared estimate on unit vectors, 1 - cos; dot: minus
// the estimated inner product), or the exact ones for re-ranked results.
//
// Index file (format 1): "meta" (build parameters), "centroids", "codebooks", "precomputed"
// (the L2 table terms, when built with them), the inverted lists of codes (inverted_lists.h)
// and, built with refine, "originals" (the vectors as given, by label) and for angular
// "inverse_norms".

#include "coarse_quantizer.h"
#include "inverted_lists.h"
#include "product_quantizer.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace annbench::ivf {

inline constexpr const char* kPqName = "ivf-pq";
inline constexpr std::uint32_t kPqFormatVersion = 1;

struct PqParams {
  CoarseParams coarse;
  std::size_t m = 0, nbits = 8, pq_iterations = 25;
  bool precompute = true, refine = false;
};

class IvfPqIndex final : public Index {
 public:
  IvfPqIndex(Metric metric, std::size_t dim, const PqParams& params);

  void build(MatrixView base) override;
  // Each vector is assigned and encoded as in build(); the first add() of an index built on
  // zero rows trains the coarse quantizer and the PQ codebooks on its batch first.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  void remove(std::span<const std::int64_t> ids) override;
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // The nprobe lists with disallowed entries skipped (bit test before the code is read); while
  // fewer than k allowed entries were found, the next-nearest lists too, up to
  // filter_max_probe. Re-ranking, when on, sees allowed candidates only.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  void save(const std::string& path) const override;
  // Codes (m bytes) and 32-bit labels per vector, list headers, centroids, codebooks; the
  // precomputed L2 tables; with refine, the original vectors (referenced, or copied once the
  // index changes or when loaded) and, for angular, their inverse norms; once the index
  // changes, the id maps; idle search scratch.
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

 private:
  // Per-search buffers, pooled so a search allocates nothing once warm.
  struct Scratch {
    ProbeScratch probe;
    std::vector<float> residual, query_table, table;
    TopK<float> top, best;
    std::size_t bytes() const {
      return probe.bytes() +
             (residual.capacity() + query_table.capacity() + table.capacity()) * sizeof(float) +
             (top.capacity() + best.capacity()) * sizeof(TopK<float>::Entry);
    }
  };

  bool inner_product() const { return metric_ == Metric::InnerProduct; }
  void train(MatrixView data, std::vector<std::uint32_t>& labels, FloatMatrix& residuals);
  FloatMatrix residuals_of(MatrixView data, const std::vector<std::uint32_t>& labels) const;
  void precompute_tables();
  void keep_originals(MatrixView base);
  // Per-query tables (inner products with every codeword) where the lists' tables need them.
  void begin_tables(const float* q, Scratch& s) const;
  // Fills s.table for list l; returns the constant part of its scores.
  float list_table(const float* q, std::size_t l, float list_score, Scratch& s) const;
  // Offers the entries of list l whose label `keep` accepts to top.
  template <typename Keep>
  void scan_list(std::size_t l, float offset, const float* table, TopK<float>& top,
                 const Keep& keep) const;
  // The k best of s.top into out, in the metric's scale (re-ranked when rerank is on).
  void finish(const float* query, const float* q, std::size_t k, Scratch& s, Neighbor* out) const;
  void prefetch_row(const float* row) const;
  void rerank(const float* raw, const float* normalised, std::size_t k, Scratch& s,
              Neighbor* out) const;

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
  std::size_t filter_max_probe_ = 0;  // 0: every list
  ScratchPool<Scratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::ivf
