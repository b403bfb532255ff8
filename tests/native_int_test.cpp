// Native uint8 / int8 bases (Index::build_uint8 / build_int8) in bruteforce and hnsw, against the
// float path on the same values:
// - bruteforce: search, search_batch, range and filtered search give the float index's ids and
//   bit-identical distances (euclidean and dot, uint8 and int8, odd and round dimensions); its
//   memory is the n × d bytes it references; save -> load and add() keep the answers.
// - hnsw: on values whose float sums are exact (every value here: 128 dimensions of uint8 sum
//   to at most 255^2 × 128 < 2^24), a single-threaded integer build makes the float build's
//   graph link for link (same seed), so the answers are identical too, also with alpha and
//   passes 2; memory at most 45 % of the float index's at M 16, d 128; save -> load identical;
//   an old (version 2) float file still loads.
// - queries the type cannot hold (300 for uint8, 2.5) are Errors naming the value, from search()
//   and from search_batch() alike (checked before any OpenMP region).

#include "hnsw_fixture.h"
#include "plugin_loader.h"

#include <annbench/filter.h>

#include <bit>
#include <limits>
#include <type_traits>

namespace annbench {
namespace {

template <typename T>
constexpr ElementType kTypeOf = std::is_signed_v<T> ? ElementType::kInt8 : ElementType::kUint8;

// rows × dim values of T, uniform in [lo, hi], with every 7th row repeating an earlier one (exact
// ties: the id order must decide them as the float path does); and the same values as floats.
template <typename T>
struct IntegerData {
  Matrix<T> typed;
  FloatMatrix floats;
};

template <typename T>
IntegerData<T> integer_data(std::size_t rows, std::size_t dim, std::uint32_t seed, int lo, int hi) {
  IntegerData<T> data{Matrix<T>(rows, dim), FloatMatrix(rows, dim)};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(lo, hi);
  for (std::size_t r = 0; r < rows; ++r) {
    if (r % 7 == 6) {
      std::copy_n(data.typed.row(r / 2), dim, data.typed.row(r));
      continue;
    }
    for (std::size_t j = 0; j < dim; ++j) data.typed(r, j) = static_cast<T>(value(rng));
  }
  for (std::size_t i = 0; i < data.typed.size(); ++i)
    data.floats.data()[i] = static_cast<float>(data.typed.data()[i]);
  return data;
}

// The full range of T.
template <typename T>
IntegerData<T> full_range(std::size_t rows, std::size_t dim, std::uint32_t seed) {
  return integer_data<T>(rows, dim, seed, std::numeric_limits<T>::min(),
                         std::numeric_limits<T>::max());
}

template <typename T>
void build_typed(Index& index, const Matrix<T>& base) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    index.build_uint8(base.typed_view());
  } else {
    index.build_int8(base.typed_view());
  }
}

// Ids equal and distances bit-identical, slot by slot.
void expect_identical_results(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                              const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, want[i].id) << what << ", slot " << i;
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i].distance),
              std::bit_cast<std::uint32_t>(want[i].distance))
        << what << ", slot " << i << ": " << got[i].distance << " vs " << want[i].distance;
  }
}

// Every query through search(), k slots each.
std::vector<Neighbor> search_rows(const Index& index, MatrixView queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows * k);
  for (std::size_t q = 0; q < queries.rows; ++q) index.search(queries.row(q), k, &out[q * k]);
  return out;
}

// A Filter over `rows` allowing each row with probability `p` (seeded); owns its arrays.
struct OwnedFilter {
  std::vector<std::uint64_t> bits;
  std::vector<std::int64_t> ids;
  std::size_t rows = 0;
  OwnedFilter(std::size_t n, double p, std::uint32_t seed) : bits((n + 63) / 64, 0), rows(n) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution allowed(p);
    for (std::size_t i = 0; i < n; ++i) {
      if (!allowed(rng)) continue;
      bits[i / 64] |= std::uint64_t{1} << (i % 64);
      ids.push_back(static_cast<std::int64_t>(i));
    }
  }
  Filter view() const { return Filter(bits, ids, rows); }
};

