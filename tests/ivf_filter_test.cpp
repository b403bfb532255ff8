// Filtered search of ivf-flat and ivf-pq through the modules, as the harness loads them: never
// a disallowed (or removed) id; ivf-flat probing every list equals the exact filtered scan;
// a selective filter makes the search probe further lists until k allowed points are found,
// up to filter_max_probe; ivf-pq re-ranks allowed candidates only; nothing allowed -> all -1;
// a saved and loaded index filters alike.

#include "filtered_knn.h"
#include "index_file_checks.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::expect_allowed;
using testing::expect_identical;
using testing::filter_of;
using testing::gaussian_blobs;
using testing::naive_filtered_knn;
using testing::random_matrix;
using testing::RandomLabels;
using testing::recall;
using testing::result_count;
using testing::temp_file;

constexpr Metric kAllMetrics[] = {Metric::L2, Metric::Angular, Metric::InnerProduct};
constexpr std::size_t kRows = 3000, kDim = 16, kQueries = 40, kK = 10, kLists = 32;

const ModuleInfo& info_of(const std::string& module) {
  static const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  return *registry.get(module).info;
}

std::unique_ptr<Index> make(const std::string& module, Metric metric, Params build) {
  const ModuleInfo& info = info_of(module);
  build.set("nlist", static_cast<std::int64_t>(kLists));
  if (module == "ivf-pq") {
    build.set("m", std::int64_t{8});
    build.set("pq_iters", std::int64_t{6});
  }
  return info.create(metric, kDim, resolve_params(build, info.build_params, module, "build"));
}

void set_search(Index& index, const std::string& module, Params search) {
  index.set_search_params(
      resolve_params(search, filtered_search_specs(info_of(module)), module, "search"));
}

Params params_of(std::initializer_list<std::pair<const char*, ParamValue>> values) {
  Params p;
  for (const auto& [key, value] : values) p.set(key, value);
  return p;
}

FloatMatrix blobs(std::size_t rows, std::uint32_t seed) {
  return gaussian_blobs(rows, kDim, 24, seed, 500, 3.0f);
}

std::vector<Neighbor> search_filtered_all(const Index& index, MatrixView queries,
                                          const Filter& filter) {
  return testing::search_filtered_all(index, queries, kK, filter);
}

class IvfFilter : public testing::LabelledBase {
 protected:
  IvfFilter() : LabelledBase(blobs(kRows, 1), blobs(kQueries, 2)) {}
};

TEST_F(IvfFilter, BothDeclareFilteredSearchAndTheProbeCap) {
  for (const char* module : {"ivf-flat", "ivf-pq"}) {
    const ModuleInfo& info = info_of(module);
    EXPECT_NE(info.capabilities & kCapFilter, 0u) << module;
    const Params resolved = resolve_params({}, filtered_search_specs(info), module, "search");
    EXPECT_EQ(resolved.get_int("filter_max_probe"), 0) << module;
    Params bad;
    bad.set("filter_max_probe", std::int64_t{-1});
    EXPECT_THROW(resolve_params(bad, filtered_search_specs(info), module, "search"), Error)
        << module;
  }
}

// Every list probed: the exact scan of the allowed rows, id for id except where two true
// distances tie within float rounding (ivf-flat ranks by float scores).
TEST_F(IvfFilter, FlatProbingEveryListEqualsExactFilteredSearch) {
  for (const Metric metric : kAllMetrics) {
    auto index = make("ivf-flat", metric, {});
    index->build(base_.view());
    set_search(*index, "ivf-flat", params_of({{"nprobe", static_cast<std::int64_t>(kLists)}}));
    for (const std::uint32_t label : {0u, 1u, 2u}) {
      const Filter f = filter(label);
      const std::string what = std::string(metric_name(metric)) + " label " + std::to_string(label);
      const auto got = search_filtered_all(*index, queries_.view(), f);
      expect_allowed(got, kK, f, what.c_str());
      const auto truth = naive_filtered_knn(base_.view(), queries_.view(), metric, kK, f);
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].id < 0, truth[i].id < 0) << what << " at " << i;
        if (got[i].id < 0) continue;
        EXPECT_NEAR(got[i].distance, truth[i].distance, 1e-4 * std::abs(truth[i].distance) + 1e-4)
            << what << " at " << i;
        if (got[i].id == truth[i].id) continue;
        const double d = exact_distance(metric, queries_.row(i / kK),
                                        base_.row(static_cast<std::size_t>(got[i].id)), kDim);
        EXPECT_NEAR(d, truth[i].distance, 1e-6 * std::abs(truth[i].distance) + 1e-9)
            << what << " at " << i << ": id " << got[i].id << " instead of " << truth[i].id;
      }
    }
  }
}

