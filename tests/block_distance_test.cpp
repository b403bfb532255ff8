// The many-to-many block kernel, every variant this CPU runs, against a double reference on
// shapes that exercise full tiles, leftover rows and columns, dimension tails and several L2
// passes over the base.

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace annbench {
namespace {

struct Shape {
  std::size_t nq, nx, dim;
};

void check_shape(const BlockKernels& kernels, const Shape& shape, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // One spare float in front so rows start unaligned.
  std::vector<float> q(shape.nq * shape.dim + 1), x(shape.nx * shape.dim + 1);
  for (float& v : q) v = normal(rng);
  for (float& v : x) v = normal(rng);
  const float* pq = q.data() + 1;
  const float* px = x.data() + 1;
  const std::size_t ldo = shape.nx + 5;
  constexpr float kSentinel = -12345.0f;
  std::vector<float> out(shape.nq * ldo, kSentinel);
  kernels.inner_products(pq, shape.nq, px, shape.nx, shape.dim, out.data(), ldo);
  const double factor = dot_error_factor(shape.dim, 1);
  for (std::size_t i = 0; i < shape.nq; ++i) {
    for (std::size_t j = 0; j < shape.nx; ++j) {
      double exact = 0, scale = 0;
      for (std::size_t t = 0; t < shape.dim; ++t) {
        const double p = static_cast<double>(pq[i * shape.dim + t]) * px[j * shape.dim + t];
        exact += p;
        scale += std::fabs(p);
      }
      ASSERT_NEAR(out[i * ldo + j], exact, factor * scale + 1e-30)
          << kernels.isa << " nq " << shape.nq << " nx " << shape.nx << " dim " << shape.dim
          << " at " << i << "," << j;
    }
    for (std::size_t j = shape.nx; j < ldo; ++j) {
      ASSERT_EQ(out[i * ldo + j], kSentinel) << "wrote past nx in row " << i;
    }
  }
}

TEST(BlockKernels, ScalarIsAvailableLastAndBestIsPicked) {
  const auto all = available_block_kernels();
  ASSERT_FALSE(all.empty());
  EXPECT_STREQ(all.back().isa, "scalar");
  if (std::getenv("ANNBENCH_SIMD") == nullptr) {
    EXPECT_STREQ(block_kernels().isa, all.front().isa);
  }
  EXPECT_EQ(all.size(), available_distance_kernels().size());
}

TEST(BlockKernels, EveryVariantMatchesTheReference) {
  std::mt19937 rng(1);
  std::vector<Shape> shapes;
  for (const std::size_t dim : {1, 3, 15, 16, 17, 31, 33, 100, 784}) {
    for (const std::size_t nq : {1, 3, 4, 7, 8, 9, 17}) {
      for (const std::size_t nx : {1, 2, 3, 4, 5, 7, 10}) shapes.push_back({nq, nx, dim});
    }
  }
  // Several 512 KiB passes over the base (167 rows of 784 floats each).
  shapes.push_back({16, 400, 784});
  shapes.push_back({9, 3000, 64});
  for (const BlockKernels& kernels : available_block_kernels()) {
    for (const Shape& shape : shapes) check_shape(kernels, shape, rng);
  }
}

TEST(BlockKernels, ScoresBelowKeepsExactlyTheWinnersInOrder) {
  // Small integers: every score is exact however it is computed (fused or not), so the hit
  // set is fully determined.
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> small(-50, 50);
  for (const BlockKernels& kernels : available_block_kernels()) {
    for (const std::size_t n : {0, 1, 7, 8, 15, 16, 17, 33, 1000}) {
      std::vector<float> products(n + 1), bias(n + 1);
      for (float& v : products) v = static_cast<float>(small(rng));
      for (float& v : bias) v = static_cast<float>(small(rng));
      for (const bool with_bias : {false, true}) {
        for (const float threshold :
             {-1e30f, -20.0f, 0.0f, 35.0f, std::numeric_limits<float>::infinity()}) {
          const float scale = with_bias ? 2.0f : 1.0f;
          std::vector<std::uint32_t> ids(n + 1, 0xFFFFFFFF);
          std::vector<float> scores(n + 1);
          // Unaligned start (products + 1) on purpose.
          const std::size_t hits =
              kernels.scores_below(products.data() + 1, with_bias ? bias.data() + 1 : nullptr,
                                   scale, n, threshold, ids.data(), scores.data());
          std::size_t expected = 0;
          for (std::size_t j = 0; j < n; ++j) {
            const float s = (with_bias ? bias[j + 1] : 0.0f) - scale * products[j + 1];
            if (!(s < threshold)) continue;
            ASSERT_LT(expected, hits) << kernels.isa << " n " << n;
            EXPECT_EQ(ids[expected], j) << kernels.isa << " n " << n;
            EXPECT_EQ(scores[expected], s) << kernels.isa << " n " << n;
            ++expected;
          }
          EXPECT_EQ(hits, expected) << kernels.isa << " n " << n << " threshold " << threshold;
        }
      }
    }
  }
}

TEST(BlockKernels, EmptyShapesWriteNothing) {
  std::vector<float> v(64, 1.0f);
  std::vector<float> out(4, 7.0f);
  for (const BlockKernels& kernels : available_block_kernels()) {
    kernels.inner_products(v.data(), 0, v.data(), 4, 16, out.data(), 4);
    kernels.inner_products(v.data(), 1, v.data(), 0, 16, out.data(), 4);
    for (float value : out) EXPECT_EQ(value, 7.0f) << kernels.isa;
    kernels.inner_products(v.data(), 1, v.data(), 4, 0, out.data(), 4);
    for (float value : out) EXPECT_EQ(value, 0.0f) << kernels.isa;
    out.assign(4, 7.0f);
  }
}

}  // namespace
}  // namespace annbench
