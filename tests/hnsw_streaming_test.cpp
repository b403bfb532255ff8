// hnsw as a streaming index: add() into an empty index builds the static graph, removed ids
// never come back, re-added ones do, recall and memory hold through delete-and-reinsert churn,
// caller ids, and index files of updated indexes (tombstones, free slots, caller ids).

#include "hnsw_fixture.h"

#include <omp.h>

namespace annbench {
namespace {

class OmpThreads {
 public:
  explicit OmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// The rows `rows` of `m`.
FloatMatrix take_rows(const FloatMatrix& m, const std::vector<std::int64_t>& rows) {
  FloatMatrix out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(m.row(static_cast<std::size_t>(rows[i])), m.cols(), out.row(i));
  }
  return out;
}

// Exact k-NN among `rows` of base, reported as id_offset + row.
std::vector<Neighbor> truth_among(const FloatMatrix& base, const std::vector<std::int64_t>& rows,
                                  MatrixView queries, Metric metric, std::size_t k,
                                  std::int64_t id_offset = 0) {
  const FloatMatrix subset = take_rows(base, rows);
  auto truth = naive_knn(subset.view(), queries, metric, k);
  for (Neighbor& nb : truth) {
    if (nb.id >= 0) nb.id = rows[static_cast<std::size_t>(nb.id)] + id_offset;
  }
  return truth;
}

// Adds `rows` of base under ids id_offset + row, `batch` rows per add() call.
void add_batches(Index& index, const FloatMatrix& base, const std::vector<std::int64_t>& rows,
                 std::size_t batch, int threads = 2, std::int64_t id_offset = 0) {
  const OmpThreads scope(threads);
  for (std::size_t begin = 0; begin < rows.size(); begin += batch) {
    const std::vector<std::int64_t> part(
        rows.begin() + static_cast<std::ptrdiff_t>(begin),
        rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), begin + batch)));
    std::vector<std::int64_t> ids(part);
    for (auto& id : ids) id += id_offset;
    const FloatMatrix vectors = take_rows(base, part);
    index.add(ids, vectors.view());
  }
}

std::vector<std::int64_t> iota_ids(std::size_t n, std::int64_t first = 0) {
  std::vector<std::int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

// A random `count` of the ids in [0, n).
std::vector<std::int64_t> random_subset(std::size_t n, std::size_t count, std::uint32_t seed) {
  std::vector<std::int64_t> ids = iota_ids(n);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  ids.resize(count);
  return ids;
}

// Rows of [0, n) not in `removed`.
std::vector<std::int64_t> complement(std::size_t n, const std::vector<std::int64_t>& removed) {
  std::vector<bool> gone(n, false);
  for (const std::int64_t id : removed) gone[static_cast<std::size_t>(id)] = true;
  std::vector<std::int64_t> rest;
  for (std::size_t i = 0; i < n; ++i) {
    if (!gone[i]) rest.push_back(static_cast<std::int64_t>(i));
  }
  return rest;
}

TEST_F(HnswModule, AddOnOneThreadBuildsTheStaticGraph) {
  // Same level draws, same insertion order: one add() into an empty index is the static build.
  const FloatMatrix base = random_matrix(1500, 12, 20);
  auto fixed = build(Metric::L2, base.view(), 8, 50, 1);
  auto streamed = build(Metric::L2, MatrixView{nullptr, 0, 12}, 8, 50, 1);
  add_batches(*streamed, base, iota_ids(1500), 1500, 1);
  const HnswIndex& a = graph(*fixed);
  const HnswIndex& b = graph(*streamed);
  ASSERT_EQ(b.size(), 1500u);
  ASSERT_EQ(a.entry_point(), b.entry_point());
  ASSERT_EQ(a.max_level(), b.max_level());
  for (std::uint32_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(a.level(u), b.level(u)) << u;
    for (int level = 0; level <= a.level(u); ++level) {
      const auto la = a.neighbors(u, level);
      const auto lb = b.neighbors(u, level);
      ASSERT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()))
          << "node " << u << " level " << level;
    }
  }
  EXPECT_EQ(fixed->distance_count(), streamed->distance_count());
  // Batches continue the level draws: the same levels and entry point.
  auto batched = build(Metric::L2, MatrixView{nullptr, 0, 12}, 8, 50, 1);
  add_batches(*batched, base, iota_ids(1500), 400, 1);
  const HnswIndex& c = graph(*batched);
  ASSERT_EQ(c.size(), 1500u);
  EXPECT_EQ(a.entry_point(), c.entry_point());
  for (std::uint32_t u = 0; u < a.size(); ++u) ASSERT_EQ(a.level(u), c.level(u)) << u;
}

