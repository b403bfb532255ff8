// Coarse quantizer and list layout shared by ivf-flat and ivf-pq. See coarse_quantizer.h.

#include "coarse_quantizer.h"

#include <annbench/common/distance.h>
#include <annbench/common/kmeans.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>

namespace annbench::ivf {

CoarseParams CoarseParams::from(const Params& build) {
  CoarseParams p;
  p.nlist = static_cast<std::size_t>(build.get_int("nlist"));
  p.train_size = static_cast<std::size_t>(build.get_int("train_size"));
  p.iterations = static_cast<std::size_t>(build.get_int("kmeans_iters"));
  p.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return p;
}

std::vector<ParamSpec> coarse_param_specs() {
  return {
      {"nlist", ParamType::Int, std::int64_t{1024}, "inverted lists (k-means centroids)", 1,
       1 << 24},
      {"train_size", ParamType::Int, std::int64_t{0},
       "vectors sampled to train k-means (0: min(n, 256 * nlist), as faiss)", 0, 1e12},
      {"kmeans_iters", ParamType::Int, std::int64_t{10}, "Lloyd iterations", 0, 1000},
      {"seed", ParamType::Int, std::int64_t{1234}, "k-means sampling and initialisation seed", 0,
       9.2e18},
  };
}

ParamSpec filter_max_probe_spec() {
  return {"filter_max_probe",
          ParamType::Int,
          std::int64_t{0},
          "filtered search: most lists probed in all while fewer than k allowed points were "
          "found (0: every list; at most nprobe: no extra lists)",
          0,
          1 << 24};
}

std::size_t filter_max_probe(const Params& search) {
  return search.contains("filter_max_probe")
             ? static_cast<std::size_t>(search.get_int("filter_max_probe"))
             : 0;
}

std::size_t probe_limit(std::size_t nlist, std::size_t nprobe, std::size_t max_probe) {
  if (max_probe == 0) return nlist;
  return std::min(nlist, std::max(nprobe, max_probe));
}

PreparedBase::PreparedBase(MatrixView base, Metric metric, const char* module) : view_(base) {
  // Checked before anything trains: NaN would make every comparison false and k-means would
  // silently produce garbage lists.
  check_finite(base, module);
  if (metric != Metric::Angular) return;
  normalised_ = normalized_copy(base);
  view_ = normalised_.view();
}

void CoarseQuantizer::train(MatrixView base, bool inner_product, const CoarseParams& params,
                            const char* module) {
  ANNBENCH_CHECK(params.nlist <= base.rows,
                 "{}: nlist ({}) is larger than the training set ({} vectors)", module,
                 params.nlist, base.rows);
  ANNBENCH_CHECK(params.train_size == 0 || params.train_size >= params.nlist,
                 "{}: train_size ({}) must be at least nlist ({})", module, params.train_size,
                 params.nlist);
  KMeansParams kp;
  kp.k = params.nlist;
  kp.iterations = params.iterations;
  kp.max_sample = params.train_size;
  kp.seed = params.seed;
  // Random rows, as faiss: k-means++ makes nlist passes over the whole sample (memory-bound,
  // 20 s for nlist 1024 on fashion-mnist) for a lower start that Lloyd reaches anyway.
  kp.init = KMeansInit::Random;
  centroids_ = kmeans(base, kp).centroids;
  inner_product_ = inner_product;
}

std::vector<std::uint32_t> CoarseQuantizer::assign(MatrixView base) const {
  std::vector<std::uint32_t> labels(base.rows);
  nearest_centroids(base, centroids_.view(), inner_product_, labels.data());
  return labels;
}

const float* CoarseQuantizer::probe_query(const float* query, Metric metric, std::size_t nprobe,
                                          ProbeScratch& scratch) const {
  const float* q = query;
  if (metric == Metric::Angular) {
    scratch.query.resize(centroids_.cols());
    normalize_into(query, centroids_.cols(), scratch.query.data());
    q = scratch.query.data();
  }
  probe(q, nprobe, scratch.heap, scratch.lists);
  return q;
}

void CoarseQuantizer::probe(const float* query, std::size_t nprobe, TopK<float>& heap,
                            std::vector<TopK<float>::Entry>& lists) const {
  const auto& kernels = distance_kernels();
  const std::size_t dim = centroids_.cols();
  heap.reset(std::min(nprobe, nlist()));
  for (std::size_t c = 0; c < nlist(); ++c) {
    const float* centre = centroids_.row(c);
    const float s = inner_product_ ? -kernels.inner_product(query, centre, dim)
                                   : kernels.l2_squared(query, centre, dim);
    if (s < heap.worst()) heap.push(s, static_cast<std::int64_t>(c));
  }
  lists = heap.take_sorted();
}

void check_first_batch(std::size_t rows, std::size_t nlist, const char* module) {
  ANNBENCH_CHECK(rows >= nlist,
                 "{}: the first add() trains the coarse quantizer on its batch, which needs at "
                 "least nlist ({}) vectors, got {}; add a larger first batch or lower nlist",
                 module, nlist, rows);
}

ListLayout layout_lists(const std::vector<std::uint32_t>& labels, std::size_t nlist) {
  ListLayout layout;
  layout.offsets.assign(nlist + 1, 0);
  for (const std::uint32_t label : labels) ++layout.offsets[label + 1];
  for (std::size_t l = 0; l < nlist; ++l) layout.offsets[l + 1] += layout.offsets[l];
  layout.order.resize(labels.size());
  std::vector<std::size_t> next(layout.offsets.begin(), layout.offsets.end() - 1);
  for (std::size_t i = 0; i < labels.size(); ++i)
    layout.order[next[labels[i]]++] = static_cast<std::uint32_t>(i);
  return layout;
}

}  // namespace annbench::ivf
