// The bruteforce module through its C entry point, as the harness loads it: exact results
// against the naive reference for every metric (distances in the metric's scale), padding when
// k > n, distance counts, memory; save -> load gives identical answers, also after add/remove,
// and bad files give errors naming them.

#include "filtered_knn.h"
#include "index_file_checks.h"
#include "naive_knn.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
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

class BruteForceModule : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(ANNBENCH_TEST_MODULE_DIR) + "/libannbench_bruteforce.so";
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    using EntryPoint = const ModuleInfo* (*)();
    auto entry = reinterpret_cast<EntryPoint>(dlsym(handle_, ANNBENCH_MODULE_ENTRY_POINT));
    ASSERT_NE(entry, nullptr) << dlerror();
    info_ = entry();
    ASSERT_NE(info_, nullptr);
  }
  void TearDown() override {
    if (handle_ != nullptr) dlclose(handle_);
  }

  std::unique_ptr<Index> create(Metric metric, std::size_t dim) const {
    const Params build = resolve_params({}, info_->build_params, info_->name, "build");
    return info_->create(metric, dim, build);
  }

  void* handle_ = nullptr;
  const ModuleInfo* info_ = nullptr;
};

// ---- Save / load ----

TEST_F(BruteForceModule, DescribesItself) {
  EXPECT_EQ(info_->abi_version, kAbiVersion);
  EXPECT_EQ(info_->info_size, sizeof(ModuleInfo));
  EXPECT_STREQ(info_->name, "bruteforce");
  EXPECT_NE(info_->description, nullptr);
  EXPECT_EQ(info_->metrics.size(), 3u);
  EXPECT_TRUE(info_->build_params.empty());
  EXPECT_TRUE(info_->search_params.empty());
  EXPECT_NE(info_->capabilities & kCapNativeBatch, 0u);
  Params unknown;
  unknown.set("block", std::int64_t{64});
  EXPECT_THROW(resolve_params(unknown, info_->build_params, info_->name, "build"), Error);
}

TEST_F(BruteForceModule, ExactForEveryMetricSingleAndBatch) {
  const FloatMatrix base = random_matrix(1200, 40, 21);
  const FloatMatrix queries = random_matrix(45, 40, 22);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    const std::string what(metric_name(metric));
    auto index = create(metric, 40);
    index->build(base.view());
    for (const std::size_t k : {1, 10, 100}) {
      const std::vector<Neighbor> expected = naive_knn(base.view(), queries.view(), metric, k);
      std::vector<Neighbor> batch(queries.rows() * k);
      index->search_batch(queries.view(), k, batch.data());
      expect_identical(batch, expected, what + " batch k " + std::to_string(k));
      std::vector<Neighbor> single(queries.rows() * k);
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        index->search(queries.row(q), k, single.data() + q * k);
      }
      expect_identical(single, expected, what + " single k " + std::to_string(k));
    }
  }
}

TEST_F(BruteForceModule, TiesAndDuplicates) {
  const FloatMatrix base = tied_matrix(300, 5, 8, 23);
  const FloatMatrix queries = tied_matrix(12, 5, 8, 23);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = create(metric, 5);
    index->build(base.view());
    const std::vector<Neighbor> expected = naive_knn(base.view(), queries.view(), metric, 60);
    std::vector<Neighbor> batch(queries.rows() * 60);
    index->search_batch(queries.view(), 60, batch.data());
    expect_identical(batch, expected, std::string(metric_name(metric)) + " ties");
  }
}

TEST_F(BruteForceModule, KLargerThanBasePadsWithMinusOne) {
  const FloatMatrix base = random_matrix(6, 12, 24);
  const FloatMatrix queries = random_matrix(3, 12, 25);
  auto index = create(Metric::L2, 12);
  index->build(base.view());
  const std::size_t k = 10;
  std::vector<Neighbor> batch(queries.rows() * k);
  index->search_batch(queries.view(), k, batch.data());
  const std::vector<Neighbor> expected = naive_knn(base.view(), queries.view(), Metric::L2, k);
  expect_identical(batch, expected, "k > n");
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    for (std::size_t j = 6; j < k; ++j) {
      EXPECT_EQ(batch[q * k + j].id, -1);
      EXPECT_EQ(batch[q * k + j].distance, std::numeric_limits<float>::infinity());
    }
  }
  std::vector<Neighbor> single(k);
  index->search(queries.row(0), k, single.data());
  EXPECT_EQ(single[5].id, expected[5].id);
  EXPECT_EQ(single[6].id, -1);
}

