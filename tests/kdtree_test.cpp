// The kdtree module through the plugin loader: exact mode equals the naive double-precision scan
// (ids and distances, ties by smaller id) on seeded data of low and high dimension with
// duplicates, for both metrics, both split rules and several leaf sizes; budgeted best-bin-first
// recall grows with the budget and reaches exact; range search equals a naive scan; bad input
// gives annbench::Error; a saved and loaded index answers identically without the dataset, and
// missing, truncated, foreign or corrupt files are Errors.

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
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::exercise_damaged_sections;
using testing::expect_filled_sections_refused;
using testing::expect_metric_scale;
using testing::naive_knn;
using testing::random_matrix;
using testing::read_bytes;
using testing::temp_file;
using testing::tied_matrix;
using testing::write_bytes;

const ModuleInfo& kdtree_info() {
  static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("kdtree").info;
}

struct BuildSpec {
  std::int64_t leaf_size = 16;
  std::string split = "median";
  std::int64_t n_trees = 1;
};

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, const BuildSpec& spec = {}) {
  const ModuleInfo& info = kdtree_info();
  Params given;
  given.set("leaf_size", spec.leaf_size);
  given.set("split", spec.split);
  given.set("n_trees", spec.n_trees);
  return info.create(metric, dim, resolve_params(given, info.build_params, "kdtree", "build"));
}

void set_search(Index& index, std::int64_t checks, double eps = 0.0) {
  Params given;
  given.set("checks", checks);
  given.set("eps", eps);
  index.set_search_params(resolve_params(given, kdtree_info().search_params, "kdtree", "search"));
}

std::vector<Neighbor> search_all(const Index& index, const FloatMatrix& queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows() * k);
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    index.search(queries.view().row(q), k, out.data() + q * k);
  }
  return out;
}

void expect_same(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                 const std::string& context) {
  ASSERT_EQ(got.size(), want.size()) << context;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, want[i].id) << context << " slot " << i;
    if (want[i].id >= 0) {
      ASSERT_EQ(got[i].distance, want[i].distance) << context << " slot " << i;
    }
  }
}

using testing::recall;

// Rows of `a` repeated at the end: exact duplicates whose ties only the id order breaks.
FloatMatrix with_duplicates(const FloatMatrix& a, std::size_t copies) {
  FloatMatrix out(a.rows() + copies, a.cols());
  std::copy_n(a.data(), a.size(), out.data());
  for (std::size_t i = 0; i < copies; ++i) {
    std::copy_n(a.row((i * 7) % a.rows()), a.cols(), out.row(a.rows() + i));
  }
  return out;
}

