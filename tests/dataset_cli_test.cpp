// `annbench dataset ...` and `annbench groundtruth ...`, called as main() calls them.

#include "cli_support.h"
#include "commands.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class DatasetCliTest : public test::DataDirTest {
 protected:
  DatasetCliTest() : DataDirTest("cli") {}
  std::string p(const char* name) { return (dir_ / name).string(); }
  // Runs `command`, returning its exit code and what it printed on stdout.
  template <typename Command>
  std::pair<int, std::string> run(Command command, const std::vector<std::string>& args) {
    return test::run_captured(command, args);
  }
  std::string error_of(const std::vector<std::string>& args) {
    try {
      run(dataset_command, args);
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
};

TEST_F(DatasetCliTest, SyntheticThenInfo) {
  const auto [code, out] =
      run(dataset_command, {"synthetic", "--n", "300", "--queries", "10", "--dim", "6", "--metric",
                            "euclidean", "--k", "7", "--seed", "5", "--out", p("s.hdf5")});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("wrote"));
  const Dataset dataset = load_dataset(dir_ / "s.hdf5");
  EXPECT_EQ(dataset.train.rows(), 300u);
  EXPECT_EQ(dataset.test.rows(), 10u);
  EXPECT_EQ(dataset.neighbors.cols(), 7u);
  const auto [info_code, info] = run(dataset_command, {"info", p("s.hdf5")});
  EXPECT_EQ(info_code, 0);
  EXPECT_THAT(info, AllOf(HasSubstr("train      300 x 6"), HasSubstr("neighbors  10 x 7"),
                          HasSubstr("distance     'euclidean'"), HasSubstr("check: ok"),
                          HasSubstr("sha256: " + file_sha256(dir_ / "s.hdf5"))));
}

TEST_F(DatasetCliTest, SliceKeepsTheFirstRowsWithExactGroundTruth) {
  ASSERT_EQ(run(dataset_command, {"synthetic", "--n", "500", "--queries", "20", "--dim", "5",
                                  "--metric", "angular", "--out", p("big.hdf5")})
                .first,
            0);
  ASSERT_EQ(run(dataset_command, {"slice", p("big.hdf5"), "--train", "120", "--queries", "7", "--k",
                                  "15", "--out", p("small.hdf5")})
                .first,
            0);
  const Dataset big = load_dataset(p("big.hdf5"));
  const Dataset small = load_dataset(p("small.hdf5"));
  EXPECT_EQ(small.metric, Metric::Angular);
  ASSERT_EQ(small.train.rows(), 120u);
  ASSERT_EQ(small.test.rows(), 7u);
  ASSERT_EQ(small.neighbors.cols(), 15u);
  EXPECT_EQ(std::memcmp(small.train.data(), big.train.data(), small.train.bytes()), 0);
  EXPECT_EQ(std::memcmp(small.test.data(), big.test.data(), small.test.bytes()), 0);
  const GroundTruth truth =
      compute_ground_truth(small.train.view(), small.test.view(), Metric::Angular, 15);
  for (std::size_t i = 0; i < truth.neighbors.size(); ++i) {
    EXPECT_EQ(small.neighbors.data()[i], truth.neighbors.data()[i]);
  }
  EXPECT_THAT(
      error_of({"slice", p("big.hdf5"), "--train", "501", "--queries", "1", "--out", p("x.hdf5")}),
      HasSubstr("cannot slice 501"));
}

TEST_F(DatasetCliTest, MissingArgumentsShowUsage) {
  EXPECT_THAT(
      error_of({"synthetic", "--n", "10"}),
      AllOf(HasSubstr("missing --queries"), HasSubstr("usage: annbench dataset synthetic")));
  EXPECT_THAT(error_of({"convert", "--train", "a.fvecs"}),
              AllOf(HasSubstr("missing --test"), HasSubstr("usage: annbench dataset convert")));
  EXPECT_THAT(error_of({"prepare"}), HasSubstr("usage: annbench dataset prepare NAME"));
  EXPECT_EQ(run(dataset_command, {}).first, 2);
  EXPECT_EQ(run(dataset_command, {"frobnicate"}).first, 2);
}

