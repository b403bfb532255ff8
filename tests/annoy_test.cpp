// The annoy module (its sources linked in, so the test reaches AnnoyIndex): exact recall at
// generous budgets against brute force ground truth (ties and odd dimensions included),
// distances in the metric's scale, recall growing with search_k, seed determinism across thread
// counts, parameter edge cases (n_trees 0, search_k below k, k > n, zero vectors under angular,
// NaN in the base), and index files: save -> load round trips served in place from the mapping,
// and refusal of truncated, foreign, corrupt or mismatched files.

#include "annoy_index.h"
#include "annoy_module.h"
#include "index_file_checks.h"
#include "naive_knn.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annbench {
namespace {

using testing::naive_knn;
using testing::random_matrix;
using testing::tied_matrix;

const ModuleInfo& annoy_info() {
  return annoy::module_info();
}

std::unique_ptr<Index> make_index(Metric metric, std::size_t dim, std::int64_t n_trees,
                                  std::int64_t seed = 7) {
  const ModuleInfo& info = annoy_info();
  Params given;
  given.set("n_trees", n_trees);
  given.set("seed", seed);
  return info.create(metric, dim, resolve_params(given, info.build_params, "annoy", "build"));
}

void set_search_k(Index& index, std::int64_t search_k) {
  Params given;
  given.set("search_k", search_k);
  index.set_search_params(resolve_params(given, annoy_info().search_params, "annoy", "search"));
}

std::vector<Neighbor> search_all(const Index& index, const FloatMatrix& queries, std::size_t k) {
  std::vector<Neighbor> out(queries.rows() * k);
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    index.search(queries.view().row(q), k, out.data() + q * k);
  }
  return out;
}

double recall(const std::vector<Neighbor>& got, const GroundTruth& truth, std::size_t k) {
  const std::size_t rows = truth.neighbors.rows();
  std::size_t hits = 0;
  for (std::size_t q = 0; q < rows; ++q) {
    std::set<std::int64_t> expected;
    for (std::size_t i = 0; i < k; ++i) expected.insert(truth.neighbors.data()[q * k + i]);
    for (std::size_t i = 0; i < k; ++i) hits += expected.count(got[q * k + i].id);
  }
  return static_cast<double>(hits) / static_cast<double>(rows * k);
}

TEST(AnnoyModule, DescribesItselfAndRejectsBadParameters) {
  const ModuleInfo& info = annoy_info();
  EXPECT_STREQ(info.name, "annoy");
  ASSERT_EQ(info.metrics.size(), 2u);  // euclidean and angular, no dot
  Params zero_trees;
  zero_trees.set("n_trees", std::int64_t{0});
  EXPECT_THROW(resolve_params(zero_trees, info.build_params, "annoy", "build"), Error);
  const Params defaults = resolve_params({}, info.build_params, "annoy", "build");
  EXPECT_THROW(info.create(Metric::InnerProduct, 8, defaults), Error);
}

TEST(AnnoyModule, ExactAtGenerousBudgetForBothMetrics) {
  const std::size_t n = 2000;
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(n, 16, 31);
  const FloatMatrix queries = random_matrix(40, 16, 32);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, 16, 20);
    index->build(base.view());
    set_search_k(*index, static_cast<std::int64_t>(n * 20));
    const GroundTruth truth = compute_ground_truth(base.view(), queries.view(), metric, k);
    const auto got = search_all(*index, queries, k);
    EXPECT_EQ(recall(got, truth, k), 1.0) << metric_name(metric);
    // Distances in the metric's scale: plain L2, 1 - cos.
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double exact = exact_distance(metric, queries.view().row(i / k),
                                          base.view().row(static_cast<std::size_t>(got[i].id)), 16);
      ASSERT_NEAR(got[i].distance, exact, 1e-4 * (1.0 + exact)) << metric_name(metric);
    }
    // Every id was re-ranked: the full budget covers the whole base.
    EXPECT_EQ(*index->distance_count(), queries.rows() * n) << metric_name(metric);
    EXPECT_GE(index->memory_bytes(), n * 16 * sizeof(float));
  }
}

