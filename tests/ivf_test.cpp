// ivf-flat and ivf-pq through the plugin loader, as the harness drives them: exact results when
// every list is probed (and, for ivf-pq, everything re-ranked), recall rising with nprobe, PQ
// reconstruction error falling as m grows, memory accounting, determinism, and clear errors on
// bad input. Streaming (add / remove): one add of the whole base equals the static build;
// batches reach the static recall; removed ids never come back; re-added ids are found; ids are
// the caller's; add() after a static build; errors. Save -> load gives identical answers (also
// after add/remove, and for an index not trained yet); bad files give errors naming them;
// distances are in the metric's scale.

#include "index_file_checks.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::add_rows;
using testing::live_truth;

using testing::expect_container_errors;
using testing::expect_identical;
using testing::expect_load_error;
using ::testing::HasSubstr;
using testing::naive_knn;
using testing::poke;
using testing::random_matrix;
using testing::temp_file;
using ::testing::ThrowsMessage;

constexpr Metric kAllMetrics[] = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleRegistry& registry() {
  static const ModuleRegistry instance({ANNBENCH_TEST_MODULE_DIR});
  return instance;
}

Params params_of(std::initializer_list<std::pair<const char*, ParamValue>> values) {
  Params p;
  for (const auto& [key, value] : values) p.set(key, value);
  return p;
}

std::unique_ptr<Index> make(const std::string& module, Metric metric, std::size_t dim,
                            const Params& build) {
  const ModuleInfo& info = *registry().get(module).info;
  Params given = build;
  // Codebook quality is not what these tests measure: keep PQ training short.
  if (module == "ivf-pq" && !given.contains("pq_iters")) given.set("pq_iters", std::int64_t{6});
  return info.create(metric, dim, resolve_params(given, info.build_params, module, "build"));
}

void set_search(Index& index, const std::string& module, const Params& search) {
  const ModuleInfo& info = *registry().get(module).info;
  index.set_search_params(resolve_params(search, info.search_params, module, "search"));
}

std::vector<Neighbor> search_all(const Index& index, MatrixView queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows * k);
  index.search_batch(queries, k, out.data());
  return out;
}

// Mean fraction of the true k ids found (ids only: the data has no ties).
using testing::recall;

// Gaussian blobs: the structure IVF is built for.
FloatMatrix blobs(std::size_t rows, std::size_t dim, std::size_t clusters, std::uint32_t seed) {
  const FloatMatrix centres = random_matrix(clusters, dim, seed, 0.0f, 3.0f);
  FloatMatrix m = random_matrix(rows, dim, seed + 1);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < dim; ++j) m(i, j) += centres((i * 7919) % clusters, j);
  }
  return m;
}

// The exact k nearest, id for id, except where two true distances tie within float rounding
// (1e-6 relative; a float scan cannot order those): there the returned neighbour must be at the
// true distance of its rank.
void expect_exact(const std::vector<Neighbor>& got, const std::vector<Neighbor>& truth,
                  MatrixView base, MatrixView queries, Metric metric, std::size_t k,
                  const std::string& what) {
  ASSERT_EQ(got.size(), truth.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].id == truth[i].id) continue;
    ASSERT_GE(got[i].id, 0) << what << " " << i;
    const double d = exact_distance(metric, queries.row(i / k),
                                    base.row(static_cast<std::size_t>(got[i].id)), base.dim);
    ASSERT_NEAR(d, truth[i].distance, 1e-6 * std::abs(truth[i].distance) + 1e-9)
        << what << " at " << i << ": id " << got[i].id << " instead of " << truth[i].id;
  }
}

TEST(IvfFlat, AllListsEqualBruteForceForEveryMetric) {
  const FloatMatrix base = blobs(1500, 24, 12, 1);
  const FloatMatrix queries = random_matrix(40, 24, 2, 0.0f, 3.0f);
  for (const Metric metric : kAllMetrics) {
    const std::string what(metric_name(metric));
    auto index = make("ivf-flat", metric, 24, params_of({{"nlist", std::int64_t{16}}}));
    index->build(base.view());
    const auto truth = naive_knn(base.view(), queries.view(), metric, 10);
    // nprobe = nlist, and beyond it (clamped to nlist).
    for (const std::int64_t nprobe : {16, 1000}) {
      set_search(*index, "ivf-flat", params_of({{"nprobe", nprobe}}));
      expect_exact(search_all(*index, queries.view(), 10), truth, base.view(), queries.view(),
                   metric, 10, what);
    }
    // Every list probed: 16 centroids + all 1500 vectors per query.
    EXPECT_EQ(index->distance_count().value(), 2u * 40u * (16u + 1500u)) << what;
  }
}

