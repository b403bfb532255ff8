// k-means (algorithms/common): objective never increases, empty clusters are repaired, the
// result is reproducible for a seed whatever the thread count, assignments equal a naive scan,
// and bad input fails with a clear error.

#include "naive_knn.h"

#include <annbench/common/distance.h>
#include <annbench/common/kmeans.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

namespace annbench {
namespace {

using testing::random_matrix;
using testing::tied_matrix;

// Gaussian blobs around `clusters` random centres, so k-means has structure to find.
FloatMatrix blobs(std::size_t rows, std::size_t dim, std::size_t clusters, std::uint32_t seed) {
  const FloatMatrix centres = random_matrix(clusters, dim, seed, 0.0f, 5.0f);
  FloatMatrix m = random_matrix(rows, dim, seed + 1);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < dim; ++j) m(i, j) += centres(i % clusters, j);
  }
  return m;
}

std::vector<std::size_t> cluster_sizes(MatrixView data, MatrixView centroids) {
  std::vector<std::uint32_t> labels(data.rows);
  nearest_centroids(data, centroids, false, labels.data());
  std::vector<std::size_t> sizes(centroids.rows, 0);
  for (const std::uint32_t l : labels) ++sizes[l];
  return sizes;
}

TEST(KMeans, ObjectiveNeverIncreases) {
  const FloatMatrix data = blobs(3000, 24, 20, 1);
  for (const KMeansInit init : {KMeansInit::Random, KMeansInit::PlusPlus}) {
    KMeansParams params;
    params.k = 32;
    params.iterations = 15;
    params.init = init;
    const KMeansResult result = kmeans(data.view(), params);
    ASSERT_EQ(result.objective.size(), 16u);
    for (std::size_t i = 1; i < result.objective.size(); ++i) {
      // Float rounding of the assignment may flip a near-tie: allow a relative 1e-6.
      EXPECT_LE(result.objective[i], result.objective[i - 1] * (1 + 1e-6)) << "iteration " << i;
    }
    EXPECT_LT(result.objective.back(), result.objective.front());
    // The recorded objective is the mean squared distance to the nearest returned centroid.
    std::vector<std::uint32_t> labels(data.rows());
    std::vector<float> scores(data.rows());
    nearest_centroids(data.view(), result.centroids.view(), false, labels.data(), scores.data());
    double sum = 0.0;
    for (const float s : scores) sum += s;
    EXPECT_NEAR(sum / 3000.0, result.objective.back(), 1e-4 * result.objective.back());
  }
}

TEST(KMeans, RepairLeavesNoEmptyClusterOnDuplicates) {
  // 400 rows drawn from 40 distinct points: random init picks duplicates as centroids, so
  // clusters start empty, and only repair can fill all 40.
  const FloatMatrix data = tied_matrix(400, 8, 40, 3);
  KMeansParams params;
  params.k = 40;
  params.iterations = 10;
  params.init = KMeansInit::Random;
  const KMeansResult result = kmeans(data.view(), params);
  EXPECT_GT(result.repaired, 0u);
  const std::vector<std::size_t> sizes = cluster_sizes(data.view(), result.centroids.view());
  EXPECT_THAT(sizes, ::testing::Each(::testing::Gt(0u)));
  // Every distinct point has its own centroid: the objective reaches 0.
  EXPECT_NEAR(result.objective.back(), 0.0, 1e-6);
}

TEST(KMeans, DeterministicForASeedWhateverTheThreads) {
  const FloatMatrix data = blobs(2000, 16, 10, 5);
  KMeansParams params;
  params.k = 24;
  params.max_sample = 1500;  // sampling is seeded too
  params.seed = 77;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const KMeansResult one = kmeans(data.view(), params);
  omp_set_num_threads(std::max(2, threads));
  const KMeansResult many = kmeans(data.view(), params);
  omp_set_num_threads(threads);
  ASSERT_EQ(one.centroids.size(), many.centroids.size());
  for (std::size_t i = 0; i < one.centroids.size(); ++i)
    ASSERT_EQ(one.centroids.data()[i], many.centroids.data()[i]) << i;
  EXPECT_EQ(one.objective, many.objective);
  params.seed = 78;
  const KMeansResult other = kmeans(data.view(), params);
  EXPECT_NE(other.objective, one.objective);
}

TEST(KMeans, NearestCentroidsEqualsNaiveScan) {
  const FloatMatrix data = random_matrix(300, 33, 7);
  const FloatMatrix centroids = random_matrix(50, 33, 8);
  for (const bool inner_product : {false, true}) {
    std::vector<std::uint32_t> labels(300);
    std::vector<float> scores(300);
    nearest_centroids(data.view(), centroids.view(), inner_product, labels.data(), scores.data());
    for (std::size_t i = 0; i < 300; ++i) {
      double best = std::numeric_limits<double>::infinity();
      std::uint32_t label = 0;
      for (std::uint32_t c = 0; c < 50; ++c) {
        const Metric metric = inner_product ? Metric::InnerProduct : Metric::L2;
        double d = exact_distance(metric, data.row(i), centroids.row(c), 33);
        if (!inner_product) d *= d;
        if (d < best) best = d, label = c;
      }
      ASSERT_EQ(labels[i], label) << i;
      EXPECT_NEAR(scores[i], inner_product ? -best : best, 1e-3 * std::abs(best) + 1e-3);
    }
  }
}

TEST(KMeans, RejectsBadInput) {
  const FloatMatrix data = random_matrix(10, 4, 9);
  KMeansParams params;
  params.k = 11;
  EXPECT_THAT([&] { kmeans(data.view(), params); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("11 centroids")));
  params.k = 0;
  EXPECT_THROW(kmeans(data.view(), params), Error);
  FloatMatrix nan = random_matrix(10, 4, 9);
  nan(6, 2) = std::numeric_limits<float>::quiet_NaN();
  params.k = 3;
  EXPECT_THAT([&] { kmeans(nan.view(), params); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("vector 6")));
}

}  // namespace
}  // namespace annbench
