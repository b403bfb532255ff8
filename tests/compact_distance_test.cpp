// Compact-vector kernels (compact_distance.h), each ISA variant on its own: exact integer
// distances against an int64 loop (random, extreme values, long vectors), fp16 conversion against
// an independent nearest-value search and distances against long double, no reads past the end.
// SQ8 is in sq8_codec_test.cpp.

#include "compact_kernels_fixture.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/distance.h>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace annbench {
namespace {

const std::vector<std::size_t>& kDims = test::kCompactDims;

class CompactIsaTest : public test::CompactVariantTest {};

template <typename T, bool L2>
std::int64_t reference_integer(const T* a, const T* b, std::size_t d) {
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < d; ++i) {
    const std::int64_t x = a[i];
    const std::int64_t y = b[i];
    sum += L2 ? (x - y) * (x - y) : x * y;
  }
  return sum;
}

template <typename T>
std::vector<T> random_bytes(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::min(),
                                          std::numeric_limits<T>::max());
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// All four integer kernels of one variant against the int64 loop, exactly.
void expect_integer_exact(const CompactKernels& k, const std::uint8_t* ua, const std::uint8_t* ub,
                          const std::int8_t* sa, const std::int8_t* sb, std::size_t d) {
  SCOPED_TRACE(std::string(k.isa) + " d " + std::to_string(d));
  EXPECT_EQ(k.l2sq_u8(ua, ub, d), (reference_integer<std::uint8_t, true>(ua, ub, d)));
  EXPECT_EQ(k.dot_u8(ua, ub, d), (reference_integer<std::uint8_t, false>(ua, ub, d)));
  EXPECT_EQ(k.l2sq_i8(sa, sb, d), (reference_integer<std::int8_t, true>(sa, sb, d)));
  EXPECT_EQ(k.dot_i8(sa, sb, d), (reference_integer<std::int8_t, false>(sa, sb, d)));
}

TEST(CompactKernels, ScalarLastBestFirstAndNamed) {
  const auto all = available_compact_kernels();
  ASSERT_FALSE(all.empty());
  EXPECT_STREQ(all.back().isa, "scalar");
  EXPECT_STREQ(scalar_compact_kernels().isa, "scalar");
  const char* cap = std::getenv("ANNBENCH_SIMD");
  if (cap == nullptr) {
    EXPECT_STREQ(compact_kernels().isa, all.front().isa);
  } else if (std::string(cap) == "scalar") {
    EXPECT_STREQ(compact_kernels().isa, "scalar");
  } else if (std::string(cap) == "avx2") {
    EXPECT_TRUE(compact_kernels().isa == std::string("avx2") ||
                compact_kernels().isa == std::string("scalar"));
  }
  EXPECT_STREQ(compact_isa_name(), compact_kernels().family);
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c")) {
    EXPECT_STREQ(all.front().isa, "avx512_vnni");
  }
}

TEST_P(CompactIsaTest, IntegerKernelsAreExactOnRandomData) {
  std::mt19937 rng(11);
  for (const std::size_t d : kDims) {
    // Offsets from the allocation start: aligned and unaligned loads.
    for (std::size_t offset = 0; offset < 4; ++offset) {
      const auto ua = random_bytes<std::uint8_t>(d + 4, rng);
      const auto ub = random_bytes<std::uint8_t>(d + 4, rng);
      const auto sa = random_bytes<std::int8_t>(d + 4, rng);
      const auto sb = random_bytes<std::int8_t>(d + 4, rng);
      expect_integer_exact(k(), ua.data() + offset, ub.data() + 3 - offset, sa.data() + offset,
                           sb.data() + 3 - offset, d);
    }
  }
  // Several 32-bit blocks, random values, an odd tail.
  const std::size_t d = 3 * 65536 + 77;
  const auto ua = random_bytes<std::uint8_t>(d, rng);
  const auto ub = random_bytes<std::uint8_t>(d, rng);
  const auto sa = random_bytes<std::int8_t>(d, rng);
  const auto sb = random_bytes<std::int8_t>(d, rng);
  expect_integer_exact(k(), ua.data(), ub.data(), sa.data(), sb.data(), d);
  EXPECT_EQ(k().l2sq_u8(ua.data(), ub.data(), 0), 0);
  EXPECT_EQ(k().dot_i8(sa.data(), sb.data(), 0), 0);
}