// nprobe 1 with a filter allowing ~1 % of the base (~1 point per list): the nprobe list alone
// rarely holds k allowed points, so the search goes on to the next-nearest lists until it has
// k, unless filter_max_probe stops it.
TEST_F(IvfFilter, SelectiveFilterProbesFurtherLists) {
  const Filter rare = filter(2);
  ASSERT_GE(rare.count(), kK);
  for (const char* module : {"ivf-flat", "ivf-pq"}) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = std::string(module) + " " + std::string(metric_name(metric));
      auto index = make(module, metric, {});
      index->build(base_.view());
      set_search(*index, module, params_of({{"nprobe", std::int64_t{1}}}));
      const std::uint64_t before = *index->distance_count();
      const auto filled = search_filtered_all(*index, queries_.view(), rare);
      const std::uint64_t extra_probing = *index->distance_count() - before;
      expect_allowed(filled, kK, rare, what.c_str());
      EXPECT_EQ(result_count(filled), kQueries * kK) << what;
      // The first probe ranked the lists once; the longer ranking for the extra lists again.
      EXPECT_GE(extra_probing, kQueries * 2 * kLists) << what;

      // filter_max_probe at nprobe: no extra lists, so many queries come back short.
      set_search(*index, module,
                 params_of({{"nprobe", std::int64_t{1}}, {"filter_max_probe", std::int64_t{1}}}));
      const auto capped = search_filtered_all(*index, queries_.view(), rare);
      expect_allowed(capped, kK, rare, what.c_str());
      EXPECT_LT(result_count(capped), kQueries * kK / 2) << what;
      // A cap of 4 lists: more than one list's worth, still short of k for some queries.
      set_search(*index, module,
                 params_of({{"nprobe", std::int64_t{1}}, {"filter_max_probe", std::int64_t{4}}}));
      const auto four = search_filtered_all(*index, queries_.view(), rare);
      expect_allowed(four, kK, rare, what.c_str());
      EXPECT_GT(result_count(four), result_count(capped)) << what;
      EXPECT_LT(result_count(four), kQueries * kK) << what;
    }
  }
}

// ivf-pq with every list probed and allowed candidates re-ranked exactly finds nearly all true
// filtered neighbours; without re-ranking the PQ estimates still keep to allowed ids.
TEST_F(IvfFilter, PqReranksAllowedCandidatesOnly) {
  for (const Metric metric : kAllMetrics) {
    auto index = make("ivf-pq", metric, params_of({{"refine", true}}));
    index->build(base_.view());
    for (const std::int64_t rerank : {std::int64_t{0}, std::int64_t{100}}) {
      set_search(*index, "ivf-pq",
                 params_of({{"nprobe", static_cast<std::int64_t>(kLists)}, {"rerank", rerank}}));
      for (const std::uint32_t label : {0u, 1u, 2u}) {
        const Filter f = filter(label);
        const std::string what = std::string(metric_name(metric)) + " label " +
                                 std::to_string(label) + " rerank " + std::to_string(rerank);
        const auto got = search_filtered_all(*index, queries_.view(), f);
        expect_allowed(got, kK, f, what.c_str());
        EXPECT_EQ(result_count(got), kQueries * kK) << what;
        if (rerank == 0) continue;
        const auto truth = naive_filtered_knn(base_.view(), queries_.view(), metric, kK, f);
        EXPECT_GE(recall(got, truth, kK), 0.95) << what;
      }
    }
  }
}

TEST_F(IvfFilter, FilterAllowingNothingGivesMinusOne) {
  const Filter none = filter(3);
  ASSERT_EQ(none.count(), 0u);
  for (const char* module : {"ivf-flat", "ivf-pq"}) {
    auto index = make(module, Metric::L2, {});
    index->build(base_.view());
    set_search(*index, module, params_of({{"nprobe", std::int64_t{4}}}));
    for (const Neighbor& n : search_filtered_all(*index, queries_.view(), none)) {
      EXPECT_EQ(n.id, -1) << module;
      EXPECT_EQ(n.distance, std::numeric_limits<float>::infinity()) << module;
    }
  }
}

// After add/remove the labels are no longer the filter's rows: removed ids never come back,
// ids added beyond the filter's base are never allowed, and with every list probed ivf-flat is
// still the exact filtered scan of the live rows. A saved and loaded index answers alike.
TEST_F(IvfFilter, ChangedAndLoadedIndexesFilterAlike) {
  const FloatMatrix extra = blobs(200, 4);
  std::vector<std::int64_t> added(extra.rows());
  std::iota(added.begin(), added.end(), static_cast<std::int64_t>(kRows));
  std::vector<std::int64_t> gone;
  for (std::int64_t id = 0; id < static_cast<std::int64_t>(kRows); id += 6) gone.push_back(id);
  const std::set<std::int64_t> removed(gone.begin(), gone.end());
  for (const char* module : {"ivf-flat", "ivf-pq"}) {
    auto index = make(module, Metric::L2, {});
    index->build(base_.view());
    index->remove(gone);
    index->add(added, extra.view());
    set_search(*index, module, params_of({{"nprobe", static_cast<std::int64_t>(kLists)}}));
    const std::string path = temp_file(std::string("ivf_filter_") + module);
    index->save(path);
    auto loaded = info_of(module).load(path, Metric::L2, kDim);
    set_search(*loaded, module, params_of({{"nprobe", static_cast<std::int64_t>(kLists)}}));
    for (const std::uint32_t label : {0u, 1u}) {
      const Filter f = filter(label);
      const std::string what = std::string(module) + " label " + std::to_string(label);
      const auto got = search_filtered_all(*index, queries_.view(), f);
      expect_allowed(got, kK, f, what.c_str());
      for (const Neighbor& n : got) EXPECT_EQ(removed.count(n.id), 0u) << what << ": " << n.id;
      expect_identical(search_filtered_all(*loaded, queries_.view(), f), got, what + " loaded");
      if (std::string(module) != "ivf-flat") continue;
      std::vector<std::int64_t> live;
      for (const std::int64_t id : f.ids())
        if (removed.count(id) == 0) live.push_back(id);
      FloatMatrix rows(live.size(), kDim);
      for (std::size_t i = 0; i < live.size(); ++i)
        std::copy_n(base_.row(static_cast<std::size_t>(live[i])), kDim, rows.row(i));
      auto truth = testing::naive_knn(rows.view(), queries_.view(), Metric::L2, kK);
      for (Neighbor& n : truth)
        if (n.id >= 0) n.id = live[static_cast<std::size_t>(n.id)];
      EXPECT_GE(recall(got, truth, kK), 0.999) << what;
    }
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace annbench
