// hnsw's alpha-pruned neighbour selection (Vamana's RobustPrune) and second pass: alpha 1 is the
// unchanged heuristic bit for bit; alpha > 1 keeps more links and loses no recall on clustered
// data; passes = 2 keeps every node reachable, does not depend on the thread count, and loses
// no recall; bad values are errors naming the parameter; alpha survives save / load.

#include "filtered_knn.h"
#include "hnsw_builder.h"
#include "hnsw_fixture.h"

#include <fmt/format.h>

namespace annbench {
namespace {

using testing::gaussian_blobs;

std::vector<char> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double mean_layer0_degree(const HnswIndex& g) {
  std::size_t links = 0;
  for (std::uint32_t u = 0; u < g.size(); ++u) links += g.neighbors(u, 0).size();
  return static_cast<double>(links) / static_cast<double>(g.size());
}

void expect_same_graph(const HnswIndex& a, const HnswIndex& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.entry_point(), b.entry_point());
  for (std::uint32_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(a.level(u), b.level(u));
    for (int level = 0; level <= a.level(u); ++level) {
      const auto la = a.neighbors(u, level);
      const auto lb = b.neighbors(u, level);
      ASSERT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()))
          << "node " << u << " level " << level;
    }
  }
}

class HnswAlpha : public HnswModule {
 protected:
  // A seeded build with ef_construction 64 (as the fixture's) plus `extra`.
  std::unique_ptr<Index> build_with(Metric metric, MatrixView base, const Params& extra,
                                    std::int64_t m = 8, int threads = 1) const {
    Params given = extra;
    given.set("M", m);
    given.set("ef_construction", std::int64_t{64});
    return build_given(metric, base, given, threads);
  }

  static Params alpha_passes(double alpha, std::int64_t passes) {
    Params p;
    p.set("alpha", alpha);
    p.set("passes", passes);
    return p;
  }

  // Clustered data: 6,000 × 24 in 60 Gaussian blobs, queries from the same blobs.
  static constexpr std::size_t kDim = 24, kK = 10;
  const FloatMatrix base_ = gaussian_blobs(6000, kDim, 60, 11, 900, 3.0f);
  const FloatMatrix queries_ = gaussian_blobs(300, kDim, 60, 12, 900, 3.0f);

  double recall_at(Index& index, std::int64_t ef, Metric metric = Metric::L2) const {
    set_ef(index, ef);
    const auto got = search_all(index, queries_.view(), kK);
    return recall(got, naive_knn(base_.view(), queries_.view(), metric, kK), kK);
  }
};

TEST_F(HnswAlpha, AlphaOneIsTheDefaultGraphBitForBit) {
  const FloatMatrix base = random_matrix(1500, 12, 21);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto plain = build_with(metric, base.view(), Params{});
    Params one;
    one.set("alpha", 1.0);
    auto explicit_one = build_with(metric, base.view(), one);
    expect_same_graph(graph(*plain), graph(*explicit_one));
    plain->save((dir_ / "plain.hnsw").string());
    explicit_one->save((dir_ / "one.hnsw").string());
    EXPECT_EQ(file_bytes(dir_ / "plain.hnsw"), file_bytes(dir_ / "one.hnsw"))
        << metric_name(metric);
  }
}

// Expects every upper-layer list of `b` to equal `a`'s: alpha applies to layer 0 only, and
// an insertion's upper-layer searches never read layer 0.
void expect_same_upper_layers(const HnswIndex& a, const HnswIndex& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::uint32_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(a.level(u), b.level(u));
    for (int level = 1; level <= a.level(u); ++level) {
      const auto la = a.neighbors(u, level);
      const auto lb = b.neighbors(u, level);
      ASSERT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()))
          << "node " << u << " level " << level;
    }
  }
}

// M 16: at M 8 (8 links chosen per insertion) alpha 1.2 fills the lists with near links and
// loses recall on well-separated clusters (README, "alpha"); 16 leaves it room.
TEST_F(HnswAlpha, AlphaAboveOneKeepsMoreLinksAndRecall) {
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    SCOPED_TRACE(metric_name(metric));
    auto one = build_with(metric, base_.view(), alpha_passes(1.0, 1), 16);
    auto more = build_with(metric, base_.view(), alpha_passes(1.2, 1), 16);
    // Mean layer-0 degree 11.3 -> 23.2 (euclidean), 11.8 -> 23.2 (angular).
    EXPECT_GT(mean_layer0_degree(graph(*more)), mean_layer0_degree(graph(*one)) + 5.0);
    // The run's build_report says the same.
    for (const Index* index : {one.get(), more.get()}) {
      const std::string report = index->build_report();
      EXPECT_EQ(report.rfind(fmt::format(R"({{"layer0_mean_degree":{:.2f},)",
                                         mean_layer0_degree(graph(*index))),
                             0),
                0u)
          << report;
      EXPECT_NE(report.find(R"("layer0_max_degree":32})"), std::string::npos) << report;
    }
    EXPECT_EQ(reachable_on_layer0(graph(*more)), base_.rows());
    expect_same_upper_layers(graph(*one), graph(*more));
    // Recall@10 at ef 10: 0.962 -> 0.998 (euclidean), 0.966 -> 0.998 (angular).
    EXPECT_GE(recall_at(*more, 10, metric), recall_at(*one, 10, metric) + 0.02);
    EXPECT_GE(recall_at(*more, 20, metric), recall_at(*one, 20, metric));
  }
}