// Values at the ends of the ranges: u8 0 / 255 and i8 -128 / 127 make every term 65025 or
// 16384, which overflow 16-bit sums at once and 32-bit sums past 33025 terms.
TEST_P(CompactIsaTest, IntegerKernelsAreExactAtExtremes) {
  std::vector<std::size_t> dims = kDims;
  dims.push_back((std::size_t{1} << 24) + 3);  // l2 = 65025 x 2^24 ~ 1.1e12: needs 64 bits
  for (const std::size_t d : dims) {
    const std::vector<std::uint8_t> zero(d, 0), full(d, 255);
    const std::vector<std::int8_t> low(d, -128), high(d, 127);
    std::vector<std::uint8_t> u_mix(d);
    std::vector<std::int8_t> s_mix(d);
    for (std::size_t i = 0; i < d; ++i) {
      u_mix[i] = (i % 3 == 0) ? 255 : 0;
      s_mix[i] = (i % 2 == 0) ? std::int8_t{-128} : std::int8_t{127};
    }
    const auto n = static_cast<std::int64_t>(d);
    SCOPED_TRACE(std::string(k().isa) + " d " + std::to_string(d));
    EXPECT_EQ(k().l2sq_u8(zero.data(), full.data(), d), 65025 * n);
    EXPECT_EQ(k().l2sq_u8(full.data(), zero.data(), d), 65025 * n);
    EXPECT_EQ(k().dot_u8(full.data(), full.data(), d), 65025 * n);
    EXPECT_EQ(k().dot_u8(zero.data(), full.data(), d), 0);
    EXPECT_EQ(k().l2sq_u8(full.data(), full.data(), d), 0);
    EXPECT_EQ(k().l2sq_i8(low.data(), high.data(), d), 65025 * n);
    EXPECT_EQ(k().l2sq_i8(high.data(), low.data(), d), 65025 * n);
    EXPECT_EQ(k().dot_i8(low.data(), low.data(), d), 16384 * n);
    EXPECT_EQ(k().dot_i8(low.data(), high.data(), d), -16256 * n);
    EXPECT_EQ(k().dot_i8(high.data(), high.data(), d), 16129 * n);
    if (d < 100000) {
      expect_integer_exact(k(), u_mix.data(), full.data(), s_mix.data(), low.data(), d);
      expect_integer_exact(k(), zero.data(), u_mix.data(), high.data(), s_mix.data(), d);
    } else {
      const std::int64_t thirds = (n + 2) / 3;  // i % 3 == 0
      EXPECT_EQ(k().l2sq_u8(u_mix.data(), zero.data(), d), 65025 * thirds);
      EXPECT_EQ(k().dot_i8(s_mix.data(), low.data(), d), 16384 * ((n + 1) / 2) - 16256 * (n / 2));
    }
  }
}

// ---- fp16 ----------------------------------------------------------------------------------

// Independent of the kernels: the value of a bit pattern by its definition.
double half_value(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 31) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Nearest fp16 by search over the finite positive values, ties to the even bit pattern;
// magnitudes of 65520 (halfway to the next power of two) and more round to inf.
std::uint16_t reference_encode(float f) {
  if (std::isnan(f)) return 0x7E00;  // only checked for being NaN
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7C00;
  std::uint16_t lo = 0, hi = 0x7BFF;  // largest pattern with value <= a
  while (lo < hi) {
    const auto mid = static_cast<std::uint16_t>((lo + hi + 1) / 2);
    if (half_value(mid) <= a) {
      lo = mid;
    } else {
      hi = static_cast<std::uint16_t>(mid - 1);
    }
  }
  if (half_value(lo) == a || lo == 0x7BFF) return sign | lo;
  const double below = a - half_value(lo);
  const double above = half_value(static_cast<std::uint16_t>(lo + 1)) - a;
  const bool up = above < below || (above == below && (lo & 1) != 0);
  return static_cast<std::uint16_t>(sign | (up ? lo + 1 : lo));
}

