// Ground truth (and the ExactKnn scan under it) against the naive O(nq n d) reference: same ids
// in the same order, same float distances, for all metrics, with ties, duplicates and k > n.

#include "naive_knn.h"

#include <annbench/common/distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
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

// ---------------------------------------------------------------------------------------------
// Filtered ground truth against a naive scan that tests every row's labels and attribute.

struct FilterCase {
  bool labels = false;
  bool range = false;
};

// 300 rows with random labels (label 7 on no row), a uniform attribute 0..100, and 150 queries:
// some without a label condition, one naming label 7 (no row passes), one with a range no row
// passes, the others selective enough that fewer than k = 50 rows often pass.
enum class Data { Random, Ties, ImageLike, NearDuplicates };

Dataset filtered_dataset(Metric metric, FilterCase kind, Data data) {
  Dataset dataset;
  dataset.path = "memory.hdf5";
  dataset.metric = metric;
  constexpr std::size_t kRows = 300;
  constexpr std::size_t kQueries = 150;  // several blocks of queries per thread
  switch (data) {
    case Data::Random:
      dataset.train = random_matrix(kRows, 9, 11);
      dataset.test = random_matrix(kQueries, 9, 12);
      break;
    case Data::Ties:
      dataset.train = tied_matrix(kRows, 9, 12, 5);
      dataset.test = tied_matrix(kQueries, 9, 12, 6);
      break;
    case Data::ImageLike:  // long vectors far from the origin: float scores cancel heavily
      dataset.train = random_matrix(kRows, 784, 13, 128.0f, 60.0f);
      dataset.test = random_matrix(kQueries, 784, 14, 128.0f, 60.0f);
      break;
    case Data::NearDuplicates:  // 1e-3 apart at norm ~4000: only exact distances separate them
      dataset.train = random_matrix(kRows, 16, 15, 0.0f, 1e-3f);
      dataset.test = random_matrix(kQueries, 16, 16, 0.0f, 1e-3f);
      for (FloatMatrix* m : {&dataset.train, &dataset.test}) {
        for (std::size_t r = 0; r < m->rows(); ++r)
          for (std::size_t c = 0; c < 16; ++c) (*m)(r, c) += 1000.0f + static_cast<float>(c);
      }
      break;
  }
  std::mt19937 rng(13);
  FilterMetadata meta;
  meta.label_count = 8;
  LabelCsr train_labels;
  train_labels.indptr.push_back(0);
  for (std::size_t r = 0; r < kRows; ++r) {
    for (std::uint32_t label = 0; label < 7; ++label)
      if (std::uniform_real_distribution<float>(0, 1)(rng) < 0.35f)
        train_labels.labels.push_back(label);
    std::shuffle(train_labels.labels.begin() + train_labels.indptr.back(),
                 train_labels.labels.end(), rng);
    train_labels.indptr.push_back(static_cast<std::int64_t>(train_labels.labels.size()));
  }
  meta.train_labels = std::move(train_labels);
  for (std::size_t r = 0; r < kRows; ++r)
    meta.train_attr.push_back(std::uniform_real_distribution<float>(0, 100)(rng));
  if (kind.labels) {
    LabelCsr filters;
    filters.indptr.push_back(0);
    for (std::size_t q = 0; q < kQueries; ++q) {
      if (q == 3) {
        filters.labels.push_back(7);
      } else if (q % 5 != 0) {
        filters.labels.push_back(static_cast<std::uint32_t>(q % 7));
        if (q % 2 == 0) filters.labels.push_back(static_cast<std::uint32_t>((q + 3) % 7));
      }
      filters.indptr.push_back(static_cast<std::int64_t>(filters.labels.size()));
    }
    meta.test_filters = std::move(filters);
  }
  if (kind.range) {
    meta.test_attr_range = FloatMatrix(kQueries, 2);
    for (std::size_t q = 0; q < kQueries; ++q) {
      const float lo = std::uniform_real_distribution<float>(0, 70)(rng);
      meta.test_attr_range(q, 0) = q == 4 ? 200.f : lo;
      meta.test_attr_range(q, 1) = q == 4 ? 300.f : lo + static_cast<float>(q % 4 + 1) * 8.f;
    }
    // A boundary that equals a row's value exactly: inclusive.
    meta.test_attr_range(6, 0) = meta.train_attr[17];
    meta.test_attr_range(6, 1) = meta.train_attr[17];
  }
  dataset.filters = std::move(meta);
  return dataset;
}

bool naive_passes(const FilterMetadata& meta, std::size_t q, std::size_t row) {
  if (meta.test_filters) {
    const auto labels = meta.train_labels->row(row);
    for (const std::uint32_t wanted : meta.test_filters->row(q))
      if (std::find(labels.begin(), labels.end(), wanted) == labels.end()) return false;
  }
  if (!meta.test_attr_range.empty()) {
    const float value = meta.train_attr[row];
    if (value < meta.test_attr_range(q, 0) || value > meta.test_attr_range(q, 1)) return false;
  }
  return true;
}

