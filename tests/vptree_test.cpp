// The vptree module through the plugin loader: exact mode equal to a naive double-precision scan
// (ids and distances, ties by smaller id) on seeded low- and high-dimensional data with
// duplicates; range search equal to a naive scan; the stretch trade-off; determinism across
// thread counts; bad input (empty base, NaN, dot metric, bad parameters); a saved and loaded
// index answers identically without the dataset, and missing, truncated, foreign or corrupt
// files are Errors.

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
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
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

const ModuleInfo& vptree_info() {
  static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("vptree").info;
}

struct BuildOptions {
  std::int64_t leaf_size = 32;
  std::int64_t vp_candidates = 8;
  std::int64_t seed = 7;
};

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, BuildOptions options = {}) {
  const ModuleInfo& info = vptree_info();
  Params given;
  given.set("leaf_size", options.leaf_size);
  given.set("vp_candidates", options.vp_candidates);
  given.set("seed", options.seed);
  return info.create(metric, dim, resolve_params(given, info.build_params, "vptree", "build"));
}

void set_stretch(Index& index, double stretch) {
  Params given;
  given.set("stretch", stretch);
  index.set_search_params(resolve_params(given, vptree_info().search_params, "vptree", "search"));
}

std::vector<Neighbor> search_all(const Index& index, MatrixView queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows * k);
  for (std::size_t q = 0; q < queries.rows; ++q) index.search(queries.row(q), k, &out[q * k]);
  return out;
}

void expect_same(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                 const std::string& label) {
  ASSERT_EQ(got.size(), want.size()) << label;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, want[i].id) << label << " slot " << i;
    ASSERT_EQ(got[i].distance, want[i].distance) << label << " slot " << i;
  }
}

// Base with exact duplicates of some rows and some queries equal to base rows.
FloatMatrix with_duplicates(const FloatMatrix& base) {
  FloatMatrix out(base.rows(), base.cols());
  std::copy_n(base.data(), base.size(), out.data());
  for (std::size_t r = 1; r < out.rows(); r += 7)
    std::copy_n(base.row(r / 2), base.cols(), out.row(r));
  return out;
}

TEST(VpTreeModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = vptree_info();
  EXPECT_STREQ(info.name, "vptree");
  ASSERT_EQ(info.metrics.size(), 2u);
  EXPECT_TRUE(info.capabilities & kCapRangeSearch);
  const Params defaults = resolve_params({}, info.build_params, "vptree", "build");
  EXPECT_THROW(info.create(Metric::InnerProduct, 8, defaults), Error);
  EXPECT_THROW(info.create(Metric::L2, 0, defaults), Error);
  for (const char* key : {"leaf_size", "vp_candidates", "vp_sample"}) {
    Params zero;
    zero.set(key, std::int64_t{0});
    EXPECT_THROW(resolve_params(zero, info.build_params, "vptree", "build"), Error) << key;
    Params direct = defaults;  // bypassing the harness's bounds check
    direct.set(key, std::int64_t{-3});
    EXPECT_THROW(info.create(Metric::L2, 4, direct), Error) << key;
  }
  for (const double stretch : {0.0, -1.0, 0.5}) {
    Params bad;
    bad.set("stretch", stretch);
    EXPECT_THROW(resolve_params(bad, info.search_params, "vptree", "search"), Error);
  }
  auto index = make_index(Metric::L2, 4);
  for (const double stretch : {0.0, -2.0, std::nan("")}) {
    Params direct;
    direct.set("stretch", stretch);
    EXPECT_THROW(index->set_search_params(direct), Error) << stretch;
  }
}

