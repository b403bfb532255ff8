// Distance kernels: every SIMD variant this CPU runs against the scalar reference and a
// long-double reference; the exact (double) distance on hand-checked cases and bit-identical
// across variants; no reads past the end of a vector.

#include <annbench/common/distance.h>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace annbench {
namespace {

const std::vector<std::size_t> kDims = {1,  2,  3,  4,  7,  8,  9,   15,  16,  17,  31,  32,
                                        33, 48, 63, 64, 65, 96, 100, 127, 128, 129, 784, 960};

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// Independent references in long double, and the sum of |terms| that rounding errors scale with.
struct Reference {
  long double l2, ip, abs_l2, abs_ip;
};

Reference reference(const float* a, const float* b, std::size_t dim) {
  Reference r{0, 0, 0, 0};
  for (std::size_t i = 0; i < dim; ++i) {
    const long double d = static_cast<long double>(a[i]) - b[i];
    const long double p = static_cast<long double>(a[i]) * b[i];
    r.l2 += d * d;
    r.abs_l2 += d * d;
    r.ip += p;
    r.abs_ip += std::fabs(p);
  }
  return r;
}

TEST(DistanceKernels, ScalarIsAvailableLastAndBestIsPicked) {
  const auto all = available_distance_kernels();
  ASSERT_FALSE(all.empty());
  EXPECT_STREQ(all.back().isa, "scalar");
  EXPECT_STREQ(scalar_distance_kernels().isa, "scalar");
  if (std::getenv("ANNBENCH_SIMD") == nullptr) {
    EXPECT_STREQ(distance_kernels().isa, all.front().isa);
  }
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_STREQ(all.front().isa, "avx512");
  }
}

TEST(DistanceKernels, EveryVariantMatchesTheReferenceOnManyDims) {
  std::mt19937 rng(42);
  for (const DistanceKernels& kernels : available_distance_kernels()) {
    for (const std::size_t dim : kDims) {
      // Offsets of 0..3 floats from a 64-byte boundary: aligned and unaligned loads.
      for (std::size_t offset_a = 0; offset_a < 4; ++offset_a) {
        const std::size_t offset_b = (offset_a * 3 + 1) % 4;
        std::vector<float> a = random_vector(dim + 4, rng);
        std::vector<float> b = random_vector(dim + 4, rng, 2.0f);
        const float* pa = a.data() + offset_a;
        const float* pb = b.data() + offset_b;
        const Reference r = reference(pa, pb, dim);
        const double bound = dot_error_factor(dim, 1);
        SCOPED_TRACE(std::string(kernels.isa) + " dim " + std::to_string(dim) + " offset " +
                     std::to_string(offset_a));
        const float l2 = kernels.l2_squared(pa, pb, dim);
        const float ip = kernels.inner_product(pa, pb, dim);
        EXPECT_NEAR(l2, static_cast<double>(r.l2), bound * static_cast<double>(r.abs_l2) + 1e-30);
        EXPECT_NEAR(ip, static_cast<double>(r.ip), bound * static_cast<double>(r.abs_ip) + 1e-30);
        // And against the scalar variant (both within the bound of the true value).
        EXPECT_NEAR(l2, scalar_distance_kernels().l2_squared(pa, pb, dim),
                    2 * bound * static_cast<double>(r.abs_l2) + 1e-30);
        EXPECT_NEAR(ip, scalar_distance_kernels().inner_product(pa, pb, dim),
                    2 * bound * static_cast<double>(r.abs_ip) + 1e-30);
      }
    }
  }
}

TEST(DistanceKernels, ZeroDimensionIsZero) {
  const float a[1] = {1.0f};
  for (const DistanceKernels& kernels : available_distance_kernels()) {
    EXPECT_EQ(kernels.l2_squared(a, a, 0), 0.0f) << kernels.isa;
    EXPECT_EQ(kernels.inner_product(a, a, 0), 0.0f) << kernels.isa;
  }
}

TEST(DistanceKernels, IntegerDataIsExact) {
  // Small integers: every partial sum is exact in float, so every order gives the same value.
  for (const DistanceKernels& kernels : available_distance_kernels()) {
    std::vector<float> a(784), b(784);
    double l2 = 0, ip = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<float>(i % 17);
      b[i] = static_cast<float>((i * 7) % 13);
      l2 += (a[i] - b[i]) * (a[i] - b[i]);
      ip += a[i] * b[i];
    }
    EXPECT_EQ(kernels.l2_squared(a.data(), b.data(), a.size()), l2) << kernels.isa;
    EXPECT_EQ(kernels.inner_product(a.data(), b.data(), a.size()), ip) << kernels.isa;
  }
}