TEST(AnnoyModule, RecallGrowsWithSearchK) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(3000, 24, 41);
  const FloatMatrix queries = random_matrix(60, 24, 42);
  const GroundTruth truth = compute_ground_truth(base.view(), queries.view(), Metric::L2, k);
  auto index = make_index(Metric::L2, 24, 10);
  index->build(base.view());
  double previous = 0.0;
  std::vector<double> recalls;
  for (const std::int64_t search_k : {20, 100, 300, 1000, 3000}) {
    set_search_k(*index, search_k);
    const double r = recall(search_all(*index, queries, k), truth, k);
    EXPECT_GE(r, previous - 0.01) << "search_k " << search_k;
    previous = r;
    recalls.push_back(r);
  }
  EXPECT_GT(recalls.back(), recalls.front() + 0.2);  // the budget really matters
  EXPECT_GT(recalls.back(), 0.9);
}

TEST(AnnoyModule, DeterministicForFixedSeedAcrossThreadCounts) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(1500, 12, 51);
  const FloatMatrix queries = random_matrix(30, 12, 52);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<Neighbor>> runs;
  for (const int t : {1, 1, 2}) {
    omp_set_num_threads(t);
    auto index = make_index(Metric::Angular, 12, 8, 99);
    index->build(base.view());
    set_search_k(*index, 200);
    runs.push_back(search_all(*index, queries, k));
  }
  omp_set_num_threads(threads);
  for (std::size_t r = 1; r < runs.size(); ++r) {
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      ASSERT_EQ(runs[r][i].id, runs[0][i].id) << "run " << r << " slot " << i;
      ASSERT_EQ(runs[r][i].distance, runs[0][i].distance) << "run " << r << " slot " << i;
    }
  }
  // A different seed gives a different forest (and, at this small budget, other results).
  auto other = make_index(Metric::Angular, 12, 8, 100);
  other->build(base.view());
  set_search_k(*other, 200);
  const auto got = search_all(*other, queries, k);
  bool differs = false;
  for (std::size_t i = 0; i < got.size(); ++i) differs |= got[i].id != runs[0][i].id;
  EXPECT_TRUE(differs);
}

TEST(AnnoyModule, SearchKBelowKStillFillsK) {
  const std::size_t k = 10;
  const FloatMatrix base = random_matrix(500, 8, 61);
  const FloatMatrix queries = random_matrix(10, 8, 62);
  auto index = make_index(Metric::L2, 8, 3);
  index->build(base.view());
  for (const std::int64_t search_k : {1, -1}) {
    set_search_k(*index, search_k);
    const auto got = search_all(*index, queries, k);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_GE(got[i].id, 0) << "search_k " << search_k << " slot " << i;
    }
  }
}

TEST(AnnoyModule, AngularZeroVectorsAndKBeyondN) {
  const std::size_t dim = 6;
  FloatMatrix base = random_matrix(300, dim, 71);
  for (std::size_t i = 0; i < 300; i += 3) {
    for (std::size_t j = 0; j < dim; ++j) base.data()[i * dim + j] = 0.0f;
  }
  FloatMatrix queries = random_matrix(5, dim, 72);
  for (std::size_t j = 0; j < dim; ++j) queries.data()[j] = 0.0f;  // a zero query too
  auto index = make_index(Metric::Angular, dim, 5);
  index->build(base.view());
  set_search_k(*index, 50);
  const auto got = search_all(*index, queries, 10);
  for (const Neighbor& nb : got) EXPECT_GE(nb.id, 0);

  const FloatMatrix small = random_matrix(7, dim, 73);
  auto tiny = make_index(Metric::L2, dim, 4);
  tiny->build(small.view());
  set_search_k(*tiny, 1000);
  std::vector<Neighbor> out(10);
  tiny->search(queries.view().row(1), 10, out.data());
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < 7; ++i) ids.insert(out[i].id);
  EXPECT_EQ(ids, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  for (std::size_t i = 7; i < 10; ++i) EXPECT_EQ(out[i].id, -1);
}

}  // namespace
}  // namespace annbench