TEST(VpTreeModule, RejectsBadData) {
  auto index = make_index(Metric::L2, 4);
  std::vector<Neighbor> out(3);
  const float query[4] = {0, 0, 0, 0};
  EXPECT_THROW(index->search(query, 3, out.data()), Error);  // before build
  EXPECT_THROW(index->build(MatrixView{nullptr, 0, 4}), Error);
  const FloatMatrix wrong_dim = random_matrix(10, 5, 1);
  EXPECT_THROW(index->build(wrong_dim.view()), Error);
  FloatMatrix with_nan = random_matrix(10, 4, 1);
  with_nan(3, 2) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(index->build(with_nan.view()), Error);
  with_nan(3, 2) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(index->build(with_nan.view()), Error);
  const FloatMatrix good = random_matrix(10, 4, 2);
  index->build(good.view());
  // Queries are the harness's to check (once, before timing): search() does not.
  std::vector<Neighbor> range;
  EXPECT_THROW(index->range_search(query, std::nanf(""), range), Error);
}

struct ExactCase {
  const char* name;
  FloatMatrix base;
  FloatMatrix queries;
};

std::vector<ExactCase> exact_cases() {
  std::vector<ExactCase> cases;
  cases.push_back({"dim1", random_matrix(800, 1, 11), random_matrix(30, 1, 12)});
  cases.push_back({"dim3", with_duplicates(random_matrix(3000, 3, 13)), random_matrix(30, 3, 14)});
  cases.push_back(
      {"dim16", with_duplicates(random_matrix(2000, 16, 15)), random_matrix(30, 16, 16)});
  cases.push_back({"dim128", random_matrix(1000, 128, 17), random_matrix(20, 128, 18)});
  // Small integers, 40 distinct rows: ties at almost every rank, queries on base points.
  cases.push_back({"ties", tied_matrix(1500, 6, 40, 19), tied_matrix(30, 6, 40, 19)});
  return cases;
}

TEST(VpTreeModule, ExactModeEqualsNaiveScan) {
  // Default tree; one-point leaves with random vantage points; one root leaf (a plain scan).
  const std::vector<BuildOptions> trees = {BuildOptions{}, BuildOptions{1, 1, 3},
                                           BuildOptions{4096, 8, 5}};
  for (const ExactCase& c : exact_cases()) {
    for (const Metric metric : {Metric::L2, Metric::Angular}) {
      // naive_knn(37) sorted by (distance, id): its prefixes are the answers for smaller k.
      const std::size_t max_k = 37;
      const auto truth = naive_knn(c.base.view(), c.queries.view(), metric, max_k);
      for (const BuildOptions& options : trees) {
        auto index = make_index(metric, c.base.cols(), options);
        index->build(c.base.view());
        for (const std::size_t k : {std::size_t{1}, std::size_t{10}, max_k}) {
          std::vector<Neighbor> want(c.queries.rows() * k);
          for (std::size_t q = 0; q < c.queries.rows(); ++q)
            std::copy_n(&truth[q * max_k], k, &want[q * k]);
          const std::string label =
              fmt::format("{} {} leaf {} k {}", c.name, metric_name(metric), options.leaf_size, k);
          expect_same(search_all(*index, c.queries.view(), k), want, label);
        }
      }
    }
  }
}

TEST(VpTreeModule, PrunesAtLowDimensionAndCountsDistances) {
  const FloatMatrix base = random_matrix(20000, 3, 21);
  const FloatMatrix queries = random_matrix(100, 3, 22);
  auto index = make_index(Metric::L2, 3);
  index->build(base.view());
  EXPECT_GE(index->memory_bytes(), base.bytes());
  const std::uint64_t before = *index->distance_count();
  EXPECT_GE(before, base.rows());  // the build's distances count too
  search_all(*index, queries.view(), 10);
  const double per_query = static_cast<double>(*index->distance_count() - before) / 100.0;
  EXPECT_GT(per_query, 10.0);
  EXPECT_LT(per_query, 0.05 * static_cast<double>(base.rows()));
}

