// Out-of-core ground truth and streamed synthetic datasets: the streamed scan equals the
// in-memory one id for id and bit for bit, the streamed synthetic writer equals the in-memory
// recipe byte for byte, and the CLI's --memory gives the default run's result.

#include "cli_support.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace annbench {
namespace {

namespace fs = std::filesystem;

template <typename T>
bool same_bits(const Matrix<T>& a, const Matrix<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

// Gaussian rows plus exact duplicates spread over the whole set (ties across block boundaries),
// or, with `coarse`, coordinates in {0, 1, 2}: most distances tie with many others.
FloatMatrix test_rows(std::size_t rows, std::size_t dim, std::uint32_t seed, bool coarse) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> level(0, 2);
  FloatMatrix m(rows, dim);
  for (std::size_t i = 0; i < m.size(); ++i)
    m.data()[i] = coarse ? static_cast<float>(level(engine)) : normal(engine);
  for (std::size_t i = 5; i + 97 < rows; i += 97) {
    std::memcpy(m.row(i + 97), m.row(i), dim * sizeof(float));
  }
  return m;
}

// Per-row and fixed bytes as ground_truth_block_rows counts them, to aim a budget at a block size.
std::size_t budget_for_rows(std::size_t rows, std::size_t queries, std::size_t dim, Metric metric,
                            std::size_t k) {
  std::size_t per_row = dim * sizeof(float);
  if (metric == Metric::L2) per_row += sizeof(float);
  if (metric == Metric::Angular) per_row += dim * sizeof(float);
  return queries * dim * sizeof(float) + queries * k * 32 + rows * per_row + per_row - 1;
}

struct StreamCase {
  Metric metric;
  bool coarse;
};

class StreamedGroundTruth : public ::testing::TestWithParam<StreamCase> {};

TEST_P(StreamedGroundTruth, EqualsInMemoryBitForBit) {
  const auto [metric, coarse] = GetParam();
  const std::size_t n = 1000;
  const std::size_t dim = coarse ? 4 : 13;
  const FloatMatrix train = test_rows(n, dim, 11, coarse);
  FloatMatrix queries = test_rows(37, dim, 12, coarse);
  // Some queries are train rows: distance 0 ties with the duplicate of that row.
  std::memcpy(queries.row(0), train.row(5), dim * sizeof(float));
  std::memcpy(queries.row(1), train.row(n - 1), dim * sizeof(float));
  for (const std::size_t k : {std::size_t{1}, std::size_t{10}, std::size_t{25}}) {
    const GroundTruth expected = compute_ground_truth(train.view(), queries.view(), metric, k);
    // Blocks of 7 rows: k = 10 and 25 exceed a block, and 1000 = 142 × 7 + 6 leaves a short one.
    const std::size_t memory = budget_for_rows(7, queries.rows(), dim, metric, k);
    ASSERT_EQ(ground_truth_block_rows(n, queries.rows(), dim, metric, k, memory), 7u);
    std::size_t next_row = 0;
    std::size_t reports = 0;
    const TrainRowReader reader = [&](std::size_t first, std::size_t count, float* out) {
      EXPECT_EQ(first, next_row) << "rows read once each, in order";
      EXPECT_LE(count, 7u);
      next_row = first + count;
      std::memcpy(out, train.row(first), count * dim * sizeof(float));
    };
    const GroundTruth streamed = compute_ground_truth_streamed(
        reader, n, queries.view(), metric, k, memory, [&](std::size_t done, std::size_t total) {
          EXPECT_EQ(done, next_row);
          EXPECT_EQ(total, n);
          ++reports;
        });
    EXPECT_EQ(next_row, n);
    EXPECT_EQ(reports, (n + 6) / 7);
    EXPECT_TRUE(same_bits(streamed.neighbors, expected.neighbors))
        << metric_name(metric) << " k = " << k;
    EXPECT_TRUE(same_bits(streamed.distances, expected.distances))
        << metric_name(metric) << " k = " << k;
    // The default budget: one block, the same answer.
    const GroundTruth whole = compute_ground_truth_streamed(
        [&](std::size_t first, std::size_t count, float* out) {
          std::memcpy(out, train.row(first), count * dim * sizeof(float));
        },
        n, queries.view(), metric, k, default_ground_truth_memory());
    EXPECT_TRUE(same_bits(whole.neighbors, expected.neighbors));
    EXPECT_TRUE(same_bits(whole.distances, expected.distances));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Metrics, StreamedGroundTruth,
    ::testing::Values(StreamCase{Metric::L2, false}, StreamCase{Metric::Angular, false},
                      StreamCase{Metric::InnerProduct, false}, StreamCase{Metric::L2, true},
                      StreamCase{Metric::Angular, true}, StreamCase{Metric::InnerProduct, true}),
    [](const auto& info) {
      return std::string(metric_name(info.param.metric)) +
             (info.param.coarse ? "_ties" : "_gaussian");
    });

TEST(StreamedGroundTruthLimits, KBeyondTrainIsClampedLikeInMemory) {
  const FloatMatrix train = test_rows(9, 5, 3, false);
  const FloatMatrix queries = test_rows(4, 5, 4, false);
  const GroundTruth expected = compute_ground_truth(train.view(), queries.view(), Metric::L2, 50);
  const GroundTruth streamed = compute_ground_truth_streamed(
      [&](std::size_t first, std::size_t count, float* out) {
        std::memcpy(out, train.row(first), count * 5 * sizeof(float));
      },
      9, queries.view(), Metric::L2, 50, budget_for_rows(2, 4, 5, Metric::L2, 9));
  ASSERT_EQ(streamed.neighbors.cols(), 9u);
  EXPECT_TRUE(same_bits(streamed.neighbors, expected.neighbors));
  EXPECT_TRUE(same_bits(streamed.distances, expected.distances));
}

TEST(StreamedGroundTruthLimits, TooSmallBudgetIsAClearError) {
  const FloatMatrix queries = test_rows(100, 96, 5, false);
  const TrainRowReader never = [](std::size_t, std::size_t, float*) {
    FAIL() << "nothing may be read when the budget is too small";
  };
  try {
    compute_ground_truth_streamed(never, 1000000, queries.view(), Metric::L2, 100, 4096);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    // The budget, the fixed state (100 × 96 × 4 + 100 × 100 × 32 bytes) and one row (388 bytes).
    EXPECT_NE(message.find("memory budget of 4096 bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("358400 bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("388 bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("at least 358788 bytes"), std::string::npos) << message;
  }
}

TEST(StreamedGroundTruthLimits, BlocksAreKernelAlignedAndBounded) {
  // 1,000 queries over 10M × 96 with 256 MiB: blocks of whole 1024-row tiles, at most 256 MiB,
  // several of them.
  const std::size_t rows =
      ground_truth_block_rows(10000000, 1000, 96, Metric::L2, 100, std::size_t{256} << 20);
  EXPECT_EQ(rows % 1024, 0u);
  EXPECT_GE(rows, std::size_t{1} << 16);
  EXPECT_LE(rows * 96 * sizeof(float), std::size_t{256} << 20);
  // A small train set is one block, however much memory there is.
  EXPECT_EQ(ground_truth_block_rows(5000, 10, 8, Metric::L2, 10, std::size_t{1} << 30), 5000u);
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class StreamedSynthetic : public ::testing::TestWithParam<Metric> {};

TEST_P(StreamedSynthetic, FileEqualsTheInMemoryRecipe) {
  const Metric metric = GetParam();
  const fs::path dir = test::fresh_test_dir("synthetic-stream");
  const std::size_t n = 1000;
  const std::size_t q = 13;
  const std::size_t dim = 12;
  const std::size_t clusters = 9;
  const std::uint64_t seed = 77;
  const std::size_t k = 10;

  // The recipe as it was before streaming: everything in memory, write_dataset.
  const FloatMatrix all = gaussian_mixture(n + q, dim, clusters, seed);
  FloatMatrix train(n, dim);
  FloatMatrix test(q, dim);
  std::memcpy(train.data(), all.data(), train.bytes());
  std::memcpy(test.data(), all.row(n), test.bytes());
  const GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, k);
  const std::map<std::string, std::string> attributes = {
      {"source", "annbench gaussian_mixture (centres uniform in [-10, 10], spread 1)"},
      {"seed", std::to_string(seed)},
      {"clusters", std::to_string(clusters)},
  };
  write_dataset(dir / "memory.hdf5", metric, train, test, truth.neighbors, truth.distances,
                attributes);

  // 8000 bytes: train written 83 rows at a time, ground truth in blocks of 61 (euclidean).
  std::vector<std::string> stages;
  make_synthetic_dataset(dir / "streamed.hdf5", n, q, dim, metric, clusters, seed, k, 8000,
                         [&](std::string_view stage, std::size_t, std::size_t) {
                           if (stages.empty() || stages.back() != stage) stages.emplace_back(stage);
                         });
  EXPECT_EQ(stages, (std::vector<std::string>{"train", "ground truth"}));

  const h5::File memory = h5::File::open_read(dir / "memory.hdf5");
  const h5::File streamed = h5::File::open_read(dir / "streamed.hdf5");
  for (const char* name : {"train", "test", "distances"}) {
    EXPECT_TRUE(same_bits(memory.read_floats(name), streamed.read_floats(name))) << name;
  }
  EXPECT_TRUE(same_bits(memory.read_ints("neighbors"), streamed.read_ints("neighbors")));
  // And the whole file: same objects, same order, same bytes (a dataset's SHA-256 names it).
  EXPECT_TRUE(file_bytes(dir / "memory.hdf5") == file_bytes(dir / "streamed.hdf5"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Metrics, StreamedSynthetic,
                         ::testing::Values(Metric::L2, Metric::Angular, Metric::InnerProduct),
                         [](const auto& info) { return std::string(metric_name(info.param)); });

TEST(StreamedSyntheticLimits, TooSmallBudgetFailsBeforeWritingAnything) {
  const fs::path dir = test::fresh_test_dir("synthetic-budget");
  bool wrote = false;
  try {
    make_synthetic_dataset(dir / "x.hdf5", 1000, 10, 8, Metric::L2, 5, 1, 10, 100,
                           [&](std::string_view, std::size_t, std::size_t) { wrote = true; });
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("x.hdf5"), std::string::npos) << message;
    EXPECT_NE(message.find("memory budget of 100 bytes"), std::string::npos) << message;
  }
  EXPECT_FALSE(wrote);
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(HdfRowBlocks, ReadRowRangesConvertAndCheckBounds) {
  const fs::path dir = test::fresh_test_dir("rowblocks");
  const fs::path path = dir / "rows.hdf5";
  std::vector<std::int32_t> ints(10 * 3);
  for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<std::int32_t>(i) - 7;
  {
    h5::File file = h5::File::create(path);
    file.write_ints("ints", ints.data(), 10, 3);
    file.create_floats("blocks", 10, 3);
    const FloatMatrix rows = test_rows(10, 3, 9, false);
    file.write_float_rows("blocks", 7, 3, rows.row(7));
    file.write_float_rows("blocks", 0, 7, rows.row(0));
    file.write_float_rows("blocks", 4, 0, nullptr);
    EXPECT_TRUE(same_bits(file.read_floats("blocks"), rows));
  }
  const h5::File file = h5::File::open_read(path);
  std::vector<float> out(2 * 3);
  file.read_float_rows("ints", 3, 2, out.data());
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], static_cast<float>(ints[9 + i]));
  file.read_float_rows("ints", 10, 0, out.data());
  EXPECT_THROW(file.read_float_rows("ints", 9, 2, out.data()), Error);
  EXPECT_THROW(file.read_float_rows("ints", 11, 0, out.data()), Error);
  EXPECT_THROW(file.read_float_rows("missing", 0, 1, out.data()), Error);
  try {
    file.read_float_rows("ints", 8, 5, out.data());
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("rows 8 to 13 of dataset 'ints'"), std::string::npos)
        << error.what();
  }
  fs::remove_all(dir);
}

class GroundTruthMemoryCli : public test::DataDirTest {
 protected:
  GroundTruthMemoryCli() : DataDirTest("gt-memory") {}
};

TEST_F(GroundTruthMemoryCli, SmallBudgetEqualsDefaultRun) {
  const std::size_t n = 3000;
  const std::size_t q = 20;
  const std::size_t dim = 64;
  // Neighbours and distances are made wrong on purpose: both runs must replace them.
  const FloatMatrix train = test_rows(n, dim, 21, false);
  const FloatMatrix test = test_rows(q, dim, 22, false);
  const IdMatrix wrong_ids(q, 10, 0);
  const FloatMatrix wrong_distances(q, 10, 0.0f);
  write_dataset(dir_ / "small.hdf5", Metric::L2, train, test, wrong_ids, wrong_distances);
  write_dataset(dir_ / "default.hdf5", Metric::L2, train, test, wrong_ids, wrong_distances);
  // 64 KiB holds the state and 207 rows: 15 blocks, the last one short.
  ASSERT_EQ(ground_truth_block_rows(n, q, dim, Metric::L2, 10, 64 * 1024), 207u);

  const test::CliOutcome small =
      test::run_annbench(dir_, "groundtruth small.hdf5 --k 10 --memory 64K");
  ASSERT_EQ(small.exit_code, 0) << small.output;
  const test::CliOutcome whole = test::run_annbench(dir_, "groundtruth default.hdf5 --k 10");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_NE(small.output.find("GFLOP/s"), std::string::npos) << small.output;

  const h5::File a = h5::File::open_read(dir_ / "small.hdf5");
  const h5::File b = h5::File::open_read(dir_ / "default.hdf5");
  const IdMatrix ids = a.read_ints("neighbors");
  EXPECT_TRUE(same_bits(ids, b.read_ints("neighbors")));
  EXPECT_TRUE(same_bits(a.read_floats("distances"), b.read_floats("distances")));
  // And both are the in-memory ground truth.
  const GroundTruth expected = compute_ground_truth(train.view(), test.view(), Metric::L2, 10);
  EXPECT_TRUE(same_bits(ids, expected.neighbors));
}

TEST_F(GroundTruthMemoryCli, BadMemoryValuesAreNamed) {
  write_dataset(dir_ / "d.hdf5", Metric::L2, test_rows(50, 4, 1, false), test_rows(3, 4, 2, false),
                IdMatrix(3, 5, 0), FloatMatrix(3, 5, 0.0f));
  for (const std::string value : {"12Q", "0", "-1"}) {
    const test::CliOutcome outcome =
        test::run_annbench(dir_, "groundtruth d.hdf5 --memory " + value);
    EXPECT_NE(outcome.exit_code, 0) << value;
    EXPECT_NE(outcome.output.find("--memory '" + value + "'"), std::string::npos) << outcome.output;
  }
  // Enough to parse but too little to hold anything: the budget error, with its numbers.
  const test::CliOutcome tiny = test::run_annbench(dir_, "groundtruth d.hdf5 --memory 10");
  EXPECT_NE(tiny.exit_code, 0);
  EXPECT_NE(tiny.output.find("memory budget of 10 bytes"), std::string::npos) << tiny.output;
  // Range and filtered ground truth load the whole set and say so instead of taking a budget.
  const test::CliOutcome range =
      test::run_annbench(dir_, "groundtruth d.hdf5 --range 1 --memory 1G");
  EXPECT_NE(range.exit_code, 0);
  EXPECT_NE(range.output.find("k-NN ground truth only"), std::string::npos) << range.output;
}

}  // namespace
}  // namespace annbench
