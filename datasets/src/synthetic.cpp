#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <random>
#include <string>

namespace annbench {

namespace {

// Uniform, normal and bounded-integer draws from mt19937_64 with fixed arithmetic, so results
// do not depend on the standard library. (std::log/std::cos may differ in the last bit between
// libms; after rounding to float that changes a value with probability ~1e-9.)
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  // [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Box-Muller; the second value of each pair is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  // [0, bound) by multiply-high (Lemire), without the rejection step: the bias is below
  // bound / 2^64, far under anything a benchmark could notice.
  std::size_t below(std::size_t bound) {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(engine_()) * bound) >> 64);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// gaussian_mixture's points one block at a time: the centres are drawn on construction, then
// each point is a centre index and dim normals, in one stream, so points [0, n) come out the
// same however the calls to next() split them.
class MixtureStream {
 public:
  MixtureStream(std::size_t dim, std::size_t clusters, std::uint64_t seed, float spread)
      : random_(seed), centres_(clusters, dim), spread_(static_cast<double>(spread)) {
    ANNBENCH_CHECK(dim > 0, "gaussian_mixture: dim must be positive");
    ANNBENCH_CHECK(clusters > 0, "gaussian_mixture: clusters must be positive");
    ANNBENCH_CHECK(std::isfinite(spread) && spread >= 0, "gaussian_mixture: bad spread {}", spread);
    for (std::size_t i = 0; i < centres_.size(); ++i) {
      centres_.data()[i] = static_cast<float>(-10.0 + 20.0 * random_.uniform());
    }
  }

  // The next `count` points into out (count × dim, row-major).
  void next(std::size_t count, float* out) {
    const std::size_t dim = centres_.cols();
    for (std::size_t i = 0; i < count; ++i) {
      const float* centre = centres_.row(random_.below(centres_.rows()));
      float* point = out + i * dim;
      for (std::size_t j = 0; j < dim; ++j) {
        point[j] = static_cast<float>(centre[j] + spread_ * random_.normal());
      }
    }
  }

 private:
  Random random_;
  FloatMatrix centres_;
  double spread_;
};

}  // namespace

FloatMatrix gaussian_mixture(std::size_t n, std::size_t dim, std::size_t clusters,
                             std::uint64_t seed, float spread) {
  MixtureStream stream(dim, clusters, seed, spread);
  FloatMatrix points(n, dim);
  stream.next(n, points.data());
  return points;
}

