// hnsw's filtered search through the module, as the harness loads it: never a disallowed or
// deleted id; recall against the exact filtered scan on clustered data at selectivities 0.5,
// 0.1 and 0.01 (the last on the exact path below filter_exact_below); the graph path alone
// (filter_exact_below = 0) still reaching its recall; nothing allowed -> all -1.

#include "filtered_knn.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::expect_allowed;
using testing::filter_of;
using testing::gaussian_blobs;
using testing::naive_filtered_knn;
using testing::random_matrix;
using testing::RandomLabels;
using testing::recall;

constexpr std::size_t kRows = 4000, kDim = 16, kQueries = 60, kK = 10;

const ModuleInfo& hnsw_info() {
  static const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get("hnsw").info;
}

FloatMatrix blobs(std::size_t rows, std::uint32_t seed) {
  return gaussian_blobs(rows, kDim, 40, seed, 900, 4.0f);
}

std::unique_ptr<Index> build(Metric metric, MatrixView base) {
  const ModuleInfo& info = hnsw_info();
  Params given;
  given.set("M", std::int64_t{12});
  given.set("ef_construction", std::int64_t{100});
  auto index = info.create(metric, kDim, resolve_params(given, info.build_params, "hnsw", "build"));
  index->build(base);
  return index;
}

void set_search(Index& index, std::int64_t ef, double exact_below) {
  Params given;
  given.set("ef", ef);
  given.set("filter_exact_below", exact_below);
  index.set_search_params(
      resolve_params(given, filtered_search_specs(hnsw_info()), "hnsw", "search"));
}

std::vector<Neighbor> search_filtered_all(const Index& index, MatrixView queries,
                                          const Filter& filter) {
  return testing::search_filtered_all(index, queries, kK, filter);
}

class HnswFilter : public testing::LabelledBase {
 protected:
  HnswFilter() : LabelledBase(blobs(kRows, 1), blobs(kQueries, 2)) {}
};

TEST_F(HnswFilter, DeclaresFilteredSearchAndItsParameter) {
  const ModuleInfo& info = hnsw_info();
  EXPECT_NE(info.capabilities & kCapFilter, 0u);
  Params bad;
  bad.set("filter_exact_below", 1.5);
  EXPECT_THROW(resolve_params(bad, filtered_search_specs(info), "hnsw", "search"), Error);
}

// Selectivity 0.5 and 0.1 take the graph, 0.01 the exact scan (default threshold 0.02).
TEST_F(HnswFilter, OnlyAllowedIdsAndHighRecallAtEachSelectivity) {
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = build(metric, base_.view());
    set_search(*index, 64, 0.02);
    for (const std::uint32_t label : {0u, 1u, 2u}) {
      const Filter f = filter(label);
      const std::string what =
          std::string(metric_name(metric)) + " selectivity " + std::to_string(f.selectivity());
      const auto got = search_filtered_all(*index, queries_.view(), f);
      expect_allowed(got, kK, f, what.c_str());
      const auto truth = naive_filtered_knn(base_.view(), queries_.view(), metric, kK, f);
      // The exact path finds the true neighbours (no ties in this data); the graph nearly.
      EXPECT_GE(recall(got, truth, kK), label == 2 ? 0.999 : 0.9) << what;
    }
  }
}

// Without the exact switch the beam alone must cope with a selective filter: it walks through
// the disallowed nodes, so it still finds the allowed ones, at a wider beam for 0.01.
TEST_F(HnswFilter, GraphPathAloneReachesRecall) {
  auto index = build(Metric::L2, base_.view());
  set_search(*index, 64, 0.0);
  const Filter f = filter(1);
  const auto got = search_filtered_all(*index, queries_.view(), f);
  expect_allowed(got, kK, f, "graph 0.1");
  EXPECT_GE(recall(got, naive_filtered_knn(base_.view(), queries_.view(), Metric::L2, kK, f), kK),
            0.9);
  set_search(*index, 200, 0.0);
  const Filter rare = filter(2);
  const auto rare_got = search_filtered_all(*index, queries_.view(), rare);
  expect_allowed(rare_got, kK, rare, "graph 0.01");
  EXPECT_GE(
      recall(rare_got, naive_filtered_knn(base_.view(), queries_.view(), Metric::L2, kK, rare), kK),
      0.9);
}

TEST_F(HnswFilter, FilterAllowingNothingGivesMinusOne) {
  auto index = build(Metric::L2, base_.view());
  const Filter none = filter(3);
  ASSERT_EQ(none.count(), 0u);
  for (const double exact_below : {0.0, 0.02}) {
    set_search(*index, 32, exact_below);
    for (const Neighbor& n : search_filtered_all(*index, queries_.view(), none)) {
      EXPECT_EQ(n.id, -1);
      EXPECT_EQ(n.distance, std::numeric_limits<float>::infinity());
    }
  }
}

// Deleted nodes still navigate but are never returned, on either path; ids added beyond the
// filter's base are never allowed.
TEST_F(HnswFilter, NeverReturnsDeletedIds) {
  auto index = build(Metric::L2, base_.view());
  std::vector<std::int64_t> gone;
  for (std::int64_t id = 0; id < static_cast<std::int64_t>(kRows); id += 5) gone.push_back(id);
  index->remove(gone);
  const FloatMatrix extra = blobs(300, 4);
  std::vector<std::int64_t> added(extra.rows());
  std::iota(added.begin(), added.end(), static_cast<std::int64_t>(kRows));
  index->add(added, extra.view());
  const std::set<std::int64_t> removed(gone.begin(), gone.end());
  for (const double exact_below : {0.0, 0.02}) {
    set_search(*index, 100, exact_below);
    for (const std::uint32_t label : {0u, 2u}) {
      const Filter f = filter(label);
      const std::string what =
          "label " + std::to_string(label) + " exact_below " + std::to_string(exact_below);
      const auto got = search_filtered_all(*index, queries_.view(), f);
      expect_allowed(got, kK, f, what.c_str());
      for (const Neighbor& n : got) EXPECT_EQ(removed.count(n.id), 0u) << what << ": " << n.id;
      // The truth: the allowed rows still live.
      std::vector<std::int64_t> live;
      for (const std::int64_t id : f.ids())
        if (removed.count(id) == 0) live.push_back(id);
      FloatMatrix rows(live.size(), kDim);
      for (std::size_t i = 0; i < live.size(); ++i)
        std::copy_n(base_.row(static_cast<std::size_t>(live[i])), kDim, rows.row(i));
      auto truth = testing::naive_knn(rows.view(), queries_.view(), Metric::L2, kK);
      for (Neighbor& n : truth)
        if (n.id >= 0) n.id = live[static_cast<std::size_t>(n.id)];
      EXPECT_GE(recall(got, truth, kK), 0.9) << what;
    }
  }
}

}  // namespace
}  // namespace annbench