TEST(VpTreeModule, DuplicatesOnlyKBeyondNAndZeroK) {
  FloatMatrix same(300, 5);
  for (std::size_t i = 0; i < same.size(); ++i) same.data()[i] = 1.5f;
  const FloatMatrix queries = random_matrix(5, 5, 31);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 5, {4, 8, 1});
    index->build(same.view());
    expect_same(search_all(*index, queries.view(), 20),
                naive_knn(same.view(), queries.view(), metric, 20), "duplicates only");
    // k > n: every point, then padding.
    const FloatMatrix few = random_matrix(7, 5, 32);
    index->build(few.view());
    const auto got = search_all(*index, queries.view(), 12);
    expect_same(got, naive_knn(few.view(), queries.view(), metric, 12), "k > n");
    EXPECT_EQ(got[11].id, -1);
    EXPECT_TRUE(std::isinf(got[11].distance));
    index->search(queries.row(0), 0, nullptr);  // k = 0 writes nothing
  }
}

TEST(VpTreeModule, AngularZeroVectors) {
  // Positive coordinates, so a negative query has cos < 0 with every non-zero row and the zero
  // rows (distance exactly 1) rank first.
  FloatMatrix base = random_matrix(500, 8, 41);
  for (std::size_t i = 0; i < base.size(); ++i) base.data()[i] = std::fabs(base.data()[i]);
  for (const std::size_t r : {0u, 3u, 250u, 499u}) std::fill_n(base.row(r), 8, 0.0f);
  FloatMatrix queries = random_matrix(20, 8, 42);
  std::fill_n(queries.row(5), 8, 0.0f);
  std::fill_n(queries.row(6), 8, -100.0f);
  auto index = make_index(Metric::Angular, 8, {8, 8, 2});
  index->build(base.view());
  for (const std::size_t k : {1, 3, 10}) {
    expect_same(search_all(*index, queries.view(), k),
                naive_knn(base.view(), queries.view(), Metric::Angular, k), "zero vectors");
  }
  FloatMatrix zeros(10, 8, 0.0f);
  index->build(zeros.view());
  expect_same(search_all(*index, queries.view(), 4),
              naive_knn(zeros.view(), queries.view(), Metric::Angular, 4), "all zero");
}

// Distances that differ by less than float rounding: the float order is noise, so only the
// rounding allowance keeps every exact neighbour among the candidates.
TEST(VpTreeModule, NearTiesBelowFloatPrecisionStayExact) {
  const std::size_t dim = 128;
  const std::size_t n = 600;
  // Euclidean: points on a thin shell around the origin, radii 1 + i * 1e-9.
  FloatMatrix shell = random_matrix(n, dim, 81);
  for (std::size_t i = 0; i < n; ++i) {
    double norm2 = 0.0;
    for (std::size_t j = 0; j < dim; ++j) norm2 += static_cast<double>(shell(i, j)) * shell(i, j);
    const double scale = (1.0 + 1e-9 * static_cast<double>(i)) / std::sqrt(norm2);
    for (std::size_t j = 0; j < dim; ++j) shell(i, j) = static_cast<float>(shell(i, j) * scale);
  }
  FloatMatrix origin(2, dim, 0.0f);
  origin(1, 0) = 1e-4f;
  // Angular: one direction at many scales, each row nudged by an ulp in a few coordinates.
  const FloatMatrix direction = random_matrix(1, dim, 82);
  FloatMatrix rays(n, dim);
  std::mt19937 rng(83);
  std::uniform_real_distribution<float> scale(0.5f, 2.0f);
  std::uniform_int_distribution<std::size_t> coordinate(0, dim - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const float s = scale(rng);
    for (std::size_t j = 0; j < dim; ++j) rays(i, j) = direction(0, j) * s;
    for (int nudge = 0; nudge < 3; ++nudge) {
      float& x = rays(i, coordinate(rng));
      x = std::nextafter(x, 2.0f * x);
    }
  }
  FloatMatrix ray_queries(2, dim);
  std::copy_n(direction.row(0), dim, ray_queries.row(0));
  std::copy_n(rays.row(7), dim, ray_queries.row(1));
  for (const auto& [metric, base, queries] : {std::tuple{Metric::L2, &shell, &origin},
                                              std::tuple{Metric::Angular, &rays, &ray_queries}}) {
    auto index = make_index(metric, dim, {8, 8, 9});
    index->build(base->view());
    for (const std::size_t k : {1, 10, 100}) {
      expect_same(search_all(*index, queries->view(), k),
                  naive_knn(base->view(), queries->view(), metric, k),
                  fmt::format("near ties {} k {}", metric_name(metric), k));
    }
  }
}

