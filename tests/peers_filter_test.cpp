// Filtered search in the peer modules (faiss's IDSelector in SearchParameters, hnswlib 0.6.2's
// post-filtering), through the plugin loader, against the naive exact k-NN over the allowed
// rows. Every filtered peer: never a disallowed id, nearest first, padded when fewer pass; a
// filter that allows nothing gives nothing. Exact by construction (compared id for id):
// faiss-flat, faiss-ivfflat at nprobe = nlist. Graphs and codes get the recall they reach with a
// margin. A peer that was not built is skipped with the reason.

#include "naive_knn.h"
#include "peer_modules.h"
#include "plugin_loader.h"

#include <annbench/error.h>
#include <annbench/filter.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace annbench {
namespace {

using testing::live_truth;
using testing::random_matrix;
using testing::recall;

constexpr std::size_t kN = 2000;
constexpr std::size_t kDim = 32;
constexpr std::size_t kQueries = 40;
constexpr std::size_t kK = 10;

const int kThreads = testing::use_one_thread();
using testing::find_module;
using testing::make_params;

Params from_settings(std::span<const ParamSetting> settings) {
  Params params;
  for (const ParamSetting& s : settings) params.set(s.name, s.value);
  return params;
}

// A Filter owning its storage: `allowed` rows drawn at random, exactly round(selectivity * rows).
class OwnedFilter {
 public:
  OwnedFilter(std::size_t rows, double selectivity, std::uint32_t seed)
      : rows_(rows), mask_(rows, false), words_((rows + 63) / 64, 0) {
    std::vector<std::size_t> order(rows);
    for (std::size_t i = 0; i < rows; ++i) order[i] = i;
    std::mt19937 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    const auto count =
        static_cast<std::size_t>(std::llround(selectivity * static_cast<double>(rows)));
    for (std::size_t i = 0; i < count; ++i) mask_[order[i]] = true;
    for (std::size_t r = 0; r < rows; ++r) {
      if (!mask_[r]) continue;
      ids_.push_back(static_cast<std::int64_t>(r));
      words_[r / 64] |= std::uint64_t{1} << (r % 64);
    }
  }
  Filter filter() const { return Filter(words_, ids_, rows_); }
  const std::vector<bool>& mask() const { return mask_; }