// ---------------------------------------------------------------- bruteforce (the built module)

class BruteForceNative : public ::testing::Test {
 protected:
  void SetUp() override {
    static const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
    info_ = registry.get("bruteforce").info;
  }

  std::unique_ptr<Index> create(Metric metric, std::size_t dim) const {
    return info_->create(metric, dim, resolve_params({}, info_->build_params, "bruteforce", "b"));
  }

  template <typename T>
  void check_equals_float_path(Metric metric, std::size_t dim);

  const ModuleInfo* info_ = nullptr;
};

template <typename T>
void BruteForceNative::check_equals_float_path(Metric metric, std::size_t dim) {
  const std::string what = std::string(element_type_name(kTypeOf<T>)) + " " +
                           std::string(metric_name(metric)) + " d" + std::to_string(dim);
  SCOPED_TRACE(what);
  constexpr std::size_t kN = 1500;
  constexpr std::size_t kQ = 40;
  constexpr std::size_t kK = 10;
  const auto base = full_range<T>(kN, dim, 11);
  const auto queries = full_range<T>(kQ, dim, 12);
  auto reference = create(metric, dim);
  reference->build(base.floats.view());
  auto typed = create(metric, dim);
  build_typed(*typed, base.typed);

  const std::vector<Neighbor> want = search_rows(*reference, queries.floats.view(), kK);
  expect_identical_results(search_rows(*typed, queries.floats.view(), kK), want, "search");
  std::vector<Neighbor> batch(kQ * kK);
  typed->search_batch(queries.floats.view(), kK, batch.data());
  expect_identical_results(batch, want, "search_batch");
  // And against the naive double-precision scan (the float path's own contract).
  expect_identical_results(want, naive_knn(base.floats.view(), queries.floats.view(), metric, kK),
                           "float path vs naive");
  // k beyond the base: padded alike.
  const auto small = full_range<T>(5, dim, 13);
  auto small_float = create(metric, dim);
  small_float->build(small.floats.view());
  auto small_typed = create(metric, dim);
  build_typed(*small_typed, small.typed);
  expect_identical_results(search_rows(*small_typed, queries.floats.view(), 8),
                           search_rows(*small_float, queries.floats.view(), 8), "k > n");

  // Range search at each query's 10th distance.
  for (std::size_t q = 0; q < kQ; ++q) {
    // Rounded up past the float-rounded 10th distance, so that the 10th point is inside.
    const float radius =
        std::nextafter(want[q * kK + kK - 1].distance, std::numeric_limits<float>::infinity());
    std::vector<Neighbor> got;
    std::vector<Neighbor> expected;
    typed->range_search(queries.floats.row(q), radius, got);
    reference->range_search(queries.floats.row(q), radius, expected);
    const auto by_id = [](const Neighbor& a, const Neighbor& b) { return a.id < b.id; };
    std::sort(got.begin(), got.end(), by_id);
    std::sort(expected.begin(), expected.end(), by_id);
    ASSERT_GE(got.size(), kK);
    expect_identical_results(got, expected, "range search, query " + std::to_string(q));
  }

  // Filtered search: a sparse and a dense filter.
  for (const double p : {0.03, 0.7}) {
    const OwnedFilter filter(kN, p, 14);
    std::vector<Neighbor> got(kQ * kK);
    std::vector<Neighbor> expected(kQ * kK);
    for (std::size_t q = 0; q < kQ; ++q) {
      typed->search_filtered(queries.floats.row(q), kK, filter.view(), &got[q * kK]);
      reference->search_filtered(queries.floats.row(q), kK, filter.view(), &expected[q * kK]);
    }
    expect_identical_results(got, expected, "filtered p " + std::to_string(p));
  }
  ASSERT_TRUE(typed->distance_count().has_value());
  EXPECT_GE(*typed->distance_count(), 2 * kQ * kN);
}

TEST_F(BruteForceNative, DeclaresIntegerCapabilities) {
  EXPECT_NE(info_->capabilities & kCapUint8, 0u);
  EXPECT_NE(info_->capabilities & kCapInt8, 0u);
}