std::vector<float> fp16_test_values() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          1.0f + 0x1p-11f,      // tie between 0x3C00 and 0x3C01: even 0x3C00
                          1.0f + 3 * 0x1p-11f,  // tie between 0x3C01 and 0x3C02: 0x3C02
                          65504.0f,
                          65519.99f,
                          65520.0f,  // tie between 65504 and 2^16: the even side is inf
                          -65520.0f,
                          1e9f,
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          0x1p-14f,               // smallest normal
                          0x1p-14f - 0x1p-25f,    // tie between 0x03FF and 0x0400
                          0x1p-24f,               // smallest subnormal
                          0x1p-25f,               // tie between 0 and 2^-24: 0
                          0x1p-25f * 1.0000001f,  // just above the tie: 2^-24
                          3 * 0x1p-25f,           // tie between 1 and 2 units: 2
                          5 * 0x1p-25f,           // tie between 2 and 3 units: 2
                          -0x1p-24f,
                          1e-10f,
                          std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min()};
  std::mt19937 rng(5);
  std::uniform_int_distribution<std::uint32_t> bits;
  // Random bit patterns (mostly huge or tiny), then values in and around fp16's range.
  for (int i = 0; i < 20000; ++i) v.push_back(std::bit_cast<float>(bits(rng)));
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  for (int i = 0; i < 60000; ++i) {
    const float x = std::exp2(exponent(rng));
    v.push_back(i % 2 == 0 ? x : -x);
  }
  // Exact ties everywhere: halfway points between neighbouring fp16 values.
  for (std::uint32_t h = 0; h < 0x7BFF; h += 7) {
    v.push_back(static_cast<float>((half_value(static_cast<std::uint16_t>(h)) +
                                    half_value(static_cast<std::uint16_t>(h + 1))) /
                                   2));
  }
  return v;
}