TEST_F(BruteForceModule, EmptyBaseGivesNoResults) {
  const FloatMatrix base(0, 4);
  const FloatMatrix queries = random_matrix(2, 4, 26);
  auto index = create(Metric::Angular, 4);
  index->build(base.view());
  std::vector<Neighbor> out(2 * 3, Neighbor{7, 1.0f});
  index->search_batch(queries.view(), 3, out.data());
  for (const Neighbor& n : out) EXPECT_EQ(n.id, -1);
  EXPECT_EQ(index->memory_bytes(), 0u);
}

TEST_F(BruteForceModule, CountsDistancesPerQuery) {
  const FloatMatrix base = random_matrix(500, 16, 27);
  const FloatMatrix queries = random_matrix(20, 16, 28);
  auto index = create(Metric::L2, 16);
  index->build(base.view());
  ASSERT_TRUE(index->distance_count().has_value());
  EXPECT_EQ(*index->distance_count(), 0u);
  std::vector<Neighbor> out(20 * 5);
  index->search(queries.row(0), 5, out.data());
  EXPECT_EQ(*index->distance_count(), 500u);
  index->search_batch(queries.view(), 5, out.data());
  EXPECT_EQ(*index->distance_count(), 500u + 20u * 500u);
}

TEST_F(BruteForceModule, MemoryCountsBaseAndOwnedCopies) {
  const FloatMatrix base = random_matrix(1000, 32, 29);
  const std::size_t base_bytes = base.bytes();
  auto l2 = create(Metric::L2, 32);
  l2->build(base.view());
  EXPECT_GE(l2->memory_bytes(), base_bytes + 1000 * sizeof(float));  // base + squared norms
  EXPECT_LE(l2->memory_bytes(), base_bytes + 1000 * sizeof(float) + 4096);
  auto angular = create(Metric::Angular, 32);
  angular->build(base.view());
  EXPECT_GE(angular->memory_bytes(), 2 * base_bytes);  // base + normalised copy
  EXPECT_LE(angular->memory_bytes(), 2 * base_bytes + 4096);
}

TEST_F(BruteForceModule, ErrorsAreClear) {
  auto index = create(Metric::L2, 8);
  Neighbor out[1];
  const float query[8] = {};
  EXPECT_THROW(index->search(query, 1, out), Error);  // before build
  const FloatMatrix wrong = random_matrix(10, 9, 30);
  EXPECT_THROW(index->build(wrong.view()), Error);
}

TEST_F(BruteForceModule, ConcurrentSearchesAgree) {
  const FloatMatrix base = random_matrix(800, 24, 31);
  const FloatMatrix queries = random_matrix(64, 24, 32);
  auto index = create(Metric::InnerProduct, 24);
  index->build(base.view());
  const std::size_t k = 8;
  const std::vector<Neighbor> expected =
      naive_knn(base.view(), queries.view(), Metric::InnerProduct, k);
  std::vector<Neighbor> got(queries.rows() * k);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t q = t; q < queries.rows(); q += 4)
        index->search(queries.row(q), k, got.data() + q * k);
    });
  }
  for (std::thread& thread : threads) thread.join();
  expect_identical(got, expected, "concurrent");
  EXPECT_EQ(*index->distance_count(), 64u * 800u);
}

TEST_F(BruteForceModule, DeclaresSaveLoad) {
  EXPECT_NE(info_->capabilities & kCapSaveLoad, 0u);
  EXPECT_NE(info_->load, nullptr);
}

TEST_F(BruteForceModule, SaveLoadGivesIdenticalAnswersForEveryMetric) {
  const FloatMatrix base = random_matrix(700, 20, 41);
  const FloatMatrix queries = random_matrix(30, 20, 42);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    const std::string what(metric_name(metric));
    auto index = create(metric, 20);
    index->build(base.view());
    const std::string path = temp_file("bruteforce_" + what);
    index->save(path);
    const auto loaded = info_->load(path, metric, 20);
    std::vector<Neighbor> a(queries.rows() * 10), b(queries.rows() * 10);
    index->search_batch(queries.view(), 10, a.data());
    loaded->search_batch(queries.view(), 10, b.data());
    expect_identical(a, b, what);
    // The file is self-contained: the loaded index counts the rows it owns.
    EXPECT_GE(loaded->memory_bytes(), base.bytes()) << what;
    std::vector<Neighbor> ra, rb;
    index->range_search(queries.row(0), a[5].distance, ra);
    loaded->range_search(queries.row(0), a[5].distance, rb);
    expect_identical(ra, rb, what + " range");
    std::remove(path.c_str());
  }
}

