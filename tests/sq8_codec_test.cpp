// SQ8 (sq8_codec.h): training, round-trip error, clamping, constant dimensions, stored
// parameters, and the asymmetric distance kernels of every ISA variant against long double,
// both for the decoded vector and for the original one (within the quantisation bound).

#include "compact_kernels_fixture.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/sq8_codec.h>
#include <annbench/error.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace annbench {
namespace {

const std::vector<std::size_t>& kDims = test::kCompactDims;

class Sq8IsaTest : public test::CompactVariantTest {};

// n x d training data: per-dimension offsets and spreads that differ a lot, every third
// dimension from column 5 on constant.
std::vector<float> training_data(std::size_t n, std::size_t d, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> offset(d), spread(d);
  for (std::size_t j = 0; j < d; ++j) {
    offset[j] = 10.0f * normal(rng);
    spread[j] = (j >= 5 && j % 3 == 2) ? 0.0f : std::exp(normal(rng));
  }
  std::vector<float> data(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) data[i * d + j] = offset[j] + spread[j] * normal(rng);
  }
  return data;
}

// |x_j - decode(encode(x))_j| for x in the trained range: at most scale_j / 2 from rounding to
// the nearest code, plus float rounding of the scale and of the fma in decode (a few ulps of
// the largest magnitude involved).
double decode_error_bound(const Sq8Codec& codec, std::size_t j, float x) {
  const double s = codec.scale()[j];
  const double magnitude = std::fabs(x) + std::fabs(codec.min()[j]) + 255.0 * s;
  return s / 2 + 4.0 * std::ldexp(magnitude, -24);
}

TEST(Sq8Codec, RoundTripWithinHalfAScaleAndConstantDimensionsExact) {
  std::mt19937 rng(1);
  for (const std::size_t d : kDims) {
    const std::size_t n = 64;
    const std::vector<float> data = training_data(n, d, rng);
    for (const Sq8Scale kind : {Sq8Scale::PerDimension, Sq8Scale::Uniform}) {
      const Sq8Codec codec = Sq8Codec::train(data.data(), n, d, kind);
      ASSERT_EQ(codec.dim(), d);
      EXPECT_EQ(codec.uniform_scale(), kind == Sq8Scale::Uniform || d == 1);
      std::vector<std::uint8_t> code(d);
      std::vector<float> back(d);
      for (std::size_t i = 0; i < n; ++i) {
        const float* x = data.data() + i * d;
        codec.encode(x, code.data());
        codec.decode(code.data(), back.data());
        for (std::size_t j = 0; j < d; ++j) {
          ASSERT_LE(std::fabs(static_cast<double>(back[j]) - x[j]),
                    decode_error_bound(codec, j, x[j]))
              << "d " << d << " row " << i << " dim " << j << " scale " << codec.scale()[j];
          if (codec.scale()[j] == 0.0f) {
            ASSERT_EQ(back[j], x[j]);  // constant: exact
          }
        }
      }
      // Constant dimensions (training_data makes 5, 8, ...) get scale 0 per dimension.
      if (kind == Sq8Scale::PerDimension && d > 5) {
        EXPECT_EQ(codec.scale()[5], 0.0f);
      }
    }
  }
}

TEST(Sq8Codec, ValuesOutsideTheTrainedRangeClamp) {
  const float data[6] = {0.0f, -1.0f, 7.0f, 10.0f, 1.0f, 7.0f};  // 2 x 3; dim 2 constant
  const Sq8Codec codec = Sq8Codec::train(data, 2, 3);
  EXPECT_EQ(codec.min(), (std::vector<float>{0.0f, -1.0f, 7.0f}));
  EXPECT_EQ(codec.scale()[0], 10.0f / 255.0f);
  EXPECT_EQ(codec.scale()[2], 0.0f);
  std::uint8_t code[3];
  const float below[3] = {-5.0f, -100.0f, -1e30f};
  codec.encode(below, code);
  EXPECT_EQ(code[0], 0);
  EXPECT_EQ(code[1], 0);
  EXPECT_EQ(code[2], 0);
  const float above[3] = {11.0f, std::numeric_limits<float>::infinity(), 1e30f};
  codec.encode(above, code);
  EXPECT_EQ(code[0], 255);
  EXPECT_EQ(code[1], 255);
  EXPECT_EQ(code[2], 0);  // a constant dimension has one code
  const float nan[3] = {std::nanf(""), 0.0f, 7.0f};
  codec.encode(nan, code);
  EXPECT_EQ(code[0], 0);
  EXPECT_TRUE(code[1] == 127 || code[1] == 128);  // (0 - -1) / (2 / 255) ~ 127.5
  const float ends[3] = {10.0f, 1.0f, 7.0f};
  codec.encode(ends, code);
  EXPECT_EQ(code[0], 255);
  EXPECT_EQ(code[1], 255);
}