TEST(Fp16Reference, HandCheckedPatterns) {
  EXPECT_EQ(reference_encode(1.0f), 0x3C00);
  EXPECT_EQ(reference_encode(1.0f + 0x1p-11f), 0x3C00);
  EXPECT_EQ(reference_encode(1.0f + 3 * 0x1p-11f), 0x3C02);
  EXPECT_EQ(reference_encode(65504.0f), 0x7BFF);
  EXPECT_EQ(reference_encode(65520.0f), 0x7C00);
  EXPECT_EQ(reference_encode(0x1p-25f), 0x0000);
  EXPECT_EQ(reference_encode(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(reference_encode(-0x1p-24f), 0x8001);
  EXPECT_EQ(reference_encode(0x1p-14f - 0x1p-25f), 0x0400);
}

TEST_P(CompactIsaTest, Fp16EncodeRoundsToNearestEven) {
  const std::vector<float> values = fp16_test_values();
  std::vector<std::uint16_t> encoded(values.size());
  k().encode_fp16(values.data(), encoded.data(), values.size());
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t expected = reference_encode(values[i]);
    const bool ok = std::isnan(values[i])
                        ? ((encoded[i] & 0x7C00) == 0x7C00 && (encoded[i] & 0x3FF) != 0)
                        : encoded[i] == expected;
    if (!ok && ++wrong <= 10) {
      ADD_FAILURE() << k().isa << ": " << values[i] << " (bits " << std::hex
                    << std::bit_cast<std::uint32_t>(values[i]) << ") encodes to " << encoded[i]
                    << ", expected " << expected;
    }
  }
  EXPECT_EQ(wrong, 0u);
  // Same bits as the scalar variant, NaNs included, and for every length (tails).
  std::vector<std::uint16_t> scalar(values.size());
  scalar_compact_kernels().encode_fp16(values.data(), scalar.data(), values.size());
  EXPECT_EQ(encoded, scalar);
  for (const std::size_t d : kDims) {
    std::vector<std::uint16_t> part(d + 1, 0xABCD);
    k().encode_fp16(values.data() + 3, part.data(), d);
    EXPECT_TRUE(
        std::equal(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(d), scalar.begin() + 3))
        << k().isa << " d " << d;
    EXPECT_EQ(part[d], 0xABCD) << k().isa << " wrote past the end, d " << d;
  }
}

TEST_P(CompactIsaTest, Fp16DecodeIsExactForEveryPattern) {
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
  std::vector<float> decoded(all.size());
  k().decode_fp16(all.data(), decoded.data(), all.size());
  std::vector<float> scalar(all.size());
  scalar_compact_kernels().decode_fp16(all.data(), scalar.data(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const double expected = half_value(all[i]);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(decoded[i])) << k().isa << " pattern " << i;
    } else {
      ASSERT_EQ(static_cast<double>(decoded[i]), expected) << k().isa << " pattern " << i;
      ASSERT_EQ(std::signbit(decoded[i]), (i & 0x8000) != 0) << k().isa << " pattern " << i;
    }
    ASSERT_EQ(std::bit_cast<std::uint32_t>(decoded[i]), std::bit_cast<std::uint32_t>(scalar[i]))
        << k().isa << " pattern " << i << " differs from scalar";
  }
  // Round trip: decode(encode(decode(h))) == h for every non-NaN pattern.
  std::vector<std::uint16_t> again(all.size());
  k().encode_fp16(decoded.data(), again.data(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!std::isnan(decoded[i])) {
      ASSERT_EQ(again[i], all[i]) << k().isa << " pattern " << i;
    }
  }
}

TEST_P(CompactIsaTest, Fp16DistancesMatchLongDouble) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (const std::size_t d : kDims) {
    for (std::size_t offset = 0; offset < 3; ++offset) {
      std::vector<float> q(d + 3), x(d + 3);
      for (float& v : q) v = normal(rng);
      for (float& v : x) v = normal(rng);
      std::vector<std::uint16_t> h(d + 3);
      scalar_compact_kernels().encode_fp16(x.data(), h.data(), d + 3);
      const float* pq = q.data() + offset;
      const std::uint16_t* ph = h.data() + 2 - offset;
      long double l2 = 0, ip = 0, abs_ip = 0;
      for (std::size_t i = 0; i < d; ++i) {
        const long double diff = static_cast<long double>(pq[i]) - half_value(ph[i]);
        const long double product = static_cast<long double>(pq[i]) * half_value(ph[i]);
        l2 += diff * diff;
        ip += product;
        abs_ip += std::fabs(product);
      }
      const double bound = dot_error_factor(d, 1);
      SCOPED_TRACE(std::string(k().isa) + " d " + std::to_string(d));
      EXPECT_NEAR(k().l2sq_f32_fp16(pq, ph, d), static_cast<double>(l2),
                  bound * static_cast<double>(l2) + 1e-30);
      EXPECT_NEAR(k().dot_f32_fp16(pq, ph, d), static_cast<double>(ip),
                  bound * static_cast<double>(abs_ip) + 1e-30);
    }
  }
}

