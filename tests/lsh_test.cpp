// The lsh module through the plugin loader: exact recall at generous parameters for both
// metrics (also on data full of duplicate points), recall growing with probes, exhaustive
// multi-probe covering every bucket exactly once, determinism across thread counts, range
// search against a naive scan, and bad input (K, L or w out of range, NaN, k > n, zero vectors
// under angular). Streaming: build on zero rows then add() in batches (overflow buckets, then
// re-indexing) stays exact at generous parameters, removed ids never come back, re-added ids
// are found, ids are the caller's, add() after a static build. Save -> load gives identical
// answers (also with overflow buckets and tombstones); bad files give errors naming them;
// distances are in the metric's scale.

#include "index_file_checks.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::expect_container_errors;
using testing::expect_identical;
using testing::expect_load_error;
using testing::naive_knn;
using testing::poke;
using testing::random_matrix;
using testing::temp_file;
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
  // Zero rows: a streaming index, empty until add().
  index->build(MatrixView{queries.data(), 0, dim});
  index->search(queries.view().row(0), 10, out.data());
  for (const Neighbor& n : out) EXPECT_EQ(n.id, -1);
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
  // Queries are checked once by the harness, not per search: a NaN query hashes as 0 and
  // still gets well-formed results.
  FloatMatrix nan_query = random_matrix(1, dim, 84);
  nan_query.data()[3] = std::numeric_limits<float>::quiet_NaN();
  wide->search(nan_query.data(), 10, out.data());
  for (const Neighbor& n : out) EXPECT_TRUE(n.id >= -1 && n.id < 7);
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

// ---- Streaming ----

// Rows [first, first + count) of base added under ids offset + row.
void add_rows(Index& index, const FloatMatrix& base, std::size_t first, std::size_t count,
              std::int64_t offset) {
  std::vector<std::int64_t> ids(count);
  std::iota(ids.begin(), ids.end(), offset + static_cast<std::int64_t>(first));
  index.add(ids, MatrixView{base.row(first), count, base.cols()});
}

// recall() of results with ids offset + row against the exact k nearest among the live rows;
// every returned id must be live.
double live_recall(const std::vector<Neighbor>& got, const FloatMatrix& base,
                   const std::vector<bool>& live, const FloatMatrix& queries, Metric metric,
                   std::size_t k, std::int64_t offset) {
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < base.rows(); ++r)
    if (live[r]) rows.push_back(r);
  FloatMatrix live_base(rows.size(), base.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(base.row(rows[i]), base.cols(), live_base.row(i));
  const auto truth = naive_knn(live_base.view(), queries.view(), metric, k);
  std::vector<Neighbor> as_rows = got;
  for (Neighbor& n : as_rows) {
    if (n.id < 0) continue;
    n.id -= offset;
    EXPECT_TRUE(n.id >= 0 && n.id < static_cast<std::int64_t>(base.rows()) &&
                live[static_cast<std::size_t>(n.id)])
        << "id " << n.id + offset << " is not live";
  }
  return recall(as_rows, truth, base, queries, metric, k);
}

Shape generous(Metric metric) {
  return metric == Metric::L2 ? Shape{16, 6, 1.5} : Shape{12, 10};
}

// One add() of the whole base derives the same width and indexes the same tables as build().
TEST(LshStreaming, OneAddOfEverythingEqualsTheStaticBuild) {
  const FloatMatrix base = random_matrix(1500, 16, 101);
  const FloatMatrix queries = random_matrix(30, 16, 102);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto fixed = make_index(metric, 16, Shape{8, 6, 0.8});
    fixed->build(base.view());
    auto streamed = make_index(metric, 16, Shape{8, 6, 0.8});
    streamed->build(MatrixView{nullptr, 0, 16});
    add_rows(*streamed, base, 0, base.rows(), 1000);
    set_probes(*fixed, 50);
    set_probes(*streamed, 50);
    const auto a = search_all(*fixed, queries, 10);
    const auto b = search_all(*streamed, queries, 10);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].id < 0 ? -1 : a[i].id + 1000, b[i].id) << metric_name(metric) << " at " << i;
      ASSERT_EQ(a[i].distance, b[i].distance) << metric_name(metric) << " at " << i;
    }
    EXPECT_EQ(fixed->distance_count(), streamed->distance_count()) << metric_name(metric);
  }
}