 private:
  std::size_t rows_;
  std::vector<bool> mask_;
  std::vector<std::uint64_t> words_;
  std::vector<std::int64_t> ids_;
};

// 1.0 as min_recall: ids must equal the exact filtered scan's; below: the minimum recall@k at
// every selectivity.
using FilterCase = testing::PeerCase;

std::vector<FilterCase> filter_cases() {
  return {
      {"faiss-flat", {}, {}, 1.0, true},
      {"faiss-ivfflat", make_params({{"nlist", std::int64_t{16}}}),
       make_params({{"nprobe", std::int64_t{16}}}), 1.0, true},
      // Every cell probed; PQ estimates (16 x 4-bit codes) bound the recall as unfiltered.
      {"faiss-ivfpq",
       make_params(
           {{"nlist", std::int64_t{16}}, {"m", std::int64_t{16}}, {"nbits", std::int64_t{4}}}),
       make_params({{"nprobe", std::int64_t{16}}}), 0.5, true},
      // Every cell probed; SQ8 rounding as unfiltered.
      {"faiss-ivfsq", make_params({{"nlist", std::int64_t{16}}}),
       make_params({{"nprobe", std::int64_t{16}}}), 0.95, true},
      {"faiss-hnsw", make_params({{"M", std::int64_t{16}}, {"efConstruction", std::int64_t{200}}}),
       make_params({{"efSearch", std::int64_t{400}}}), 0.9, true},
      // Post-filtering fetching 3 k / selectivity results (at factor 1: 0.88-0.94).
      {"hnswlib", make_params({{"M", std::int64_t{16}}, {"ef_construction", std::int64_t{200}}}),
       make_params({{"ef", std::int64_t{400}}, {"postfilter_factor", 3.0}}), 0.9, true},
  };
}

std::unique_ptr<Index> create(const ModuleInfo& info, Metric metric, const Params& build,
                              std::size_t dim = kDim) {
  return info.create(metric, dim, resolve_params(build, info.build_params, info.name, "build"));
}

// Searches every query through search_filtered and checks what must hold whatever the recall:
// only allowed ids, each at most once, nearest first, valid results first and then padding.
std::vector<Neighbor> search_checked(const Index& index, MatrixView queries, const Filter& filter,
                                     std::size_t k, const std::string& what) {
  std::vector<Neighbor> got(queries.rows * k);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    Neighbor* out = &got[q * k];
    index.search_filtered(queries.row(q), k, filter, out);
    std::vector<std::int64_t> seen;
    for (std::size_t j = 0; j < k; ++j) {
      if (out[j].id < 0) {
        EXPECT_TRUE(std::isinf(out[j].distance)) << what << ": padding with a distance";
        continue;
      }
      EXPECT_TRUE(j == 0 || out[j - 1].id >= 0) << what << ": a result after padding";
      EXPECT_LT(static_cast<std::size_t>(out[j].id), filter.base_rows()) << what;
      EXPECT_TRUE(filter.allowed(out[j].id)) << what << ": disallowed id " << out[j].id;
      EXPECT_TRUE(j == 0 || out[j - 1].distance <= out[j].distance) << what << ": order";
      seen.push_back(out[j].id);
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << what << ": repeats";
    EXPECT_LE(seen.size(), filter.count()) << what;
  }
  return got;
}

class PeerFiltered : public ::testing::TestWithParam<FilterCase> {};

TEST_P(PeerFiltered, OnlyAllowedIdsAndRecall) {
  const FilterCase& c = GetParam();
  const ModuleInfo* info = find_module(c.module);
  if (info == nullptr) GTEST_SKIP() << c.module << " was not built (peer library not found)";
  ASSERT_NE(info->capabilities & kCapFilter, 0u) << c.module;
  const FloatMatrix base = random_matrix(kN, kDim, 51);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 52);
  std::vector<Metric> metrics = {Metric::L2, Metric::Angular};
  if (c.serves_dot) metrics.push_back(Metric::InnerProduct);
  for (const Metric metric : metrics) {
    auto index = create(*info, metric, c.build);
    index->build(base.view());
    index->set_search_params(
        resolve_params(c.search, filtered_search_specs(*info), info->name, "search"));
    for (const double selectivity : {0.5, 0.1, 0.01}) {
      const std::string what = c.module + " " + std::string(metric_name(metric)) + " selectivity " +
                               std::to_string(selectivity);
      const OwnedFilter owned(kN, selectivity, 53);
      const std::vector<Neighbor> truth =
          live_truth(base, owned.mask(), queries.view(), metric, kK, 0);
      const auto before = index->distance_count();
      const std::vector<Neighbor> got =
          search_checked(*index, queries.view(), owned.filter(), kK, what);
      // The flat scan computes the allowed vectors' distances only, and counts them.
      if (c.module == "faiss-flat") {
        EXPECT_EQ(*index->distance_count() - *before, kQueries * owned.filter().count()) << what;
      }
      if (c.min_recall >= 1.0) {
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i].id, truth[i].id) << what << " at query " << i / kK;
          if (truth[i].id >= 0) {
            EXPECT_NEAR(got[i].distance, truth[i].distance,
                        1e-3f * (1 + std::abs(truth[i].distance)))
                << what;
          }
        }
      } else {
        const double r = recall(got, truth, kK);
        EXPECT_GE(r, c.min_recall) << what;
        std::printf("%s: filtered recall@%zu %.3f\n", what.c_str(), kK, r);
      }
    }
  }
}

TEST_P(PeerFiltered, NothingAllowedGivesNothing) {
  const FilterCase& c = GetParam();
  const ModuleInfo* info = find_module(c.module);
  if (info == nullptr) GTEST_SKIP() << c.module << " was not built (peer library not found)";
  const FloatMatrix base = random_matrix(kN, kDim, 54);
  const FloatMatrix queries = random_matrix(4, kDim, 55);
  auto index = create(*info, Metric::L2, c.build);
  index->build(base.view());
  index->set_search_params(
      resolve_params(c.search, filtered_search_specs(*info), info->name, "search"));
  const OwnedFilter none(kN, 0.0, 56);
  for (const Neighbor& n : search_checked(*index, queries.view(), none.filter(), kK, c.module)) {
    EXPECT_EQ(n.id, -1) << c.module;
  }
}

