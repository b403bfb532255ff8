// The hnsw module as the harness loads it: recall against exact search for every metric, graph
// invariants (reachability, degree bounds, determinism), save/load round trips and refusal of
// bad files, ef below k, duplicates and concurrent searches.

#include "hnsw_fixture.h"

namespace annbench {
namespace {

TEST_F(HnswModule, DeclaresParamsAndRejectsSmallM) {
  EXPECT_STREQ(info_->name, "hnsw");
  EXPECT_NE(info_->capabilities & kCapSaveLoad, 0u);
  EXPECT_NE(info_->capabilities & kCapInsert, 0u);
  EXPECT_NE(info_->capabilities & kCapDelete, 0u);
  Params threshold;
  threshold.set("repair_threshold", 1.5);
  EXPECT_THROW(resolve_params(threshold, info_->build_params, "hnsw", "build"), Error);
  Params bad;
  bad.set("M", std::int64_t{1});
  EXPECT_THROW(resolve_params(bad, info_->build_params, "hnsw", "build"), Error);
  Params ef0;
  ef0.set("ef", std::int64_t{0});
  EXPECT_THROW(resolve_params(ef0, info_->search_params, "hnsw", "search"), Error);
}

TEST_F(HnswModule, HighRecallForEveryMetric) {
  const FloatMatrix base = random_matrix(2000, 24, 1);
  const FloatMatrix queries = random_matrix(60, 24, 2);
  constexpr std::size_t k = 10;
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    // One build thread: a parallel build's graph depends on scheduling, and the recall bound
    // should hold for a reproducible graph, not only on average.
    auto index = build(metric, base.view(), 16, 64, 1);
    set_ef(*index, 200);
    const auto got = search_all(*index, queries.view(), k);
    const auto truth = naive_knn(base.view(), queries.view(), metric, k);
    EXPECT_GE(recall(got, truth, k), 0.99) << metric_name(metric);
    // Results come nearest first, distances in the metric's scale.
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      for (std::size_t j = 0; j < k; ++j) {
        const Neighbor& nb = got[q * k + j];
        if (j > 0) {
          EXPECT_LE(got[q * k + j - 1].distance, nb.distance);
        }
        const double exact =
            exact_distance(metric, queries.row(q), base.row(static_cast<std::size_t>(nb.id)), 24);
        EXPECT_NEAR(nb.distance, exact, 1e-4 * (1.0 + std::abs(exact))) << metric_name(metric);
      }
    }
    const auto count = index->distance_count();
    ASSERT_TRUE(count.has_value());
    EXPECT_GT(*count, 0u);
  }
}

TEST_F(HnswModule, GraphInvariants) {
  const FloatMatrix base = random_matrix(3000, 16, 3);
  auto index = build(Metric::L2, base.view(), 6, 40);
  const HnswIndex& g = graph(*index);
  ASSERT_EQ(g.size(), 3000u);
  EXPECT_EQ(reachable_on_layer0(g), g.size());
  EXPECT_EQ(g.level(g.entry_point()), g.max_level());
  EXPECT_GE(g.max_level(), 1);  // 3000 nodes with M = 6: levels up to ~4
  std::size_t upper_nodes = 0;
  for (std::uint32_t u = 0; u < g.size(); ++u) {
    upper_nodes += g.level(u) > 0;
    for (int level = 0; level <= g.level(u); ++level) {
      const auto links = g.neighbors(u, level);
      EXPECT_LE(links.size(), level == 0 ? 12u : 6u);
      if (level == 0) {
        EXPECT_GE(links.size(), 1u);
      }
      std::set<std::uint32_t> distinct(links.begin(), links.end());
      EXPECT_EQ(distinct.size(), links.size()) << "repeated link at node " << u;
      for (const std::uint32_t w : links) {
        EXPECT_NE(w, u);
        EXPECT_GE(g.level(w), level) << "link to a node absent from level " << level;
      }
    }
  }
  // P(level >= 1) = 1 / M.
  EXPECT_NEAR(static_cast<double>(upper_nodes) / 3000.0, 1.0 / 6.0, 0.03);
}