// Batches go to the overflow buckets until those outgrow the compact tables; at generous
// parameters the answers stay exact throughout, and removed points never come back (first as
// tombstones, then compacted away).
TEST(LshStreaming, BatchesAndRemovalsStayExactAtGenerousParameters) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(2000, 16, 103);
  const FloatMatrix queries = random_matrix(30, 16, 104);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const std::string what(metric_name(metric));
    auto index = make_index(metric, 16, generous(metric));
    index->build(MatrixView{nullptr, 0, 16});
    set_probes(*index, 2000);
    std::vector<bool> live(base.rows(), false);
    std::size_t next = 0;
    for (const std::size_t batch : {700, 300, 400, 600}) {
      add_rows(*index, base, next, batch, 1000);
      std::fill_n(live.begin() + static_cast<std::ptrdiff_t>(next), batch, true);
      next += batch;
      EXPECT_EQ(live_recall(search_all(*index, queries, k), base, live, queries, metric, k, 1000),
                1.0)
          << what << " after " << next << " points";
    }
    // A third removed (tombstones), then most of the rest (compaction).
    for (const std::size_t step : {3, 2}) {
      std::vector<std::int64_t> gone;
      for (std::size_t r = 0; r < base.rows(); r += step) {
        if (!live[r]) continue;
        gone.push_back(1000 + static_cast<std::int64_t>(r));
        live[r] = false;
      }
      index->remove(gone);
      EXPECT_EQ(live_recall(search_all(*index, queries, k), base, live, queries, metric, k, 1000),
                1.0)
          << what << " after removing every " << step;
      std::vector<Neighbor> found;
      index->range_search(queries.row(0), 1e30f, found);
      for (const Neighbor& n : found)
        EXPECT_TRUE(live[static_cast<std::size_t>(n.id - 1000)]) << what << ": " << n.id;
    }
    // Re-added points find themselves (their own home buckets, no probes needed).
    std::vector<std::int64_t> back;
    FloatMatrix rows(0, 16);
    for (std::size_t r = 0; r < base.rows(); r += 2) {
      if (live[r]) continue;
      back.push_back(1000 + static_cast<std::int64_t>(r));
    }
    rows = FloatMatrix(back.size(), 16);
    for (std::size_t i = 0; i < back.size(); ++i)
      std::copy_n(base.row(static_cast<std::size_t>(back[i] - 1000)), 16, rows.row(i));
    index->add(back, rows.view());
    for (const std::int64_t id : back) live[static_cast<std::size_t>(id - 1000)] = true;
    set_probes(*index, 0);
    std::vector<Neighbor> out(k);
    for (std::size_t i = 0; i < back.size(); i += 11) {
      index->search(rows.row(i), k, out.data());
      EXPECT_EQ(out[0].id, back[i]) << what;
      EXPECT_NEAR(out[0].distance, 0.0f, 1e-5f) << what;
    }
    set_probes(*index, 2000);
    EXPECT_EQ(live_recall(search_all(*index, queries, k), base, live, queries, metric, k, 1000),
              1.0)
        << what << " after re-adding";
  }
}

// After build(base) the ids are rows; add() continues with the caller's ids, remove() takes
// either; mistakes name the id.
TEST(LshStreaming, AddAfterAStaticBuildAndErrors) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(1500, 16, 105);
  const FloatMatrix queries = random_matrix(30, 16, 106);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const std::string what(metric_name(metric));
    auto index = make_index(metric, 16, generous(metric));
    index->build(MatrixView{base.data(), 1000, 16});
    const std::size_t static_memory = index->memory_bytes();
    add_rows(*index, base, 1000, 500, 0);
    EXPECT_GT(index->memory_bytes(), static_memory) << what;
    std::vector<std::int64_t> gone(100);
    std::iota(gone.begin(), gone.end(), 950);  // 50 from the build, 50 added
    index->remove(gone);
    std::vector<bool> live(base.rows(), true);
    std::fill_n(live.begin() + 950, 100, false);
    set_probes(*index, 2000);
    EXPECT_EQ(live_recall(search_all(*index, queries, k), base, live, queries, metric, k, 0), 1.0)
        << what;
    try {
      index->remove(std::span(gone).first(1));
      FAIL() << "removing a removed id accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("id 950, which is not in the index"), std::string::npos)
          << e.what();
    }
    try {
      add_rows(*index, base, 3, 1, 0);
      FAIL() << "adding a live id accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("id 3, which is already in the index"),
                std::string::npos)
          << e.what();
    }
    std::vector<std::int64_t> ids = {9000, 9001};
    EXPECT_THROW(index->add(ids, MatrixView{base.data(), 2, 8}), Error);   // dimension
    EXPECT_THROW(index->add(ids, MatrixView{base.data(), 3, 16}), Error);  // count
    FloatMatrix nan = random_matrix(2, 16, 107);
    nan(1, 4) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(index->add(ids, nan.view()), Error);
  }
}

