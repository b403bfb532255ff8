#include "metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace annbench {
namespace {

FloatMatrix rows(std::vector<std::vector<float>> values) {
  FloatMatrix m(values.size(), values.front().size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::size_t j = 0; j < values[i].size(); ++j) m(i, j) = values[i][j];
  }
  return m;
}

IdMatrix ids(std::vector<std::vector<std::int32_t>> values) {
  IdMatrix m(values.size(), values.front().size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::size_t j = 0; j < values[i].size(); ++j) m(i, j) = values[i][j];
  }
  return m;
}

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(Metrics, RecallCountsDistancesWithinKthPlusEpsilon) {
  // True distances (K = 4 stored), k = 2: threshold = 2 + 1e-3.
  const FloatMatrix truth = rows({{1, 2, 3, 4}});
  // A tie at the boundary (2.0009) counts; 2.002 does not.
  EXPECT_DOUBLE_EQ(compute_quality(truth, ids({{7, 9}}), rows({{1, 2.0009f}}), 2).recall, 1.0);
  EXPECT_DOUBLE_EQ(compute_quality(truth, ids({{7, 9}}), rows({{1, 2.002f}}), 2).recall, 0.5);
  // A different id at the same distance as a true neighbour is a hit (ties are interchangeable).
  EXPECT_DOUBLE_EQ(compute_quality(truth, ids({{100, 200}}), rows({{2, 2}}), 2).recall, 1.0);
}

TEST(Metrics, EpsilonRecallsScaleTheThreshold) {
  const FloatMatrix truth = rows({{10, 10}});
  // k = 1: thresholds 10.001 (knn), 10.1 (epsilon), 11 (large epsilon).
  const auto q1 = compute_quality(truth, ids({{1}}), rows({{10.05f}}), 1);
  EXPECT_DOUBLE_EQ(q1.recall, 0.0);
  EXPECT_DOUBLE_EQ(q1.epsilon_recall, 1.0);
  EXPECT_DOUBLE_EQ(q1.largeepsilon_recall, 1.0);
  const auto q2 = compute_quality(truth, ids({{1}}), rows({{10.5f}}), 1);
  EXPECT_DOUBLE_EQ(q2.epsilon_recall, 0.0);
  EXPECT_DOUBLE_EQ(q2.largeepsilon_recall, 1.0);
}

TEST(Metrics, MissingResultsAndDuplicatesScoreAsMisses) {
  const FloatMatrix truth = rows({{1, 2, 3}, {1, 2, 3}});
  const auto quality =
      compute_quality(truth, ids({{5, 5, -1}, {1, 2, 3}}), rows({{1, 1, kInf}, {1, 2, 3}}), 3);
  // Query 0: one hit (the repeat of id 5 and the padding miss), query 1: three hits.
  EXPECT_DOUBLE_EQ(quality.recall, 4.0 / 6.0);
  EXPECT_EQ(quality.duplicate_ids, 1u);
  EXPECT_FLOAT_EQ(quality.per_query_recall[0], 1.0f / 3.0f);
  EXPECT_TRUE(std::isinf(quality.rel));
}

TEST(Metrics, RelUsesFirstKTrueDistances) {
  const FloatMatrix truth = rows({{1, 1, 100, 100}});
  // Sum returned 3, sum of the first k=2 true distances 2 (not 202, ANN-Benchmarks' k<100 bug).
  EXPECT_DOUBLE_EQ(compute_quality(truth, ids({{1, 2}}), rows({{1, 2}}), 2).rel, 1.5);
}

TEST(Metrics, LatencyPercentilesInterpolateLikeNumpy) {
  std::vector<double> seconds;
  for (int i = 1; i <= 100; ++i) seconds.push_back(i * 1e-3);  // 1..100 ms, shuffled below
  std::reverse(seconds.begin(), seconds.end());
  const LatencyStats stats = latency_stats(seconds);
  EXPECT_NEAR(stats.mean_s, 0.0505, 1e-12);
  EXPECT_NEAR(stats.p50_ms, 50.5, 1e-9);  // numpy.percentile(range(1,101), 50)
  EXPECT_NEAR(stats.p95_ms, 95.05, 1e-9);
  EXPECT_NEAR(stats.p99_ms, 99.01, 1e-9);
  EXPECT_NEAR(stats.p999_ms, 99.901, 1e-9);
}

TEST(Metrics, SlugFollowsAnnBenchmarks) {
  EXPECT_EQ(run_slug(R"({"M":16,"ef_construction":200})", R"({"ef":10})"),
            "M_16_ef_construction_200_ef_10");
  EXPECT_EQ(run_slug("{}", "{}"), "default");
  EXPECT_EQ(run_slug(R"({"w":0.5})", "{}"), "w_0_5");
  // Negative values keep their sign, so -1 and 1 name different runs.
  EXPECT_EQ(run_slug(R"({"n_trees":10})", R"({"search_k":-1})"), "n_trees_10_search_k_-1");
  EXPECT_NE(run_slug("{}", R"({"search_k":-1})"), run_slug("{}", R"({"search_k":1})"));
}

}  // namespace
}  // namespace annbench