TEST(KdTreeModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = kdtree_info();
  EXPECT_STREQ(info.name, "kdtree");
  EXPECT_EQ(info.metrics.size(), 2u);  // euclidean and angular
  EXPECT_NE(info.capabilities & kCapRangeSearch, 0u);
  Params bad_leaf;
  bad_leaf.set("leaf_size", std::int64_t{0});
  EXPECT_THROW(resolve_params(bad_leaf, info.build_params, "kdtree", "build"), Error);
  Params bad_split;
  bad_split.set("split", std::string("random"));
  const Params resolved_split = resolve_params(bad_split, info.build_params, "kdtree", "build");
  EXPECT_THROW(info.create(Metric::L2, 8, resolved_split), Error);
  const Params defaults = resolve_params({}, info.build_params, "kdtree", "build");
  try {
    info.create(Metric::InnerProduct, 8, defaults);
    ADD_FAILURE() << "dot accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'dot'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(info.create(Metric::L2, 0, defaults), Error);
}

TEST(KdTreeModule, SearchBudgetOfZeroOrNegativeIsAnError) {
  auto index = make_index(Metric::L2, 4);
  for (const std::int64_t checks : {std::int64_t{0}, std::int64_t{-2}, std::int64_t{-100}}) {
    Params given;
    given.set("checks", checks);
    // -2 and below fail the declared bounds; 0 passes them and fails the module's own check.
    EXPECT_THROW(index->set_search_params(
                     resolve_params(given, kdtree_info().search_params, "kdtree", "search")),
                 Error)
        << checks;
  }
  Params negative_eps;
  negative_eps.set("eps", -0.5);
  EXPECT_THROW(resolve_params(negative_eps, kdtree_info().search_params, "kdtree", "search"),
               Error);
}

TEST(KdTreeModule, ExactModeEqualsNaiveScan) {
  struct Case {
    std::size_t n, dim;
    std::uint32_t seed;
    bool tied;
  };
  const Case cases[] = {{4000, 2, 1, false},
                        {3000, 16, 2, false},
                        {1500, 96, 3, false},
                        {2000, 8, 4, true},
                        {1500, 40, 5, true}};
  const std::size_t k = 10;
  for (const Case& c : cases) {
    const FloatMatrix base = c.tied ? tied_matrix(c.n, c.dim, c.n / 20, c.seed)
                                    : with_duplicates(random_matrix(c.n, c.dim, c.seed), c.n / 10);
    // Queries include base rows themselves (distance 0 ties with their duplicates).
    FloatMatrix queries = random_matrix(30, c.dim, c.seed + 100);
    for (std::size_t q = 0; q < 10; ++q) std::copy_n(base.row(q * 3), c.dim, queries.row(q));
    for (const Metric metric : {Metric::L2, Metric::Angular}) {
      const std::vector<Neighbor> want = naive_knn(base.view(), queries.view(), metric, k);
      for (const std::string split : {"median", "midpoint"}) {
        for (const std::int64_t leaf : {std::int64_t{1}, std::int64_t{16}}) {
          auto index = make_index(metric, c.dim, {leaf, split, 1});
          index->build(base.view());
          set_search(*index, -1);
          expect_same(search_all(*index, queries, k), want,
                      fmt::format("n {} dim {} tied {} {} {} leaf {}", c.n, c.dim, c.tied,
                                  metric_name(metric), split, leaf));
        }
      }
    }
  }
}

TEST(KdTreeModule, HugeBudgetOverForestIsExactAndRecallGrowsWithBudget) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(4000, 32, 11);
  const FloatMatrix queries = random_matrix(50, 32, 12);
  const std::vector<Neighbor> want = naive_knn(base.view(), queries.view(), Metric::L2, k);
  for (const std::int64_t trees : {std::int64_t{1}, std::int64_t{4}}) {
    auto index = make_index(Metric::L2, 32, {16, "median", trees});
    index->build(base.view());
    set_search(*index, 1 << 30);
    expect_same(search_all(*index, queries, k), want, fmt::format("{} trees", trees));
    double previous = 0.0;
    for (const std::int64_t checks : {20, 200, 2000}) {
      set_search(*index, checks);
      const double r = recall(search_all(*index, queries, k), want, k);
      EXPECT_GE(r, previous - 0.02) << trees << " trees, checks " << checks;
      previous = r;
    }
    EXPECT_GT(previous, 0.8) << trees << " trees";
    // A budget below k still returns k neighbours.
    set_search(*index, 1);
    for (const Neighbor& n : search_all(*index, queries, k)) EXPECT_GE(n.id, 0);
  }
}

TEST(KdTreeModule, EpsTradesRecallForWorkAndBatchMatchesSingle) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(5000, 12, 21);
  const FloatMatrix queries = random_matrix(64, 12, 22);
  const std::vector<Neighbor> want = naive_knn(base.view(), queries.view(), Metric::L2, k);
  auto index = make_index(Metric::L2, 12);
  index->build(base.view());
  set_search(*index, -1, 0.0);
  const std::uint64_t before = index->distance_count().value();
  search_all(*index, queries, k);
  const std::uint64_t exact_work = index->distance_count().value() - before;
  set_search(*index, -1, 1.0);
  const std::uint64_t middle = index->distance_count().value();
  const std::vector<Neighbor> approximate = search_all(*index, queries, k);
  EXPECT_LT(index->distance_count().value() - middle, exact_work);
  EXPECT_GT(recall(approximate, want, k), 0.5);
  // (1 + eps)-approximate: the i-th distance is within (1 + eps) of the true i-th.
  for (std::size_t i = 0; i < approximate.size(); ++i) {
    EXPECT_LE(approximate[i].distance, 2.0f * want[i].distance + 1e-4f) << i;
  }
  set_search(*index, -1, 0.0);
  std::vector<Neighbor> batch(queries.rows() * k);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(4);
  index->search_batch(queries.view(), k, batch.data());
  omp_set_num_threads(threads);
  expect_same(batch, want, "batch");
  EXPECT_GT(index->memory_bytes(), base.bytes());
}