void write_fvecs(const fs::path& path, std::size_t rows, std::size_t dim, float offset) {
  std::ofstream out(path, std::ios::binary);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::int32_t d = static_cast<std::int32_t>(dim);
    out.write(reinterpret_cast<const char*>(&d), 4);
    for (std::size_t j = 0; j < dim; ++j) {
      const float value = offset + static_cast<float>((i * 7 + j * 3) % 11);
      out.write(reinterpret_cast<const char*>(&value), 4);
    }
  }
}

TEST_F(DatasetCliTest, ConvertComputesGroundTruth) {
  write_fvecs(dir_ / "base.fvecs", 200, 4, 0);
  write_fvecs(dir_ / "query.fvecs", 8, 4, 0.5f);
  const auto [code, out] =
      run(dataset_command, {"convert", "--train", p("base.fvecs"), "--test", p("query.fvecs"),
                            "--metric", "euclidean", "--k", "12", "--out", p("c.hdf5")});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("ground truth: 8 queries x 200 points"));
  const Dataset dataset = load_dataset(dir_ / "c.hdf5");
  EXPECT_EQ(dataset.metric, Metric::L2);
  EXPECT_EQ(dataset.train(1, 0), 7.f);
  EXPECT_EQ(dataset.test(0, 0), 0.5f);
  const GroundTruth truth =
      compute_ground_truth(dataset.train.view(), dataset.test.view(), Metric::L2, 12);
  EXPECT_EQ(std::memcmp(truth.neighbors.data(), dataset.neighbors.data(), truth.neighbors.bytes()),
            0);
  EXPECT_EQ(h5::File::open_read(dir_ / "c.hdf5").string_attribute("source_train"), "base.fvecs");
}

TEST_F(DatasetCliTest, GroundtruthRewritesNeighborsInPlaceAndKeepsTheRest) {
  const fs::path path = dir_ / "g.hdf5";
  FloatMatrix train(50, 3);
  FloatMatrix test(4, 3);
  for (std::size_t i = 0; i < train.size(); ++i)
    train.data()[i] = static_cast<float>((i * 13) % 17);
  for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = static_cast<float>((i * 5) % 9);
  IdMatrix wrong(4, 2, 0);
  FloatMatrix wrong_distances(4, 2, 0.f);
  write_dataset(path, Metric::Angular, train, test, wrong, wrong_distances, {{"origin", "kept"}});

  const auto [code, out] = run(groundtruth_command, {path.string(), "--k", "5", "--threads", "1"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, AllOf(HasSubstr("4 queries x 50 points"), HasSubstr("k = 5"), HasSubstr(" s ")));
  const Dataset dataset = load_dataset(path);
  const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::Angular, 5);
  ASSERT_EQ(dataset.neighbors.cols(), 5u);
  EXPECT_EQ(std::memcmp(truth.neighbors.data(), dataset.neighbors.data(), truth.neighbors.bytes()),
            0);
  EXPECT_EQ(std::memcmp(truth.distances.data(), dataset.distances.data(), truth.distances.bytes()),
            0);
  EXPECT_EQ(h5::File::open_read(path).string_attribute("origin"), "kept");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2)
      << "expected only data/ and g.hdf5";
}

TEST_F(DatasetCliTest, GroundtruthUsageAndErrors) {
  EXPECT_THROW(run(groundtruth_command, {}), Error);
  try {
    run(groundtruth_command, {p("absent.hdf5")});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("absent.hdf5"), HasSubstr("does not exist")));
  }
}

TEST_F(DatasetCliTest, ListShowsWhatIsPresent) {
  std::ofstream(dir_ / "data" / "glove-25-angular.hdf5") << "x";
  const auto [code, out] = run(dataset_command, {"list"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, AllOf(HasSubstr("fashion-mnist-784-euclidean"),
                         HasSubstr("annbench dataset prepare"), HasSubstr("sift-128-euclidean"),
                         HasSubstr("annbench dataset fetch"), HasSubstr("not supported yet")));
  const std::size_t glove = out.find("glove-25-angular");
  ASSERT_NE(glove, std::string::npos);
  EXPECT_EQ(out.substr(glove, out.find('\n', glove) - glove).find("present") != std::string::npos,
            true);
}

}  // namespace
}  // namespace annbench
