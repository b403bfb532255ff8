// The lsh module through the plugin loader: exact recall at generous parameters for both
// metrics (also on data full of duplicate points), recall growing with probes, exhaustive
// multi-probe covering every bucket exactly once, determinism across thread counts, range
// search against a naive scan, and bad input (K, L or w out of range, NaN, empty base, k > n,
// zero vectors under angular).

#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::naive_knn;
using testing::random_matrix;
using testing::tied_matrix;

const ModuleInfo& lsh_info() {
  static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("lsh").info;
}

struct Shape {
  std::int64_t tables;
  std::int64_t hashes;
  double width = 0.5;
  std::int64_t seed = 7;
};

Params build_params(const Shape& shape) {
  Params given;
  given.set("L", shape.tables);
  given.set("K", shape.hashes);
  given.set("w", shape.width);
  given.set("seed", shape.seed);
  return given;
}

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, const Shape& shape) {
  const ModuleInfo& info = lsh_info();
  return info.create(metric, dim,
                     resolve_params(build_params(shape), info.build_params, "lsh", "build"));
}

void set_probes(Index& index, std::int64_t probes) {
  Params given;
  given.set("probes", probes);
  index.set_search_params(resolve_params(given, lsh_info().search_params, "lsh", "search"));
}

std::vector<Neighbor> search_all(const Index& index, const FloatMatrix& queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows() * k);
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    index.search(queries.view().row(q), k, out.data() + q * k);
  }
  return out;
}

// ANN-Benchmarks' recall: a returned id counts when its exact distance is within the k-th true
// distance + 1e-3, so ties and duplicate points cannot make a correct answer look wrong.
double recall(const std::vector<Neighbor>& got, const std::vector<Neighbor>& truth,
              const FloatMatrix& base, const FloatMatrix& queries, Metric metric, std::size_t k) {
  std::size_t hits = 0;
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    const double limit = truth[q * k + k - 1].distance + 1e-3;
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < k; ++i) {
      const std::int64_t id = got[q * k + i].id;
      if (id < 0 || !seen.insert(id).second) continue;
      const double d = exact_distance(metric, queries.view().row(q),
                                      base.view().row(static_cast<std::size_t>(id)), base.cols());
      hits += d <= limit ? 1 : 0;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(queries.rows() * k);
}

TEST(LshModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = lsh_info();
  EXPECT_STREQ(info.name, "lsh");
  ASSERT_EQ(info.metrics.size(), 2u);  // euclidean and angular, no dot
  EXPECT_NE(info.capabilities & kCapRangeSearch, 0u);
  for (const Shape& bad : {Shape{0, 8}, Shape{8, 0}, Shape{8, 33}, Shape{8, 8, 0.0},
                           Shape{8, 8, -1.0}, Shape{8, 8, 1e9}}) {
    EXPECT_THROW(resolve_params(build_params(bad), info.build_params, "lsh", "build"), Error)
        << bad.tables << " " << bad.hashes << " " << bad.width;
  }
  try {
    resolve_params(build_params(Shape{8, 0}), info.build_params, "lsh", "build");
    FAIL() << "K = 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find('K'), std::string::npos) << e.what();
  }
  // The factory checks again, for callers that skip resolve_params.
  Params unresolved = build_params(Shape{8, 8});
  unresolved.set("L", std::int64_t{0});
  EXPECT_THROW(info.create(Metric::L2, 8, unresolved), Error);
  unresolved = build_params(Shape{8, 8, std::nan("")});
  EXPECT_THROW(info.create(Metric::L2, 8, unresolved), Error);
  const Params defaults = resolve_params({}, info.build_params, "lsh", "build");
  EXPECT_THROW(info.create(Metric::InnerProduct, 8, defaults), Error);
  Params negative;
  negative.set("probes", std::int64_t{-1});
  EXPECT_THROW(resolve_params(negative, info.search_params, "lsh", "search"), Error);
  Params unbounded;
  unbounded.set("probes", std::int64_t{1000001});  // would let the probe heap eat memory
  EXPECT_THROW(resolve_params(unbounded, info.search_params, "lsh", "search"), Error);
}