TEST_F(HnswModule, SingleThreadBuildIsDeterministic) {
  const FloatMatrix base = random_matrix(1500, 12, 4);
  auto a = build(Metric::L2, base.view(), 8, 50, 1);
  auto b = build(Metric::L2, base.view(), 8, 50, 1);
  const HnswIndex& ga = graph(*a);
  const HnswIndex& gb = graph(*b);
  ASSERT_EQ(ga.entry_point(), gb.entry_point());
  for (std::uint32_t u = 0; u < ga.size(); ++u) {
    ASSERT_EQ(ga.level(u), gb.level(u));
    for (int level = 0; level <= ga.level(u); ++level) {
      const auto la = ga.neighbors(u, level);
      const auto lb = gb.neighbors(u, level);
      ASSERT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()))
          << "node " << u << " level " << level;
    }
  }
}

TEST_F(HnswModule, DuplicatesStayReachable) {
  // 30% of the rows repeat earlier ones, in a few large groups (bigger than 2M, the case that
  // can strand a node) and many pairs.
  const std::size_t n = 2000;
  FloatMatrix base = random_matrix(n, 8, 5);
  std::mt19937 rng(6);
  for (std::size_t i = 1400; i < n; ++i) {
    const std::size_t source = i < 1700 ? (i % 3) : rng() % 1400;
    std::copy_n(base.row(source), 8, base.row(i));
  }
  auto index = build(Metric::L2, base.view(), 4, 32);
  const HnswIndex& g = graph(*index);
  EXPECT_EQ(reachable_on_layer0(g), n);
  // Every copy of a vector is retrievable: k = group size returns them all at distance 0.
  set_ef(*index, 400);
  std::vector<Neighbor> out(120);
  index->search(base.row(0), out.size(), out.data());
  std::size_t zeros = 0;
  for (const Neighbor& nb : out) zeros += nb.distance == 0.0f;
  std::size_t copies = 0;
  for (std::size_t i = 0; i < n; ++i)
    copies += std::equal(base.row(i), base.row(i) + 8, base.row(0));
  EXPECT_EQ(zeros, copies);
}

TEST_F(HnswModule, EfBelowKIsRaisedToK) {
  const FloatMatrix base = random_matrix(500, 8, 8);
  auto index = build(Metric::L2, base.view());
  set_ef(*index, 1);
  std::vector<Neighbor> out(50);
  index->search(base.row(3), out.size(), out.data());
  std::set<std::int64_t> ids;
  for (const Neighbor& nb : out) {
    EXPECT_GE(nb.id, 0);
    ids.insert(nb.id);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(out[0].id, 3);
  // k > n: the rest padded.
  std::vector<Neighbor> all(600);
  set_ef(*index, 10);
  index->search(base.row(0), all.size(), all.data());
  EXPECT_EQ(all[499].id >= 0, true);
  EXPECT_EQ(all[500].id, -1);
}

TEST_F(HnswModule, SaveLoadGivesIdenticalResults) {
  const FloatMatrix base = random_matrix(1500, 20, 9);
  const FloatMatrix queries = random_matrix(40, 20, 10);
  for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
    auto index = build(metric, base.view());
    auto loaded = round_trip(*index, metric, 20);
    set_ef(*index, 50);
    set_ef(*loaded, 50);
    const auto a = search_all(*index, queries.view(), 10);
    const auto b = search_all(*loaded, queries.view(), 10);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].id, b[i].id) << metric_name(metric);
      ASSERT_EQ(a[i].distance, b[i].distance);
    }
    EXPECT_EQ(loaded->memory_bytes(), index->memory_bytes());
    EXPECT_EQ(graph(*loaded).config().M, 8u);
    EXPECT_EQ(graph(*loaded).config().ef_construction, 64u);
  }
  // An empty index round-trips too.
  auto empty = build(Metric::L2, MatrixView{nullptr, 0, 20});
  auto loaded = round_trip(*empty, Metric::L2, 20, "empty.hnsw");
  Neighbor out[3];
  loaded->search(queries.row(0), 3, out);
  EXPECT_EQ(out[0].id, -1);
}