namespace annbench {
namespace {

using testing::rewrite;

TEST(AnnoyModule, ExactWithTiesAndOddDimension) {
  // dim 100: six 16-float re-ranking blocks plus a 4-float tail; duplicate rows tie exactly.
  const std::size_t dim = 100;
  const std::size_t k = 10;
  const FloatMatrix base = tied_matrix(1200, dim, 150, 81);
  const FloatMatrix queries = random_matrix(25, dim, 82);
  auto index = make_index(Metric::L2, dim, 8);
  index->build(base.view());
  set_search_k(*index, 1200 * 8);
  const auto got = search_all(*index, queries, k);
  const auto truth = naive_knn(base.view(), queries.view(), Metric::L2, k);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_GE(got[i].id, 0) << "slot " << i;
    // Ties may come back as other ids, never at another distance.
    const double d = exact_distance(Metric::L2, queries.view().row(i / k),
                                    base.view().row(static_cast<std::size_t>(got[i].id)), dim);
    ASSERT_NEAR(d, truth[i].distance, 1e-3 * (1.0 + truth[i].distance)) << "slot " << i;
  }
}

TEST(AnnoyModule, NonFiniteBaseValuesAreRefused) {
  FloatMatrix base = random_matrix(100, 8, 91);
  auto index = make_index(Metric::L2, 8, 2);
  base.data()[37 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
  try {
    index->build(base.view());
    ADD_FAILURE() << "built over a NaN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("base vector 37"), std::string::npos) << e.what();
  }
  // Queries are the harness's to check (once, before timing), not search()'s.
  base.data()[37 * 8 + 5] = 0.0f;
  EXPECT_NO_THROW(index->build(base.view()));
}

class AnnoyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("annoy_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }
  static std::string read(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path dir_;
};

// Whether p points into the file mapping behind a loaded index.
bool inside(const void* p, const MappedFile& file) {
  const auto* at = static_cast<const std::byte*>(p);
  return at >= file.data() && at < file.data() + file.size();
}

TEST_F(AnnoyFiles, RoundTripAnswersIdenticallyFromTheMapping) {
  EXPECT_NE(annoy_info().capabilities & kCapSaveLoad, 0u);
  const std::size_t dim = 40;
  const FloatMatrix base = random_matrix(1500, dim, 101);
  const FloatMatrix queries = random_matrix(30, dim, 102);
  for (const Metric metric : {Metric::L2, Metric::Angular}) {
    auto index = make_index(metric, dim, 6);
    index->build(base.view());
    const std::string file = path("index-" + std::string(metric_name(metric)));
    index->save(file);
    auto loaded = annoy_info().load(file, metric, dim);
    for (const std::int64_t search_k : {-1, 50, 400}) {
      set_search_k(*index, search_k);
      set_search_k(*loaded, search_k);
      const auto a = search_all(*index, queries, 10);
      const auto b = search_all(*loaded, queries, 10);
      for (std::size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].id, b[i].id) << metric_name(metric) << " search_k " << search_k;
        ASSERT_EQ(a[i].distance, b[i].distance) << metric_name(metric);
      }
    }
    EXPECT_EQ(loaded->memory_bytes(), index->memory_bytes());
    // The loaded index reads planes, ids and vectors inside the mapping and holds none of them
    // on the heap; the built one holds its forest on the heap.
    const auto& built = dynamic_cast<const annoy::AnnoyIndex&>(*index);
    const auto& mapped = dynamic_cast<const annoy::AnnoyIndex&>(*loaded);
    EXPECT_EQ(built.mapping(), nullptr);
    EXPECT_GT(built.heap_bytes(), 0u);
    ASSERT_NE(mapped.mapping(), nullptr);
    const MappedFile& mapping = *mapped.mapping();
    EXPECT_EQ(mapping.size(), std::filesystem::file_size(file));
    EXPECT_TRUE(inside(mapped.forest().arrays().planes.data(), mapping));
    EXPECT_TRUE(inside(mapped.forest().arrays().ids.data(), mapping));
    EXPECT_TRUE(inside(mapped.vectors().data, mapping));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(mapped.forest().arrays().planes.data()) % 64, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(mapped.vectors().data) % 64, 0u);
    EXPECT_EQ(mapped.heap_bytes(), 0u);
    EXPECT_EQ(mapped.options().leaf_size, built.options().leaf_size);
    EXPECT_EQ(mapped.options().seed, built.options().seed);
  }
  // An empty index round-trips too.
  auto empty = make_index(Metric::L2, dim, 3);
  empty->build(MatrixView{nullptr, 0, dim});
  empty->save(path("empty"));
  auto loaded = annoy_info().load(path("empty"), Metric::L2, dim);
  std::vector<Neighbor> out(3);
  loaded->search(queries.view().row(0), 3, out.data());
  EXPECT_EQ(out[0].id, -1);
}

