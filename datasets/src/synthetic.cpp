#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
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

}  // namespace

FloatMatrix gaussian_mixture(std::size_t n, std::size_t dim, std::size_t clusters,
                             std::uint64_t seed, float spread) {
  ANNBENCH_CHECK(dim > 0, "gaussian_mixture: dim must be positive");
  ANNBENCH_CHECK(clusters > 0, "gaussian_mixture: clusters must be positive");
  ANNBENCH_CHECK(std::isfinite(spread) && spread >= 0, "gaussian_mixture: bad spread {}", spread);
  Random random(seed);
  FloatMatrix centres(clusters, dim);
  for (std::size_t i = 0; i < centres.size(); ++i) {
    centres.data()[i] = static_cast<float>(-10.0 + 20.0 * random.uniform());
  }
  FloatMatrix points(n, dim);
  for (std::size_t i = 0; i < n; ++i) {
    const float* centre = centres.row(random.below(clusters));
    float* point = points.row(i);
    for (std::size_t j = 0; j < dim; ++j) {
      point[j] = static_cast<float>(centre[j] + static_cast<double>(spread) * random.normal());
    }
  }
  return points;
}

void make_synthetic_dataset(const std::filesystem::path& path, std::size_t n_train,
                            std::size_t n_test, std::size_t dim, Metric metric,
                            std::size_t clusters, std::uint64_t seed, std::size_t k) {
  ANNBENCH_CHECK(n_train > 0 && n_test > 0, "synthetic dataset '{}': need train and test points",
                 path.string());
  ANNBENCH_CHECK(k > 0, "synthetic dataset '{}': k must be positive", path.string());
  const FloatMatrix all = gaussian_mixture(n_train + n_test, dim, clusters, seed);
  FloatMatrix train(n_train, dim);
  FloatMatrix test(n_test, dim);
  std::memcpy(train.data(), all.data(), train.bytes());
  std::memcpy(test.data(), all.row(n_train), test.bytes());
  GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, k);
  const std::map<std::string, std::string> attributes = {
      {"source", "annbench gaussian_mixture (centres uniform in [-10, 10], spread 1)"},
      {"seed", std::to_string(seed)},
      {"clusters", std::to_string(clusters)},
  };
  write_dataset(path, metric, train, test, truth.neighbors, truth.distances, attributes);
}

}  // namespace annbench