TEST(KdTreeModule, EdgeCasesDimensionOneDuplicatesOnlyKBeyondNAndZeroVectors) {
  {  // dimension 1 with repeated values
    FloatMatrix base(500, 1);
    for (std::size_t i = 0; i < 500; ++i) base.data()[i] = static_cast<float>(i % 37);
    const FloatMatrix queries = random_matrix(20, 1, 3, 18.0f, 12.0f);
    auto index = make_index(Metric::L2, 1, {4, "midpoint", 1});
    index->build(base.view());
    expect_same(search_all(*index, queries, 7),
                naive_knn(base.view(), queries.view(), Metric::L2, 7), "dimension 1");
  }
  {  // every row identical: one leaf, smallest ids win; k > n pads with -1
    FloatMatrix base(300, 5, 0.25f);
    const FloatMatrix queries = random_matrix(3, 5, 4);
    auto index = make_index(Metric::L2, 5, {2, "median", 3});
    index->build(base.view());
    set_search(*index, 10);
    expect_same(search_all(*index, queries, 4),
                naive_knn(base.view(), queries.view(), Metric::L2, 4), "duplicates only");
    set_search(*index, -1);
    const std::vector<Neighbor> padded = search_all(*index, queries, 310);
    EXPECT_EQ(padded[299].id, 299);
    EXPECT_EQ(padded[300].id, -1);
    EXPECT_TRUE(std::isinf(padded[309].distance));
  }
  {  // angular: zero rows (distance 1 to everything) and a zero query
    FloatMatrix base = random_matrix(400, 6, 5);
    for (std::size_t i = 0; i < 400; i += 9) std::fill_n(base.row(i), 6, 0.0f);
    FloatMatrix queries = random_matrix(10, 6, 6);
    std::fill_n(queries.row(0), 6, 0.0f);
    auto index = make_index(Metric::Angular, 6, {3, "median", 1});
    index->build(base.view());
    expect_same(search_all(*index, queries, 450),
                naive_knn(base.view(), queries.view(), Metric::Angular, 450), "angular zeros");
  }
}

TEST(KdTreeModule, BadInputIsAClearError) {
  auto index = make_index(Metric::L2, 3);
  const float query[3] = {0.0f, 1.0f, 2.0f};
  Neighbor out[1];
  EXPECT_THROW(index->search(query, 1, out), Error);  // before build
  EXPECT_THROW(index->build(MatrixView{nullptr, 0, 3}), Error);
  FloatMatrix wrong_dim(10, 4, 1.0f);
  EXPECT_THROW(index->build(wrong_dim.view()), Error);
  FloatMatrix with_nan = random_matrix(50, 3, 7);
  with_nan(17, 2) = std::numeric_limits<float>::quiet_NaN();
  try {
    index->build(with_nan.view());
    ADD_FAILURE() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("17"), std::string::npos) << e.what();
  }
  const FloatMatrix base = random_matrix(50, 3, 8);
  index->build(base.view());
  // Queries are the harness's to check (once, before timing): search() does not.
  std::vector<Neighbor> found;
  EXPECT_THROW(index->range_search(query, std::numeric_limits<float>::quiet_NaN(), found), Error);
}

std::vector<Neighbor> naive_range(MatrixView base, const float* query, Metric metric,
                                  float radius) {
  std::vector<Neighbor> out;
  for (std::size_t i = 0; i < base.rows; ++i) {
    const double d = exact_distance(metric, query, base.row(i), base.dim);
    if (d <= radius) out.push_back({static_cast<std::int64_t>(i), static_cast<float>(d)});
  }
  return out;
}

TEST(KdTreeModule, RangeSearchEqualsNaiveScan) {
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    FloatMatrix base = with_duplicates(random_matrix(3000, 10, 31), 300);
    if (metric == Metric::Angular) std::fill_n(base.row(5), 10, 0.0f);
    const FloatMatrix queries = random_matrix(20, 10, 32);
    auto index = make_index(metric, 10, {8, "midpoint", 1});
    index->build(base.view());
    set_search(*index, 50, 3.0);  // range search stays exact whatever the k-NN settings
    const std::vector<float> radii = metric == Metric::L2
                                         ? std::vector<float>{-1.0f, 0.0f, 2.0f, 3.5f, 100.0f}
                                         : std::vector<float>{0.0f, 0.1f, 0.4f, 1.0f, 2.0f};
    for (const float radius : radii) {
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        // Query 0 is a base row: exact zero distance to itself and its duplicates.
        const float* query = q == 0 ? base.row(21) : queries.view().row(q);
        std::vector<Neighbor> got;
        index->range_search(query, radius, got);
        std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return a.id < b.id; });
        const std::vector<Neighbor> want = naive_range(base.view(), query, metric, radius);
        expect_same(got, want,
                    fmt::format("{} radius {} query {}", metric_name(metric), radius, q));
      }
    }
  }
}