TEST(Sq8Codec, StoredParametersGiveTheSameCodecAndBadOnesAreErrors) {
  std::mt19937 rng(2);
  const std::vector<float> data = training_data(50, 40, rng);
  const Sq8Codec trained = Sq8Codec::train(data.data(), 50, 40);
  const Sq8Codec loaded(trained.min(), trained.scale());
  std::vector<std::uint8_t> a(40), b(40);
  for (std::size_t i = 0; i < 50; ++i) {
    trained.encode(data.data() + i * 40, a.data());
    loaded.encode(data.data() + i * 40, b.data());
    ASSERT_EQ(a, b);
    ASSERT_EQ(trained.l2sq(data.data(), a.data()), loaded.l2sq(data.data(), b.data()));
  }
  EXPECT_THROW(Sq8Codec({1.0f, 2.0f}, {1.0f}), Error);
  EXPECT_THROW(Sq8Codec({}, {}), Error);
  EXPECT_THROW(Sq8Codec({1.0f}, {-1.0f}), Error);
  EXPECT_THROW(Sq8Codec({std::nanf("")}, {1.0f}), Error);
  EXPECT_THROW(Sq8Codec({0.0f}, {std::numeric_limits<float>::infinity()}), Error);
  EXPECT_THROW(Sq8Codec::train(data.data(), 0, 40), Error);
  EXPECT_THROW(Sq8Codec::train(data.data(), 50, 0), Error);
  std::vector<float> bad = data;
  bad[7 * 40 + 3] = std::numeric_limits<float>::infinity();
  try {
    Sq8Codec::train(bad.data(), 50, 40);
    ADD_FAILURE() << "no error for an infinite training value";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 7, column 3"), std::string::npos) << e.what();
  }
  // Symmetric distances need one scale.
  EXPECT_FALSE(trained.uniform_scale());
  EXPECT_THROW(trained.l2sq_codes(a.data(), b.data()), Error);
}

TEST(Sq8Codec, UniformScaleCodeDistanceIsScaledIntegerL2) {
  std::mt19937 rng(4);
  for (const std::size_t d : kDims) {
    const std::vector<float> data = training_data(40, d, rng);
    const Sq8Codec codec = Sq8Codec::train(data.data(), 40, d, Sq8Scale::Uniform);
    ASSERT_TRUE(codec.uniform_scale());
    const double s = codec.scale()[0];
    std::vector<std::uint8_t> a(d), b(d);
    std::vector<float> xa(d), xb(d);
    for (std::size_t i = 0; i + 1 < 40; i += 3) {
      codec.encode(data.data() + i * d, a.data());
      codec.encode_query(data.data() + (i + 1) * d, b.data());
      std::int64_t integer = 0;
      for (std::size_t j = 0; j < d; ++j) integer += (a[j] - b[j]) * (a[j] - b[j]);
      const float got = codec.l2sq_codes(a.data(), b.data());
      ASSERT_EQ(got, static_cast<float>(s * s * static_cast<double>(integer))) << "d " << d;
      // And it is the squared L2 of the decoded vectors (up to their float rounding).
      codec.decode(a.data(), xa.data());
      codec.decode(b.data(), xb.data());
      long double decoded = 0, slack = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const long double diff = static_cast<long double>(xa[j]) - xb[j];
        decoded += diff * diff;
        // Each decoded value is within half an ulp of min + s c: 2 |diff| ulp + ulp^2 per term.
        const double ulp = std::ldexp(std::fabs(codec.min()[j]) + 255.0 * s, -23);
        slack += 2 * std::fabs(diff) * ulp + ulp * ulp;
      }
      ASSERT_NEAR(got, static_cast<double>(decoded),
                  static_cast<double>(slack) + 2e-7 * static_cast<double>(decoded) + 1e-30);
    }
  }
}

