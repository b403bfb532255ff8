// k-means (Lloyd) with k-means++ or random initialisation and empty-cluster repair. See
// kmeans.h.

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/kmeans.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace annbench {
namespace {

// Data rows per block-kernel call (a multiple of the kernel's 8-row tile) and centroid columns
// per call: 128 × 2048 products (1 MiB) per thread, whatever k is.
constexpr std::size_t kRowBlock = 128;
constexpr std::size_t kColumnBlock = 2048;

// Repair rounds after the last iteration: each round fixes clusters a repair left empty (two
// empty centroids moved onto duplicates of one point).
constexpr int kFinalRepairRounds = 8;

// Below this many multiply-adds a parallel region costs more than it saves (PQ codebooks run
// thousands of small k-means steps; on a loaded machine each barrier can wait milliseconds).
constexpr std::size_t kParallelWork = std::size_t{1} << 20;

// Rows of data to train on: all, or a seeded sample without replacement, in row order.
FloatMatrix sample_rows(MatrixView data, std::size_t count, std::mt19937_64& rng) {
  std::vector<std::size_t> order(data.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (count < data.rows) {
    for (std::size_t i = 0; i < count; ++i) {
      std::uniform_int_distribution<std::size_t> pick(i, data.rows - 1);
      std::swap(order[i], order[pick(rng)]);
    }
    order.resize(count);
    std::sort(order.begin(), order.end());
  }
  FloatMatrix sample(order.size(), data.dim);
  for (std::size_t i = 0; i < order.size(); ++i)
    std::copy_n(data.row(order[i]), data.dim, sample.row(i));
  return sample;
}

void init_random(MatrixView sample, std::size_t k, std::mt19937_64& rng, FloatMatrix& centroids) {
  std::vector<std::size_t> order(sample.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<std::size_t> pick(i, sample.rows - 1);
    std::swap(order[i], order[pick(rng)]);
    std::copy_n(sample.row(order[i]), sample.dim, centroids.row(i));
  }
}

// D^2 sampling. The cumulative sum is taken serially in double, so the choice does not depend
// on the thread count; the distance updates are parallel.
void init_plus_plus(MatrixView sample, std::size_t k, std::mt19937_64& rng,
                    FloatMatrix& centroids) {
  const auto l2 = distance_kernels().l2_squared;
  const auto n = static_cast<std::int64_t>(sample.rows);
  const bool parallel = sample.rows * sample.dim >= kParallelWork;
  std::vector<double> nearest(sample.rows, std::numeric_limits<double>::infinity());
  std::size_t chosen = std::uniform_int_distribution<std::size_t>(0, sample.rows - 1)(rng);
  for (std::size_t c = 0; c < k; ++c) {
    std::copy_n(sample.row(chosen), sample.dim, centroids.row(c));
    if (c + 1 == k) break;
    const float* centre = centroids.row(c);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto row = static_cast<std::size_t>(i);
      nearest[row] =
          std::min(nearest[row], static_cast<double>(l2(sample.row(row), centre, sample.dim)));
    }
    const double total = std::accumulate(nearest.begin(), nearest.end(), 0.0);
    if (!(total > 0.0)) {
      // Fewer distinct points than centroids: any row will do (repair cannot help either).
      chosen = std::uniform_int_distribution<std::size_t>(0, sample.rows - 1)(rng);
      continue;
    }
    double target = std::uniform_real_distribution<double>(0.0, total)(rng);
    chosen = sample.rows - 1;
    for (std::size_t i = 0; i < sample.rows; ++i) {
      target -= nearest[i];
      if (target < 0.0 && nearest[i] > 0.0) {
        chosen = i;
        break;
      }
    }
  }
}

double mean_of(const std::vector<float>& distances) {
  double sum = 0.0;
  for (const float d : distances) sum += static_cast<double>(d);
  return distances.empty() ? 0.0 : sum / static_cast<double>(distances.size());
}

// Centroid of each non-empty cluster = mean of its rows (summed in double, in row order).
// Returns the cluster sizes.
std::vector<std::size_t> update_means(MatrixView sample, const std::vector<std::uint32_t>& labels,
                                      FloatMatrix& centroids) {
  const std::size_t k = centroids.rows(), dim = sample.dim;
  std::vector<double> sums(k * dim, 0.0);
  std::vector<std::size_t> sizes(k, 0);
  for (std::size_t i = 0; i < sample.rows; ++i) {
    double* sum = sums.data() + labels[i] * dim;
    const float* x = sample.row(i);
    for (std::size_t j = 0; j < dim; ++j) sum[j] += static_cast<double>(x[j]);
    ++sizes[labels[i]];
  }
  for (std::size_t c = 0; c < k; ++c) {
    if (sizes[c] == 0) continue;
    const double scale = 1.0 / static_cast<double>(sizes[c]);
    for (std::size_t j = 0; j < dim; ++j)
      centroids(c, j) = static_cast<float>(sums[c * dim + j] * scale);
  }
  return sizes;
}

// Moves each empty centroid onto the farthest point of the largest cluster that still has a
// point away from its centroid; a cluster donates at most once per call. Returns the repairs.
std::size_t repair_empty(MatrixView sample, const std::vector<std::uint32_t>& labels,
                         const std::vector<float>& distances, const std::vector<std::size_t>& sizes,
                         FloatMatrix& centroids) {
  const std::size_t k = centroids.rows();
  std::vector<std::size_t> farthest(k, sample.rows);
  for (std::size_t i = 0; i < sample.rows; ++i) {
    std::size_t& f = farthest[labels[i]];
    if (distances[i] > 0.0f && (f == sample.rows || distances[i] > distances[f])) f = i;
  }
  std::vector<bool> donated(k, false);
  std::size_t repaired = 0;
  for (std::size_t empty = 0; empty < k; ++empty) {
    if (sizes[empty] != 0) continue;
    std::size_t donor = k;
    for (std::size_t c = 0; c < k; ++c) {
      if (donated[c] || farthest[c] == sample.rows) continue;
      if (donor == k || sizes[c] > sizes[donor]) donor = c;
    }
    if (donor == k) break;  // no cluster has distinct points left to give
    donated[donor] = true;
    std::copy_n(sample.row(farthest[donor]), sample.dim, centroids.row(empty));
    ++repaired;
  }
  return repaired;
}

}  // namespace

void check_finite(MatrixView data, const char* what) {
  for (std::size_t i = 0; i < data.rows; ++i) {
    const float* x = data.row(i);
    for (std::size_t j = 0; j < data.dim; ++j) {
      ANNBENCH_CHECK(std::isfinite(x[j]), "{}: vector {} has a non-finite value ({}) at index {}",
                     what, i, x[j], j);
    }
  }
}

void nearest_centroids(MatrixView data, MatrixView centroids, bool inner_product,
                       std::uint32_t* labels, float* scores) {
  ANNBENCH_CHECK(centroids.rows > 0, "nearest_centroids: no centroids");
  ANNBENCH_CHECK(data.dim == centroids.dim,
                 "nearest_centroids: data has dimension {}, centroids {}", data.dim, centroids.dim);
  const std::size_t k = centroids.rows, dim = data.dim;
  const auto& kernels = distance_kernels();
  std::vector<float> bias(k, 0.0f);
  if (!inner_product) {
    for (std::size_t c = 0; c < k; ++c)
      bias[c] = kernels.inner_product(centroids.row(c), centroids.row(c), dim);
  }
  const auto blocks = static_cast<std::int64_t>((data.rows + kRowBlock - 1) / kRowBlock);
  const std::size_t columns = std::min(k, kColumnBlock);
  const bool parallel = data.rows * k * dim >= kParallelWork;
#pragma omp parallel if (parallel)
  {
    std::vector<float> products(kRowBlock * columns);
    std::vector<float> best(kRowBlock);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::size_t first = static_cast<std::size_t>(b) * kRowBlock;
      const std::size_t rows = std::min(kRowBlock, data.rows - first);
      std::fill_n(best.begin(), rows, std::numeric_limits<float>::infinity());
      std::fill_n(labels + first, rows, 0u);
      for (std::size_t c0 = 0; c0 < k; c0 += columns) {
        const std::size_t nc = std::min(columns, k - c0);
        block_kernels().inner_products(data.row(first), rows, centroids.row(c0), nc, dim,
                                       products.data(), nc);
        for (std::size_t i = 0; i < rows; ++i) {
          const float* p = products.data() + i * nc;
          float b_score = best[i];
          std::uint32_t b_label = labels[first + i];
          for (std::size_t j = 0; j < nc; ++j) {
            const float s = inner_product ? -p[j] : bias[c0 + j] - 2.0f * p[j];
            if (s < b_score) {
              b_score = s;
              b_label = static_cast<std::uint32_t>(c0 + j);
            }
          }
          best[i] = b_score;
          labels[first + i] = b_label;
        }
      }
      if (scores == nullptr) continue;
      // Recomputed directly: |x|^2 + |c|^2 - 2 <x, c> loses the digits of small distances.
      for (std::size_t i = 0; i < rows; ++i) {
        const float* x = data.row(first + i);
        const float* c = centroids.row(labels[first + i]);
        scores[first + i] =
            inner_product ? kernels.inner_product(x, c, dim) : kernels.l2_squared(x, c, dim);
      }
    }
  }
}