TEST_F(BruteForceNative, Uint8EqualsFloatPath) {
  for (const Metric metric : {Metric::L2, Metric::InnerProduct}) {
    for (const std::size_t dim : {13u, 128u}) check_equals_float_path<std::uint8_t>(metric, dim);
  }
}

TEST_F(BruteForceNative, Int8EqualsFloatPath) {
  for (const Metric metric : {Metric::L2, Metric::InnerProduct}) {
    for (const std::size_t dim : {13u, 128u}) check_equals_float_path<std::int8_t>(metric, dim);
  }
}

TEST_F(BruteForceNative, MemoryIsTheBytesReferenced) {
  constexpr std::size_t kN = 4000;
  constexpr std::size_t kDim = 128;
  const auto base = full_range<std::uint8_t>(kN, kDim, 21);
  auto reference = create(Metric::L2, kDim);
  reference->build(base.floats.view());
  auto typed = create(Metric::L2, kDim);
  build_typed(*typed, base.typed);
  EXPECT_EQ(typed->memory_bytes(), kN * kDim);
  EXPECT_GE(reference->memory_bytes(), kN * kDim * sizeof(float));
  EXPECT_LE(static_cast<double>(typed->memory_bytes()),
            0.25 * static_cast<double>(reference->memory_bytes()) + 64.0);
}

TEST_F(BruteForceNative, QueriesOutsideTheTypeAreErrors) {
  constexpr std::size_t kDim = 13;
  const auto base = full_range<std::uint8_t>(100, kDim, 31);
  auto typed = create(Metric::L2, kDim);
  build_typed(*typed, base.typed);
  const auto refused = [&](float value, const std::string& needle) {
    FloatMatrix queries(3, kDim, 1.0f);
    queries(2, 5) = value;
    std::vector<Neighbor> out(3 * 4);
    try {
      typed->search(queries.row(2), 4, out.data());
      ADD_FAILURE() << "search() accepted " << value;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("uint8"), std::string::npos) << e.what();
    }
    EXPECT_THROW(typed->search_batch(queries.view(), 4, out.data()), Error) << value;
    std::vector<Neighbor> range;
    EXPECT_THROW(typed->range_search(queries.row(2), 10.0f, range), Error) << value;
  };
  refused(300.0f, "300");
  refused(-1.0f, "-1");
  refused(2.5f, "2.5");
  refused(std::numeric_limits<float>::quiet_NaN(), "nan");
  // int8: 128 is out of range, -128 is not.
  const auto signed_base = full_range<std::int8_t>(100, kDim, 32);
  auto signed_typed = create(Metric::InnerProduct, kDim);
  build_typed(*signed_typed, signed_base.typed);
  FloatMatrix query(1, kDim, -128.0f);
  std::vector<Neighbor> out(4);
  EXPECT_NO_THROW(signed_typed->search(query.row(0), 4, out.data()));
  query(0, 0) = 128.0f;
  EXPECT_THROW(signed_typed->search(query.row(0), 4, out.data()), Error);
  // Angular data never comes as integers: refused rather than answered in another metric.
  auto angular = create(Metric::Angular, kDim);
  EXPECT_THROW(build_typed(*angular, base.typed), Error);
}

TEST_F(BruteForceNative, SaveLoadAndUpdatesKeepTheAnswers) {
  constexpr std::size_t kDim = 13;
  constexpr std::size_t kK = 5;
  const auto base = full_range<std::int8_t>(600, kDim, 41);
  const auto queries = full_range<std::int8_t>(20, kDim, 42);
  auto typed = create(Metric::L2, kDim);
  build_typed(*typed, base.typed);
  const std::vector<Neighbor> want = search_rows(*typed, queries.floats.view(), kK);
  const std::string path = testing::temp_file("native_int_bruteforce.idx");
  typed->save(path);
  auto loaded = info_->load(path, Metric::L2, kDim);
  std::remove(path.c_str());
  expect_identical_results(search_rows(*loaded, queries.floats.view(), kK), want, "loaded");
  // An update turns the index into a float one: the answers stay the float path's.
  auto reference = create(Metric::L2, kDim);
  reference->build(base.floats.view());
  const std::vector<std::int64_t> gone = {want[0].id, want[kK].id};
  typed->remove(gone);
  reference->remove(gone);
  expect_identical_results(search_rows(*typed, queries.floats.view(), kK),
                           search_rows(*reference, queries.floats.view(), kK), "after remove");
}