TEST(IvfPq, RerankingEverythingEqualsBruteForceForEveryMetric) {
  const FloatMatrix base = blobs(1200, 24, 12, 3);
  const FloatMatrix queries = random_matrix(30, 24, 4, 0.0f, 3.0f);
  for (const Metric metric : kAllMetrics) {
    const std::string what(metric_name(metric));
    auto index =
        make("ivf-pq", metric, 24,
             params_of({{"nlist", std::int64_t{8}}, {"m", std::int64_t{4}}, {"refine", true}}));
    index->build(base.view());
    set_search(*index, "ivf-pq",
               params_of({{"nprobe", std::int64_t{8}}, {"rerank", std::int64_t{1200}}}));
    expect_exact(search_all(*index, queries.view(), 10),
                 naive_knn(base.view(), queries.view(), metric, 10), base.view(), queries.view(),
                 metric, 10, what);
  }
}

TEST(Ivf, RecallRisesWithNprobe) {
  const FloatMatrix base = blobs(3000, 32, 40, 5);
  const FloatMatrix queries = blobs(100, 32, 40, 6);
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, 10);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    Params build = params_of({{"nlist", std::int64_t{32}}});
    if (module == "ivf-pq")
      build = params_of({{"nlist", std::int64_t{32}}, {"m", std::int64_t{16}}});
    auto index = make(module, Metric::L2, 32, build);
    index->build(base.view());
    std::vector<double> recalls;
    for (const std::int64_t nprobe : {1, 2, 4, 8, 16, 32}) {
      set_search(*index, module, params_of({{"nprobe", nprobe}}));
      recalls.push_back(recall(search_all(*index, queries.view(), 10), truth, 10));
    }
    for (std::size_t i = 1; i < recalls.size(); ++i) {
      // ivf-flat scans a superset at every step, so its recall cannot fall; PQ estimates can
      // swap a few neighbours.
      const double slack = module == "ivf-flat" ? 0.0 : 0.01;
      EXPECT_GE(recalls[i], recalls[i - 1] - slack) << module << " step " << i;
    }
    EXPECT_GT(recalls.back(), recalls.front() + 0.1) << module;
    if (module == "ivf-flat") {
      EXPECT_EQ(recalls.back(), 1.0);
    }
  }
}

// A base vector searched for itself scores |x - x^|^2, the PQ reconstruction error: read from
// the distance ivf-pq reports for its own id (all lists probed, every vector returned).
double reconstruction_error(const FloatMatrix& base, std::int64_t m, bool precompute) {
  auto index = make("ivf-pq", Metric::L2, base.cols(),
                    params_of({{"nlist", std::int64_t{4}}, {"m", m}, {"precompute", precompute}}));
  index->build(base.view());
  set_search(*index, "ivf-pq", params_of({{"nprobe", std::int64_t{4}}}));
  const std::size_t n = base.rows();
  std::vector<Neighbor> out(n);
  double sum = 0.0;
  for (std::size_t i = 0; i < 50; ++i) {
    index->search(base.row(i), n, out.data());
    const auto self = std::find_if(out.begin(), out.end(), [&](const Neighbor& x) {
      return x.id == static_cast<std::int64_t>(i);
    });
    EXPECT_NE(self, out.end());
    // Distances are plain L2: squared, the reconstruction error.
    sum += static_cast<double>(self->distance) * self->distance;
  }
  return sum / 50.0;
}

TEST(IvfPq, ReconstructionErrorFallsAsMGrows) {
  const FloatMatrix base = blobs(1000, 32, 8, 7);
  double previous = std::numeric_limits<double>::infinity();
  for (const std::int64_t m : {1, 2, 4, 8, 16}) {
    const double error = reconstruction_error(base, m, true);
    EXPECT_LT(error, previous) << "m=" << m;
    // The precomputed decomposition of the L2 table gives the same distances.
    EXPECT_NEAR(reconstruction_error(base, m, false), error, 1e-3 * error + 1e-4) << "m=" << m;
    previous = error;
  }
  EXPECT_LT(previous, 0.5 * reconstruction_error(base, 1, true));
}