TEST_F(BruteForceModule, SaveLoadKeepsIdsAfterAddAndRemove) {
  const FloatMatrix base = random_matrix(600, 16, 43);
  const FloatMatrix queries = random_matrix(25, 16, 44);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    const std::string what(metric_name(metric));
    auto index = create(metric, 16);
    index->build(MatrixView{base.data(), 400, 16});  // static, then changed
    std::vector<std::int64_t> ids(200);
    std::iota(ids.begin(), ids.end(), 5000);
    index->add(ids, MatrixView{base.row(400), 200, 16});
    std::vector<std::int64_t> gone = {3, 17, 5004, 5100, 399};
    index->remove(gone);
    const std::string path = temp_file("bruteforce_stream_" + what);
    index->save(path);
    auto loaded = info_->load(path, metric, 16);
    std::vector<Neighbor> a(queries.rows() * 12), b(queries.rows() * 12);
    index->search_batch(queries.view(), 12, a.data());
    loaded->search_batch(queries.view(), 12, b.data());
    expect_identical(a, b, what);
    // Both keep changing alike: the id map was saved as it was.
    for (Index* i : {index.get(), loaded.get()}) {
      const std::vector<std::int64_t> more = {17, 9000};
      i->add(more, MatrixView{base.row(0), 2, 16});
      const std::vector<std::int64_t> less = {5001, 0};
      i->remove(less);
    }
    index->search_batch(queries.view(), 12, a.data());
    loaded->search_batch(queries.view(), 12, b.data());
    expect_identical(a, b, what + " after more changes");
    std::remove(path.c_str());
  }
}

TEST_F(BruteForceModule, DistancesAreInTheMetricsScale) {
  const FloatMatrix base = random_matrix(300, 10, 45);
  const FloatMatrix queries = random_matrix(8, 10, 46);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = create(metric, 10);
    index->build(base.view());
    std::vector<Neighbor> out(5);
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      index->search(queries.row(q), 5, out.data());
      for (const Neighbor& n : out) {
        const double d =
            exact_distance(metric, queries.row(q), base.row(static_cast<std::size_t>(n.id)), 10);
        EXPECT_NEAR(n.distance, d, 1e-5 * (1.0 + std::abs(d))) << metric_name(metric);
      }
    }
  }
}

TEST_F(BruteForceModule, BadFilesGiveErrorsNamingThem) {
  const FloatMatrix base = random_matrix(200, 8, 47);
  auto index = create(Metric::L2, 8);
  index->build(base.view());
  std::vector<std::int64_t> ids = {900, 901};
  index->add(ids, MatrixView{base.data(), 2, 8});
  const std::string path = temp_file("bruteforce_bad");
  index->save(path);
  expect_container_errors(*info_, path, Metric::L2, Metric::Angular, 8);
  // Checksummed but inconsistent: a repeated id, a NaN vector.
  expect_load_error(*info_, poke<std::int64_t>(path, "ids", 1, 900), Metric::L2, 8, "repeated");
  expect_load_error(*info_, poke<float>(path, "vectors", 3, std::nanf("")), Metric::L2, 8,
                    "non-finite");
  std::remove(path.c_str());
  std::remove((path + ".poked").c_str());
}

// ---- Filtered search ----

using testing::expect_allowed;
using testing::filter_of;
using testing::naive_filtered_knn;
using testing::RandomLabels;

std::vector<Neighbor> search_filtered_all(const Index& index, MatrixView queries, std::size_t k,
                                          const Filter& filter) {
  std::vector<Neighbor> out(queries.rows * k);
  for (std::size_t q = 0; q < queries.rows; ++q)
    index.search_filtered(queries.row(q), k, filter, out.data() + q * k);
  return out;
}

TEST_F(BruteForceModule, DeclaresFilteredSearch) {
  EXPECT_NE(info_->capabilities & kCapFilter, 0u);
}

// Selectivities from 1 down to ~0.005 cover the dense path (at or above kDenseSelectivity), the
// sparse one, and fewer allowed rows than k (padding).
TEST_F(BruteForceModule, FilteredEqualsNaiveFilteredScanForEveryMetric) {
  const FloatMatrix base = random_matrix(1500, 24, 61);
  const FloatMatrix queries = random_matrix(20, 24, 62);
  const RandomLabels labels(base.rows(), {0.7, 0.3, 0.05, 0.004}, 63);
  FilterBuilder builder = labels.builder();
  const std::vector<std::vector<std::uint32_t>> conditions = {{}, {0}, {1}, {0, 1}, {2}, {3}};
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = create(metric, 24);
    index->build(base.view());
    for (const auto& condition : conditions) {
      const Filter filter = filter_of(builder, condition);
      for (const std::size_t k : {1, 10, 50}) {
        const std::string what = std::string(metric_name(metric)) + " selectivity " +
                                 std::to_string(filter.selectivity()) + " k " + std::to_string(k);
        const auto got = search_filtered_all(*index, queries.view(), k, filter);
        expect_allowed(got, k, filter, what.c_str());
        expect_identical(got, naive_filtered_knn(base.view(), queries.view(), metric, k, filter),
                         what);
      }
    }
  }
}

