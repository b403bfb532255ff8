#pragma once
// What IVF-Flat and IVF-PQ share: the coarse quantizer (nlist k-means centroids), the metric
// handling, and the permutation that lays the base out list by list.
//
// Metrics: angular stores unit vectors (common/normalize.h). Lists are chosen by squared L2 for
// euclidean and angular (on unit vectors, the same order as cosine) and by inner product for
// dot: k-means always minimises squared L2; with inner product, vectors are added to and probed
// in the list whose centroid has the largest inner product with them (as faiss does with an
// IndexFlatIP quantizer).

#include <annbench/common/topk.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/params.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace annbench::ivf {

// Build parameters common to both modules (see README.md).
struct CoarseParams {
  std::size_t nlist = 0;
  std::size_t train_size = 0;  // 0: min(n, 256 * nlist)
  std::size_t iterations = 10;
  std::uint64_t seed = 1234;
  static CoarseParams from(const Params& build);
};

// The ParamSpecs behind CoarseParams (nlist, train_size, kmeans_iters, seed).
std::vector<ParamSpec> coarse_param_specs();

// Filtered search (both modules): when the nprobe lists held fewer than k allowed entries, the
// next-nearest lists are scanned too, one at a time, until k are found or filter_max_probe
// lists (in all, nprobe included; 0: every list) were probed.
ParamSpec filter_max_probe_spec();
// filter_max_probe from resolved search parameters (absent from a hand-made set: 0).
std::size_t filter_max_probe(const Params& search);
// How many lists a filtered query may probe in all: nlist for 0, else max_probe clamped to
// [nprobe, nlist].
std::size_t probe_limit(std::size_t nlist, std::size_t nprobe, std::size_t max_probe);

// The vectors the index actually stores: a normalised copy for angular, else the view itself.
class PreparedBase {
 public:
  PreparedBase(MatrixView base, Metric metric, const char* module);
  MatrixView view() const { return view_; }

 private:
  FloatMatrix normalised_;
  MatrixView view_;
};

// Per-thread buffers for choosing one query's lists.
struct ProbeScratch {
  std::vector<float> query;  // the normalised query (angular)
  TopK<float> heap;
  std::vector<TopK<float>::Entry> lists;
  std::size_t bytes() const {
    return query.capacity() * sizeof(float) +
           (heap.capacity() + lists.capacity()) * sizeof(TopK<float>::Entry);
  }
};

class CoarseQuantizer {
 public:
  // Trains the centroids on (a sample of) base; inner_product selects how lists are chosen.
  void train(MatrixView base, bool inner_product, const CoarseParams& params, const char* module);

  // Centroids read from an index file (nlist × dim).
  void set(FloatMatrix centroids, bool inner_product) {
    centroids_ = std::move(centroids);
    inner_product_ = inner_product;
  }

  std::size_t nlist() const { return centroids_.rows(); }
  const FloatMatrix& centroids() const { return centroids_; }
  bool inner_product() const { return inner_product_; }

  // The list of each base row (parallel).
  std::vector<std::uint32_t> assign(MatrixView base) const;

  // The nprobe (clamped to nlist) lists to visit, best first, with their scores: squared L2
  // |q - c|^2, or minus the inner product <q, c>.
  void probe(const float* query, std::size_t nprobe, TopK<float>& heap,
             std::vector<TopK<float>::Entry>& lists) const;

  // probe() for a query as the index stores vectors: angular queries are normalised first (into
  // scratch.query). Fills scratch.lists; returns the query to compare stored vectors with.
  const float* probe_query(const float* query, Metric metric, std::size_t nprobe,
                           ProbeScratch& scratch) const;

  std::size_t memory_bytes() const { return centroids_.bytes(); }

 private:
  FloatMatrix centroids_;
  bool inner_product_ = false;
};

// An index built on zero rows trains its coarse quantizer on the first add()'s batch: throws
// unless that batch holds at least nlist vectors. nlist is never lowered behind the caller's
// back, so a run's recorded parameters are the index's.
void check_first_batch(std::size_t rows, std::size_t nlist, const char* module);

// Lists laid out contiguously: rows of list l are order[offsets[l] .. offsets[l + 1]).
struct ListLayout {
  std::vector<std::size_t> offsets;  // nlist + 1
  std::vector<std::uint32_t> order;  // base row ids, list by list, ascending within a list
};
ListLayout layout_lists(const std::vector<std::uint32_t>& labels, std::size_t nlist);

}  // namespace annbench::ivf
