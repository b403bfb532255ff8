// What the faster faiss peers (faiss-ivfpqfs, faiss-ivfsq, faiss-nsg) and faiss-hnsw's
// check_relative_distance add beyond tests/peers_test.cpp's shared cases: parameter errors,
// the refinement's effect, and the limits faiss 1.7.3 imposes (NSG's minimum base size and its
// search never asked for more than ntotal). A module that was not built is skipped.

#include "naive_knn.h"
#include "peer_modules.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::find_module;
using testing::make_params;
using testing::naive_knn;
using testing::random_matrix;
using testing::recall;

constexpr std::size_t kN = 2000;
constexpr std::size_t kDim = 32;
constexpr std::size_t kQueries = 40;
constexpr std::size_t kK = 10;

const int kThreads = testing::use_one_thread();

std::unique_ptr<Index> create(const ModuleInfo& info, Metric metric, const Params& build,
                              std::size_t dim = kDim) {
  return info.create(metric, dim, resolve_params(build, info.build_params, info.name, "build"));
}

void set_search(Index& index, const ModuleInfo& info, const Params& search) {
  index.set_search_params(resolve_params(search, info.search_params, info.name, "search"));
}

double batch_recall(const Index& index, const FloatMatrix& base, const FloatMatrix& queries,
                    Metric metric) {
  std::vector<Neighbor> got(queries.rows() * kK);
  index.search_batch(queries.view(), kK, got.data());
  return recall(got, naive_knn(base.view(), queries.view(), metric, kK), kK);
}

#define REQUIRE_MODULE(var, name)            \
  const ModuleInfo* var = find_module(name); \
  if ((var) == nullptr) GTEST_SKIP() << (name) << " was not built (faiss not found)"

TEST(FaissIvfPqFastScan, SubQuantizersMustDivideTheDimensionNamingBoth) {
  REQUIRE_MODULE(info, "faiss-ivfpqfs");
  try {
    create(*info, Metric::L2, make_params({{"m", std::int64_t{5}}}));
    FAIL() << "m=5 accepted for d=32";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("m=5"), std::string::npos) << what;
    EXPECT_NE(what.find("d=32"), std::string::npos) << what;
  }
}

TEST(FaissIvfPqFastScan, BadSearchParametersAreErrors) {
  REQUIRE_MODULE(info, "faiss-ivfpqfs");
  EXPECT_THROW(
      resolve_params(make_params({{"k_factor", 0.5}}), info->search_params, info->name, "search"),
      Error);
  const FloatMatrix base = random_matrix(400, kDim, 81);
  auto index = create(*info, Metric::L2, make_params({{"nlist", std::int64_t{4}}}));
  index->build(base.view());
  EXPECT_THROW(set_search(*index, *info, make_params({{"nprobe", std::int64_t{5}}})), Error);
}

// The re-ranking is what lifts 4-bit codes to high recall: without it the same codes rank
// worse; with it the distances written are exact.
TEST(FaissIvfPqFastScan, RefineReRanksWithExactDistances) {
  REQUIRE_MODULE(info, "faiss-ivfpqfs");
  const FloatMatrix base = random_matrix(kN, kDim, 82);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 83);
  const Params all_cells = make_params({{"nprobe", std::int64_t{16}}, {"k_factor", 8.0}});
  auto plain = create(
      *info, Metric::L2,
      make_params({{"nlist", std::int64_t{16}}, {"m", std::int64_t{16}}, {"refine", false}}));
  plain->build(base.view());
  set_search(*plain, *info, all_cells);
  auto refined = create(*info, Metric::L2,
                        make_params({{"nlist", std::int64_t{16}}, {"m", std::int64_t{16}}}));
  refined->build(base.view());
  set_search(*refined, *info, all_cells);
  const double r_plain = batch_recall(*plain, base, queries, Metric::L2);
  const double r_refined = batch_recall(*refined, base, queries, Metric::L2);
  std::printf("faiss-ivfpqfs recall@10: codes only %.3f, refined (k_factor 8) %.3f\n", r_plain,
              r_refined);
  EXPECT_GE(r_refined, 0.95);
  EXPECT_GT(r_refined, r_plain);
  // k_factor 1 re-ranks only the k code-ranked results: the same ids as without refinement.
  set_search(*refined, *info, make_params({{"nprobe", std::int64_t{16}}, {"k_factor", 1.0}}));
  EXPECT_LT(batch_recall(*refined, base, queries, Metric::L2), r_refined);
  std::vector<Neighbor> out(kK);
  refined->search(queries.row(0), kK, out.data());
  for (const Neighbor& n : out) {
    ASSERT_GE(n.id, 0);
    const double exact =
        exact_distance(Metric::L2, queries.row(0), base.row(static_cast<std::size_t>(n.id)), kDim);
    EXPECT_NEAR(n.distance, exact, 1e-4 * std::max(1.0, exact));
  }
  // The refined index holds the vectors besides the codes.
  EXPECT_GE(refined->memory_bytes(), kN * kDim * sizeof(float));
  EXPECT_LT(plain->memory_bytes(), kN * kDim * sizeof(float) / 4);
}