TEST(LshModule, ExactAtGenerousParametersForBothMetrics) {
  const std::size_t n = 2000;
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(n, 16, 31);
  const FloatMatrix queries = random_matrix(40, 16, 32);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 16, metric == Metric::L2 ? Shape{16, 6, 1.5} : Shape{12, 10});
    index->build(base.view());
    set_probes(*index, 2000);
    const auto truth = naive_knn(base.view(), queries.view(), metric, k);
    const auto got = search_all(*index, queries, k);
    ASSERT_EQ(recall(got, truth, base, queries, metric, k), 1.0) << metric_name(metric);
    // Reported distances are the dataset metric's (plain L2, 1 - cos).
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i].distance, truth[i].distance, 1e-4 * (1.0 + truth[i].distance));
    }
    // Only unique candidates are re-ranked, and far fewer than a full scan.
    const std::uint64_t distances = *index->distance_count();
    EXPECT_GT(distances, queries.rows() * k);
    EXPECT_LT(distances, queries.rows() * n) << metric_name(metric);
    EXPECT_GE(index->memory_bytes(), n * 16 * sizeof(float));
  }
}

TEST(LshModule, ExactOnDuplicatePoints) {
  const std::size_t k = 10;
  const FloatMatrix base = tied_matrix(1500, 8, 40, 33);
  const FloatMatrix queries = tied_matrix(30, 8, 40, 34);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 8, Shape{10, 4, 2.0});
    index->build(base.view());
    set_probes(*index, 300);
    const auto truth = naive_knn(base.view(), queries.view(), metric, k);
    const auto got = search_all(*index, queries, k);
    EXPECT_EQ(recall(got, truth, base, queries, metric, k), 1.0) << metric_name(metric);
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      std::set<std::int64_t> ids;
      for (std::size_t i = 0; i < k; ++i) ids.insert(got[q * k + i].id);
      EXPECT_EQ(ids.size(), k) << "query " << q << ": duplicate or missing ids";
    }
  }
}

TEST(LshModule, RecallGrowsWithProbes) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(4000, 24, 41);
  const FloatMatrix queries = random_matrix(60, 24, 42);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const auto truth = naive_knn(base.view(), queries.view(), metric, k);
    auto index = make_index(metric, 24, metric == Metric::L2 ? Shape{6, 10, 2.0} : Shape{6, 12});
    index->build(base.view());
    std::vector<double> recalls;
    std::uint64_t previous_count = 0;
    std::vector<std::uint64_t> counts;
    for (const std::int64_t probes : {0, 10, 40, 150, 600, 2400}) {
      set_probes(*index, probes);
      recalls.push_back(recall(search_all(*index, queries, k), truth, base, queries, metric, k));
      const std::uint64_t total = *index->distance_count();
      counts.push_back(total - previous_count);
      previous_count = total;
    }
    for (std::size_t i = 1; i < recalls.size(); ++i) {
      // More probes visit a superset of buckets: candidates and recall never shrink.
      EXPECT_GE(recalls[i], recalls[i - 1]) << metric_name(metric) << " step " << i;
      EXPECT_GE(counts[i], counts[i - 1]) << metric_name(metric) << " step " << i;
    }
    EXPECT_GT(recalls.back(), recalls.front() + 0.3) << metric_name(metric);
    EXPECT_GT(recalls.back(), 0.9) << metric_name(metric);
  }
}