TEST_F(HnswModule, AddIntoEmptyIndexHasStaticRecall) {
  const FloatMatrix base = random_matrix(3000, 24, 21);
  const FloatMatrix queries = random_matrix(200, 24, 22);
  constexpr std::size_t k = 10;
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    // One thread: reproducible graphs (a parallel build's recall moves by ~0.01 between runs).
    auto fixed = build(metric, base.view(), 8, 64, 1);
    auto streamed = build(metric, MatrixView{nullptr, 0, 24}, 8, 64, 1);
    std::vector<Neighbor> out(k);
    streamed->search(queries.row(0), k, out.data());
    for (const Neighbor& nb : out) EXPECT_EQ(nb.id, -1);
    const std::uint64_t before = *streamed->distance_count();
    add_batches(*streamed, base, iota_ids(3000), 500, 1);
    EXPECT_GT(*streamed->distance_count(), before);
    // Parallel insertion, as a batch add() runs it.
    auto parallel = build(metric, MatrixView{nullptr, 0, 24}, 8, 64, 2);
    add_batches(*parallel, base, iota_ids(3000), 500, 2);
    const auto truth = naive_knn(base.view(), queries.view(), metric, k);
    auto recall_at = [&](Index& index) {
      set_ef(index, 20);
      return recall(search_all(index, queries.view(), k), truth, k);
    };
    const double r_fixed = recall_at(*fixed);
    EXPECT_NEAR(recall_at(*streamed), r_fixed, 0.01) << metric_name(metric);
    EXPECT_GE(recall_at(*parallel), r_fixed - 0.03) << metric_name(metric);
    EXPECT_EQ(reachable_on_layer0(graph(*streamed)), 3000u);
    EXPECT_EQ(reachable_on_layer0(graph(*parallel)), 3000u);
  }
}

TEST_F(HnswModule, RemovedIdsAreNeverReturnedAndCanComeBack) {
  const std::size_t n = 2000;
  const FloatMatrix base = random_matrix(n, 16, 23);
  const FloatMatrix queries = random_matrix(100, 16, 24);
  constexpr std::size_t k = 10;
  const std::vector<std::int64_t> removed = random_subset(n, 600, 25);
  const std::vector<std::int64_t> kept = complement(n, removed);
  const auto truth = truth_among(base, kept, queries.view(), Metric::L2, k);
  const OmpThreads scope(1);  // reproducible graphs
  // A static build of the kept rows, searched at the same ef, for scale.
  const FloatMatrix kept_rows = take_rows(base, kept);
  auto fixed = build(Metric::L2, kept_rows.view(), 8, 64, 1);
  set_ef(*fixed, 20);
  auto fixed_got = search_all(*fixed, queries.view(), k);
  for (Neighbor& nb : fixed_got) nb.id = kept[static_cast<std::size_t>(nb.id)];
  const double r_static = recall(fixed_got, truth, k);
  // 1: tombstones only, never repaired; 0.1: repaired and slots freed along the way.
  for (const double threshold : {1.0, 0.1}) {
    auto index = build(Metric::L2, base.view(), 8, 64, 1, threshold);
    index->remove(removed);
    const HnswIndex& g = graph(*index);
    EXPECT_EQ(g.live_size(), n - removed.size());
    if (threshold == 1.0) {
      EXPECT_EQ(g.deleted_count(), removed.size());
      EXPECT_EQ(g.free_count(), 0u);
    } else {
      EXPECT_LE(g.deleted_count(), n / 10);
      EXPECT_GT(g.free_count(), 0u);
    }
    set_ef(*index, 20);
    const auto got = search_all(*index, queries.view(), k);
    const std::set<std::int64_t> gone(removed.begin(), removed.end());
    for (const Neighbor& nb : got) {
      EXPECT_GE(nb.id, 0) << "fewer than k live results";
      EXPECT_EQ(gone.count(nb.id), 0u) << "removed id " << nb.id << " returned";
    }
    EXPECT_GE(recall(got, truth, k), r_static - 0.02) << threshold;

    // Removed ids come back with their vectors and are found by self-queries.
    const std::vector<std::int64_t> back(removed.begin(), removed.begin() + 20);
    add_batches(*index, base, back, 7, 1);
    EXPECT_EQ(g.capacity(), n) << "tombstones are reclaimed before the arrays grow";
    for (const std::int64_t id : back) {
      Neighbor self[1];
      index->search(base.row(static_cast<std::size_t>(id)), 1, self);
      EXPECT_EQ(self[0].id, id);
      EXPECT_EQ(self[0].distance, 0.0f);
    }
  }
}

