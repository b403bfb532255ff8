// The balltree module through the plugin loader: exact mode equals a naive double-precision scan
// (ids and distances, ties by smaller id) on seeded data of low and high dimension, with
// duplicates, ties, zero vectors and dimension 1; range search against a naive scan; the
// approximate mode's budget and eps; bad input (empty base, unsupported metric, bad
// parameters, NaN); a saved and loaded index answers identically without the dataset, and
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

const ModuleInfo& balltree_info() {
  static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("balltree").info;
}

Params build_params(std::int64_t leaf_size, const std::string& split) {
  Params given;
  given.set("leaf_size", leaf_size);
  given.set("split", split);
  return resolve_params(given, balltree_info().build_params, "balltree", "build");
}

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, std::int64_t leaf_size = 8,
                                  const std::string& split = "farthest") {
  return balltree_info().create(metric, dim, build_params(leaf_size, split));
}

void set_search(Index& index, std::int64_t max_leaves, double eps = 0.0) {
  Params given;
  given.set("max_leaves", max_leaves);
  given.set("eps", eps);
  index.set_search_params(
      resolve_params(given, balltree_info().search_params, "balltree", "search"));
}

std::vector<Neighbor> search_all(const Index& index, const FloatMatrix& queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows() * k);
  for (std::size_t q = 0; q < queries.rows(); ++q)
    index.search(queries.view().row(q), k, out.data() + q * k);
  return out;
}

void expect_same(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, want[i].id) << what << ", slot " << i;
    if (want[i].id >= 0) {
      ASSERT_EQ(got[i].distance, want[i].distance) << what << ", slot " << i;
    }
  }
}

// Queries: fresh points plus copies of base rows (distance 0, and ties when the base repeats).
FloatMatrix queries_for(const FloatMatrix& base, std::size_t fresh, std::uint32_t seed) {
  const std::size_t copies = std::min<std::size_t>(10, base.rows());
  const FloatMatrix random = random_matrix(fresh, base.cols(), seed);
  FloatMatrix queries(fresh + copies, base.cols());
  std::copy_n(random.data(), random.size(), queries.data());
  for (std::size_t i = 0; i < copies; ++i)
    std::copy_n(base.row(i * 7 % base.rows()), base.cols(), queries.row(fresh + i));
  return queries;
}

using testing::recall;

TEST(BallTreeModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = balltree_info();
  EXPECT_STREQ(info.name, "balltree");
  EXPECT_EQ(info.metrics.size(), 2u);
  EXPECT_NE(info.capabilities & kCapRangeSearch, 0u);
  const Params defaults = resolve_params({}, info.build_params, "balltree", "build");
  EXPECT_THROW(info.create(Metric::InnerProduct, 8, defaults), Error);
  EXPECT_THROW(info.create(Metric::L2, 0, defaults), Error);
  EXPECT_THROW(make_index(Metric::L2, 8, 8, "random"), Error);
  Params zero_leaf;
  zero_leaf.set("leaf_size", std::int64_t{0});
  EXPECT_THROW(resolve_params(zero_leaf, info.build_params, "balltree", "build"), Error);
  for (const std::int64_t budget : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-100}}) {
    Params bad;
    bad.set("max_leaves", budget);
    EXPECT_THROW(resolve_params(bad, info.search_params, "balltree", "search"), Error);
    // Straight to the index too, past the harness's bounds check.
    auto index = make_index(Metric::L2, 4);
    Params raw = resolve_params({}, info.search_params, "balltree", "search");
    raw.set("max_leaves", budget);
    EXPECT_THROW(index->set_search_params(raw), Error);
  }
  auto index = make_index(Metric::L2, 4);
  Params negative_eps = resolve_params({}, info.search_params, "balltree", "search");
  negative_eps.set("eps", -0.5);
  EXPECT_THROW(index->set_search_params(negative_eps), Error);
}

TEST(BallTreeModule, RejectsBadData) {
  auto index = make_index(Metric::L2, 4);
  const FloatMatrix empty(0, 4);
  EXPECT_THROW(index->build(empty.view()), Error);
  const FloatMatrix wrong_dim = random_matrix(10, 5, 1);
  EXPECT_THROW(index->build(wrong_dim.view()), Error);
  Neighbor out[3];
  const float query[4] = {0, 0, 0, 0};
  EXPECT_THROW(index->search(query, 3, out), Error);  // before build
  FloatMatrix with_nan = random_matrix(50, 4, 2);
  with_nan(17, 2) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(index->build(with_nan.view()), Error);

  const FloatMatrix base = random_matrix(50, 4, 3);
  index->build(base.view());
  // Queries are the harness's to check (once, before timing): search() does not.
  std::vector<Neighbor> range;
  EXPECT_THROW(index->range_search(query, std::numeric_limits<float>::quiet_NaN(), range), Error);
  const FloatMatrix wrong_queries = random_matrix(8, 5, 4);
  std::vector<Neighbor> batch(8 * 3);
  EXPECT_THROW(index->search_batch(wrong_queries.view(), 3, batch.data()), Error);
}