void expect_filtered_matches_naive(const Dataset& dataset, std::size_t k, const std::string& what) {
  SCOPED_TRACE(what + " " + std::string(metric_name(dataset.metric)) + " k " + std::to_string(k));
  std::vector<std::size_t> passing;
  const GroundTruth truth = compute_filtered_ground_truth(dataset, k, &passing);
  const std::size_t kept = std::min(k, dataset.train.rows());
  ASSERT_EQ(truth.neighbors.rows(), dataset.test.rows());
  ASSERT_EQ(truth.neighbors.cols(), kept);
  ASSERT_EQ(truth.distances.cols(), kept);
  ASSERT_EQ(passing.size(), dataset.test.rows());
  const FilterMetadata& meta = *dataset.filters;
  std::size_t padded_queries = 0;
  for (std::size_t q = 0; q < dataset.test.rows(); ++q) {
    std::vector<std::pair<double, std::int64_t>> all;
    for (std::size_t r = 0; r < dataset.train.rows(); ++r) {
      if (!naive_passes(meta, q, r)) continue;
      all.emplace_back(
          exact_distance(dataset.metric, dataset.test.row(q), dataset.train.row(r), dataset.dim()),
          static_cast<std::int64_t>(r));
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(passing[q], all.size()) << "query " << q;
    padded_queries += all.size() < kept;
    for (std::size_t j = 0; j < kept; ++j) {
      if (j < all.size()) {
        ASSERT_EQ(truth.neighbors(q, j), all[j].second) << "query " << q << " rank " << j;
        ASSERT_EQ(truth.distances(q, j), static_cast<float>(all[j].first))
            << "query " << q << " rank " << j;
      } else {
        ASSERT_EQ(truth.neighbors(q, j), -1) << "query " << q << " rank " << j;
        ASSERT_EQ(truth.distances(q, j), std::numeric_limits<float>::infinity());
      }
    }
  }
  // The cases must really exercise padding (fewer passing rows than k).
  EXPECT_GT(padded_queries, 0u);
}

TEST(FilteredGroundTruth, MatchesNaiveScan) {
  for (const Metric metric : kMetrics) {
    for (const FilterCase kind :
         {FilterCase{true, false}, FilterCase{false, true}, FilterCase{true, true}}) {
      const std::string what = kind.labels && kind.range ? "labels+range"
                               : kind.labels             ? "labels"
                                                         : "range";
      const Dataset dataset = filtered_dataset(metric, kind, Data::Random);
      EXPECT_EQ(dataset.filters->kind(), what);
      expect_filtered_matches_naive(dataset, 50, what);
      expect_filtered_matches_naive(dataset, 1, what);
      expect_filtered_matches_naive(dataset, 1000, what + " k > rows");
      expect_filtered_matches_naive(filtered_dataset(metric, kind, Data::Ties), 20, what + " ties");
      expect_filtered_matches_naive(filtered_dataset(metric, kind, Data::ImageLike), 10,
                                    what + " image-like");
      expect_filtered_matches_naive(filtered_dataset(metric, kind, Data::NearDuplicates), 10,
                                    what + " near duplicates");
    }
  }
}

TEST(FilteredGroundTruth, FilterNoRowPassesGivesAllPadding) {
  const Dataset dataset = filtered_dataset(Metric::L2, {true, true}, Data::Random);
  const GroundTruth truth = compute_filtered_ground_truth(dataset, 10);
  for (const std::size_t q : {3u, 4u}) {  // label 7 (on no row), range [200, 300]
    for (std::size_t j = 0; j < 10; ++j) {
      EXPECT_EQ(truth.neighbors(q, j), -1);
      EXPECT_EQ(truth.distances(q, j), std::numeric_limits<float>::infinity());
    }
  }
}

TEST(FilteredGroundTruth, UnfilteredQueriesMatchPlainGroundTruth) {
  // Queries 0, 5, 10, ... carry no label condition: their filtered truth is the plain one.
  const Dataset dataset = filtered_dataset(Metric::Angular, {true, false}, Data::Random);
  const GroundTruth filtered = compute_filtered_ground_truth(dataset, 30);
  const GroundTruth plain =
      compute_ground_truth(dataset.train.view(), dataset.test.view(), Metric::Angular, 30);
  for (std::size_t q = 0; q < dataset.test.rows(); q += 5) {
    for (std::size_t j = 0; j < 30; ++j) {
      EXPECT_EQ(filtered.neighbors(q, j), plain.neighbors(q, j));
      EXPECT_EQ(filtered.distances(q, j), plain.distances(q, j));
    }
  }
}

TEST(FilteredGroundTruth, SameResultWithAnyThreadCount) {
  const Dataset dataset = filtered_dataset(Metric::InnerProduct, {true, true}, Data::Ties);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const GroundTruth one = compute_filtered_ground_truth(dataset, 15);
  omp_set_num_threads(3);
  const GroundTruth three = compute_filtered_ground_truth(dataset, 15);
  omp_set_num_threads(saved);
  EXPECT_EQ(std::memcmp(one.neighbors.data(), three.neighbors.data(), one.neighbors.bytes()), 0);
  EXPECT_EQ(std::memcmp(one.distances.data(), three.distances.data(), one.distances.bytes()), 0);
}

TEST(FilteredGroundTruth, Errors) {
  Dataset dataset = filtered_dataset(Metric::L2, {true, false}, Data::Random);
  dataset.filters->train_labels.reset();
  try {
    compute_filtered_ground_truth(dataset, 5);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), ::testing::AllOf(::testing::HasSubstr("memory.hdf5"),
                                               ::testing::HasSubstr("need labels")));
  }
  dataset.filters.reset();
  EXPECT_THROW(compute_filtered_ground_truth(dataset, 5), Error);
  // Ranges without a train attribute.
  Dataset no_attr = filtered_dataset(Metric::L2, {false, true}, Data::Random);
  no_attr.filters->train_attr.clear();
  EXPECT_THROW(compute_filtered_ground_truth(no_attr, 5), Error);
}

}  // namespace
}  // namespace annbench