TEST_F(HnswModule, DeleteHalfThenReinsertKeepsRecallAndMemory) {
  const std::size_t n = 4000;
  const FloatMatrix base = random_matrix(n, 32, 26);
  const FloatMatrix queries = random_matrix(200, 32, 27);
  constexpr std::size_t k = 10;
  // One thread throughout: parallel builds and repairs (reverse links are appended in thread
  // order) give graphs whose recall moves by ~0.01 between runs.
  const OmpThreads scope(1);
  auto recall_at = [&](Index& index, const std::vector<Neighbor>& truth) {
    set_ef(index, 40);
    return recall(search_all(index, queries.view(), k), truth, k);
  };
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, k);
  auto fixed = build(Metric::L2, base.view(), 8, 64, 1);
  const double r_fixed = recall_at(*fixed, truth);
  const std::size_t fixed_bytes = fixed->memory_bytes();

  auto index = build(Metric::L2, base.view(), 8, 64, 1);
  const HnswIndex& g = graph(*index);
  const std::vector<std::int64_t> half = random_subset(n, n / 2, 28);
  index->remove(half);
  EXPECT_EQ(g.live_size(), n / 2);
  EXPECT_EQ(reachable_on_layer0(g), g.size() - g.free_count());
  // Against a static build of the remaining half.
  const std::vector<std::int64_t> rest = complement(n, half);
  const auto rest_truth = truth_among(base, rest, queries.view(), Metric::L2, k);
  const FloatMatrix rest_rows = take_rows(base, rest);
  auto rest_fixed = build(Metric::L2, rest_rows.view(), 8, 64, 1);
  set_ef(*rest_fixed, 40);
  auto rest_got = search_all(*rest_fixed, queries.view(), k);
  for (Neighbor& nb : rest_got) nb.id = rest[static_cast<std::size_t>(nb.id)];
  EXPECT_GE(recall_at(*index, rest_truth), recall(rest_got, rest_truth, k) - 0.02);

  add_batches(*index, base, half, 500, 1);
  EXPECT_EQ(g.capacity(), n) << "re-inserted vectors must reuse freed slots";
  EXPECT_NEAR(recall_at(*index, truth), r_fixed, 0.02);
  EXPECT_LE(static_cast<double>(index->memory_bytes()), 1.3 * static_cast<double>(fixed_bytes));

  // A longer churn: a fifth out and back in, five times.
  for (std::uint32_t round = 0; round < 5; ++round) {
    const std::vector<std::int64_t> part = random_subset(n, n / 5, 30 + round);
    index->remove(part);
    add_batches(*index, base, part, 300, 1);
  }
  EXPECT_EQ(g.live_size(), n);
  EXPECT_EQ(g.capacity(), n);
  EXPECT_NEAR(recall_at(*index, truth), r_fixed, 0.02);
  EXPECT_LE(static_cast<double>(index->memory_bytes()), 1.3 * static_cast<double>(fixed_bytes));
}

