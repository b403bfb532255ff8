// Synthetic data: reproducible bit for bit from the seed, shaped like make_blobs, and complete
// dataset files with correct ground truth.

#include <annbench/common/distance.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace annbench {
namespace {

namespace fs = std::filesystem;

bool identical(const FloatMatrix& a, const FloatMatrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

TEST(SyntheticTest, SameSeedSameDataDifferentSeedDifferentData) {
  const FloatMatrix a = gaussian_mixture(500, 7, 5, 42);
  const FloatMatrix b = gaussian_mixture(500, 7, 5, 42);
  const FloatMatrix c = gaussian_mixture(500, 7, 5, 43);
  ASSERT_EQ(a.rows(), 500u);
  ASSERT_EQ(a.cols(), 7u);
  EXPECT_TRUE(identical(a, b));
  EXPECT_FALSE(identical(a, c));
  // The first n points do not depend on how many follow (make_synthetic_dataset relies on it to
  // draw train and test from one stream).
  const FloatMatrix prefix = gaussian_mixture(100, 7, 5, 42);
  EXPECT_EQ(std::memcmp(prefix.data(), a.data(), prefix.bytes()), 0);
}

TEST(SyntheticTest, PinnedValuesGuardCrossPlatformReproducibility) {
  // If these change, every published synthetic dataset changes: do it only on purpose.
  const FloatMatrix m = gaussian_mixture(3, 2, 2, 7);
  EXPECT_EQ(m(0, 0), 0x1.504a84p+2f);   // 5.25454807
  EXPECT_EQ(m(1, 1), 0x1.c54cf2p+2f);   // 7.08282137
  EXPECT_EQ(m(2, 0), -0x1.174edcp+3f);  // -8.72837639
}

TEST(SyntheticTest, OneClusterHasTheRequestedSpread) {
  const std::size_t n = 20000;
  const FloatMatrix m = gaussian_mixture(n, 4, 1, 3, 2.0f);
  for (std::size_t j = 0; j < 4; ++j) {
    double sum = 0;
    double squares = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += m(i, j);
      squares += double(m(i, j)) * m(i, j);
    }
    const double mean = sum / n;
    const double deviation = std::sqrt(squares / n - mean * mean);
    EXPECT_NEAR(deviation, 2.0, 0.05) << "column " << j;
    EXPECT_LE(std::abs(mean), 10.0 + 0.1);  // the centre is inside [-10, 10]
  }
}

TEST(SyntheticTest, PointsGatherAroundTheirCentres) {
  // With spread 0 every point is exactly one of the centres: at most `clusters` distinct rows.
  const FloatMatrix m = gaussian_mixture(200, 3, 4, 11, 0.0f);
  std::vector<std::vector<float>> distinct;
  for (std::size_t i = 0; i < m.rows(); ++i) {
    std::vector<float> row(m.row(i), m.row(i) + 3);
    for (float v : row) EXPECT_LE(std::abs(v), 10.f);
    if (std::find(distinct.begin(), distinct.end(), row) == distinct.end()) distinct.push_back(row);
  }
  EXPECT_EQ(distinct.size(), 4u);
}

TEST(SyntheticTest, RejectsBadArguments) {
  EXPECT_THROW(gaussian_mixture(10, 0, 1, 1), Error);
  EXPECT_THROW(gaussian_mixture(10, 3, 0, 1), Error);
  EXPECT_THROW(gaussian_mixture(10, 3, 1, 1, -1.0f), Error);
}

TEST(SyntheticTest, MakeSyntheticDatasetWritesExactGroundTruth) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("annbench-synthetic-{}", ::getpid());
  fs::create_directories(dir);
  const fs::path path = dir / "synthetic.hdf5";
  make_synthetic_dataset(path, 300, 20, 5, Metric::Angular, 3, 9, 10);
  const Dataset dataset = load_dataset(path);
  EXPECT_EQ(dataset.metric, Metric::Angular);
  ASSERT_EQ(dataset.train.rows(), 300u);
  ASSERT_EQ(dataset.test.rows(), 20u);
  ASSERT_EQ(dataset.neighbors.cols(), 10u);
  // Train then test are the first and last points of one gaussian_mixture draw.
  const FloatMatrix all = gaussian_mixture(320, 5, 3, 9);
  EXPECT_EQ(std::memcmp(dataset.train.data(), all.data(), dataset.train.bytes()), 0);
  EXPECT_EQ(std::memcmp(dataset.test.data(), all.row(300), dataset.test.bytes()), 0);
  for (std::size_t q = 0; q < 20; ++q) {
    // The stored nearest neighbour is the brute-force nearest, and distances ascend.
    double best = 1e300;
    for (std::size_t i = 0; i < 300; ++i) {
      best = std::min(
          best, exact_distance(Metric::Angular, dataset.test.row(q), dataset.train.row(i), 5));
    }
    EXPECT_NEAR(dataset.distances(q, 0), best, 1e-5);
    const double stored = exact_distance(Metric::Angular, dataset.test.row(q),
                                         dataset.train.row(dataset.neighbors(q, 0)), 5);
    EXPECT_NEAR(stored, best, 1e-5);
    for (std::size_t j = 1; j < 10; ++j) {
      EXPECT_LE(dataset.distances(q, j - 1), dataset.distances(q, j));
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace annbench