// Many exact ties: the float scores cannot separate the k-th from the margin, so the rescan of
// the allowed rows runs, and must still give the naive order (ties by smaller id).
TEST_F(BruteForceModule, FilteredTiesEqualNaiveFilteredScan) {
  const FloatMatrix base = tied_matrix(700, 5, 8, 64);
  const FloatMatrix queries = tied_matrix(10, 5, 8, 65);
  const RandomLabels labels(base.rows(), {0.8, 0.15}, 66);
  FilterBuilder builder = labels.builder();
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = create(metric, 5);
    index->build(base.view());
    for (const std::uint32_t label : {0u, 1u}) {
      const std::uint32_t condition[] = {label};
      const Filter filter = filter_of(builder, condition);
      const std::string what =
          std::string(metric_name(metric)) + " ties, label " + std::to_string(label);
      expect_identical(search_filtered_all(*index, queries.view(), 40, filter),
                       naive_filtered_knn(base.view(), queries.view(), metric, 40, filter), what);
    }
  }
}

TEST_F(BruteForceModule, FilterAllowingNothingGivesMinusOne) {
  const FloatMatrix base = random_matrix(200, 8, 67);
  const FloatMatrix queries = random_matrix(3, 8, 68);
  const RandomLabels labels(base.rows(), {0.5, 0.0}, 69);
  FilterBuilder builder = labels.builder();
  const std::uint32_t condition[] = {1};
  const Filter filter = filter_of(builder, condition);
  ASSERT_EQ(filter.count(), 0u);
  auto index = create(Metric::L2, 8);
  index->build(base.view());
  for (const Neighbor& n : search_filtered_all(*index, queries.view(), 5, filter)) {
    EXPECT_EQ(n.id, -1);
    EXPECT_EQ(n.distance, std::numeric_limits<float>::infinity());
  }
}

// After add/remove the rows are no longer the filter's ids: a removed id never comes back, an
// added id outside the filter's base is never allowed, and the rest is still exact; a saved and
// loaded index answers identically.
TEST_F(BruteForceModule, FilteredAfterAddRemoveAndSaveLoad) {
  const FloatMatrix base = random_matrix(900, 16, 70);
  const FloatMatrix queries = random_matrix(15, 16, 71);
  const std::size_t rows = 700;  // the filter's base: rows 0..699
  const RandomLabels labels(rows, {0.6, 0.2}, 72);
  FilterBuilder builder = labels.builder();
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    const std::string what(metric_name(metric));
    auto index = create(metric, 16);
    index->build(MatrixView{base.data(), rows, 16});
    std::vector<std::int64_t> gone;
    for (std::int64_t id = 0; id < static_cast<std::int64_t>(rows); id += 7) gone.push_back(id);
    index->remove(gone);
    std::vector<std::int64_t> added(200);
    std::iota(added.begin(), added.end(), 700);  // beyond the filter's base
    index->add(added, MatrixView{base.row(rows), 200, 16});
    const std::string path = temp_file("bruteforce_filtered_" + what);
    index->save(path);
    auto loaded = info_->load(path, metric, 16);
    for (const std::uint32_t label : {0u, 1u}) {
      const std::uint32_t condition[] = {label};
      const Filter filter = filter_of(builder, condition);
      // The truth: allowed rows still live.
      std::vector<std::int64_t> live;
      for (const std::int64_t id : filter.ids())
        if (id % 7 != 0) live.push_back(id);
      FloatMatrix live_rows(live.size(), 16);
      for (std::size_t i = 0; i < live.size(); ++i)
        std::copy_n(base.row(static_cast<std::size_t>(live[i])), 16, live_rows.row(i));
      std::vector<Neighbor> truth = naive_knn(live_rows.view(), queries.view(), metric, 10);
      for (Neighbor& n : truth) n.id = live[static_cast<std::size_t>(n.id)];
      const auto got = search_filtered_all(*index, queries.view(), 10, filter);
      expect_identical(got, truth, what + " label " + std::to_string(label));
      expect_identical(search_filtered_all(*loaded, queries.view(), 10, filter), got,
                       what + " loaded, label " + std::to_string(label));
    }
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace annbench