TEST(IvfPq, MemoryIsCodesIdsAndTables) {
  const FloatMatrix base = blobs(1000, 32, 8, 9);
  const std::size_t n = 1000, m = 8, nlist = 16, dim = 32;
  auto index =
      make("ivf-pq", Metric::L2, dim,
           params_of({{"nlist", std::int64_t{16}}, {"m", std::int64_t{8}}, {"precompute", false}}));
  index->build(base.view());
  // Per list: two vector headers (codes, labels); the codebooks twice (by codeword and by
  // dimension).
  const std::size_t fixed = nlist * 48 + nlist * dim * 4 + 2 * 256 * dim * 4;
  EXPECT_EQ(index->memory_bytes(), n * (m + 4) + fixed);
  auto full =
      make("ivf-pq", Metric::L2, dim,
           params_of({{"nlist", std::int64_t{16}}, {"m", std::int64_t{8}}, {"refine", true}}));
  full->build(base.view());
  EXPECT_EQ(full->memory_bytes(), n * (m + 4) + fixed + nlist * m * 256 * 4 + n * dim * 4);
}

TEST(Ivf, DeterministicForASeed) {
  const FloatMatrix base = blobs(2000, 16, 20, 11);
  const FloatMatrix queries = random_matrix(50, 16, 12, 0.0f, 3.0f);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    std::vector<std::vector<Neighbor>> results;
    for (const std::int64_t seed : {5, 5, 6}) {
      auto index =
          make(module, Metric::L2, 16, params_of({{"nlist", std::int64_t{20}}, {"seed", seed}}));
      index->build(base.view());
      set_search(*index, module, params_of({{"nprobe", std::int64_t{2}}}));
      results.push_back(search_all(*index, queries.view(), 5));
    }
    for (std::size_t i = 0; i < results[0].size(); ++i) {
      ASSERT_EQ(results[0][i].id, results[1][i].id) << module << " " << i;
      ASSERT_EQ(results[0][i].distance, results[1][i].distance) << module << " " << i;
    }
    bool differs = false;
    for (std::size_t i = 0; i < results[0].size(); ++i)
      differs |= results[0][i].distance != results[2][i].distance;
    EXPECT_TRUE(differs) << module << ": another seed should give other lists";
  }
}

TEST(Ivf, RejectsBadInputClearly) {
  const FloatMatrix base = random_matrix(100, 12, 13);
  auto big = make("ivf-flat", Metric::L2, 12, params_of({{"nlist", std::int64_t{101}}}));
  EXPECT_THAT([&] { big->build(base.view()); },
              ThrowsMessage<Error>(HasSubstr("nlist (101) is larger than the training set (100")));
  EXPECT_THAT(
      [&] {
        make("ivf-pq", Metric::L2, 12, params_of({{"m", std::int64_t{5}}}));
      },
      ThrowsMessage<Error>(HasSubstr("m (5) must divide the dimension (12)")));
  const ModuleInfo& info = *registry().get("ivf-flat").info;
  EXPECT_THROW(resolve_params(params_of({{"nprobe", std::int64_t{0}}}), info.search_params,
                              "ivf-flat", "search"),
               Error);

  FloatMatrix nan = random_matrix(100, 12, 14);
  nan(42, 3) = std::numeric_limits<float>::quiet_NaN();
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    Params build = params_of({{"nlist", std::int64_t{4}}});
    if (module == "ivf-pq") build.set("m", std::int64_t{4});
    auto index = make(module, Metric::L2, 12, build);
    EXPECT_THAT([&] { index->build(nan.view()); },
                ThrowsMessage<Error>(HasSubstr("vector 42 has a non-finite value")))
        << module;
  }
  // PQ needs 2^nbits training vectors per sub-space codebook.
  auto pq = make("ivf-pq", Metric::L2, 12,
                 params_of({{"nlist", std::int64_t{4}}, {"m", std::int64_t{4}}}));
  EXPECT_THAT([&] { pq->build(base.view()); }, ThrowsMessage<Error>(HasSubstr("256")));
  auto plain = make(
      "ivf-pq", Metric::L2, 12,
      params_of({{"nlist", std::int64_t{4}}, {"m", std::int64_t{4}}, {"nbits", std::int64_t{4}}}));
  plain->build(base.view());
  EXPECT_THAT(
      [&] {
        set_search(*plain, "ivf-pq", params_of({{"rerank", std::int64_t{10}}}));
      },
      ThrowsMessage<Error>(HasSubstr("refine=true")));
}

// ---- Streaming ----