// ---------------------------------------------------------------- hnsw (linked directly)

class HnswNative : public HnswModule {
 protected:
  // A seeded single-threaded build (insertion order = id order) of M 16, ef_construction 64.
  template <typename T>
  std::unique_ptr<Index> build_native(Metric metric, const IntegerData<T>& data, bool typed,
                                      Params given = {}) const {
    if (!given.contains("M")) given.set("M", std::int64_t{16});
    given.set("ef_construction", std::int64_t{64});
    given.set("seed", std::int64_t{7});
    auto index = info_->create(metric, data.typed.cols(),
                               resolve_params(given, info_->build_params, "hnsw", "build"));
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    if (typed) {
      build_typed(*index, data.typed);
    } else {
      index->build(data.floats.view());
    }
    omp_set_num_threads(saved);
    return index;
  }

  // Same levels, entry point and every link list on every layer.
  static void expect_same_graph(const HnswIndex& a, const HnswIndex& b) {
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.max_level(), b.max_level());
    ASSERT_EQ(a.entry_point(), b.entry_point());
    for (std::uint32_t u = 0; u < a.size(); ++u) {
      ASSERT_EQ(a.level(u), b.level(u)) << "node " << u;
      for (int level = 0; level <= a.level(u); ++level) {
        const auto la = a.neighbors(u, level);
        const auto lb = b.neighbors(u, level);
        ASSERT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()))
            << "node " << u << " layer " << level;
      }
    }
  }

  template <typename T>
  void check_same_graph(Metric metric, std::size_t dim, Params given = {});
};

template <typename T>
void HnswNative::check_same_graph(Metric metric, std::size_t dim, Params given) {
  const std::string what = std::string(element_type_name(kTypeOf<T>)) + " " +
                           std::string(metric_name(metric)) + " d" + std::to_string(dim);
  SCOPED_TRACE(what);
  constexpr std::size_t kK = 10;
  const auto base = full_range<T>(2000, dim, 51);
  const auto queries = full_range<T>(50, dim, 52);
  auto reference = build_native(metric, base, false, given);
  auto typed = build_native(metric, base, true, given);
  EXPECT_EQ(graph(*typed).storage(),
            std::is_signed_v<T> ? hnsw::Storage::Int8 : hnsw::Storage::Uint8);
  EXPECT_EQ(graph(*reference).storage(), hnsw::Storage::Float);
  expect_same_graph(graph(*reference), graph(*typed));
  EXPECT_EQ(reachable_on_layer0(graph(*typed)), base.typed.rows());
  set_ef(*reference, 40);
  set_ef(*typed, 40);
  const std::vector<Neighbor> want = search_all(*reference, queries.floats.view(), kK);
  expect_identical_results(search_all(*typed, queries.floats.view(), kK), want, "search");
  std::vector<Neighbor> batch(queries.floats.rows() * kK);
  typed->search_batch(queries.floats.view(), kK, batch.data());
  expect_identical_results(batch, want, "search_batch");
  // Filtered: the graph walk (dense filter) and the exact scan (sparse filter).
  for (const double p : {0.005, 0.6}) {
    const OwnedFilter filter(base.typed.rows(), p, 53);
    std::vector<Neighbor> got(queries.floats.rows() * kK);
    std::vector<Neighbor> expected(got.size());
    for (std::size_t q = 0; q < queries.floats.rows(); ++q) {
      typed->search_filtered(queries.floats.row(q), kK, filter.view(), &got[q * kK]);
      reference->search_filtered(queries.floats.row(q), kK, filter.view(), &expected[q * kK]);
    }
    expect_identical_results(got, expected, "filtered p " + std::to_string(p));
  }
  // Not an empty agreement: the answers are good ones.
  EXPECT_GE(recall(want, naive_knn(base.floats.view(), queries.floats.view(), metric, kK), kK),
            0.8);
}

