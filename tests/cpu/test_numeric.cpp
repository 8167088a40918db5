// Number-format conversions and the INT8 quantization rule, checked against
// independent definitions (neighbour search, enumeration of all codes).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/numeric.hpp"
#include "test_util.hpp"

namespace intfa::test {
namespace {

using namespace intfa::numeric;

// Round-to-nearest-even against the format's neighbours: `code` must be at
// least as close to x as code±1, and on a tie it must be even.
template <typename Decode>
void expect_nearest_even(float x, uint16_t code, Decode decode) {
  const double v = decode(code);
  const double err = std::fabs(static_cast<double>(x) - v);
  for (int delta : {-1, 1}) {
    const uint16_t other = static_cast<uint16_t>(code + delta);
    const double ov = decode(other);
    if (!std::isfinite(ov) || (std::signbit(ov) != std::signbit(v) && ov != 0.0)) continue;
    const double oerr = std::fabs(static_cast<double>(x) - ov);
    ASSERT_LE(err, oerr) << "x=" << x << " code=" << code << " neighbour=" << other;
    if (err == oerr) {
      ASSERT_EQ(code & 1, 0) << "tie not to even: x=" << x;
    }
  }
}

TEST(Numeric, HalfRoundTripsEveryCode) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = half_bits_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half_bits(f), h) << "code " << h;
  }
}

TEST(Numeric, FloatToHalfIsNearestEven) {
  auto rng = rng_for_test();
  std::uniform_int_distribution<int> exponent(-26, 16);
  std::uniform_real_distribution<float> mantissa(1.f, 2.f);
  for (int i = 0; i < 200000; ++i) {
    float x = std::ldexp(mantissa(rng), exponent(rng));
    if (i % 2) x = -x;
    if (std::fabs(x) >= 65520.f) {
      EXPECT_TRUE(std::isinf(round_to_fp16(x))) << x;
      continue;
    }
    expect_nearest_even(x, float_to_half_bits(x), [](uint16_t c) {
      return static_cast<double>(half_bits_to_float(c));
    });
  }
  // Exact ties: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(round_to_fp16(1.f + std::ldexp(1.f, -11)), 1.f);
  EXPECT_EQ(round_to_fp16(1.f + 3 * std::ldexp(1.f, -11)), 1.f + std::ldexp(1.f, -9));
}

TEST(Numeric, FloatToBf16IsNearestEven) {
  auto rng = rng_for_test();
  std::uniform_real_distribution<float> u(-1e4f, 1e4f);
  for (int i = 0; i < 200000; ++i) {
    const float x = u(rng);
    expect_nearest_even(x, float_to_bf16_bits(x), [](uint16_t c) {
      return static_cast<double>(bf16_bits_to_float(c));
    });
  }
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
}

// All non-negative finite E4M3 values, from the format's definition.
std::vector<double> e4m3_values() {
  std::vector<double> values;
  for (int code = 0; code < 127; ++code) {  // 0x7f is NaN
    const int e = code >> 3, m = code & 7;
    values.push_back(e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7));
  }
  return values;
}

TEST(Numeric, E4M3IsNearestEvenWithSaturation) {
  const std::vector<double> values = e4m3_values();
  ASSERT_EQ(values.back(), 448.0);
  auto rng = rng_for_test();
  std::uniform_int_distribution<int> exponent(-12, 9);
  std::uniform_real_distribution<float> mantissa(1.f, 2.f);
  for (int i = 0; i < 100000; ++i) {
    const float x = std::ldexp(mantissa(rng), exponent(rng)) * (i % 2 ? -1.f : 1.f);
    const double a = std::min(std::fabs(static_cast<double>(x)), 448.0);
    // Nearest by enumeration, ties to the even code.
    size_t best = 0;
    for (size_t c = 1; c < values.size(); ++c) {
      const double d = std::fabs(values[c] - a), bd = std::fabs(values[best] - a);
      if (d < bd || (d == bd && c % 2 == 0)) best = c;
    }
    const double expected = x < 0 ? -values[best] : values[best];
    ASSERT_EQ(static_cast<double>(round_to_e4m3(x)), expected) << "x=" << x;
  }
  EXPECT_EQ(round_to_e4m3(1e6f), 448.f);
  EXPECT_EQ(round_to_e4m3(-1e6f), -448.f);
}

TEST(Numeric, Int8QuantizationRule) {
  auto rng = rng_for_test();
  std::normal_distribution<float> normal;
  for (int trial = 0; trial < 1000; ++trial) {
    std::vector<float> x(static_cast<size_t>(1 + trial % 300));
    for (float& e : x) e = normal(rng) * std::ldexp(1.f, trial % 20 - 10);
    float amax = 0;
    for (float e : x) amax = std::max(amax, std::fabs(e));
    const float inv = int8_inverse_scale(amax), s = int8_scale(amax);
    bool hit_max = false;
    for (float e : x) {
      const int8_t q = quantize_int8(e, inv);
      ASSERT_GE(q, -127);
      ASSERT_TRUE(within_roundtrip_bound(e, q, s)) << "x=" << e << " code=" << int(q) << " s=" << s;
      hit_max = hit_max || std::abs(static_cast<int>(q)) == 127;
    }
    ASSERT_TRUE(hit_max) << "the largest element must use the full range";
  }
  // All-zero input: scale 0, codes 0, no NaN.
  EXPECT_EQ(int8_scale(0.f), 0.f);
  EXPECT_EQ(int8_inverse_scale(0.f), 0.f);
  EXPECT_EQ(quantize_int8(0.f, 0.f), 0);
  // Ties go to even: 2.5 → 2, 3.5 → 4 (inverse scale 1).
  EXPECT_EQ(quantize_int8(2.5f, 1.f), 2);
  EXPECT_EQ(quantize_int8(3.5f, 1.f), 4);
  EXPECT_EQ(quantize_int8(-2.5f, 1.f), -2);
}

TEST(Numeric, ProbabilityQuantization) {
  EXPECT_EQ(quantize_p_uint8(1.f), 255);
  EXPECT_EQ(quantize_p_uint8(0.f), 0);
  EXPECT_EQ(quantize_p_int8(1.f), 127);
  EXPECT_EQ(quantize_p_uint8(0.5f), 128);  // 127.5 → 128 (even)
  EXPECT_EQ(quantize_p_int8(0.5f), 64);    // 63.5 → 64 (even)
}

}  // namespace
}  // namespace intfa::test