// expect_exact for ids offset + row.
void expect_exact_ids(const std::vector<Neighbor>& got, const std::vector<Neighbor>& truth,
                      const FloatMatrix& base, MatrixView queries, Metric metric, std::size_t k,
                      std::int64_t offset, const std::string& what) {
  std::vector<Neighbor> shifted = got, truth_rows = truth;
  for (Neighbor& n : shifted)
    if (n.id >= 0) n.id -= offset;
  for (Neighbor& n : truth_rows)
    if (n.id >= 0) n.id -= offset;
  expect_exact(shifted, truth_rows, base.view(), queries, metric, k, what);
}

Params streaming_build(const std::string& module, std::int64_t nlist) {
  Params build = params_of({{"nlist", nlist}});
  if (module == "ivf-pq") {
    build.set("m", std::int64_t{8});
    build.set("refine", true);
  }
  return build;
}

// One add() of the whole base trains on the same vectors with the same seed and appends in row
// order: the same index as build(base), with the caller's ids.
TEST(IvfStreaming, OneAddOfEverythingEqualsTheStaticBuild) {
  const FloatMatrix base = blobs(1500, 24, 12, 21);
  const FloatMatrix queries = random_matrix(30, 24, 22, 0.0f, 3.0f);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto fixed = make(module, metric, 24, streaming_build(module, 16));
      fixed->build(base.view());
      auto streamed = make(module, metric, 24, streaming_build(module, 16));
      streamed->build(MatrixView{nullptr, 0, 24});
      add_rows(*streamed, base, 0, base.rows(), 1000);
      for (Index* index : {fixed.get(), streamed.get()})
        set_search(*index, module, params_of({{"nprobe", std::int64_t{3}}}));
      const auto a = search_all(*fixed, queries.view(), 10);
      const auto b = search_all(*streamed, queries.view(), 10);
      for (std::size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].id < 0 ? -1 : a[i].id + 1000, b[i].id) << what << " at " << i;
        ASSERT_EQ(a[i].distance, b[i].distance) << what << " at " << i;
      }
      EXPECT_EQ(fixed->distance_count(), streamed->distance_count()) << what;
      // The streamed index also holds the id maps.
      EXPECT_GT(streamed->memory_bytes(), fixed->memory_bytes()) << what;
    }
  }
}

// Trained on the first of three batches only, the index still reaches the static recall.
TEST(IvfStreaming, BatchesReachTheStaticRecall) {
  const FloatMatrix base = blobs(3000, 32, 40, 23);
  const FloatMatrix queries = blobs(100, 32, 40, 24);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    auto fixed = make(module, Metric::L2, 32, streaming_build(module, 32));
    fixed->build(base.view());
    auto streamed = make(module, Metric::L2, 32, streaming_build(module, 32));
    streamed->build(MatrixView{nullptr, 0, 32});
    std::vector<Neighbor> before(10);
    streamed->search(queries.row(0), 10, before.data());  // nothing added yet: no results
    for (const Neighbor& n : before) EXPECT_EQ(n.id, -1) << module;
    add_rows(*streamed, base, 0, 1000, 1000);
    add_rows(*streamed, base, 1000, 1200, 1000);
    add_rows(*streamed, base, 2200, 800, 1000);
    const std::vector<bool> live(base.rows(), true);
    const auto truth_rows = naive_knn(base.view(), queries.view(), Metric::L2, 10);
    const auto truth_ids = live_truth(base, live, queries.view(), Metric::L2, 10, 1000);
    for (const std::int64_t nprobe : {2, 8}) {
      Params search = params_of({{"nprobe", nprobe}});
      if (module == "ivf-pq") search.set("rerank", std::int64_t{50});
      set_search(*fixed, module, search);
      set_search(*streamed, module, search);
      const auto got = search_all(*streamed, queries.view(), 10);
      for (const Neighbor& n : got) {
        ASSERT_GE(n.id, 1000) << module;
        ASSERT_LT(n.id, 4000) << module;
      }
      const double r_static = recall(search_all(*fixed, queries.view(), 10), truth_rows, 10);
      const double r_streamed = recall(got, truth_ids, 10);
      std::printf("%s nprobe %lld: recall static %.3f, streamed %.3f\n", module.c_str(),
                  static_cast<long long>(nprobe), r_static, r_streamed);
      EXPECT_GE(r_streamed, r_static - 0.05) << module << " nprobe " << nprobe;
    }
  }
}

