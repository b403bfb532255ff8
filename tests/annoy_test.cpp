// The annoy module through the plugin loader: exact recall at generous budgets against brute
// force ground truth, recall growing with search_k, seed determinism across thread counts,
// parameter edge cases (n_trees 0, search_k below k, k > n, zero vectors under angular).

#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::random_matrix;

const ModuleInfo& annoy_info() {
  static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("annoy").info;
}

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, std::int64_t n_trees,
                                  std::int64_t seed = 7) {
  const ModuleInfo& info = annoy_info();
  Params given;
  given.set("n_trees", n_trees);
  given.set("seed", seed);
  return info.create(metric, dim, resolve_params(given, info.build_params, "annoy", "build"));
}

void set_search_k(Index& index, std::int64_t search_k) {
  Params given;
  given.set("search_k", search_k);
  index.set_search_params(resolve_params(given, annoy_info().search_params, "annoy", "search"));
}

std::vector<Neighbor> search_all(const Index& index, const FloatMatrix& queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows() * k);
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    index.search(queries.view().row(q), k, out.data() + q * k);
  }
  return out;
}

double recall(const std::vector<Neighbor>& got, const GroundTruth& truth, std::size_t k) {
  const std::size_t rows = truth.neighbors.rows();
  std::size_t hits = 0;
  for (std::size_t q = 0; q < rows; ++q) {
    std::set<std::int64_t> expected;
    for (std::size_t i = 0; i < k; ++i) expected.insert(truth.neighbors.data()[q * k + i]);
    for (std::size_t i = 0; i < k; ++i) hits += expected.count(got[q * k + i].id);
  }
  return static_cast<double>(hits) / static_cast<double>(rows * k);
}

TEST(AnnoyModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = annoy_info();
  EXPECT_STREQ(info.name, "annoy");
  ASSERT_EQ(info.metrics.size(), 2u);  // euclidean and angular, no dot
  Params zero_trees;
  zero_trees.set("n_trees", std::int64_t{0});
  EXPECT_THROW(resolve_params(zero_trees, info.build_params, "annoy", "build"), Error);
  const Params defaults = resolve_params({}, info.build_params, "annoy", "build");
  EXPECT_THROW(info.create(Metric::InnerProduct, 8, defaults), Error);
}

TEST(AnnoyModule, ExactAtGenerousBudgetForBothMetrics) {
  const std::size_t n = 2000;
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(n, 16, 31);
  const FloatMatrix queries = random_matrix(40, 16, 32);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 16, 20);
    index->build(base.view());
    set_search_k(*index, static_cast<std::int64_t>(n * 20));
    const GroundTruth truth = compute_ground_truth(base.view(), queries.view(), metric, k);
    const auto got = search_all(*index, queries, k);
    EXPECT_EQ(recall(got, truth, k), 1.0) << metric_name(metric);
    // Every id was re-ranked: the full budget covers the whole base.
    EXPECT_EQ(*index->distance_count(), queries.rows() * n) << metric_name(metric);
    EXPECT_GE(index->memory_bytes(), n * 16 * sizeof(float));
  }
}

TEST(AnnoyModule, RecallGrowsWithSearchK) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(3000, 24, 41);
  const FloatMatrix queries = random_matrix(60, 24, 42);
  const GroundTruth truth = compute_ground_truth(base.view(), queries.view(), Metric::L2, k);
  auto index = make_index(Metric::L2, 24, 10);
  index->build(base.view());
  double previous = 0.0;
  std::vector<double> recalls;
  for (const std::int64_t search_k : {20, 100, 300, 1000, 3000}) {
    set_search_k(*index, search_k);
    const double r = recall(search_all(*index, queries, k), truth, k);
    EXPECT_GE(r, previous - 0.01) << "search_k " << search_k;
    previous = r;
    recalls.push_back(r);
  }
  EXPECT_GT(recalls.back(), recalls.front() + 0.2);  // the budget really matters
  EXPECT_GT(recalls.back(), 0.9);
}

TEST(AnnoyModule, DeterministicForFixedSeedAcrossThreadCounts) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(1500, 12, 51);
  const FloatMatrix queries = random_matrix(30, 12, 52);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<Neighbor>> runs;
  for (const int t : {1, 1, 2}) {
    omp_set_num_threads(t);
    auto index = make_index(Metric::Angular, 12, 8, 99);
    index->build(base.view());
    set_search_k(*index, 200);
    runs.push_back(search_all(*index, queries, k));
  }
  omp_set_num_threads(threads);
  for (std::size_t r = 1; r < runs.size(); ++r) {
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      ASSERT_EQ(runs[r][i].id, runs[0][i].id) << "run " << r << " slot " << i;
      ASSERT_EQ(runs[r][i].distance, runs[0][i].distance) << "run " << r << " slot " << i;
    }
  }
  // A different seed gives a different forest (and, at this small budget, other results).
  auto other = make_index(Metric::Angular, 12, 8, 100);
  other->build(base.view());
  set_search_k(*other, 200);
  const auto got = search_all(*other, queries, k);
  bool differs = false;
  for (std::size_t i = 0; i < got.size(); ++i) differs |= got[i].id != runs[0][i].id;
  EXPECT_TRUE(differs);
}

TEST(AnnoyModule, SearchKBelowKStillFillsK) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(500, 8, 61);
  const FloatMatrix queries = random_matrix(10, 8, 62);
  auto index = make_index(Metric::L2, 8, 3);
  index->build(base.view());
  for (const std::int64_t search_k : {1, -1}) {
    set_search_k(*index, search_k);
    const auto got = search_all(*index, queries, k);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_GE(got[i].id, 0) << "search_k " << search_k << " slot " << i;
    }
  }
}

TEST(AnnoyModule, AngularZeroVectorsAndKBeyondN) {
  const std::size_t dim = 6;
  FloatMatrix base = random_matrix(300, dim, 71);
  for (std::size_t i = 0; i < 300; i += 3) {
    for (std::size_t j = 0; j < dim; ++j) base.data()[i * dim + j] = 0.0f;
  }
  FloatMatrix queries = random_matrix(5, dim, 72);
  for (std::size_t j = 0; j < dim; ++j) queries.data()[j] = 0.0f;  // a zero query too
  auto index = make_index(Metric::Angular, dim, 5);
  index->build(base.view());
  set_search_k(*index, 50);
  const auto got = search_all(*index, queries, 10);
  for (const Neighbor& nb : got) EXPECT_GE(nb.id, 0);

  const FloatMatrix small = random_matrix(7, dim, 73);
  auto tiny = make_index(Metric::L2, dim, 4);
  tiny->build(small.view());
  set_search_k(*tiny, 1000);
  std::vector<Neighbor> out(10);
  tiny->search(queries.view().row(1), 10, out.data());
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < 7; ++i) ids.insert(out[i].id);
  EXPECT_EQ(ids, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  for (std::size_t i = 7; i < 10; ++i) EXPECT_EQ(out[i].id, -1);
}

}  // namespace
}  // namespace annbench