struct ExactCase {
  const char* name;
  FloatMatrix base;
};

std::vector<ExactCase> exact_cases() {
  std::vector<ExactCase> cases;
  cases.push_back({"gaussian n=3000 d=3", random_matrix(3000, 3, 11)});
  cases.push_back({"gaussian n=1500 d=64", random_matrix(1500, 64, 12)});
  cases.push_back({"gaussian n=400 d=1", random_matrix(400, 1, 13)});
  cases.push_back({"ties n=2000 d=8", tied_matrix(2000, 8, 40, 14)});
  cases.push_back({"ties n=600 d=1", tied_matrix(600, 1, 5, 15)});
  // Integer pixels like fashion-mnist's: long vectors whose distances are exact in float.
  cases.push_back({"ties n=800 d=200", tied_matrix(800, 200, 30, 16)});
  return cases;
}

TEST(BallTreeModule, ExactModeEqualsNaiveScan) {
  const std::size_t k = 10;
  for (const ExactCase& c : exact_cases()) {
    const FloatMatrix queries = queries_for(c.base, 30, 21);
    for (const Metric metric : {Metric::L2, Metric::Angular}) {
      const std::vector<Neighbor> want = naive_knn(c.base.view(), queries.view(), metric, k);
      for (const std::int64_t leaf_size : {1, 8, 40}) {
        for (const std::string split : {"farthest", "principal"}) {
          auto index = make_index(metric, c.base.cols(), leaf_size, split);
          index->build(c.base.view());
          set_search(index.operator*(), std::numeric_limits<std::int32_t>::max());
          expect_same(search_all(*index, queries, k), want,
                      std::string(c.name) + " " + std::string(metric_name(metric)) + " leaf_size " +
                          std::to_string(leaf_size) + " " + split);
        }
      }
    }
  }
}

TEST(BallTreeModule, AngularZeroVectorsAndZeroQuery) {
  FloatMatrix base = random_matrix(500, 6, 31);
  for (const std::size_t row : {3u, 4u, 250u, 499u}) std::fill_n(base.row(row), base.cols(), 0.0f);
  FloatMatrix queries = queries_for(base, 20, 32);
  std::fill_n(queries.row(0), queries.cols(), 0.0f);  // zero query: every distance is 1
  const std::size_t k = 12;
  auto index = make_index(Metric::Angular, base.cols(), 4);
  index->build(base.view());
  expect_same(search_all(*index, queries, k),
              naive_knn(base.view(), queries.view(), Metric::Angular, k), "zero vectors");
  // Only zero vectors: everything is at distance 1 from everything.
  const FloatMatrix zeros(30, 6, 0.0f);
  index->build(zeros.view());
  expect_same(search_all(*index, queries, k),
              naive_knn(zeros.view(), queries.view(), Metric::Angular, k), "all zero");
}

TEST(BallTreeModule, DuplicatesOnlyAndMoreNeighboursThanPoints) {
  const FloatMatrix same(700, 5, 2.5f);
  const FloatMatrix queries = random_matrix(5, 5, 41);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 5, 16);
    index->build(same.view());
    expect_same(search_all(*index, queries, 10), naive_knn(same.view(), queries.view(), metric, 10),
                "duplicates only");
    // Budgeted: any 10 of the duplicates are right, but they must be distinct, valid ids.
    set_search(*index, 1);
    const std::vector<Neighbor> approximate = search_all(*index, queries, 10);
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      std::set<std::int64_t> ids;
      for (std::size_t i = 0; i < 10; ++i) {
        const std::int64_t id = approximate[q * 10 + i].id;
        EXPECT_TRUE(id >= 0 && id < 700) << id;
        ids.insert(id);
      }
      EXPECT_EQ(ids.size(), 10u);
    }
  }
  const FloatMatrix tiny = random_matrix(4, 3, 42);
  auto index = make_index(Metric::L2, 3, 1);
  index->build(tiny.view());
  const FloatMatrix tiny_queries = random_matrix(3, 3, 43);
  const std::vector<Neighbor> got = search_all(*index, tiny_queries, 9);
  expect_same(got, naive_knn(tiny.view(), tiny_queries.view(), Metric::L2, 9), "k > n");
  EXPECT_EQ(got[5].id, -1);
  EXPECT_TRUE(std::isinf(got[5].distance));
}