// Every list probed: ivf-flat is exact on the live set after removals, and ivf-pq re-ranking
// everything is too; removed ids never come back; re-added ids are found again by themselves.
TEST(IvfStreaming, RemovedNeverReturnedReAddedFound) {
  const FloatMatrix base = blobs(1200, 24, 12, 25);
  const FloatMatrix queries = random_matrix(30, 24, 26, 0.0f, 3.0f);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto index = make(module, metric, 24, streaming_build(module, 8));
      index->build(MatrixView{nullptr, 0, 24});
      add_rows(*index, base, 0, 600, 1000);
      add_rows(*index, base, 600, 600, 1000);
      Params search = params_of({{"nprobe", std::int64_t{8}}});
      if (module == "ivf-pq") search.set("rerank", std::int64_t{1200});
      set_search(*index, module, search);
      // Remove every third row, in two calls.
      std::vector<bool> live(base.rows(), true);
      std::vector<std::int64_t> gone;
      for (std::size_t r = 0; r < base.rows(); r += 3) {
        gone.push_back(1000 + static_cast<std::int64_t>(r));
        live[r] = false;
      }
      const std::size_t half = gone.size() / 2;
      index->remove(std::span(gone).first(half));
      index->remove(std::span(gone).subspan(half));
      const std::set<std::int64_t> removed(gone.begin(), gone.end());
      const auto got = search_all(*index, queries.view(), 10);
      for (const Neighbor& n : got) ASSERT_EQ(removed.count(n.id), 0u) << what << ": " << n.id;
      expect_exact_ids(got, live_truth(base, live, queries.view(), metric, 10, 1000), base,
                       queries.view(), metric, 10, 1000, what);
      // Removing again, or adding a live id, is an error naming the id.
      EXPECT_THAT([&] { index->remove(std::span(gone).first(1)); },
                  ThrowsMessage<Error>(HasSubstr("id 1000, which is not in the index")))
          << what;
      EXPECT_THAT([&] { add_rows(*index, base, 1, 1, 1000); },
                  ThrowsMessage<Error>(HasSubstr("id 1001, which is already in the index")))
          << what;
      // Re-add the removed rows: each finds itself again.
      std::vector<std::int64_t> back;
      FloatMatrix rows(gone.size(), 24);
      for (std::size_t i = 0; i < gone.size(); ++i) {
        back.push_back(gone[i]);
        std::copy_n(base.row(static_cast<std::size_t>(gone[i] - 1000)), 24, rows.row(i));
      }
      index->add(back, rows.view());
      std::vector<Neighbor> out(10);
      // (Under dot a vector need not be its own best match.)
      for (std::size_t i = 0; metric != Metric::InnerProduct && i < gone.size(); i += 7) {
        index->search(rows.row(i), 10, out.data());
        const bool found =
            std::any_of(out.begin(), out.end(), [&](const Neighbor& n) { return n.id == gone[i]; });
        EXPECT_TRUE(found) << what << ": re-added " << gone[i];
      }
      const std::vector<bool> all(base.rows(), true);
      expect_exact_ids(search_all(*index, queries.view(), 10),
                       live_truth(base, all, queries.view(), metric, 10, 1000), base,
                       queries.view(), metric, 10, 1000, what + " after re-adding");
    }
  }
}

// After build(base) the ids are rows; add() continues with the caller's ids, remove() takes
// either.
TEST(IvfStreaming, AddAfterAStaticBuild) {
  const FloatMatrix base = blobs(1500, 16, 10, 27);
  const FloatMatrix queries = random_matrix(25, 16, 28, 0.0f, 3.0f);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto index = make(module, metric, 16, streaming_build(module, 8));
      index->build(MatrixView{base.data(), 1000, 16});
      const std::size_t static_memory = index->memory_bytes();
      add_rows(*index, base, 1000, 500, 0);  // ids 1000..1499: rows again
      EXPECT_GT(index->memory_bytes(), static_memory) << what;
      std::vector<std::int64_t> gone(100);
      std::iota(gone.begin(), gone.end(), 0);
      index->remove(gone);
      std::vector<bool> live(base.rows(), true);
      std::fill_n(live.begin(), 100, false);
      Params search = params_of({{"nprobe", std::int64_t{8}}});
      if (module == "ivf-pq") search.set("rerank", std::int64_t{1500});
      set_search(*index, module, search);
      expect_exact_ids(search_all(*index, queries.view(), 10),
                       live_truth(base, live, queries.view(), metric, 10, 0), base, queries.view(),
                       metric, 10, 0, what);
    }
  }
}