TEST_F(AnnoyFiles, BadFilesAreRefusedNamingTheFile) {
  const std::size_t dim = 12;
  const FloatMatrix base = random_matrix(500, dim, 111);
  auto index = make_index(Metric::L2, dim, 4);
  index->build(base.view());
  const std::string good = path("good");
  index->save(good);
  const std::string bytes = read(good);
  ASSERT_EQ(bytes.size() % 64, 0u);

  const auto refused = [&](const std::string& file, const std::string& needle,
                           Metric metric = Metric::L2, std::size_t expected_dim = 12) {
    try {
      annoy_info().load(file, metric, expected_dim);
      ADD_FAILURE() << "loaded " << file;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_NE(message.find(file), std::string::npos) << message;
    }
  };
  refused(path("missing"), "cannot open");
  refused(write("empty-file", ""), "empty");
  refused(write("short", bytes.substr(0, 100)), "shorter than the header");
  refused(write("cut", bytes.substr(0, bytes.size() - 64)), "truncated");
  refused(write("padded", bytes + std::string(64, '\0')), "trailing bytes");
  std::string foreign = bytes;
  foreign.replace(16, 5, std::string("hnsw\0", 5));  // the module name in the header
  refused(write("foreign", foreign), "holds a 'hnsw' index, not a 'annoy' index");
  std::string version = bytes;
  version[12] = 2;  // the module's format version
  refused(write("version", version), "format version 2");
  refused(good, "dimension 12, not 13", Metric::L2, 13);
  refused(good, "euclidean index, not angular", Metric::Angular, 12);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  refused(write("flipped", flipped), "checksum");

  // Checksummed files whose sections say what save() never writes.
  const auto corrupt = [&](const std::string& tag, const std::string& needle, auto&& edit) {
    const std::string file = path("corrupt-" + tag);
    rewrite(good, file, Metric::L2, dim, tag, edit);
    refused(file, needle);
  };
  corrupt("roots", "root ref 1073741824 outside the forest", [](std::vector<std::byte>& b) {
    const std::int32_t bad_root = 1 << 30;
    std::memcpy(b.data(), &bad_root, 4);
  });
  corrupt("ids", "leaf id 500 outside the 500 vectors", [](std::vector<std::byte>& b) {
    const std::int32_t bad_id = 500;
    std::memcpy(b.data(), &bad_id, 4);
  });
  corrupt("children", "child ref outside the forest", [](std::vector<std::byte>& b) {
    const std::int32_t self = 0;  // node 0 as its own child: a cycle
    std::memcpy(b.data(), &self, 4);
  });
  corrupt("planes", "do not describe the same nodes",
          [](std::vector<std::byte>& b) { b.resize(b.size() - 64); });
  corrupt("vectors", "section 'vectors' holds", [](std::vector<std::byte>& b) { b.resize(4); });
  corrupt("leaf_offsets", "leaf offsets", [](std::vector<std::byte>& b) {
    const std::uint32_t one = 1;
    std::memcpy(b.data(), &one, 4);
  });
  corrupt("meta", "leaf_size is 0",
          [](std::vector<std::byte>& b) { std::fill(b.begin(), b.begin() + 8, std::byte{0}); });
  EXPECT_NO_THROW(annoy_info().load(good, Metric::L2, dim));

  // An annoy index cannot be saved before build, and euclidean/angular only load.
  auto unbuilt = make_index(Metric::L2, dim, 2);
  EXPECT_THROW(unbuilt->save(path("unbuilt")), Error);
  refused(good, "not supported", Metric::InnerProduct, 12);
}

}  // namespace
}  // namespace annbench
