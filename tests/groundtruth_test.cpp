// Ground truth (and the ExactKnn scan under it) against the naive O(nq n d) reference: same ids
// in the same order, same float distances, for all metrics, with ties, duplicates and k > n.

#include "naive_knn.h"

#include <annbench/common/exact_knn.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::naive_knn;
using testing::random_matrix;
using testing::tied_matrix;

const Metric kMetrics[] = {Metric::L2, Metric::Angular, Metric::InnerProduct};

void expect_matches_reference(const FloatMatrix& train, const FloatMatrix& test, Metric metric,
                              std::size_t k, const std::string& what) {
  SCOPED_TRACE(what + " " + std::string(metric_name(metric)));
  const GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, k);
  const std::size_t kept = std::min(k, train.rows());
  ASSERT_EQ(truth.neighbors.rows(), test.rows());
  ASSERT_EQ(truth.neighbors.cols(), kept);
  ASSERT_EQ(truth.distances.rows(), test.rows());
  ASSERT_EQ(truth.distances.cols(), kept);
  const std::vector<Neighbor> expected = naive_knn(train.view(), test.view(), metric, kept);
  for (std::size_t q = 0; q < test.rows(); ++q) {
    for (std::size_t j = 0; j < kept; ++j) {
      const Neighbor& e = expected[q * kept + j];
      ASSERT_EQ(truth.neighbors(q, j), e.id) << "query " << q << " rank " << j;
      // Bit-for-bit: both are exact_distance rounded once to float.
      ASSERT_EQ(truth.distances(q, j), e.distance) << "query " << q << " rank " << j;
    }
  }
}

TEST(GroundTruth, MatchesNaiveReferenceOnRandomData) {
  const FloatMatrix train = random_matrix(700, 19, 1);
  const FloatMatrix test = random_matrix(37, 19, 2);
  for (const Metric metric : kMetrics) expect_matches_reference(train, test, metric, 10, "random");
}

TEST(GroundTruth, MatchesOnImageLikeData) {
  // fashion-mnist's shape in miniature: 784 dimensions, values 0..255 (long vectors, so
  // |q|^2 + |x|^2 - 2 q.x cancels heavily and the exact re-ranking matters).
  const FloatMatrix train = random_matrix(1500, 784, 3, 128.0f, 60.0f);
  const FloatMatrix test = random_matrix(20, 784, 4, 128.0f, 60.0f);
  for (const Metric metric : kMetrics)
    expect_matches_reference(train, test, metric, 100, "image-like");
}

TEST(GroundTruth, DuplicatesAndTiesBreakBySmallerId) {
  // 400 rows from 12 distinct vectors: each distance is shared by about 33 ids, more than
  // the candidate margin, so this also drives the rescan path.
  const FloatMatrix train = tied_matrix(400, 9, 12, 5);
  FloatMatrix test = tied_matrix(30, 9, 12, 5);  // same prototypes: exact copies of train rows
  for (const Metric metric : kMetrics) {
    expect_matches_reference(train, test, metric, 50, "ties");
    expect_matches_reference(train, test, metric, 7, "ties small k");
  }
}

TEST(GroundTruth, NearDuplicatesFarFromOrigin) {
  // Points 1e-3 apart around a centre of norm ~4000: |q|^2 + |x|^2 - 2 q.x cannot tell them
  // apart in float, so only the exact re-ranking (and the rescan, as the candidate margin
  // cannot hold them all) gets the order right.
  FloatMatrix train = random_matrix(300, 16, 19, 0.0f, 1e-3f);
  FloatMatrix test = random_matrix(6, 16, 20, 0.0f, 1e-3f);
  for (FloatMatrix* m : {&train, &test}) {
    for (std::size_t r = 0; r < m->rows(); ++r) {
      for (std::size_t c = 0; c < 16; ++c) (*m)(r, c) += 1000.0f + static_cast<float>(c);
    }
  }
  for (const Metric metric : kMetrics)
    expect_matches_reference(train, test, metric, 30, "near duplicates");
}

TEST(GroundTruth, ZeroVectorsUnderAngular) {
  FloatMatrix train = random_matrix(60, 8, 6);
  FloatMatrix test = random_matrix(5, 8, 7);
  for (std::size_t i = 0; i < 60; i += 7) std::fill_n(train.row(i), 8, 0.0f);
  std::fill_n(test.row(2), 8, 0.0f);
  expect_matches_reference(train, test, Metric::Angular, 20, "zero vectors");
}