TEST(BallTreeModule, BudgetTradesRecallForDistances) {
  // Clustered data (the tree's good case) in moderate dimension.
  const std::size_t n = 8000;
  const std::size_t dim = 24;
  const FloatMatrix centers = random_matrix(40, dim, 51, 0.0f, 4.0f);
  FloatMatrix base = random_matrix(n, dim, 52);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < dim; ++j) base(i, j) += centers(i % 40, j);
  const FloatMatrix queries = queries_for(base, 60, 53);
  const std::size_t k = 10;
  const std::vector<Neighbor> truth = naive_knn(base.view(), queries.view(), Metric::L2, k);
  auto index = make_index(Metric::L2, dim, 16);
  index->build(base.view());
  double previous_recall = -1.0;
  std::uint64_t previous_distances = 0;
  for (const std::int64_t budget : {1, 4, 16, 64, 1 << 20}) {
    set_search(*index, budget);
    const std::uint64_t before = *index->distance_count();
    const double r = recall(search_all(*index, queries, k), truth, k);
    const std::uint64_t used = *index->distance_count() - before;
    EXPECT_GE(r, previous_recall - 0.02) << "max_leaves " << budget;
    EXPECT_GT(used, previous_distances) << "max_leaves " << budget;
    previous_recall = r;
    previous_distances = used;
  }
  EXPECT_EQ(previous_recall, 1.0);
  // max_leaves 1 scans one leaf, far less than exact.
  set_search(*index, 1);
  const std::uint64_t before = *index->distance_count();
  search_all(*index, queries, k);
  EXPECT_LT(*index->distance_count() - before, previous_distances / 4);

  // eps: fewer distances, recall still high, and every result within (1 + eps) of the truth.
  const double eps = 0.5;
  set_search(*index, std::numeric_limits<std::int32_t>::max(), eps);
  const std::uint64_t eps_before = *index->distance_count();
  const std::vector<Neighbor> loose = search_all(*index, queries, k);
  EXPECT_LT(*index->distance_count() - eps_before, previous_distances);
  EXPECT_GT(recall(loose, truth, k), 0.5);
  for (std::size_t q = 0; q < queries.rows(); ++q)
    for (std::size_t i = 0; i < k; ++i)
      EXPECT_LE(loose[q * k + i].distance, (1.0 + eps) * truth[q * k + i].distance + 1e-4);
}

// Naive range scan: ids ascending with exact distances.
std::vector<Neighbor> naive_range(MatrixView base, const float* query, Metric metric,
                                  float radius) {
  std::vector<Neighbor> out;
  for (std::size_t i = 0; i < base.rows; ++i) {
    const double d = exact_distance(metric, query, base.row(i), base.dim);
    if (d <= static_cast<double>(radius))
      out.push_back(Neighbor{static_cast<std::int64_t>(i), static_cast<float>(d)});
  }
  return out;
}

TEST(BallTreeModule, RangeSearchEqualsNaiveScan) {
  std::vector<ExactCase> cases = exact_cases();
  std::fill_n(cases[3].base.row(5), cases[3].base.cols(), 0.0f);  // a zero vector for angular
  for (const ExactCase& c : cases) {
    const FloatMatrix queries = queries_for(c.base, 10, 61);
    for (const Metric metric : {Metric::L2, Metric::Angular}) {
      auto index = make_index(metric, c.base.cols(), 8);
      index->build(c.base.view());
      const std::vector<Neighbor> knn = naive_knn(c.base.view(), queries.view(), metric, 20);
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        // Radii at exact neighbour distances (boundary ties), 0, negative and huge.
        for (const float radius : {knn[q * 20].distance, knn[q * 20 + 9].distance,
                                   knn[q * 20 + 19].distance, 0.0f, -1.0f, 1e30f}) {
          std::vector<Neighbor> got;
          index->range_search(queries.row(q), radius, got);
          std::sort(got.begin(), got.end(),
                    [](const Neighbor& a, const Neighbor& b) { return a.id < b.id; });
          expect_same(got, naive_range(c.base.view(), queries.row(q), metric, radius),
                      std::string(c.name) + " range " + std::to_string(radius));
        }
      }
    }
  }
}

TEST(BallTreeModule, BatchEqualsSingleOnSeveralThreads) {
  const FloatMatrix base = random_matrix(4000, 12, 71);
  const FloatMatrix queries = random_matrix(200, 12, 72);
  const std::size_t k = 7;
  auto index = make_index(Metric::L2, 12, 20, "principal");
  index->build(base.view());
  const std::vector<Neighbor> single = search_all(*index, queries, k);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(4);
  for (const std::int64_t budget : {std::int64_t{3}, std::int64_t{1} << 30}) {
    set_search(*index, budget);
    std::vector<Neighbor> batch(queries.rows() * k);
    index->search_batch(queries.view(), k, batch.data());
    expect_same(batch, search_all(*index, queries, k), "batch vs single");
  }
  omp_set_num_threads(threads);
  expect_same(single, naive_knn(base.view(), queries.view(), Metric::L2, k), "exact");
  EXPECT_GT(index->memory_bytes(), base.rows() * base.cols() * sizeof(float));
  EXPECT_GT(*index->distance_count(), 0u);
}