// Tombstones are compacted away, so a sliding window's memory follows the live set.
TEST(LshStreaming, SlidingWindowMemoryStaysBounded) {
  const FloatMatrix base = random_matrix(5000, 16, 108);
  auto index = make_index(Metric::L2, 16, Shape{8, 6, 0.8});
  index->build(MatrixView{nullptr, 0, 16});
  add_rows(*index, base, 0, 1000, 0);
  std::size_t first_round = 0;
  for (std::size_t round = 1; round < 5; ++round) {
    add_rows(*index, base, round * 1000, 1000, 0);
    std::vector<std::int64_t> gone(1000);
    std::iota(gone.begin(), gone.end(), static_cast<std::int64_t>((round - 1) * 1000));
    index->remove(gone);
    if (round == 1) first_round = index->memory_bytes();
  }
  EXPECT_LE(index->memory_bytes(), first_round + first_round / 2);
  std::vector<Neighbor> out(5);
  index->search(base.row(4500), 5, out.data());
  EXPECT_EQ(out[0].id, 4500);
  for (const Neighbor& n : out) EXPECT_TRUE(n.id == -1 || n.id >= 4000) << n.id;
}

// ---- Save / load ----

// Searches and range searches of both: identical.
void expect_same_answers(const Index& a, const Index& b, const FloatMatrix& queries,
                         const std::string& what) {
  expect_identical(search_all(a, queries, 10), search_all(b, queries, 10), what);
  for (std::size_t q = 0; q < 5; ++q) {
    std::vector<Neighbor> first(10), ra, rb;
    a.search(queries.row(q), 10, first.data());
    a.range_search(queries.row(q), first[6].distance, ra);
    b.range_search(queries.row(q), first[6].distance, rb);
    expect_identical(ra, rb, what + " range");
  }
}

TEST(LshSaveLoad, StaticIndexGivesIdenticalAnswers) {
  const FloatMatrix base = random_matrix(1500, 16, 111);
  const FloatMatrix queries = random_matrix(30, 16, 112);
  EXPECT_NE(lsh_info().capabilities & kCapSaveLoad, 0u);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const std::string what(metric_name(metric));
    auto index = make_index(metric, 16, Shape{8, 6, 0.8});
    index->build(base.view());
    const std::string path = temp_file("lsh_static");
    index->save(path);
    auto loaded = lsh_info().load(path, metric, 16);
    set_probes(*index, 40);
    set_probes(*loaded, 40);
    expect_same_answers(*index, *loaded, queries, what);
    // Self-contained: the loaded index owns its vectors.
    EXPECT_GE(loaded->memory_bytes(), base.bytes()) << what;
    std::remove(path.c_str());
  }
}

// Overflow buckets, tombstones and the id map are saved as they are: the loaded index answers
// alike and keeps changing alike (compaction included).
TEST(LshSaveLoad, ChangedIndexGivesIdenticalAnswersAndChangesAlike) {
  const FloatMatrix base = random_matrix(2000, 16, 113);
  const FloatMatrix queries = random_matrix(30, 16, 114);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const std::string what(metric_name(metric));
    auto index = make_index(metric, 16, Shape{8, 6, 0.8});
    index->build(MatrixView{nullptr, 0, 16});
    add_rows(*index, base, 0, 800, 1000);
    add_rows(*index, base, 800, 300, 1000);  // overflow buckets
    std::vector<std::int64_t> gone;
    for (std::int64_t r = 0; r < 1100; r += 7) gone.push_back(1000 + r);
    index->remove(gone);  // tombstones
    const std::string path = temp_file("lsh_changed");
    index->save(path);
    auto loaded = lsh_info().load(path, metric, 16);
    set_probes(*index, 40);
    set_probes(*loaded, 40);
    expect_same_answers(*index, *loaded, queries, what);
    for (Index* i : {index.get(), loaded.get()}) {
      add_rows(*i, base, 1100, 900, 1000);  // re-indexes
      i->remove(std::span(gone).subspan(0, 0));
      const std::vector<std::int64_t> less = {1001, 2999};
      i->remove(less);
    }
    expect_same_answers(*index, *loaded, queries, what + " after more changes");
    std::remove(path.c_str());
  }
}