// Vectors ending right before an inaccessible page: a full-width load past the end would crash.
TEST(DistanceKernels, TailsDoNotReadPastTheEnd) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* mapping =
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mapping, MAP_FAILED);
  char* base = static_cast<char*>(mapping);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  float* end = reinterpret_cast<float*>(base + page);
  for (std::size_t dim = 1; dim <= 70; ++dim) {
    // a and b both end at the guard page (a is b: the distance is known).
    float* a = end - dim;
    const float* b = a;
    for (std::size_t i = 0; i < dim; ++i) a[i] = static_cast<float>(i + 1);
    for (const DistanceKernels& kernels : available_distance_kernels()) {
      EXPECT_EQ(kernels.l2_squared(a, b, dim), 0.0f) << kernels.isa << " dim " << dim;
      EXPECT_GT(kernels.inner_product(a, b, dim), 0.0f) << kernels.isa << " dim " << dim;
      for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
        EXPECT_TRUE(std::isfinite(kernels.exact(metric, a, b, dim))) << kernels.isa;
      }
    }
  }
  munmap(mapping, 2 * page);
}

TEST(ExactDistance, HandCheckedValues) {
  const float origin[3] = {0, 0, 0};
  const float p34[3] = {3, 4, 0};
  const float x[3] = {1, 0, 0};
  const float y[3] = {0, 1, 0};
  const float x2[3] = {2, 0, 0};
  const float minus_x[3] = {-1, 0, 0};
  const float a[3] = {1, 2, 3};
  const float b[3] = {4, 5, 6};
  for (const DistanceKernels& kernels : available_distance_kernels()) {
    SCOPED_TRACE(kernels.isa);
    EXPECT_EQ(kernels.exact(Metric::L2, origin, p34, 3), 5.0);
    EXPECT_EQ(kernels.exact(Metric::L2, p34, p34, 3), 0.0);
    EXPECT_EQ(kernels.exact(Metric::Angular, x, y, 3), 1.0);
    EXPECT_EQ(kernels.exact(Metric::Angular, x, x2, 3), 0.0);
    EXPECT_EQ(kernels.exact(Metric::Angular, x, minus_x, 3), 2.0);
    EXPECT_NEAR(kernels.exact(Metric::Angular, a, b, 3), 1.0 - 32.0 / std::sqrt(14.0 * 77.0),
                1e-15);
    // A zero vector has no direction: distance 1 to everything, itself included.
    EXPECT_EQ(kernels.exact(Metric::Angular, origin, x, 3), 1.0);
    EXPECT_EQ(kernels.exact(Metric::Angular, origin, origin, 3), 1.0);
    EXPECT_EQ(kernels.exact(Metric::InnerProduct, a, b, 3), -32.0);
    EXPECT_EQ(kernels.exact(Metric::InnerProduct, origin, b, 3), 0.0);
  }
  EXPECT_EQ(exact_distance(Metric::L2, origin, p34, 3), 5.0);
}

TEST(ExactDistance, AccurateAndBitIdenticalAcrossVariants) {
  std::mt19937 rng(7);
  for (const std::size_t dim : kDims) {
    const std::vector<float> a = random_vector(dim + 3, rng, 100.0f);
    const std::vector<float> b = random_vector(dim + 3, rng, 100.0f);
    for (std::size_t offset = 0; offset < 3; ++offset) {
      const float* pa = a.data() + offset;
      const float* pb = b.data() + 2 - offset;
      const Reference r = reference(pa, pb, dim);
      for (const Metric metric : {Metric::L2, Metric::Angular, Metric::InnerProduct}) {
        const double expected = scalar_distance_kernels().exact(metric, pa, pb, dim);
        for (const DistanceKernels& kernels : available_distance_kernels()) {
          EXPECT_EQ(kernels.exact(metric, pa, pb, dim), expected)
              << kernels.isa << " " << metric_name(metric) << " dim " << dim;
        }
        EXPECT_EQ(exact_distance(metric, pa, pb, dim), expected);
      }
      EXPECT_NEAR(exact_distance(Metric::L2, pa, pb, dim), std::sqrt(static_cast<double>(r.l2)),
                  1e-13 * std::sqrt(static_cast<double>(r.l2)));
      EXPECT_NEAR(exact_distance(Metric::InnerProduct, pa, pb, dim), -static_cast<double>(r.ip),
                  1e-13 * static_cast<double>(r.abs_ip));
    }
  }
}

TEST(ExactDistance, AngularStaysInRange) {
  // Parallel vectors: cos may round above 1, the distance must not go negative.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> a = random_vector(37, rng);
    std::vector<float> b(a);
    for (float& v : b) v *= 3.0f;
    const double d = exact_distance(Metric::Angular, a.data(), b.data(), a.size());
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1e-12);
  }
}

TEST(DistanceKernels, ErrorFactorShrinksWithLanes) {
  EXPECT_GT(dot_error_factor(784, 1), dot_error_factor(784, 16));
  EXPECT_GT(dot_error_factor(784, 16), 784.0 / 16 * std::ldexp(1.0, -24));
  EXPECT_LT(dot_error_factor(784, 16), 1e-5);
}

}  // namespace
}  // namespace annbench