// Several threads at once (the harness's multi-threaded mode) give the single-threaded answers.
TEST_P(PeerFiltered, ConcurrentSearchesAgree) {
  const FilterCase& c = GetParam();
  const ModuleInfo* info = find_module(c.module);
  if (info == nullptr) GTEST_SKIP() << c.module << " was not built (peer library not found)";
  const FloatMatrix base = random_matrix(kN, kDim, 57);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 58);
  auto index = create(*info, Metric::L2, c.build);
  index->build(base.view());
  index->set_search_params(
      resolve_params(c.search, filtered_search_specs(*info), info->name, "search"));
  const OwnedFilter owned(kN, 0.1, 59);
  const Filter filter = owned.filter();
  std::vector<Neighbor> serial(kQueries * kK);
  for (std::size_t q = 0; q < kQueries; ++q)
    index->search_filtered(queries.row(q), kK, filter, &serial[q * kK]);
  constexpr std::size_t kWorkers = 4;
  std::vector<std::vector<Neighbor>> parallel(kWorkers, std::vector<Neighbor>(kQueries * kK));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < kWorkers; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t q = 0; q < kQueries; ++q)
        index->search_filtered(queries.row(q), kK, filter, &parallel[t][q * kK]);
    });
  }
  for (std::thread& w : workers) w.join();
  for (std::size_t t = 0; t < kWorkers; ++t) {
    for (std::size_t i = 0; i < serial.size(); ++i)
      ASSERT_EQ(parallel[t][i].id, serial[i].id) << c.module << " thread " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, PeerFiltered, ::testing::ValuesIn(filter_cases()),
                         [](const auto& param) {
                           std::string name = param.param.module;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The peers declaring kCapFilter are those whose library serves it here; faiss's IndexLSH (no
// SearchParameters in 1.7.3), Annoy and FLANN (no filter hook) do not claim it.
TEST(PeerFilteredCaps, DeclaredWhereImplemented) {
  for (const char* name :
       {"faiss-flat", "faiss-ivfflat", "faiss-ivfpq", "faiss-ivfsq", "faiss-hnsw", "hnswlib"}) {
    if (const ModuleInfo* info = find_module(name)) {
      EXPECT_NE(info->capabilities & kCapFilter, 0u) << name;
    }
  }
  // faiss 1.7.3's IndexIVFFastScan, IndexRefine and IndexNSG refuse SearchParameters.
  for (const char* name :
       {"faiss-lsh", "faiss-ivfpqfs", "faiss-nsg", "annoy-ref", "flann-kdtree"}) {
    if (const ModuleInfo* info = find_module(name)) {
      EXPECT_EQ(info->capabilities & kCapFilter, 0u) << name;
    }
  }
}

// hnswlib 0.6.2 post-filters: k' = factor * k / selectivity results, disallowed ones dropped. At
// the default ef (10) and factor 1, k' holds about k allowed points, so some queries keep fewer
// than k; a larger factor fetches more and recovers the recall.
TEST(PeerFilteredHnswlib, PostFilteringRecall) {
  const ModuleInfo* info = find_module("hnswlib");
  if (info == nullptr) GTEST_SKIP() << "hnswlib was not built (libhnswlib-dev not found)";
  const FloatMatrix base = random_matrix(kN, kDim, 60);
  const FloatMatrix queries = random_matrix(kQueries, kDim, 61);
  auto index = create(*info, Metric::L2, make_params({{"M", std::int64_t{16}}}));
  index->build(base.view());
  for (const double selectivity : {0.5, 0.1}) {
    const OwnedFilter owned(kN, selectivity, 62);
    const std::vector<Neighbor> truth =
        live_truth(base, owned.mask(), queries.view(), Metric::L2, kK, 0);
    double previous = 0;
    for (const double factor : {1.0, 3.0}) {
      index->set_search_params(resolve_params(make_params({{"postfilter_factor", factor}}),
                                              filtered_search_specs(*info), info->name, "search"));
      const std::string what = "hnswlib selectivity " + std::to_string(selectivity) +
                               " postfilter_factor " + std::to_string(factor);
      const double r =
          recall(search_checked(*index, queries.view(), owned.filter(), kK, what), truth, kK);
      std::printf("%s: filtered recall@%zu %.3f\n", what.c_str(), kK, r);
      EXPECT_GE(r, factor == 1.0 ? 0.7 : 0.95) << what;
      EXPECT_GE(r, previous) << what;
      previous = r;
    }
  }
  EXPECT_THROW(
      index->set_search_params(resolve_params(make_params({{"postfilter_factor", 0.5}}),
                                              filtered_search_specs(*info), info->name, "search")),
      Error);
}

// faiss-flat after streaming is an IndexIDMap, whose search faiss 1.7.3 refuses with parameters:
// the module searches the sub-index with the selector translated through the id map. faiss-ivfflat
// stores the caller's ids in its lists. Both at exhaustive settings equal the exact filtered scan
// over the live rows, and faiss-flat counts one distance per live allowed vector.
TEST(PeerFilteredStreaming, IdsFromAddAreFiltered) {
  for (const char* name : {"faiss-flat", "faiss-ivfflat"}) {
    const ModuleInfo* info = find_module(name);
    if (info == nullptr) GTEST_SKIP() << name << " was not built (faiss not found)";
    const FloatMatrix base = random_matrix(kN, kDim, 63);
    const FloatMatrix queries = random_matrix(kQueries, kDim, 64);
    const bool ivf = std::string(name) == "faiss-ivfflat";
    auto index =
        create(*info, Metric::L2, ivf ? make_params({{"nlist", std::int64_t{16}}}) : Params{});
    index->build(MatrixView{base.data(), 0, kDim});
    if (ivf) index->set_search_params(make_params({{"nprobe", std::int64_t{16}}}));
    // Ids = rows, added in two batches in reverse order (so positions differ from ids), every
    // third row removed.
    testing::add_rows(*index, base, kN / 2, kN / 2, 0);
    testing::add_rows(*index, base, 0, kN / 2, 0);
    std::vector<std::int64_t> removed;
    for (std::size_t r = 0; r < kN; r += 3) removed.push_back(static_cast<std::int64_t>(r));
    index->remove(removed);
    const OwnedFilter owned(kN, 0.2, 65);
    std::vector<bool> live = owned.mask();
    for (const std::int64_t r : removed) live[static_cast<std::size_t>(r)] = false;
    const std::vector<Neighbor> truth = live_truth(base, live, queries.view(), Metric::L2, kK, 0);
    const auto before = index->distance_count();
    const std::vector<Neighbor> got =
        search_checked(*index, queries.view(), owned.filter(), kK, name);
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i].id, truth[i].id) << name << " at query " << i / kK;
    if (!ivf) {
      const auto passing = static_cast<std::uint64_t>(std::count(live.begin(), live.end(), true));
      EXPECT_EQ(*index->distance_count() - *before, kQueries * passing);
    }
  }
}