// Naive range scan: ids within radius by exact_distance, sorted by id.
std::vector<Neighbor> naive_range(MatrixView base, const float* query, Metric metric,
                                  float radius) {
  std::vector<Neighbor> out;
  for (std::size_t i = 0; i < base.rows; ++i) {
    const double d = exact_distance(metric, query, base.row(i), base.dim);
    if (d <= static_cast<double>(radius))
      out.push_back({static_cast<std::int64_t>(i), static_cast<float>(d)});
  }
  return out;
}

TEST(VpTreeModule, RangeSearchEqualsNaiveScan) {
  FloatMatrix base = with_duplicates(random_matrix(3000, 6, 51));
  std::fill_n(base.row(17), 6, 0.0f);
  FloatMatrix queries = random_matrix(20, 6, 52);
  std::copy_n(base.row(10), 6, queries.row(0));  // a query on a base point: radius 0 finds it
  std::fill_n(queries.row(1), 6, 0.0f);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 6, {16, 8, 5});
    index->build(base.view());
    const std::vector<float> radii = metric == Metric::L2
                                         ? std::vector<float>{-1.0f, 0.0f, 0.5f, 1.5f, 100.0f}
                                         : std::vector<float>{-0.1f, 0.0f, 0.05f, 1.0f, 2.5f};
    for (const float radius : radii) {
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        std::vector<Neighbor> got;
        index->range_search(queries.row(q), radius, got);
        std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return a.id < b.id; });
        const auto want = naive_range(base.view(), queries.row(q), metric, radius);
        expect_same(got, want, fmt::format("range {} r {} q {}", metric_name(metric), radius, q));
      }
    }
    // Approximate mode may miss points but never returns one outside the radius.
    set_stretch(*index, 3.0);
    std::vector<Neighbor> got;
    const float radius = metric == Metric::L2 ? 1.5f : 0.05f;
    index->range_search(queries.row(2), radius, got);
    const auto want = naive_range(base.view(), queries.row(2), metric, radius);
    EXPECT_LE(got.size(), want.size());
    for (const Neighbor& n : got) EXPECT_LE(n.distance, radius);
  }
}

using testing::recall;

TEST(VpTreeModule, StretchTradesRecallForDistances) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(6000, 12, 61);
  const FloatMatrix queries = random_matrix(50, 12, 62);
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, k);
  auto index = make_index(Metric::L2, 12);
  index->build(base.view());
  std::vector<double> recalls;
  std::vector<std::uint64_t> counts;
  for (const double stretch : {1.0, 1.5, 2.5, 5.0}) {
    set_stretch(*index, stretch);
    const std::uint64_t before = *index->distance_count();
    recalls.push_back(recall(search_all(*index, queries.view(), k), truth, k));
    counts.push_back(*index->distance_count() - before);
  }
  EXPECT_EQ(recalls.front(), 1.0);
  for (std::size_t i = 1; i < recalls.size(); ++i) {
    EXPECT_LE(recalls[i], recalls[i - 1] + 1e-9);
    EXPECT_LT(counts[i], counts[i - 1]);
  }
  EXPECT_LT(recalls.back(), 0.9);
  EXPECT_LT(counts.back() * 3, counts.front());
}

TEST(VpTreeModule, SameResultsAcrossThreadCountsAndBatch) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(30000, 8, 71);
  const FloatMatrix queries = random_matrix(200, 8, 72);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<Neighbor>> runs;
  std::vector<std::uint64_t> build_counts;
  for (const int t : {1, 2, 4}) {
    omp_set_num_threads(t);
    auto index = make_index(Metric::L2, 8);
    index->build(base.view());
    build_counts.push_back(*index->distance_count());
    set_stretch(*index, 2.0);
    runs.push_back(search_all(*index, queries.view(), k));
    std::vector<Neighbor> batch(queries.rows() * k);
    index->search_batch(queries.view(), k, batch.data());
    expect_same(batch, runs.back(), fmt::format("batch, {} threads", t));
  }
  omp_set_num_threads(threads);
  for (std::size_t r = 1; r < runs.size(); ++r) {
    EXPECT_EQ(build_counts[r], build_counts[0]);
    expect_same(runs[r], runs[0], fmt::format("run {}", r));
  }
}