TEST_F(HnswNative, DeclaresIntegerCapabilities) {
  EXPECT_NE(info_->capabilities & kCapUint8, 0u);
  EXPECT_NE(info_->capabilities & kCapInt8, 0u);
}

// 128-d uint8 over the whole range: every float sum is exact, so the float build's distances
// are the integer ones and the graphs agree link for link.
TEST_F(HnswNative, Uint8BuildsTheFloatGraph) {
  check_same_graph<std::uint8_t>(Metric::L2, 128);
  check_same_graph<std::uint8_t>(Metric::InnerProduct, 128);
  check_same_graph<std::uint8_t>(Metric::L2, 13);
}

TEST_F(HnswNative, Int8BuildsTheFloatGraph) {
  check_same_graph<std::int8_t>(Metric::L2, 128);
  check_same_graph<std::int8_t>(Metric::InnerProduct, 13);
}

// alpha (RobustPrune on layer 0) and the second pass compare the same distances.
TEST_F(HnswNative, AlphaAndPassesBuildTheFloatGraph) {
  Params alpha;
  alpha.set("alpha", 1.2);
  check_same_graph<std::uint8_t>(Metric::L2, 128, alpha);
  Params passes;
  passes.set("alpha", 1.2);
  passes.set("passes", std::int64_t{2});
  check_same_graph<std::int8_t>(Metric::L2, 128, passes);
}

TEST_F(HnswNative, MemoryAtMostFortyFivePercentOfFloat) {
  const auto base = full_range<std::uint8_t>(4000, 128, 61);
  const auto queries = full_range<std::uint8_t>(10, 128, 62);
  auto reference = build_native(Metric::L2, base, false);
  auto typed = build_native(Metric::L2, base, true);
  // After searches too: the scratch buffers count.
  search_all(*reference, queries.floats.view(), 10);
  search_all(*typed, queries.floats.view(), 10);
  const double ratio =
      static_cast<double>(typed->memory_bytes()) / static_cast<double>(reference->memory_bytes());
  EXPECT_LE(ratio, 0.45) << typed->memory_bytes() << " vs " << reference->memory_bytes();
  RecordProperty("typed_over_float", std::to_string(ratio));
  // The blocks hold the bytes: at least n × d of them.
  EXPECT_GE(typed->memory_bytes(), base.typed.size());
}

TEST_F(HnswNative, SaveLoadRoundTrip) {
  constexpr std::size_t kK = 10;
  const auto base = full_range<std::int8_t>(1500, 21, 71);
  const auto queries = full_range<std::int8_t>(40, 21, 72);
  auto typed = build_native(Metric::InnerProduct, base, true);
  auto loaded = round_trip(*typed, Metric::InnerProduct, 21);
  EXPECT_EQ(graph(*loaded).storage(), hnsw::Storage::Int8);
  expect_same_graph(graph(*typed), graph(*loaded));
  set_ef(*typed, 30);
  set_ef(*loaded, 30);
  expect_identical_results(search_all(*loaded, queries.floats.view(), kK),
                           search_all(*typed, queries.floats.view(), kK), "loaded");
  EXPECT_EQ(loaded->memory_bytes(), typed->memory_bytes());
  // The file is format version 3; an integer index cannot be written as version 2.
  const std::string path = (dir_ / "typed.hnsw").string();
  typed->save(path);
  EXPECT_EQ(read_index_file_info(path).format_version, 3u);
}