TEST_P(CompactIsaTest, Fp16OverflowAndSubnormalsThroughDistances) {
  // 1e5 encodes to inf: the distance is inf, as with the decoded vector.
  const float big[3] = {1.0f, 1e5f, 2.0f};
  const float tiny[3] = {0x1p-24f, 3 * 0x1p-25f, 0x1p-30f};
  std::uint16_t h[3];
  k().encode_fp16(big, h, 3);
  EXPECT_EQ(h[1], 0x7C00);
  const float q[3] = {0.0f, 0.0f, 0.0f};
  EXPECT_TRUE(std::isinf(k().l2sq_f32_fp16(q, h, 3)));
  k().encode_fp16(tiny, h, 3);
  EXPECT_EQ(h[0], 0x0001);
  EXPECT_EQ(h[1], 0x0002);
  EXPECT_EQ(h[2], 0x0000);
  const float one[3] = {1.0f, 1.0f, 1.0f};
  EXPECT_EQ(k().dot_f32_fp16(one, h, 3), 3 * 0x1p-24f);
}

// Every input ends right before an inaccessible page: a full-width load past the end would crash.
class GuardedPage {
 public:
  GuardedPage() : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {
    mapping_ = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping_ == MAP_FAILED) return;
    if (mprotect(static_cast<char*>(mapping_) + page_, page_, PROT_NONE) != 0) {
      munmap(mapping_, 2 * page_);
      mapping_ = MAP_FAILED;
    }
  }
  ~GuardedPage() {
    if (mapping_ != MAP_FAILED) munmap(mapping_, 2 * page_);
  }
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;
  bool ok() const { return mapping_ != MAP_FAILED; }
  // The last n elements of the accessible page.
  template <typename T>
  T* last(std::size_t n) {
    return reinterpret_cast<T*>(static_cast<char*>(mapping_) + page_) - n;
  }

 private:
  std::size_t page_;
  void* mapping_;
};

TEST_P(CompactIsaTest, TailsDoNotReadOrWritePastTheEnd) {
  GuardedPage pa, pb, pq, pout;
  ASSERT_TRUE(pa.ok() && pb.ok() && pq.ok() && pout.ok());
  for (std::size_t d = 1; d <= 140; ++d) {
    SCOPED_TRACE(std::string(k().isa) + " d " + std::to_string(d));
    auto* ua = pa.last<std::uint8_t>(d);
    auto* ub = pb.last<std::uint8_t>(d);
    for (std::size_t i = 0; i < d; ++i) {
      ua[i] = static_cast<std::uint8_t>(i * 7);
      ub[i] = static_cast<std::uint8_t>(255 - i);
    }
    const auto* sa = reinterpret_cast<const std::int8_t*>(ua);
    const auto* sb = reinterpret_cast<const std::int8_t*>(ub);
    expect_integer_exact(k(), ua, ub, sa, sb, d);
    float* q = pq.last<float>(d);
    for (std::size_t i = 0; i < d; ++i) q[i] = static_cast<float>(i) * 0.5f - 3.0f;
    std::uint16_t* h = pb.last<std::uint16_t>(d);
    k().encode_fp16(q, h, d);
    float* decoded = pout.last<float>(d);
    k().decode_fp16(h, decoded, d);
    for (std::size_t i = 0; i < d; ++i) ASSERT_EQ(decoded[i], q[i]);  // all exact in fp16
    EXPECT_EQ(k().l2sq_f32_fp16(q, h, d), 0.0f);
    EXPECT_GT(k().dot_f32_fp16(q, h, d), 0.0f);
    // SQ8 kernel: min and scale end at the guard too.
    float* min = pout.last<float>(d);
    float* scale = pa.last<float>(d);
    std::fill(min, min + d, 1.0f);
    std::fill(scale, scale + d, 0.0f);
    std::uint8_t* code = pb.last<std::uint8_t>(d);
    std::fill(code, code + d, std::uint8_t{9});
    std::fill(q, q + d, 3.0f);
    EXPECT_EQ(k().sq8_l2sq(q, code, min, scale, d), 4.0f * static_cast<float>(d));
    EXPECT_EQ(k().sq8_dot(q, code, min, scale, d), 3.0f * static_cast<float>(d));
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, CompactIsaTest,
                         ::testing::Values("avx512_vnni", "avx512", "avx2", "scalar"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace annbench