TEST(LshModule, ExhaustiveProbesVisitEveryBucketOnce) {
  // One table of 5 hyperplane bits has 32 buckets: the home bucket plus 31 perturbation sets
  // reach them all, so every point is re-ranked exactly once; asking for more cannot hang.
  const std::size_t n = 700;
  const FloatMatrix base = random_matrix(n, 10, 51);
  const FloatMatrix queries = random_matrix(12, 10, 52);
  auto index = make_index(Metric::Angular, 10, Shape{1, 5});
  index->build(base.view());
  set_probes(*index, 30);
  search_all(*index, queries, 5);
  const std::uint64_t partial = *index->distance_count();
  EXPECT_LT(partial, queries.rows() * n);
  for (const std::int64_t probes : {31, 1000000}) {
    set_probes(*index, probes);
    const std::uint64_t before = *index->distance_count();
    const auto got = search_all(*index, queries, 5);
    EXPECT_EQ(*index->distance_count() - before, queries.rows() * n) << probes;
    const auto truth = naive_knn(base.view(), queries.view(), Metric::Angular, 5);
    EXPECT_EQ(recall(got, truth, base, queries, Metric::Angular, 5), 1.0);
  }
}

TEST(LshModule, DeterministicForFixedSeedAcrossThreadCounts) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(1500, 12, 61);
  const FloatMatrix queries = random_matrix(30, 12, 62);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<Neighbor>> runs;
  for (const int t : {1, 1, 2}) {
    omp_set_num_threads(t);
    auto index = make_index(Metric::L2, 12, Shape{4, 6, 0.4, 99});
    index->build(base.view());
    set_probes(*index, 20);
    runs.push_back(search_all(*index, queries, k));
  }
  omp_set_num_threads(threads);
  for (std::size_t r = 1; r < runs.size(); ++r) {
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      ASSERT_EQ(runs[r][i].id, runs[0][i].id) << "run " << r << " slot " << i;
    }
  }
  auto other = make_index(Metric::L2, 12, Shape{4, 6, 0.4, 100});
  other->build(base.view());
  set_probes(*other, 20);
  const auto got = search_all(*other, queries, k);
  bool differs = false;
  for (std::size_t i = 0; i < got.size(); ++i) differs |= got[i].id != runs[0][i].id;
  EXPECT_TRUE(differs);
}

TEST(LshModule, RangeSearchMatchesNaiveScanAtGenerousParameters) {
  const FloatMatrix base = random_matrix(1500, 8, 71);
  const FloatMatrix queries = random_matrix(20, 8, 72);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const auto truth = naive_knn(base.view(), queries.view(), metric, 9);
    for (const std::int64_t probes : {0, 400}) {
      auto index = make_index(metric, 8, Shape{10, 4, 2.0});
      index->build(base.view());
      set_probes(*index, probes);
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        // Halfway between the 8th and 9th distances: exactly 8 points inside, none on the edge.
        const float radius = 0.5f * (truth[q * 9 + 7].distance + truth[q * 9 + 8].distance);
        std::vector<Neighbor> found = {Neighbor{-5, 0.0f}};  // appended to, not cleared
        index->range_search(queries.view().row(q), radius, found);
        ASSERT_EQ(found.front().id, -5);
        std::set<std::int64_t> ids;
        for (std::size_t i = 1; i < found.size(); ++i) {
          const double d =
              exact_distance(metric, queries.view().row(q), base.view().row(found[i].id), 8);
          EXPECT_LE(d, radius);  // never outside the radius
          ids.insert(found[i].id);
        }
        EXPECT_EQ(ids.size(), found.size() - 1);
        if (probes > 0) {
          EXPECT_EQ(ids.size(), 8u) << metric_name(metric) << " query " << q;
        }
      }
    }
  }
}