KMeansResult kmeans(MatrixView data, const KMeansParams& params) {
  ANNBENCH_CHECK(params.k > 0, "kmeans: k must be positive");
  ANNBENCH_CHECK(params.k <= data.rows,
                 "kmeans: {} centroids requested but only {} training vectors given", params.k,
                 data.rows);
  check_finite(data, "kmeans training set");
  std::mt19937_64 rng(params.seed);
  const std::size_t sample_size =
      std::max(params.k, params.max_sample != 0 ? params.max_sample : 256 * params.k);
  const FloatMatrix sample = sample_rows(data, std::min(sample_size, data.rows), rng);
  const MatrixView view = sample.view();

  KMeansResult result;
  result.centroids = FloatMatrix(params.k, data.dim);
  if (params.init == KMeansInit::PlusPlus) {
    init_plus_plus(view, params.k, rng, result.centroids);
  } else {
    init_random(view, params.k, rng, result.centroids);
  }

  std::vector<std::uint32_t> labels(view.rows);
  std::vector<float> distances(view.rows);
  nearest_centroids(view, result.centroids.view(), false, labels.data(), distances.data());
  result.objective.push_back(mean_of(distances));
  for (std::size_t it = 0; it < params.iterations; ++it) {
    const std::vector<std::size_t> sizes = update_means(view, labels, result.centroids);
    result.repaired += repair_empty(view, labels, distances, sizes, result.centroids);
    nearest_centroids(view, result.centroids.view(), false, labels.data(), distances.data());
    result.objective.push_back(mean_of(distances));
  }
  // The last assignment may have emptied a cluster (a repaired centroid took all its points).
  for (int round = 0; round < kFinalRepairRounds; ++round) {
    std::vector<std::size_t> sizes(params.k, 0);
    for (const std::uint32_t label : labels) ++sizes[label];
    if (std::find(sizes.begin(), sizes.end(), 0u) == sizes.end()) break;
    const std::size_t repaired = repair_empty(view, labels, distances, sizes, result.centroids);
    if (repaired == 0) break;
    result.repaired += repaired;
    nearest_centroids(view, result.centroids.view(), false, labels.data(), distances.data());
    result.objective.back() = mean_of(distances);
  }
  return result;
}

}  // namespace annbench