// The asymmetric kernels, for every variant: against long double on the decoded vector (float
// summation error only), and against the original vector within the quantisation bound:
// with |x_j - x'_j| <= e_j,
//   l2:  (q_j - x_j)^2 - (q_j - x'_j)^2 = (x'_j - x_j)(2 (q_j - x_j) - (x'_j - x_j)),
//        so | |q - x|^2 - |q - x'|^2 | <= sum_j e_j (2 |q_j - x_j| + e_j);
//   dot: | q.x - q.x' | <= sum_j |q_j| e_j.
TEST_P(Sq8IsaTest, AsymmetricDistancesWithinTheirBounds) {
  std::mt19937 rng(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const std::size_t d : kDims) {
    const std::size_t n = 30;
    const std::vector<float> data = training_data(n, d, rng);
    for (const Sq8Scale kind : {Sq8Scale::PerDimension, Sq8Scale::Uniform}) {
      const Sq8Codec codec = Sq8Codec::train(data.data(), n, d, kind);
      std::vector<float> q(d);
      for (std::size_t j = 0; j < d; ++j) q[j] = data[j] + normal(rng);
      std::vector<std::uint8_t> code(d);
      std::vector<float> xd(d);
      for (std::size_t i = 1; i < n; i += 4) {
        const float* x = data.data() + i * d;
        codec.encode(x, code.data());
        codec.decode(code.data(), xd.data());
        long double l2_dec = 0, ip_dec = 0, abs_ip_dec = 0, l2_true = 0, ip_true = 0;
        double l2_quant = 0, ip_quant = 0;
        for (std::size_t j = 0; j < d; ++j) {
          const long double diff_dec = static_cast<long double>(q[j]) - xd[j];
          const long double diff_true = static_cast<long double>(q[j]) - x[j];
          l2_dec += diff_dec * diff_dec;
          ip_dec += static_cast<long double>(q[j]) * xd[j];
          abs_ip_dec += std::fabs(static_cast<long double>(q[j]) * xd[j]);
          l2_true += diff_true * diff_true;
          ip_true += static_cast<long double>(q[j]) * x[j];
          const double e = decode_error_bound(codec, j, x[j]);
          l2_quant += e * (2 * std::fabs(static_cast<double>(diff_true)) + e);
          ip_quant += std::fabs(q[j]) * e;
        }
        const double bound = dot_error_factor(d, 1);
        const float l2 =
            k().sq8_l2sq(q.data(), code.data(), codec.min().data(), codec.scale().data(), d);
        const float ip =
            k().sq8_dot(q.data(), code.data(), codec.min().data(), codec.scale().data(), d);
        SCOPED_TRACE(std::string(k().isa) + " d " + std::to_string(d) + " row " +
                     std::to_string(i));
        const double float_l2 = bound * static_cast<double>(l2_dec) + 1e-30;
        const double float_ip = bound * static_cast<double>(abs_ip_dec) + 1e-30;
        EXPECT_NEAR(l2, static_cast<double>(l2_dec), float_l2);
        EXPECT_NEAR(ip, static_cast<double>(ip_dec), float_ip);
        EXPECT_NEAR(l2, static_cast<double>(l2_true), l2_quant + float_l2);
        EXPECT_NEAR(ip, static_cast<double>(ip_true), ip_quant + float_ip);
      }
      // The codec's own methods use the selected variant: within the same float bound.
      codec.encode(data.data(), code.data());
      EXPECT_NEAR(codec.l2sq(q.data(), code.data()),
                  k().sq8_l2sq(q.data(), code.data(), codec.min().data(), codec.scale().data(), d),
                  1e-5 * (1.0 + codec.l2sq(q.data(), code.data())));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, Sq8IsaTest,
                         ::testing::Values("avx512_vnni", "avx512", "avx2", "scalar"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace annbench