TEST_F(HnswAlpha, SecondPassKeepsNodesReachableAndRecall) {
  auto one = build_with(Metric::L2, base_.view(), alpha_passes(1.0, 1), 16);
  auto once = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 1), 16);
  auto twice = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 2), 16);
  const HnswIndex& g = graph(*twice);
  EXPECT_EQ(reachable_on_layer0(g), base_.rows());
  for (std::uint32_t u = 0; u < g.size(); ++u) {
    const auto links = g.neighbors(u, 0);
    std::set<std::uint32_t> distinct(links.begin(), links.end());
    ASSERT_EQ(distinct.size(), links.size()) << "repeated link at node " << u;
    ASSERT_EQ(distinct.count(u), 0u) << "self link at node " << u;
  }
  // Mean layer-0 degree 23.2 (alpha 1.2, one pass) -> 27.3 (two passes).
  EXPECT_GT(mean_layer0_degree(g), mean_layer0_degree(graph(*once)) + 2.0);
  expect_same_upper_layers(graph(*one), g);
  // At least the one-pass builds' recall at equal ef, with alpha 1.2 or 1.
  for (const std::int64_t ef : {10, 20}) {
    SCOPED_TRACE(ef);
    const double r_twice = recall_at(*twice, ef);
    EXPECT_GE(r_twice, recall_at(*once, ef));
    EXPECT_GE(r_twice, recall_at(*one, ef));
  }
  // Recall@10 at ef 10: 0.962 (alpha 1) -> 0.999 (two passes).
  EXPECT_GE(recall_at(*twice, 10), recall_at(*one, 10) + 0.02);
  // With the inner product the second pass runs with alpha 1.
  auto dot = build_with(Metric::InnerProduct, base_.view(), alpha_passes(1.0, 2), 16);
  EXPECT_EQ(reachable_on_layer0(graph(*dot)), base_.rows());
}

TEST_F(HnswAlpha, SecondPassDoesNotDependOnThreads) {
  // The same single-thread first pass twice, then the second pass on 1 and on 3 threads.
  auto a = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 1));
  auto b = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 1));
  expect_same_graph(graph(*a), graph(*b));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  hnsw::HnswBuilder(dynamic_cast<HnswIndex&>(*a)).second_pass();
  omp_set_num_threads(3);
  hnsw::HnswBuilder(dynamic_cast<HnswIndex&>(*b)).second_pass();
  omp_set_num_threads(saved);
  expect_same_graph(graph(*a), graph(*b));
  // And a whole two-pass build on one thread is reproducible.
  auto c = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 2));
  auto d = build_with(Metric::L2, base_.view(), alpha_passes(1.2, 2));
  expect_same_graph(graph(*c), graph(*d));
}

TEST_F(HnswAlpha, BadValuesNameTheParameter) {
  auto message = [&](const Params& given) -> std::string {
    try {
      resolve_params(given, info_->build_params, "hnsw", "build");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  Params low;
  low.set("alpha", 0.5);
  EXPECT_NE(message(low).find("'alpha' = 0.5 is outside"), std::string::npos) << message(low);
  Params high;
  high.set("alpha", 2.5);
  EXPECT_NE(message(high).find("'alpha'"), std::string::npos) << message(high);
  Params three;
  three.set("passes", std::int64_t{3});
  EXPECT_NE(message(three).find("'passes' = 3 is outside"), std::string::npos) << message(three);
  // alpha > 1 with the inner product: refused at create(), naming alpha and the metric.
  Params given = alpha_passes(1.2, 1);
  const Params resolved = resolve_params(given, info_->build_params, "hnsw", "build");
  try {
    info_->create(Metric::InnerProduct, 8, resolved);
    ADD_FAILURE() << "alpha 1.2 accepted for metric dot";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("alpha = 1.2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dot"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(info_->create(Metric::Angular, 8, resolved));
  // Configured directly, past the specs.
  hnsw::HnswConfig config;
  config.passes = 3;
  EXPECT_THROW(HnswIndex(Metric::L2, 8, config), Error);
  config.passes = 1;
  config.alpha = 0.5;
  EXPECT_THROW(HnswIndex(Metric::L2, 8, config), Error);
}

TEST_F(HnswAlpha, SaveLoadKeepsAlphaForLaterInserts) {
  const FloatMatrix base = random_matrix(1200, 16, 31);
  const FloatMatrix more = random_matrix(300, 16, 32);
  const FloatMatrix queries = random_matrix(40, 16, 33);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = build_with(metric, base.view(), alpha_passes(1.3, 2));
    auto loaded = round_trip(*index, metric, 16);
    EXPECT_EQ(graph(*loaded).config().alpha, 1.3);
    expect_same_graph(graph(*index), graph(*loaded));
    set_ef(*index, 40);
    set_ef(*loaded, 40);
    const auto a = search_all(*index, queries.view(), 10);
    const auto b = search_all(*loaded, queries.view(), 10);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].id, b[i].id) << metric_name(metric);
      ASSERT_EQ(a[i].distance, b[i].distance);
    }
    // Later inserts select with the saved alpha on both (one thread: the same graph).
    std::vector<std::int64_t> ids(more.rows());
    std::iota(ids.begin(), ids.end(), std::int64_t{5000});
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    index->add(ids, more.view());
    loaded->add(ids, more.view());
    omp_set_num_threads(saved);
    expect_same_graph(graph(*index), graph(*loaded));
  }
  // An alpha section outside (1, 2] is refused naming the file.
  auto index = build_with(Metric::L2, base.view(), alpha_passes(1.3, 1));
  const std::string good = (dir_ / "good.hnsw").string();
  index->save(good);
  const std::string bad =
      rewrite(good, "bad-alpha.hnsw", Metric::L2, 16, "alpha", [](std::vector<std::byte>& b) {
        const double half = 0.5;
        std::memcpy(b.data(), &half, sizeof half);
      });
  expect_refused(*info_, bad, "alpha", Metric::L2, 16);
}

}  // namespace
}  // namespace annbench