TEST_F(HnswModule, BadFilesAreRefusedNamingTheFile) {
  const FloatMatrix base = random_matrix(400, 10, 11);
  auto index = build(Metric::L2, base.view());
  const std::string good = (dir_ / "good.hnsw").string();
  index->save(good);
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  expect_refused(*info_, (dir_ / "missing.hnsw").string(), "cannot open");
  expect_refused(*info_, write("short.hnsw", bytes.substr(0, 20)), "shorter than the header");
  expect_refused(*info_, write("cut.hnsw", bytes.substr(0, bytes.size() - 100)), "truncated");
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  expect_refused(*info_, write("flipped.hnsw", flipped), "checksum");
  expect_refused(*info_, good, "dimension 10, not 11", Metric::L2, 11);
  expect_refused(*info_, good, "not angular", Metric::Angular);
  // Another module's file.
  const std::string other = (dir_ / "other.idx").string();
  const std::vector<float> nothing(10, 0.0f);
  IndexFileWriter foreign("annoy", 1, Metric::L2, 10, 1);
  foreign.add("vectors", nothing);
  foreign.write(other);
  expect_refused(*info_, other, "not a 'hnsw' index");

  // Files that pass the checksum but hold what save() never writes.
  const std::size_t n = 400;
  const auto corrupt = [&](const std::string& tag, const std::string& needle, auto&& edit) {
    const std::string path = rewrite(good, "corrupt-" + tag + ".hnsw", Metric::L2, 10, tag, edit);
    expect_refused(*info_, path, needle);
  };
  corrupt("layer0", "links node", [&](std::vector<std::byte>& b) {
    const auto link = static_cast<std::uint32_t>(n + 5);  // node 0's first layer-0 link
    std::memcpy(b.data() + 10 * sizeof(float), &link, sizeof link);
  });
  corrupt("levels", "level 200", [](std::vector<std::byte>& b) { b[7] = std::byte{200}; });
  corrupt("meta", "entry point", [&](std::vector<std::byte>& b) {
    const std::uint64_t entry = n + 1;
    std::memcpy(b.data() + 48, &entry, sizeof entry);  // Meta::entry
  });
  corrupt("upper_offset", "upper-layer lists", [](std::vector<std::byte>& b) {
    for (auto& byte : b) byte = std::byte{0x7f};
  });
  corrupt("rng", "does not parse", [](std::vector<std::byte>& b) { b.assign(3, std::byte{'x'}); });
  corrupt("free", "free slots", [](std::vector<std::byte>& b) { b.assign(4, std::byte{0}); });
  corrupt("levels", "holds 399 elements, expected 400",
          [](std::vector<std::byte>& b) { b.pop_back(); });
  EXPECT_NO_THROW(info_->load(good, Metric::L2, 10));
}

TEST_F(HnswModule, ConcurrentSearchesMatchSequential) {
  const FloatMatrix base = random_matrix(2000, 16, 12);
  const FloatMatrix queries = random_matrix(200, 16, 13);
  auto index = build(Metric::Angular, base.view());
  set_ef(*index, 40);
  const auto sequential = search_all(*index, queries.view(), 10);
  std::vector<Neighbor> parallel(sequential.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t q = t; q < queries.rows(); q += 4) {
        index->search(queries.row(q), 10, &parallel[q * 10]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t i = 0; i < sequential.size(); ++i) {
    ASSERT_EQ(sequential[i].id, parallel[i].id) << i;
    ASSERT_EQ(sequential[i].distance, parallel[i].distance) << i;
  }
  std::vector<Neighbor> batch(sequential.size());
  index->search_batch(queries.view(), 10, batch.data());
  for (std::size_t i = 0; i < sequential.size(); ++i) ASSERT_EQ(sequential[i].id, batch[i].id);
}

// ---- Streaming: add(), remove(), tombstone repair ----

// Sets the OpenMP thread count for a scope.

}  // namespace
}  // namespace annbench