TEST(KdTreeModule, SavedAndLoadedIndexAnswersIdenticallyWithoutTheDataset) {
  const std::size_t dim = 10;
  const std::size_t k = 10;
  const ModuleInfo& info = kdtree_info();
  EXPECT_NE(info.capabilities & kCapSaveLoad, 0u);
  ASSERT_NE(info.load, nullptr);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const BuildSpec specs[] = {{16, "median", 1}, {4, "midpoint", 3}};
    for (const BuildSpec& spec : specs) {
      const std::string context = fmt::format("{} leaf {} {} trees {}", metric_name(metric),
                                              spec.leaf_size, spec.split, spec.n_trees);
      FloatMatrix base = with_duplicates(random_matrix(2000, dim, 41), 100);
      if (metric == Metric::Angular) {
        std::fill_n(base.row(3), dim, 0.0f);
        std::fill_n(base.row(50), dim, 0.0f);
      }
      FloatMatrix queries = random_matrix(40, dim, 42);
      std::copy_n(base.row(7), dim, queries.row(1));
      if (metric == Metric::Angular) std::fill_n(queries.row(0), dim, 0.0f);
      auto index = make_index(metric, dim, spec);
      index->build(base.view());
      const std::string path = temp_file("kdtree-roundtrip");
      index->save(path);
      auto loaded = info.load(path, metric, dim);
      std::filesystem::remove(path);

      struct Setting {
        std::int64_t checks;
        double eps;
      };
      std::vector<std::vector<Neighbor>> before;
      std::vector<std::vector<Neighbor>> ranges;
      const Setting settings[] = {{-1, 0.0}, {30, 0.0}, {-1, 1.0}};
      const float radius = metric == Metric::L2 ? 3.0f : 0.3f;
      for (const Setting& setting : settings) {
        set_search(*index, setting.checks, setting.eps);
        before.push_back(search_all(*index, queries, k));
        expect_metric_scale(before.back(), base, queries, k, metric);
      }
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        index->range_search(queries.row(q), radius, ranges.emplace_back());
      }
      // The loaded index must not read the dataset: overwrite it.
      std::fill_n(base.data(), base.size(), 1e6f);
      for (std::size_t i = 0; i < std::size(settings); ++i) {
        set_search(*loaded, settings[i].checks, settings[i].eps);
        expect_same(search_all(*loaded, queries, k), before[i], context);
      }
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        std::vector<Neighbor> got;
        loaded->range_search(queries.row(q), radius, got);
        ASSERT_EQ(got.size(), ranges[q].size()) << context << " query " << q;
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].id, ranges[q][i].id) << context;
          EXPECT_EQ(got[i].distance, ranges[q][i].distance) << context;
        }
      }
      EXPECT_GT(loaded->memory_bytes(), 0u);
    }
  }
}

TEST(KdTreeModule, LoadRefusesMissingTruncatedForeignAndCorruptFiles) {
  const std::size_t dim = 6;
  const ModuleInfo& info = kdtree_info();
  const FloatMatrix base = random_matrix(500, dim, 51);
  const FloatMatrix queries = random_matrix(5, dim, 52);
  auto index = make_index(Metric::L2, dim, {8, "median", 2});
  const float query[dim] = {};
  EXPECT_THROW(index->save(temp_file("kdtree-unbuilt")), Error);  // nothing to save yet
  index->build(base.view());
  const std::string good = temp_file("kdtree-good");
  const std::string bad = temp_file("kdtree-bad");
  index->save(good);
  EXPECT_NO_THROW(info.load(good, Metric::L2, dim));

  EXPECT_THROW(info.load(temp_file("kdtree-missing"), Metric::L2, dim), Error);
  EXPECT_THROW(info.load(good, Metric::L2, dim + 1), Error);
  EXPECT_THROW(info.load(good, Metric::Angular, dim), Error);
  try {
    IndexFileWriter("balltree", 1, Metric::L2, dim, 0).write(bad);
    info.load(bad, Metric::L2, dim);
    ADD_FAILURE() << "another module's file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("balltree"), std::string::npos) << e.what();
  }
  const std::vector<char> bytes = read_bytes(good);
  write_bytes(bad, {bytes.begin(), bytes.end() - 100});
  EXPECT_THROW(info.load(bad, Metric::L2, dim), Error) << "truncated";
  std::vector<char> flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  write_bytes(bad, flipped);
  try {
    info.load(bad, Metric::L2, dim);
    ADD_FAILURE() << "flipped byte accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }

  // Checksummed but wrong: references out of range are Errors naming the file, never a crash.
  expect_filled_sections_refused(info, good, bad, Metric::L2, dim,
                                 {"meta", "ids", "node_counts", "nodes", "parents", "slots"});
  // Any section zeroed, shortened or overwritten: an Error, or an index that still answers.
  exercise_damaged_sections(info, good, bad, Metric::L2, dim, [&](Index& loaded) {
    set_search(loaded, -1);
    std::vector<Neighbor> out(queries.rows() * 4);
    loaded.search_batch(queries.view(), 4, out.data());
    set_search(loaded, 20);
    loaded.search(query, 4, out.data());
    std::vector<Neighbor> found;
    loaded.range_search(query, 1.0f, found);
  });
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace annbench