TEST(GroundTruth, KLargerThanTrainIsClamped) {
  const FloatMatrix train = random_matrix(7, 5, 8);
  const FloatMatrix test = random_matrix(4, 5, 9);
  for (const Metric metric : kMetrics) expect_matches_reference(train, test, metric, 10, "k > n");
}

TEST(GroundTruth, EmptyInputs) {
  const FloatMatrix train = random_matrix(10, 4, 10);
  const FloatMatrix no_queries(0, 4);
  const GroundTruth none = compute_ground_truth(train.view(), no_queries.view(), Metric::L2, 5);
  EXPECT_EQ(none.neighbors.rows(), 0u);
  const FloatMatrix no_train(0, 4);
  const FloatMatrix test = random_matrix(3, 4, 11);
  const GroundTruth empty = compute_ground_truth(no_train.view(), test.view(), Metric::L2, 5);
  EXPECT_EQ(empty.neighbors.rows(), 3u);
  EXPECT_EQ(empty.neighbors.cols(), 0u);
}

TEST(GroundTruth, DimensionMismatchIsAnError) {
  const FloatMatrix train = random_matrix(10, 4, 12);
  const FloatMatrix test = random_matrix(3, 5, 13);
  EXPECT_THROW(compute_ground_truth(train.view(), test.view(), Metric::L2, 5), Error);
}

TEST(GroundTruth, SameResultWithAnyThreadCount) {
  const FloatMatrix train = random_matrix(900, 33, 14);
  const FloatMatrix test = random_matrix(300, 33, 15);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const GroundTruth one = compute_ground_truth(train.view(), test.view(), Metric::L2, 15);
  omp_set_num_threads(3);
  const GroundTruth three = compute_ground_truth(train.view(), test.view(), Metric::L2, 15);
  omp_set_num_threads(threads);
  ASSERT_EQ(one.neighbors.size(), three.neighbors.size());
  for (std::size_t i = 0; i < one.neighbors.size(); ++i) {
    ASSERT_EQ(one.neighbors.data()[i], three.neighbors.data()[i]);
    ASSERT_EQ(one.distances.data()[i], three.distances.data()[i]);
  }
}

TEST(ExactKnn, SingleAndBatchAgreeAndRescanOnHeavyTies) {
  const FloatMatrix train = tied_matrix(500, 6, 10, 16);
  const FloatMatrix test = tied_matrix(20, 6, 10, 16);
  for (const Metric metric : kMetrics) {
    SCOPED_TRACE(metric_name(metric));
    const ExactKnn knn(train.view(), metric);
    const std::size_t k = 40;
    const std::vector<Neighbor> expected = naive_knn(train.view(), test.view(), metric, k);
    std::vector<Neighbor> batch(test.rows() * k);
    knn.search_batch(test.view(), k, batch.data());
    for (std::size_t q = 0; q < test.rows(); ++q) {
      std::vector<Neighbor> single(k);
      knn.search(test.row(q), k, single.data());
      for (std::size_t j = 0; j < k; ++j) {
        ASSERT_EQ(single[j].id, expected[q * k + j].id) << q << "," << j;
        ASSERT_EQ(batch[q * k + j].id, expected[q * k + j].id) << q << "," << j;
        ASSERT_EQ(batch[q * k + j].distance, expected[q * k + j].distance);
      }
    }
    // About 50 copies of each row: the 56 candidates cannot prove the cut, so queries rescan.
    EXPECT_GT(knn.rescans(), 0u);
  }
}

TEST(ExactKnn, NoRescanOnWellSeparatedData) {
  const FloatMatrix train = random_matrix(2000, 32, 17);
  const FloatMatrix test = random_matrix(50, 32, 18);
  const ExactKnn knn(train.view(), Metric::L2);
  std::vector<Neighbor> out(50 * 10);
  knn.search_batch(test.view(), 10, out.data());
  EXPECT_EQ(knn.rescans(), 0u);
  EXPECT_EQ(knn.owned_bytes(), 2000 * sizeof(float));  // the squared norms
}

}  // namespace
}  // namespace annbench