// ivf-flat range search on a changed index: the same exact answer as a naive scan of the live
// set (every list probed), angular included (it keeps copies of the raw added vectors).
TEST(IvfStreaming, RangeSearchSeesTheLiveSet) {
  const FloatMatrix base = blobs(800, 12, 8, 29);
  const FloatMatrix queries = random_matrix(10, 12, 30, 0.0f, 3.0f);
  for (const Metric metric : kAllMetrics) {
    auto index = make("ivf-flat", metric, 12, params_of({{"nlist", std::int64_t{8}}}));
    index->build(MatrixView{nullptr, 0, 12});
    add_rows(*index, base, 0, 400, 5000);
    add_rows(*index, base, 400, 400, 5000);
    std::vector<std::int64_t> gone;
    for (std::int64_t r = 0; r < 800; r += 4) gone.push_back(5000 + r);
    index->remove(gone);
    set_search(*index, "ivf-flat", params_of({{"nprobe", std::int64_t{8}}}));
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      std::vector<double> all;
      for (std::size_t r = 0; r < 800; ++r)
        all.push_back(exact_distance(metric, queries.row(q), base.row(r), 12));
      std::vector<double> sorted = all;
      std::sort(sorted.begin(), sorted.end());
      const auto radius = static_cast<float>(sorted[50]);
      std::set<std::int64_t> expected;
      for (std::size_t r = 0; r < 800; ++r)
        if (r % 4 != 0 && all[r] <= radius) expected.insert(5000 + static_cast<std::int64_t>(r));
      std::vector<Neighbor> found;
      index->range_search(queries.row(q), radius, found);
      std::set<std::int64_t> got;
      for (const Neighbor& n : found) got.insert(n.id);
      EXPECT_EQ(got, expected) << metric_name(metric) << " query " << q;
    }
  }
}

TEST(IvfStreaming, FirstBatchMustTrainEveryList) {
  const FloatMatrix base = random_matrix(300, 16, 31);
  auto flat = make("ivf-flat", Metric::L2, 16, params_of({{"nlist", std::int64_t{16}}}));
  flat->build(MatrixView{nullptr, 0, 16});
  EXPECT_THAT([&] { add_rows(*flat, base, 0, 10, 0); },
              ThrowsMessage<Error>(HasSubstr("needs at least nlist (16) vectors, got 10")));
  add_rows(*flat, base, 0, 16, 0);  // enough: trains
  add_rows(*flat, base, 16, 1, 0);  // later batches may be of any size
  auto pq = make("ivf-pq", Metric::L2, 16,
                 params_of({{"nlist", std::int64_t{4}}, {"m", std::int64_t{4}}}));
  pq->build(MatrixView{nullptr, 0, 16});
  EXPECT_THAT([&] { add_rows(*pq, base, 0, 200, 0); },
              ThrowsMessage<Error>(HasSubstr("2^nbits (256) vectors, got 200")));
  add_rows(*pq, base, 0, 300, 0);
  // A wrong dimension, or ids and vectors that do not pair up.
  std::vector<std::int64_t> ids = {7000, 7001};
  EXPECT_THROW(pq->add(ids, MatrixView{base.data(), 2, 8}), Error);
  EXPECT_THROW(pq->add(ids, MatrixView{base.data(), 3, 16}), Error);
  std::vector<std::int64_t> twice = {7000, 7000};
  EXPECT_THAT(
      [&] {
        pq->add(twice, MatrixView{base.data(), 2, 16});
      },
      ThrowsMessage<Error>(HasSubstr("id 7000, which is already in the index")));
}

// Labels of removed vectors are reused, so memory follows the live set, not the history.
TEST(IvfStreaming, SlidingWindowMemoryStaysBounded) {
  const FloatMatrix base = blobs(4000, 16, 10, 33);
  auto index = make("ivf-flat", Metric::L2, 16, params_of({{"nlist", std::int64_t{8}}}));
  index->build(MatrixView{nullptr, 0, 16});
  add_rows(*index, base, 0, 1000, 0);
  std::size_t first_round = 0;
  for (std::size_t round = 1; round < 4; ++round) {
    add_rows(*index, base, round * 1000, 1000, 0);
    std::vector<std::int64_t> gone(1000);
    std::iota(gone.begin(), gone.end(), static_cast<std::int64_t>((round - 1) * 1000));
    index->remove(gone);
    if (round == 1) first_round = index->memory_bytes();
  }
  EXPECT_LE(index->memory_bytes(), first_round + first_round / 4);
  set_search(*index, "ivf-flat", params_of({{"nprobe", std::int64_t{8}}}));
  std::vector<Neighbor> out(5);
  index->search(base.row(3500), 5, out.data());
  EXPECT_EQ(out[0].id, 3500);
  for (const Neighbor& n : out) EXPECT_GE(n.id, 3000);
}