TEST(VpTreeModule, SavedAndLoadedIndexAnswersIdenticallyWithoutTheDataset) {
  const std::size_t dim = 10;
  const std::size_t k = 10;
  const ModuleInfo& info = vptree_info();
  EXPECT_NE(info.capabilities & kCapSaveLoad, 0u);
  ASSERT_NE(info.load, nullptr);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    const BuildOptions specs[] = {{32, 8, 7}, {1, 1, 3}};
    for (const BuildOptions& spec : specs) {
      const std::string context = fmt::format("{} leaf {} candidates {}", metric_name(metric),
                                              spec.leaf_size, spec.vp_candidates);
      FloatMatrix base = with_duplicates(random_matrix(2000, dim, 41));
      if (metric == Metric::Angular) {
        std::fill_n(base.row(3), dim, 0.0f);
        std::fill_n(base.row(50), dim, 0.0f);
      }
      FloatMatrix queries = random_matrix(40, dim, 42);
      std::copy_n(base.row(7), dim, queries.row(1));
      if (metric == Metric::Angular) std::fill_n(queries.row(0), dim, 0.0f);
      auto index = make_index(metric, dim, spec);
      index->build(base.view());
      const std::string path = temp_file("vptree-roundtrip");
      index->save(path);
      auto loaded = info.load(path, metric, dim);
      std::filesystem::remove(path);

      std::vector<std::vector<Neighbor>> before;
      std::vector<std::vector<Neighbor>> ranges;
      const double settings[] = {1.0, 1.5, 4.0};  // stretch
      const float radius = metric == Metric::L2 ? 3.0f : 0.3f;
      for (const double stretch : settings) {
        set_stretch(*index, stretch);
        before.push_back(search_all(*index, queries.view(), k));
        expect_metric_scale(before.back(), base, queries, k, metric);
      }
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        index->range_search(queries.row(q), radius, ranges.emplace_back());
      }
      // The loaded index must not read the dataset: overwrite it.
      std::fill_n(base.data(), base.size(), 1e6f);
      for (std::size_t i = 0; i < std::size(settings); ++i) {
        set_stretch(*loaded, settings[i]);
        expect_same(search_all(*loaded, queries.view(), k), before[i], context);
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

TEST(VpTreeModule, LoadRefusesMissingTruncatedForeignAndCorruptFiles) {
  const std::size_t dim = 6;
  const ModuleInfo& info = vptree_info();
  const FloatMatrix base = random_matrix(500, dim, 51);
  const FloatMatrix queries = random_matrix(5, dim, 52);
  auto index = make_index(Metric::L2, dim, {4, 8, 7});
  const float query[dim] = {};
  EXPECT_THROW(index->save(temp_file("vptree-unbuilt")), Error);  // nothing to save yet
  index->build(base.view());
  const std::string good = temp_file("vptree-good");
  const std::string bad = temp_file("vptree-bad");
  index->save(good);
  EXPECT_NO_THROW(info.load(good, Metric::L2, dim));

  EXPECT_THROW(info.load(temp_file("vptree-missing"), Metric::L2, dim), Error);
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
                                 {"meta", "ids", "nodes", "points"});
  // Any section zeroed, shortened or overwritten: an Error, or an index that still answers.
  exercise_damaged_sections(info, good, bad, Metric::L2, dim, [&](Index& loaded) {
    set_stretch(loaded, 1.0);
    std::vector<Neighbor> out(queries.rows() * 4);
    loaded.search_batch(queries.view(), 4, out.data());
    set_stretch(loaded, 3.0);
    loaded.search(query, 4, out.data());
    std::vector<Neighbor> found;
    loaded.range_search(query, 1.0f, found);
  });
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace annbench