TEST(LshSaveLoad, EmptyStreamingIndexLoadsAndTrainsAlike) {
  const FloatMatrix base = random_matrix(500, 8, 115);
  const FloatMatrix queries = random_matrix(10, 8, 116);
  auto index = make_index(Metric::L2, 8, Shape{6, 4, 1.0});
  index->build(MatrixView{nullptr, 0, 8});
  const std::string path = temp_file("lsh_empty");
  index->save(path);
  auto loaded = lsh_info().load(path, Metric::L2, 8);
  for (Index* i : {index.get(), loaded.get()}) {
    add_rows(*i, base, 0, 500, 0);
    set_probes(*i, 20);
  }
  expect_identical(search_all(*index, queries, 10), search_all(*loaded, queries, 10), "empty");
  std::remove(path.c_str());
}

TEST(LshSaveLoad, BadFilesGiveErrorsNamingThem) {
  const FloatMatrix base = random_matrix(300, 8, 117);
  auto index = make_index(Metric::L2, 8, Shape{4, 4, 1.0});
  index->build(base.view());
  std::vector<std::int64_t> gone = {0, 1};
  index->remove(gone);
  const std::string path = temp_file("lsh_bad");
  index->save(path);
  const ModuleInfo& info = lsh_info();
  expect_container_errors(info, path, Metric::L2, Metric::Angular, 8);
  // Checksummed but inconsistent references: an id past the rows, a bucket past the ids, a
  // table with no empty slot (a lookup would never stop), live ids repeated.
  expect_load_error(info, poke<std::uint32_t>(path, "hash_ids", 4, 300), Metric::L2, 8, "id 300");
  const IndexFileInfo file = read_index_file_info(path);
  const auto slots = std::find_if(file.sections.begin(), file.sections.end(),
                                  [](const auto& s) { return s.tag == "hash_slots"; });
  ASSERT_NE(slots, file.sections.end());
  // Slot: key (8 bytes), begin and count (4 each); every count non-zero in table 0.
  const std::size_t per_table = slots->bytes / 16 / 4;
  std::string full = path + ".full";
  {
    std::string current = path;
    for (std::size_t s = 0; s < per_table; ++s) {
      const std::string next = poke<std::uint32_t>(current, "hash_slots", s * 4 + 3, 1);
      std::rename(next.c_str(), full.c_str());
      current = full;
    }
  }
  expect_load_error(info, full, Metric::L2, 8, "no empty slot");
  expect_load_error(info, poke<std::uint32_t>(path, "hash_slots", 3, 5000), Metric::L2, 8,
                    "outside its ids");
  expect_load_error(info, poke<std::int64_t>(path, "external_ids", 5, 6), Metric::L2, 8, "twice");
  expect_load_error(info, poke<std::uint8_t>(path, "removed", 5, 1), Metric::L2, 8, "tombstones");
  expect_load_error(info, poke<std::uint64_t>(path, "meta", 1, 0), Metric::L2, 8, "hash options");
  std::remove(path.c_str());
  std::remove(full.c_str());
  std::remove((path + ".poked").c_str());
}

TEST(LshModule, DistancesAreInTheMetricsScale) {
  const FloatMatrix base = random_matrix(600, 12, 119);
  const FloatMatrix queries = random_matrix(10, 12, 120);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 12, Shape{8, 4, 1.0});
    index->build(base.view());
    set_probes(*index, 50);
    const auto got = search_all(*index, queries, 10);
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (got[i].id < 0) continue;
      const double d = exact_distance(metric, queries.row(i / 10),
                                      base.row(static_cast<std::size_t>(got[i].id)), 12);
      EXPECT_NEAR(got[i].distance, d, 1e-5 * (1.0 + std::abs(d))) << metric_name(metric);
    }
  }
}

}  // namespace
}  // namespace annbench