// What the conformance suite's filtered case runs: ModuleInfo's small-data settings on 400 x 12
// at selectivities 0.3 and 0.05 must reach small_data_recall against the exact filtered scan.
TEST(PeerFilteredSmallData, ReachesSmallDataRecall) {
  constexpr std::size_t kSmallN = 400;
  constexpr std::size_t kSmallDim = 12;
  for (const char* name :
       {"faiss-flat", "faiss-ivfflat", "faiss-ivfpq", "faiss-ivfsq", "faiss-hnsw", "hnswlib"}) {
    const ModuleInfo* info = find_module(name);
    if (info == nullptr) {
      std::printf("%s was not built: skipped\n", name);
      continue;
    }
    for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
      const FloatMatrix base = random_matrix(kSmallN, kSmallDim, 66);
      const FloatMatrix queries = random_matrix(kQueries, kSmallDim, 67);
      auto index = create(*info, metric, from_settings(info->small_data_build), kSmallDim);
      index->build(base.view());
      index->set_search_params(resolve_params(from_settings(info->small_data_search),
                                              filtered_search_specs(*info), info->name, "search"));
      for (const double selectivity : {0.3, 0.05}) {
        const std::string what = std::string(name) + " " + std::string(metric_name(metric)) +
                                 " selectivity " + std::to_string(selectivity);
        const OwnedFilter owned(kSmallN, selectivity, 68);
        const std::vector<Neighbor> truth =
            live_truth(base, owned.mask(), queries.view(), metric, kK, 0);
        const double r =
            recall(search_checked(*index, queries.view(), owned.filter(), kK, what), truth, kK);
        std::printf("%s: small-data filtered recall@%zu %.3f\n", what.c_str(), kK, r);
        EXPECT_GE(r, info->small_data_recall) << what;
      }
    }
  }
}

}  // namespace
}  // namespace annbench