TEST_F(HnswModule, CallerIdsAndDeletingEverything) {
  const FloatMatrix base = random_matrix(1000, 16, 29);
  const FloatMatrix queries = random_matrix(50, 16, 30);
  constexpr std::size_t k = 10;
  auto index = build(Metric::L2, MatrixView{nullptr, 0, 16});
  add_batches(*index, base, iota_ids(1000), 600, 2, 1000);
  set_ef(*index, 40);
  const auto got = search_all(*index, queries.view(), k);
  for (const Neighbor& nb : got) {
    EXPECT_GE(nb.id, 1000);
    EXPECT_LT(nb.id, 2000);
  }
  EXPECT_GE(recall(got, truth_among(base, iota_ids(1000), queries.view(), Metric::L2, k, 1000), k),
            0.95);

  const std::vector<std::int64_t> all = iota_ids(1000, 1000);
  index->remove(std::span(all).first(400));
  index->remove(std::span(all).subspan(400));
  const HnswIndex& g = graph(*index);
  EXPECT_EQ(g.live_size(), 0u);
  EXPECT_EQ(g.free_count(), g.size());
  for (const Neighbor& nb : search_all(*index, queries.view(), k)) EXPECT_EQ(nb.id, -1);

  // An emptied index fills again, in the slots it has.
  const std::size_t capacity = g.capacity();
  add_batches(*index, base, iota_ids(100), 100, 2, 5000);
  EXPECT_EQ(g.capacity(), capacity);
  for (const Neighbor& nb : search_all(*index, queries.view(), k)) {
    EXPECT_GE(nb.id, 5000);
    EXPECT_LT(nb.id, 5100);
  }
  Neighbor self[1];
  index->search(base.row(42), 1, self);
  EXPECT_EQ(self[0].id, 5042);
}

TEST_F(HnswModule, AddAfterBuildContinuesIds) {
  const FloatMatrix base = random_matrix(2000, 16, 31);
  const FloatMatrix queries = random_matrix(100, 16, 32);
  constexpr std::size_t k = 10;
  auto index = build(Metric::L2, MatrixView{base.data(), 1500, 16});
  std::vector<std::int64_t> rest(500);
  std::iota(rest.begin(), rest.end(), 1500);
  add_batches(*index, base, rest, 500);
  set_ef(*index, 50);
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, k);
  EXPECT_GE(recall(search_all(*index, queries.view(), k), truth, k), 0.95);
  for (const std::int64_t id : {1500, 1777, 1999}) {
    Neighbor self[1];
    index->search(base.row(static_cast<std::size_t>(id)), 1, self);
    EXPECT_EQ(self[0].id, id);
  }
  // A loaded index answers alike and adds on.
  auto loaded = round_trip(*index, Metric::L2, 16, "grown.hnsw");
  set_ef(*loaded, 50);
  const auto a = search_all(*index, queries.view(), k);
  const auto b = search_all(*loaded, queries.view(), k);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].id, b[i].id);
  const FloatMatrix more = random_matrix(10, 16, 33);
  const std::vector<std::int64_t> more_ids = iota_ids(10, 2000);
  loaded->add(more_ids, more.view());
  Neighbor self[1];
  loaded->search(more.row(3), 1, self);
  EXPECT_EQ(self[0].id, 2003);
}

TEST_F(HnswModule, UpdatedIndexRoundTripsAndUpdatesAlike) {
  const FloatMatrix base = random_matrix(1200, 12, 34);
  const FloatMatrix queries = random_matrix(50, 12, 35);
  const auto expect_same_answers = [&](const Index& a, const Index& b, const char* when) {
    const auto x = search_all(a, queries.view(), 10);
    const auto y = search_all(b, queries.view(), 10);
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(x[i].id, y[i].id) << when << " slot " << i;
      ASSERT_EQ(x[i].distance, y[i].distance) << when << " slot " << i;
    }
  };
  // repair_threshold 1: tombstones stay; 0.1: a repair frees their slots for reuse.
  for (const double threshold : {1.0, 0.1}) {
    SCOPED_TRACE(threshold);
    auto index = build(Metric::Angular, MatrixView{nullptr, 0, 12}, 8, 64, 2, threshold);
    add_batches(*index, base, iota_ids(1000), 250, 1, 5000);  // caller ids 5000..5999
    std::vector<std::int64_t> removed = random_subset(1000, 150, 36);
    for (auto& id : removed) id += 5000;
    index->remove(removed);
    const HnswIndex& g = graph(*index);
    if (threshold == 1.0) {
      EXPECT_EQ(g.deleted_count(), 150u);
    } else {
      EXPECT_GT(g.free_count(), 0u);
    }
    auto loaded = round_trip(*index, Metric::Angular, 12);
    set_ef(*index, 40);
    set_ef(*loaded, 40);
    expect_same_answers(*index, *loaded, "after load");
    EXPECT_EQ(graph(*loaded).live_size(), g.live_size());
    EXPECT_EQ(graph(*loaded).deleted_count(), g.deleted_count());
    EXPECT_EQ(graph(*loaded).free_count(), g.free_count());
    // The same updates on both (free slots reused, levels drawn from the saved generator), on
    // one thread: a parallel insertion's links depend on timing.
    const OmpThreads one(1);
    for (Index* x : {index.get(), loaded.get()}) {
      add_batches(*x, base, iota_ids(200, 1000), 100, 1, 5000);
      x->remove(std::vector<std::int64_t>{6000, 6001, 6100});
      add_batches(*x, base, {1000, 1001}, 2, 1, 5000);
    }
    expect_same_answers(*index, *loaded, "after the same updates");
  }
}

