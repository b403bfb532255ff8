// ivf-flat and ivf-pq through the plugin loader, as the harness drives them: exact results when
// every list is probed (and, for ivf-pq, everything re-ranked), recall rising with nprobe, PQ
// reconstruction error falling as m grows, memory accounting, determinism, and clear errors on
// bad input.

#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using ::testing::HasSubstr;
using testing::naive_knn;
using testing::random_matrix;
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
    sum += self->distance;
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
  const std::size_t fixed = (nlist + 1) * sizeof(std::size_t) + nlist * dim * 4 + 256 * dim * 4;
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

}  // namespace
}  // namespace annbench