TEST(BallTreeModule, SavedAndLoadedIndexAnswersIdenticallyWithoutTheDataset) {
  const std::size_t dim = 10;
  const std::size_t k = 10;
  const ModuleInfo& info = balltree_info();
  EXPECT_NE(info.capabilities & kCapSaveLoad, 0u);
  ASSERT_NE(info.load, nullptr);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const std::pair<std::int64_t, const char*> specs[] = {{16, "principal"}, {4, "farthest"}};
    for (const auto& [leaf_size, split] : specs) {
      const std::string context =
          fmt::format("{} leaf {} {}", metric_name(metric), leaf_size, split);
      FloatMatrix base = random_matrix(2000, dim, 41);
      for (std::size_t r = 1; r < base.rows(); r += 17)
        std::copy_n(base.row(r / 2), dim, base.row(r));
      if (metric == Metric::Angular) {
        std::fill_n(base.row(3), dim, 0.0f);
        std::fill_n(base.row(50), dim, 0.0f);
      }
      FloatMatrix queries = random_matrix(40, dim, 42);
      std::copy_n(base.row(7), dim, queries.row(1));
      if (metric == Metric::Angular) std::fill_n(queries.row(0), dim, 0.0f);
      auto index = make_index(metric, dim, leaf_size, split);
      index->build(base.view());
      const std::string path = temp_file("balltree-roundtrip");
      index->save(path);
      auto loaded = info.load(path, metric, dim);
      std::filesystem::remove(path);

      struct Setting {
        std::int64_t max_leaves;
        double eps;
      };
      std::vector<std::vector<Neighbor>> before;
      std::vector<std::vector<Neighbor>> ranges;
      const Setting settings[] = {{1 << 30, 0.0}, {3, 0.0}, {1 << 30, 1.0}};
      const float radius = metric == Metric::L2 ? 3.0f : 0.3f;
      for (const Setting& setting : settings) {
        set_search(*index, setting.max_leaves, setting.eps);
        before.push_back(search_all(*index, queries, k));
        expect_metric_scale(before.back(), base, queries, k, metric);
      }
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        index->range_search(queries.row(q), radius, ranges.emplace_back());
      }
      // The loaded index must not read the dataset: overwrite it.
      std::fill_n(base.data(), base.size(), 1e6f);
      for (std::size_t i = 0; i < std::size(settings); ++i) {
        set_search(*loaded, settings[i].max_leaves, settings[i].eps);
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

TEST(BallTreeModule, LoadRefusesMissingTruncatedForeignAndCorruptFiles) {
  const std::size_t dim = 6;
  const ModuleInfo& info = balltree_info();
  const FloatMatrix base = random_matrix(500, dim, 51);
  const FloatMatrix queries = random_matrix(5, dim, 52);
  auto index = make_index(Metric::L2, dim, 8, "principal");
  const float query[dim] = {};
  EXPECT_THROW(index->save(temp_file("balltree-unbuilt")), Error);  // nothing to save yet
  index->build(base.view());
  const std::string good = temp_file("balltree-good");
  const std::string bad = temp_file("balltree-bad");
  index->save(good);
  EXPECT_NO_THROW(info.load(good, Metric::L2, dim));

  EXPECT_THROW(info.load(temp_file("balltree-missing"), Metric::L2, dim), Error);
  EXPECT_THROW(info.load(good, Metric::L2, dim + 1), Error);
  EXPECT_THROW(info.load(good, Metric::Angular, dim), Error);
  try {
    IndexFileWriter("kdtree", 1, Metric::L2, dim, 0).write(bad);
    info.load(bad, Metric::L2, dim);
    ADD_FAILURE() << "another module's file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds a 'kdtree' index, not a 'balltree' index"),
              std::string::npos)
        << e.what();
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
                                 {"meta", "ids", "nodes", "points", "centers"});
  // Any section zeroed, shortened or overwritten: an Error, or an index that still answers.
  exercise_damaged_sections(info, good, bad, Metric::L2, dim, [&](Index& loaded) {
    set_search(loaded, 1 << 30);
    std::vector<Neighbor> out(queries.rows() * 4);
    loaded.search_batch(queries.view(), 4, out.data());
    set_search(loaded, 2);
    loaded.search(query, 4, out.data());
    std::vector<Neighbor> found;
    loaded.range_search(query, 1.0f, found);
  });
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace annbench