// ---- Save / load ----

const ModuleInfo& info_of(const std::string& module) {
  return *registry().get(module).info;
}

// search_all on both, and range search (ivf-flat) for a few queries: identical.
void expect_same_answers(const Index& a, const Index& b, const std::string& module,
                         MatrixView queries, const std::string& what) {
  expect_identical(search_all(a, queries, 10), search_all(b, queries, 10), what);
  if (module != "ivf-flat") return;
  for (std::size_t q = 0; q < 5; ++q) {
    std::vector<Neighbor> first(10), ra, rb;
    a.search(queries.row(q), 10, first.data());
    a.range_search(queries.row(q), first[6].distance, ra);
    b.range_search(queries.row(q), first[6].distance, rb);
    expect_identical(ra, rb, what + " range");
  }
}

// The settings of both search paths of each module.
std::vector<std::pair<std::string, Params>> save_load_cases() {
  return {
      {"ivf-flat", params_of({{"nprobe", std::int64_t{3}}})},
      {"ivf-pq", params_of({{"nprobe", std::int64_t{3}}})},
      {"ivf-pq", params_of({{"nprobe", std::int64_t{3}}, {"rerank", std::int64_t{40}}})},
  };
}

TEST(IvfSaveLoad, DeclaredWithALoader) {
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    EXPECT_NE(info_of(module).capabilities & kCapSaveLoad, 0u) << module;
    EXPECT_NE(info_of(module).load, nullptr) << module;
  }
}

TEST(IvfSaveLoad, StaticIndexGivesIdenticalAnswers) {
  const FloatMatrix base = blobs(1200, 24, 12, 51);
  const FloatMatrix queries = random_matrix(30, 24, 52, 0.0f, 3.0f);
  for (const auto& [module, search] : save_load_cases()) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto index = make(module, metric, 24, streaming_build(module, 16));
      index->build(base.view());
      const std::string path = temp_file("ivf_static");
      index->save(path);
      auto loaded = info_of(module).load(path, metric, 24);
      set_search(*index, module, search);
      set_search(*loaded, module, search);
      expect_same_answers(*index, *loaded, module, queries.view(), what);
      std::remove(path.c_str());
    }
  }
}

// The id map, free labels and overflowing lists are saved as they are: the loaded index answers
// alike and keeps changing alike.
TEST(IvfSaveLoad, ChangedIndexGivesIdenticalAnswersAndChangesAlike) {
  const FloatMatrix base = blobs(1500, 16, 10, 53);
  const FloatMatrix queries = random_matrix(25, 16, 54, 0.0f, 3.0f);
  for (const auto& [module, search] : save_load_cases()) {
    for (const Metric metric : kAllMetrics) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto index = make(module, metric, 16, streaming_build(module, 8));
      index->build(MatrixView{nullptr, 0, 16});
      add_rows(*index, base, 0, 600, 1000);
      add_rows(*index, base, 600, 400, 1000);
      std::vector<std::int64_t> gone;
      for (std::int64_t r = 0; r < 1000; r += 5) gone.push_back(1000 + r);
      index->remove(gone);
      const std::string path = temp_file("ivf_changed");
      index->save(path);
      auto loaded = info_of(module).load(path, metric, 16);
      set_search(*index, module, search);
      set_search(*loaded, module, search);
      expect_same_answers(*index, *loaded, module, queries.view(), what);
      for (Index* i : {index.get(), loaded.get()}) {
        add_rows(*i, base, 1000, 300, 1000);  // reuses freed labels first
        i->add(std::span(gone).first(10), MatrixView{base.row(1300), 10, 16});
        const std::vector<std::int64_t> less = {1001, 2299};
        i->remove(less);
      }
      expect_same_answers(*index, *loaded, module, queries.view(), what + " after more changes");
      std::remove(path.c_str());
    }
  }
}