TEST(LshModule, BadInputGivesErrorsOrDefinedResults) {
  const std::size_t dim = 6;
  auto index = make_index(Metric::L2, dim, Shape{4, 4});
  std::vector<Neighbor> out(10);
  const FloatMatrix queries = random_matrix(3, dim, 81);
  EXPECT_THROW(index->search(queries.view().row(0), 10, out.data()), Error);  // before build
  EXPECT_THROW(index->build(MatrixView{queries.data(), 0, dim}), Error);      // empty base
  EXPECT_THROW(index->build(MatrixView{queries.data(), 3, dim - 1}), Error);  // wrong dim
  FloatMatrix with_nan = random_matrix(50, dim, 82);
  with_nan.data()[7 * dim + 2] = std::numeric_limits<float>::quiet_NaN();
  try {
    index->build(with_nan.view());
    FAIL() << "NaN base accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vector 7"), std::string::npos) << e.what();
  }
  // k > n: every point, then id -1 padding (a wide bucket holds all seven).
  const FloatMatrix small = random_matrix(7, dim, 83);
  auto wide = make_index(Metric::L2, dim, Shape{4, 4, 10.0});
  wide->build(small.view());
  set_probes(*wide, 10000);
  wide->search(queries.view().row(1), 10, out.data());
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < 7; ++i) ids.insert(out[i].id);
  EXPECT_EQ(ids, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  for (std::size_t i = 7; i < 10; ++i) EXPECT_EQ(out[i].id, -1);
  FloatMatrix nan_query = random_matrix(1, dim, 84);
  nan_query.data()[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(wide->search(nan_query.data(), 10, out.data()), Error);
  std::vector<Neighbor> found;
  EXPECT_THROW(wide->range_search(queries.view().row(0), std::nanf(""), found), Error);

  // Angular: zero base vectors and a zero query are served (distance 1 to everything).
  FloatMatrix base = random_matrix(300, dim, 85);
  for (std::size_t i = 0; i < 300; i += 3) std::fill_n(base.row(i), dim, 0.0f);
  FloatMatrix angular_queries = random_matrix(5, dim, 86);
  std::fill_n(angular_queries.row(0), dim, 0.0f);
  auto angular = make_index(Metric::Angular, dim, Shape{6, 3});
  angular->build(base.view());
  set_probes(*angular, 100);
  const auto got = search_all(*angular, angular_queries, 10);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_NEAR(got[i].distance, 1.0f, 1e-6f);
  const auto truth = naive_knn(base.view(), angular_queries.view(), Metric::Angular, 10);
  EXPECT_EQ(recall(got, truth, base, angular_queries, Metric::Angular, 10), 1.0);
}

TEST(LshModule, HugeFiniteValuesNeitherCrashNorHang) {
  // Projections of 3e38 overflow to inf (and inf - inf to NaN) inside the hash: clamped.
  FloatMatrix base = random_matrix(200, 8, 95);
  std::fill_n(base.row(5), 8, 3e38f);
  base.row(6)[0] = -3e38f;
  base.row(6)[1] = 3e38f;
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 8, Shape{4, 32, 1e-4});
    index->build(base.view());
    set_probes(*index, 5000);
    std::vector<Neighbor> out(5);
    index->search(base.row(5), 5, out.data());
    index->search(base.row(0), 5, out.data());
    EXPECT_EQ(out[0].id, 0) << metric_name(metric);
  }
}

TEST(LshModule, AbsurdWidthsStayCorrect) {
  // A tiny width puts nearly every point alone; a huge one puts all in one bucket (a full scan).
  const FloatMatrix base = random_matrix(400, 8, 91);
  const FloatMatrix queries = random_matrix(10, 8, 92);
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, 5);
  for (const double width : {1e-4, 1e4}) {
    auto index = make_index(Metric::L2, 8, Shape{2, 8, width});
    index->build(base.view());
    set_probes(*index, 16);
    const auto got = search_all(*index, queries, 5);
    for (const Neighbor& nb : got) EXPECT_TRUE(nb.id >= -1 && nb.id < 400);
    if (width > 1.0) {
      EXPECT_EQ(recall(got, truth, base, queries, Metric::L2, 5), 1.0);
      EXPECT_EQ(*index->distance_count(), queries.rows() * 400);
    }
  }
}

}  // namespace
}  // namespace annbench