TEST(FaissIvfSq, CellsAndProbes) {
  REQUIRE_MODULE(info, "faiss-ivfsq");
  const FloatMatrix base = random_matrix(100, kDim, 84);
  auto index = create(*info, Metric::L2, make_params({{"nlist", std::int64_t{1024}}}));
  EXPECT_THROW(index->build(base.view()), Error);  // fewer points than cells
  auto small = create(*info, Metric::L2, make_params({{"nlist", std::int64_t{4}}}));
  small->build(base.view());
  EXPECT_THROW(set_search(*small, *info, make_params({{"nprobe", std::int64_t{5}}})), Error);
  // One byte per dimension: the codes are a quarter of the floats (plus centroids and ranges).
  EXPECT_LT(small->memory_bytes(), 100 * kDim * sizeof(float));
}

// by_residual false quantises the vectors themselves: still close to exact at nprobe = nlist.
TEST(FaissIvfSq, WithoutResiduals) {
  REQUIRE_MODULE(info, "faiss-ivfsq");
  const FloatMatrix base = random_matrix(kN, kDim, 85);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 86);
  auto index =
      create(*info, Metric::L2, make_params({{"nlist", std::int64_t{16}}, {"by_residual", false}}));
  index->build(base.view());
  set_search(*index, *info, make_params({{"nprobe", std::int64_t{16}}}));
  const double r = batch_recall(*index, base, queries, Metric::L2);
  std::printf("faiss-ivfsq by_residual false: recall@10 %.3f\n", r);
  EXPECT_GE(r, 0.95);
}

// NNDescent divides by n - 2 S and reads GK neighbours per node: too few vectors is an Error
// naming the numbers, never a crash inside faiss. Brute force needs GK + 1.
TEST(FaissNsg, TooFewVectorsForTheKnnGraphAreRefused) {
  REQUIRE_MODULE(info, "faiss-nsg");
  const FloatMatrix base = random_matrix(64, kDim, 87);
  for (const std::int64_t build_type : {0, 1}) {
    auto index = create(*info, Metric::L2, make_params({{"build_type", build_type}}));
    try {
      index->build(base.view());
      FAIL() << "64 vectors built a kNN graph of 64 neighbours";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("64 vectors"), std::string::npos) << what;
      EXPECT_NE(what.find("GK=64"), std::string::npos) << what;
    }
  }
  EXPECT_THROW(resolve_params(make_params({{"build_type", std::int64_t{2}}}), info->build_params,
                              info->name, "build"),
               Error);
}

// faiss's NSG search never ends when asked for more candidates than nodes: the module asks for
// at most ntotal (search_L included) and pads. 60 vectors (R 8: build pool L 40), GK 8 by brute
// force.
TEST(FaissNsg, KAndSearchLAboveTheIndexSizeArePadded) {
  REQUIRE_MODULE(info, "faiss-nsg");
  const FloatMatrix base = random_matrix(60, kDim, 88);
  const FloatMatrix queries = random_matrix(3, kDim, 89);
  auto index = create(
      *info, Metric::L2,
      make_params(
          {{"R", std::int64_t{8}}, {"GK", std::int64_t{8}}, {"build_type", std::int64_t{0}}}));
  index->build(base.view());
  set_search(*index, *info, make_params({{"search_L", std::int64_t{500}}}));
  std::vector<Neighbor> out(3 * 70);
  index->search_batch(queries.view(), 70, out.data());
  const auto expected = naive_knn(base.view(), queries.view(), Metric::L2, 70);
  // Every node is in the pool: the search is exact.
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].id, expected[i].id) << i;
  std::vector<Neighbor> single(70);
  index->search(queries.row(1), 70, single.data());
  for (std::size_t j = 0; j < 70; ++j) EXPECT_EQ(single[j].id, expected[70 + j].id) << j;
}

// Both kNN-graph constructions give a searchable graph.
TEST(FaissNsg, BruteForceAndNnDescentGraphs) {
  REQUIRE_MODULE(info, "faiss-nsg");
  const FloatMatrix base = random_matrix(kN, kDim, 90);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 91);
  for (const std::int64_t build_type : {0, 1}) {
    auto index = create(*info, Metric::Angular, make_params({{"build_type", build_type}}));
    index->build(base.view());
    set_search(*index, *info, make_params({{"search_L", std::int64_t{64}}}));
    const double r = batch_recall(*index, base, queries, Metric::Angular);
    std::printf("faiss-nsg build_type %d angular: recall@10 %.3f\n", static_cast<int>(build_type),
                r);
    EXPECT_GE(r, 0.95) << "build_type " << build_type;
    EXPECT_FALSE(index->distance_count().has_value());
  }
}

// check_relative_distance false stops after efSearch expansions instead of when efSearch queued
// candidates are nearer: a different search, still near exact at a large efSearch.
TEST(FaissHnsw, CheckRelativeDistanceIsASearchParameter) {
  REQUIRE_MODULE(info, "faiss-hnsw");
  const FloatMatrix base = random_matrix(kN, kDim, 92);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 93);
  auto index = create(*info, Metric::L2, {});
  index->build(base.view());
  for (const bool check : {true, false}) {
    set_search(*index, *info,
               make_params({{"efSearch", std::int64_t{400}}, {"check_relative_distance", check}}));
    const double r = batch_recall(*index, base, queries, Metric::L2);
    std::printf("faiss-hnsw check_relative_distance %d: recall@10 %.3f\n", check ? 1 : 0, r);
    EXPECT_GE(r, 0.99) << "check_relative_distance " << check;
  }
}

}  // namespace
}  // namespace annbench