void make_synthetic_dataset(const std::filesystem::path& path, std::size_t n_train,
                            std::size_t n_test, std::size_t dim, Metric metric,
                            std::size_t clusters, std::uint64_t seed, std::size_t k,
                            std::size_t memory_bytes, const SyntheticProgress& progress) {
  ANNBENCH_CHECK(n_train > 0 && n_test > 0, "synthetic dataset '{}': need train and test points",
                 path.string());
  ANNBENCH_CHECK(k > 0, "synthetic dataset '{}': k must be positive", path.string());
  if (memory_bytes == 0) memory_bytes = default_ground_truth_memory();
  // A budget too small for the ground truth fails now, not after writing the whole train set.
  try {
    ground_truth_block_rows(n_train, n_test, dim, metric, k, memory_bytes);
  } catch (const Error& error) {
    ANNBENCH_FAIL("synthetic dataset '{}': {}", path.string(), error.what());
  }
  MixtureStream stream(dim, clusters, seed, 1.0f);
  const std::map<std::string, std::string> attributes = {
      {"source", "annbench gaussian_mixture (centres uniform in [-10, 10], spread 1)"},
      {"seed", std::to_string(seed)},
      {"clusters", std::to_string(clusters)},
  };
  // The same objects in the same order as write_dataset writes them (groundtruth_stream_test
  // checks the files are identical), but train goes to the file block by block as it is drawn,
  // and the ground truth reads it back from there: only a block of train is ever in memory.
  h5::write_atomically(path, [&](const std::filesystem::path& temporary) {
    h5::File file = h5::File::create(temporary);
    file.set_attribute("distance", metric_name(metric));
    file.set_attribute("type", "dense");
    file.set_attribute("dimension", static_cast<std::int64_t>(dim));
    file.set_attribute("point_type", "float");
    for (const auto& [key, value] : attributes) file.set_attribute(key, std::string_view(value));
    file.create_floats("train", n_train, dim);
    // 16 MiB of rows (large writes, little memory), or half the budget when that is less.
    const std::size_t write_bytes = std::min(std::size_t{16} << 20, memory_bytes / 2);
    const std::size_t block_rows =
        std::clamp<std::size_t>(write_bytes / (dim * sizeof(float)), 1, n_train);
    FloatMatrix block(block_rows, dim);
    for (std::size_t first = 0; first < n_train; first += block_rows) {
      const std::size_t count = std::min(block_rows, n_train - first);
      stream.next(count, block.data());
      file.write_float_rows("train", first, count, block.data());
      if (progress) progress("train", first + count, n_train);
    }
    block = FloatMatrix();
    // Test points follow train in the stream: the split is the one write_dataset got.
    FloatMatrix test(n_test, dim);
    stream.next(n_test, test.data());
    file.write_floats("test", test.data(), test.rows(), test.cols());
    const TrainRowReader read_train = [&](std::size_t first, std::size_t count, float* out) {
      file.read_float_rows("train", first, count, out);
    };
    const GroundTruthProgress scanned = [&](std::size_t done, std::size_t total) {
      if (progress) progress("ground truth", done, total);
    };
    const GroundTruth truth = compute_ground_truth_streamed(read_train, n_train, test.view(),
                                                            metric, k, memory_bytes, scanned);
    file.write_ints("neighbors", truth.neighbors.data(), truth.neighbors.rows(),
                    truth.neighbors.cols());
    file.write_floats("distances", truth.distances.data(), truth.distances.rows(),
                      truth.distances.cols());
  });
}

void make_synthetic_integer_dataset(const std::filesystem::path& path, ElementType type,
                                    std::size_t n_train, std::size_t n_test, std::size_t dim,
                                    Metric metric, std::size_t clusters, std::uint64_t seed,
                                    std::size_t k) {
  ANNBENCH_CHECK(type != ElementType::kFloat32,
                 "synthetic dataset '{}': the integer recipe needs uint8 or int8", path.string());
  ANNBENCH_CHECK(n_train > 0 && n_test > 0, "synthetic dataset '{}': need train and test points",
                 path.string());
  FloatMatrix all = gaussian_mixture(n_train + n_test, dim, clusters, seed);
  const float shift = type == ElementType::kUint8 ? 128.0f : 0.0f;
  for (std::size_t i = 0; i < all.size(); ++i) {
    all.data()[i] =
        std::clamp(std::nearbyint(8.0f * all.data()[i]) + shift, shift - 128.0f, shift + 127.0f);
  }
  FloatMatrix train(n_train, dim);
  FloatMatrix test(n_test, dim);
  std::copy(all.data(), all.data() + train.size(), train.data());
  std::copy(all.data() + train.size(), all.data() + all.size(), test.data());
  all = FloatMatrix();
  const GroundTruth truth =
      compute_ground_truth(train.view(), test.view(), metric, std::min(k, n_train));
  write_integer_dataset(
      path, metric, type, train, test, truth.neighbors, truth.distances,
      {{"source",
        fmt::format("annbench gaussian_mixture (centres uniform in [-10, 10], spread 1) "
                    "quantized to {}: round(8x){}",
                    element_type_name(type), type == ElementType::kUint8 ? " + 128" : "")},
       {"seed", std::to_string(seed)},
       {"clusters", std::to_string(clusters)}});
}

}  // namespace annbench