TEST_F(HnswModule, CorruptStreamingStateIsRefused) {
  const FloatMatrix base = random_matrix(300, 10, 37);
  auto index = build(Metric::L2, MatrixView{nullptr, 0, 10}, 8, 64, 2, 1.0);
  add_batches(*index, base, iota_ids(300), 300, 2, 1000);
  index->remove(std::vector<std::int64_t>{1005, 1006});
  const std::string good = (dir_ / "streamed.hnsw").string();
  index->save(good);
  const auto corrupt = [&](const std::string& tag, const std::string& needle, auto&& edit) {
    expect_refused(*info_, rewrite(good, "corrupt-" + tag + ".hnsw", Metric::L2, 10, tag, edit),
                   needle);
  };
  corrupt("external", "repeated", [](std::vector<std::byte>& b) {
    std::memcpy(b.data() + 8, b.data(), 8);  // slot 1 takes slot 0's id
  });
  corrupt("external", "caller ids for", [](std::vector<std::byte>& b) { b.resize(8); });
  corrupt("state", "slot state 7", [](std::vector<std::byte>& b) { b[0] = std::byte{7}; });
  corrupt("state", "deleted and", [](std::vector<std::byte>& b) { b[5] = std::byte{0}; });
  corrupt("meta", "deleted and", [](std::vector<std::byte>& b) { b[56] = std::byte{9}; });
  EXPECT_NO_THROW(info_->load(good, Metric::L2, 10));
}

TEST_F(HnswModule, BadUpdatesAreRefusedAndChangeNothing) {
  const FloatMatrix base = random_matrix(200, 8, 35);
  auto index = build(Metric::L2, base.view());
  const HnswIndex& g = graph(*index);
  const FloatMatrix two = random_matrix(2, 8, 36);
  const std::vector<std::int64_t> live = {3, 500};
  const std::vector<std::int64_t> twice = {500, 500};
  const std::vector<std::int64_t> negative = {-1, 500};
  const std::vector<std::int64_t> three = {500, 501, 502};
  EXPECT_THROW(index->add(live, two.view()), Error);
  EXPECT_THROW(index->add(twice, two.view()), Error);
  EXPECT_THROW(index->add(negative, two.view()), Error);
  EXPECT_THROW(index->add(three, two.view()), Error);
  const FloatMatrix wide = random_matrix(2, 9, 37);
  const std::vector<std::int64_t> fresh = {500, 501};
  EXPECT_THROW(index->add(fresh, wide.view()), Error);
  const std::vector<std::int64_t> absent = {3, 200};
  const std::vector<std::int64_t> again = {3, 3};
  EXPECT_THROW(index->remove(absent), Error);
  EXPECT_THROW(index->remove(again), Error);
  EXPECT_EQ(g.live_size(), 200u);
  EXPECT_EQ(g.size(), 200u);
  index->add(fresh, two.view());
  index->remove(fresh);
  EXPECT_EQ(g.live_size(), 200u);
  EXPECT_THROW(index->remove(fresh), Error);
}

}  // namespace
}  // namespace annbench