// A version-2 file (this format before uint8 / int8) still loads; one claiming integer storage
// is refused, since version 2 had none.
TEST_F(HnswNative, VersionTwoFilesLoad) {
  const auto base = full_range<std::uint8_t>(800, 16, 81);
  const auto queries = full_range<std::uint8_t>(20, 16, 82);
  const auto rewrite_as_v2 = [&](const Index& index, const std::string& name) {
    const std::string from = (dir_ / (name + ".v3")).string();
    index.save(from);
    const IndexFileReader r = IndexFileReader::open(from, "hnsw", 3, Metric::L2, 16);
    IndexFileWriter w("hnsw", 2, Metric::L2, 16, r.rows());
    for (const auto& section : r.info().sections) {
      const auto bytes = r.array<std::byte>(section.tag);
      w.add(section.tag, bytes.data(), bytes.size());
    }
    const std::string to = (dir_ / name).string();
    w.write(to);
    return to;
  };
  auto reference = build_native(Metric::L2, base, false);
  auto loaded = info_->load(rewrite_as_v2(*reference, "float.v2"), Metric::L2, 16);
  set_ef(*reference, 20);
  set_ef(*loaded, 20);
  expect_identical_results(search_all(*loaded, queries.floats.view(), 10),
                           search_all(*reference, queries.floats.view(), 10), "version 2");
  auto typed = build_native(Metric::L2, base, true);
  expect_refused(*info_, rewrite_as_v2(*typed, "typed.v2"), "storage 3", Metric::L2, 16);
}

TEST_F(HnswNative, QueriesOutsideTheTypeAreErrors) {
  constexpr std::size_t kDim = 128;
  const auto base = full_range<std::uint8_t>(500, kDim, 91);
  auto typed = build_native(Metric::L2, base, true);
  FloatMatrix queries(4, kDim, 3.0f);
  queries(3, 100) = 300.0f;
  std::vector<Neighbor> out(4 * 5);
  try {
    typed->search(queries.row(3), 5, out.data());
    ADD_FAILURE() << "search() accepted 300";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("uint8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(typed->search_batch(queries.view(), 5, out.data()), Error);
  const OwnedFilter filter(500, 0.5, 92);
  EXPECT_THROW(typed->search_filtered(queries.row(3), 5, filter.view(), out.data()), Error);
  queries(3, 100) = 0.5f;
  EXPECT_THROW(typed->search(queries.row(3), 5, out.data()), Error);
  queries(3, 100) = 255.0f;
  EXPECT_NO_THROW(typed->search(queries.row(3), 5, out.data()));
}

// add() on an integer index takes float vectors holding the type's integers (refusing others
// before anything changes); remove() works as for any index.
TEST_F(HnswNative, UpdatesOnAnIntegerIndex) {
  constexpr std::size_t kDim = 16;
  const auto base = full_range<std::uint8_t>(1000, kDim, 101);
  const auto extra = full_range<std::uint8_t>(200, kDim, 102);
  auto typed = build_native(Metric::L2, base, true);
  std::vector<std::int64_t> ids(200);
  std::iota(ids.begin(), ids.end(), 5000);
  FloatMatrix bad(200, kDim, 1.0f);
  bad(150, 3) = -1.0f;
  EXPECT_THROW(typed->add(ids, bad.view()), Error);
  EXPECT_EQ(graph(*typed).live_size(), 1000u);
  typed->add(ids, extra.floats.view());
  EXPECT_EQ(graph(*typed).live_size(), 1200u);
  set_ef(*typed, 64);
  // Each added vector finds itself (distance 0; a duplicate row may tie, so check the distance).
  std::vector<Neighbor> out(1);
  for (std::size_t i = 0; i < 200; i += 17) {
    typed->search(extra.floats.row(i), 1, out.data());
    EXPECT_EQ(out[0].distance, 0.0f) << "added row " << i;
  }
  typed->remove(std::vector<std::int64_t>{5000, 5001});
  EXPECT_EQ(graph(*typed).live_size(), 1198u);
}

TEST_F(HnswNative, CompactStorageParameterIsRefusedForIntegers) {
  const auto base = full_range<std::uint8_t>(100, 16, 111);
  for (const std::string storage : {"sq8", "fp16"}) {
    Params given;
    given.set("storage", storage);
    try {
      build_native(Metric::L2, base, true, given);
      ADD_FAILURE() << "storage " << storage << " accepted for uint8";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("storage = " + storage), std::string::npos) << e.what();
    }
  }
  auto angular =
      info_->create(Metric::Angular, 16, resolve_params({}, info_->build_params, "hnsw", "build"));
  EXPECT_THROW(build_typed(*angular, base.typed), Error);
}

}  // namespace
}  // namespace annbench