// Built on zero rows and saved before any add(): the loaded index trains on its first add()
// with the saved parameters, as the original does.
TEST(IvfSaveLoad, UntrainedIndexTrainsAlikeAfterLoad) {
  const FloatMatrix base = blobs(600, 16, 8, 55);
  const FloatMatrix queries = random_matrix(10, 16, 56, 0.0f, 3.0f);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    auto index = make(module, Metric::L2, 16, streaming_build(module, 8));
    index->build(MatrixView{nullptr, 0, 16});
    const std::string path = temp_file("ivf_untrained");
    index->save(path);
    auto loaded = info_of(module).load(path, Metric::L2, 16);
    std::vector<Neighbor> out(3);
    loaded->search(queries.row(0), 3, out.data());
    EXPECT_EQ(out[0].id, -1) << module;
    for (Index* i : {index.get(), loaded.get()}) {
      add_rows(*i, base, 0, 600, 0);
      set_search(*i, module, params_of({{"nprobe", std::int64_t{2}}}));
    }
    expect_identical(search_all(*index, queries.view(), 10),
                     search_all(*loaded, queries.view(), 10), module);
    std::remove(path.c_str());
  }
}

TEST(IvfSaveLoad, BadFilesGiveErrorsNamingThem) {
  const FloatMatrix base = blobs(400, 12, 6, 57);
  for (const std::string module : {"ivf-flat", "ivf-pq"}) {
    Params build = params_of({{"nlist", std::int64_t{4}}});
    if (module == "ivf-pq") {
      build.set("m", std::int64_t{4});
      build.set("nbits", std::int64_t{4});
    }
    auto index = make(module, Metric::L2, 12, build);
    index->build(base.view());
    const std::string path = temp_file("ivf_bad");
    index->save(path);
    const ModuleInfo& info = info_of(module);
    expect_container_errors(info, path, Metric::L2, Metric::InnerProduct, 12);
    // Checksummed but inconsistent references.
    expect_load_error(info, poke<std::uint32_t>(path, "list_labels", 7, 400), Metric::L2, 12,
                      "label 400");
    expect_load_error(info, poke<std::uint32_t>(path, "list_labels", 7, 3), Metric::L2, 12,
                      "repeated");
    expect_load_error(info, poke<std::uint64_t>(path, "list_offsets", 4, 1u << 30), Metric::L2, 12,
                      "list_offsets");
    expect_load_error(info, poke<std::uint64_t>(path, "list_offsets", 1, 399), Metric::L2, 12,
                      "negative size");
    if (module == "ivf-pq") {
      expect_load_error(info, poke<std::uint8_t>(path, "list_entries", 5, 16), Metric::L2, 12,
                        "code 16");
      expect_load_error(info, poke<std::uint64_t>(path, "meta", 5, 5), Metric::L2, 12, "m = 5");
    }
    // A changed index: live ids must be distinct.
    std::vector<std::int64_t> gone = {0, 1};
    index->remove(gone);
    index->save(path);
    expect_load_error(info, poke<std::int64_t>(path, "ids", 5, 6), Metric::L2, 12, "twice");
    std::remove(path.c_str());
    std::remove((path + ".poked").c_str());
  }
}

// Every list probed: ivf-flat's distances are the exact ones in the metric's scale, ivf-pq's
// re-ranked ones too, and its estimates are close to them (not squared, not halved).
TEST(Ivf, DistancesAreInTheMetricsScale) {
  const FloatMatrix base = blobs(800, 16, 8, 59);
  const FloatMatrix queries = random_matrix(20, 16, 60, 0.0f, 3.0f);
  for (const Metric metric : kAllMetrics) {
    for (const auto& [module, search] : save_load_cases()) {
      const std::string what = module + " " + std::string(metric_name(metric));
      auto index = make(module, metric, 16, streaming_build(module, 4));
      index->build(base.view());
      Params all = search;
      all.set("nprobe", std::int64_t{4});
      set_search(*index, module, all);
      const bool exact = module == "ivf-flat" || all.contains("rerank");
      const auto got = search_all(*index, queries.view(), 10);
      double error = 0.0, scale = 0.0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double d = exact_distance(metric, queries.row(i / 10),
                                        base.row(static_cast<std::size_t>(got[i].id)), 16);
        if (exact) {
          EXPECT_NEAR(got[i].distance, d, 1e-4 * (1.0 + std::abs(d))) << what << " at " << i;
        }
        error += std::abs(got[i].distance - d);
        scale += std::abs(d);
      }
      EXPECT_LT(error, 0.25 * scale) << what;
    }
  }
}

}  // namespace
}  // namespace annbench
