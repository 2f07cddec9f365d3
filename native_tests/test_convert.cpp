// Half / bfloat16 / uint8 codecs of csrc/kernels/common.h against independent
// references computed in double precision with round-to-nearest-even.
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "check.h"
#include "kernels/common.h"
#include "kernels/dispatch_dtypes.h"

using namespace sslfast;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

bool half_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool bf16_is_nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }

// Reference binary32 -> binary16 (RNE) for non-NaN input, in double arithmetic:
// scale |f| to units of the target ulp and round with nearbyint.
uint16_t ref_float_to_half(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
  const double a = std::fabs((double)f);
  if (std::isinf(a) || a >= 65520.0) return sign | 0x7c00u;  // 65520 = 65504 + ulp/2 ties to even (inf)
  if (a == 0.0) return sign;
  int e = std::ilogb(a);
  if (e < -14) e = -14;
  const double q = std::ldexp(a, 10 - e);  // a / 2^(e-10), exact
  double r = std::nearbyint(q);            // ties to even
  if (r < 1024.0) return sign | (uint16_t)r;  // subnormal (only with e == -14)
  if (r == 2048.0) { r = 1024.0; ++e; }
  return sign | (uint16_t)(((e + 15) << 10) | ((int)r - 1024));
}

// Reference binary32 -> bfloat16 (RNE) for non-NaN input: pick the nearer of
// the two bracketing bfloat16 values, ties to the even one.
uint16_t ref_float_to_bf16(float f) {
  const uint32_t u = to_bits(f);
  const uint32_t sign = u & 0x80000000u, mag = u & 0x7fffffffu;
  const uint32_t lo = mag & 0xffff0000u;
  if (lo == mag) return (uint16_t)((sign | mag) >> 16);  // exact (inf included)
  const uint32_t hi = lo + 0x10000u;
  const double a = (double)from_bits(mag);
  const double lo_d = (double)from_bits(lo);
  const double hi_d = hi == 0x7f800000u ? std::ldexp(1.0, 128) : (double)from_bits(hi);
  uint32_t pick;
  if (a - lo_d < hi_d - a) pick = lo;
  else if (a - lo_d > hi_d - a) pick = hi;
  else pick = ((lo >> 16) & 1u) ? hi : lo;
  return (uint16_t)((sign | pick) >> 16);
}

uint8_t ref_uint8(float v) {
  if (std::isnan(v)) return 0;
  const double c = v < 0.f ? 0.0 : (v > 255.f ? 255.0 : (double)v);
  return (uint8_t)std::nearbyint(c);
}

void test_half_known_values() {
  CHECK_EQ(float_to_half(1.0f), (uint16_t)0x3c00);
  CHECK_EQ(float_to_half(-1.0f), (uint16_t)0xbc00);
  CHECK_EQ(float_to_half(0.0f), (uint16_t)0x0000);
  CHECK_EQ(float_to_half(-0.0f), (uint16_t)0x8000);
  CHECK_EQ(float_to_half(0.5f), (uint16_t)0x3800);
  CHECK_EQ(float_to_half(65504.0f), (uint16_t)0x7bff);
  CHECK_EQ(float_to_half(65519.996f), (uint16_t)0x7bff);  // just below the tie
  CHECK_EQ(float_to_half(65520.0f), (uint16_t)0x7c00);    // tie -> even -> inf
  CHECK_EQ(float_to_half(-65520.0f), (uint16_t)0xfc00);
  CHECK_EQ(float_to_half(1e6f), (uint16_t)0x7c00);
  CHECK_EQ(float_to_half(std::numeric_limits<float>::infinity()), (uint16_t)0x7c00);
  CHECK_EQ(float_to_half(-std::numeric_limits<float>::infinity()), (uint16_t)0xfc00);
  CHECK_EQ(float_to_half(std::ldexp(1.0f, -14)), (uint16_t)0x0400);  // smallest normal
  CHECK_EQ(float_to_half(std::ldexp(1.0f, -24)), (uint16_t)0x0001);  // smallest subnormal
  CHECK_EQ(float_to_half(std::ldexp(1.0f, -25)), (uint16_t)0x0000);  // tie -> even (0)
  CHECK_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), (uint16_t)0x0001);
  CHECK_EQ(float_to_half(-std::ldexp(1.0f, -25)), (uint16_t)0x8000);
  CHECK_EQ(float_to_half(3.0f * std::ldexp(1.0f, -25)), (uint16_t)0x0002);  // tie 1.5 -> 2
  CHECK_EQ(float_to_half(5.0f * std::ldexp(1.0f, -25)), (uint16_t)0x0002);  // tie 2.5 -> 2
  CHECK_EQ(float_to_half(std::ldexp(1.0f, -30)), (uint16_t)0x0000);
  CHECK_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), (uint16_t)0x0000);
  // Largest subnormal + ulp/2 ties up to the smallest normal (odd -> even).
  CHECK_EQ(float_to_half(1023.5f * std::ldexp(1.0f, -24)), (uint16_t)0x0400);
  // 1 + 2^-11 is the tie between 0x3c00 and 0x3c01: even wins.
  CHECK_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), (uint16_t)0x3c00);
  CHECK_EQ(float_to_half(1.0f + 3.0f * std::ldexp(1.0f, -11)), (uint16_t)0x3c02);
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.0.
  CHECK_EQ(float_to_half(2.0f - std::ldexp(1.0f, -12)), (uint16_t)0x4000);
  CHECK(half_is_nan(float_to_half(std::numeric_limits<float>::quiet_NaN())));
  CHECK(half_is_nan(float_to_half(-std::numeric_limits<float>::quiet_NaN())));
  CHECK(half_is_nan(float_to_half(from_bits(0x7f800001u))));  // signalling, low payload
  CHECK(half_is_nan(float_to_half(from_bits(0x7fc00000u))));

  CHECK_EQ(half_to_float(0x3c00), 1.0f);
  CHECK_EQ(half_to_float(0x7bff), 65504.0f);
  CHECK_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  CHECK_EQ(half_to_float(0x03ff), 1023.0f * std::ldexp(1.0f, -24));
  CHECK_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  CHECK_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  CHECK(std::signbit(half_to_float(0x8000)) && half_to_float(0x8000) == 0.0f);
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(std::isnan(half_to_float(0x7c01)));
}

void test_half_exhaustive_round_trip() {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t bits = (uint16_t)h;
    const float f = half_to_float(bits);
    if (half_is_nan(bits)) {
      CHECK_MSG(std::isnan(f), "half 0x%04x should decode to NaN", h);
      CHECK_MSG(half_is_nan(float_to_half(f)), "NaN half 0x%04x should stay NaN", h);
      CHECK_MSG(std::signbit(f) == ((h & 0x8000u) != 0), "NaN sign of 0x%04x", h);
      continue;
    }
    // Independent decode: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m.
    const int e = (h >> 10) & 0x1f;
    const int m = h & 0x3ff;
    double expect = e == 0x1f ? HUGE_VAL : (e == 0 ? std::ldexp((double)m, -24) : std::ldexp(1024.0 + m, e - 25));
    if (h & 0x8000u) expect = -expect;
    CHECK_MSG((double)f == expect && std::signbit(f) == ((h & 0x8000u) != 0),
              "half_to_float(0x%04x) = %.9g, expected %.9g", h, (double)f, expect);
    CHECK_MSG(float_to_half(f) == bits, "round trip of half 0x%04x gave 0x%04x", h, float_to_half(f));
  }
}

// Every tie between two adjacent halves, and its float neighbours on either
// side, against the double-precision reference.
void test_half_ties_and_neighbours() {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = half_to_float((uint16_t)h);
    const double hi = h + 1 == 0x7c00 ? 65536.0 : (double)half_to_float((uint16_t)(h + 1));
    const float mid = (float)((lo + hi) / 2);  // exact: needs 12 significant bits
    CHECK_MSG((double)mid == (lo + hi) / 2, "midpoint above 0x%04x not exact", h);
    const float probes[3] = {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)};
    for (float p : probes) {
      for (float s : {p, -p}) {
        const uint16_t got = float_to_half(s), want = ref_float_to_half(s);
        CHECK_MSG(got == want, "float_to_half(%a) = 0x%04x, expected 0x%04x", (double)s, got, want);
      }
    }
  }
#if defined(__FLT16_MAX__)
  // The compiler's own _Float16 conversion is a second, hardware-backed oracle.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float mid = (float)(((double)half_to_float((uint16_t)h) +
                               (h + 1 == 0x7c00 ? 65536.0 : (double)half_to_float((uint16_t)(h + 1)))) / 2);
    const _Float16 hw = (_Float16)mid;
    uint16_t hw_bits;
    std::memcpy(&hw_bits, &hw, sizeof hw_bits);
    CHECK_MSG(float_to_half(mid) == hw_bits, "float_to_half(%a) = 0x%04x, _Float16 gives 0x%04x", (double)mid,
              float_to_half(mid), hw_bits);
  }
#endif
}

void test_half_random() {
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 1000000; ++i) {
    const float f = from_bits((uint32_t)rng());
    const uint16_t got = float_to_half(f);
    if (std::isnan(f)) {
      CHECK(half_is_nan(got));
      continue;
    }
    const uint16_t want = ref_float_to_half(f);
    CHECK_MSG(got == want, "float_to_half(%a) = 0x%04x, expected 0x%04x", (double)f, got, want);
  }
  // Concentrate on the half range, where most values are not extreme.
  std::uniform_real_distribution<float> dist(-70000.f, 70000.f);
  std::uniform_real_distribution<float> small(-1e-3f, 1e-3f);
  for (int i = 0; i < 300000; ++i) {
    const float f = (i & 1) ? dist(rng) : small(rng);
    const uint16_t got = float_to_half(f), want = ref_float_to_half(f);
    CHECK_MSG(got == want, "float_to_half(%a) = 0x%04x, expected 0x%04x", (double)f, got, want);
  }
}

void test_bfloat16() {
  CHECK_EQ(float_to_bfloat16(1.0f), (uint16_t)0x3f80);
  CHECK_EQ(float_to_bfloat16(-2.0f), (uint16_t)0xc000);
  CHECK_EQ(float_to_bfloat16(0.0f), (uint16_t)0x0000);
  CHECK_EQ(float_to_bfloat16(-0.0f), (uint16_t)0x8000);
  CHECK_EQ(float_to_bfloat16(std::numeric_limits<float>::infinity()), (uint16_t)0x7f80);
  CHECK_EQ(float_to_bfloat16(-std::numeric_limits<float>::infinity()), (uint16_t)0xff80);
  CHECK_EQ(float_to_bfloat16(from_bits(0x3f808000u)), (uint16_t)0x3f80);  // tie, even stays
  CHECK_EQ(float_to_bfloat16(from_bits(0x3f818000u)), (uint16_t)0x3f82);  // tie, odd rounds up
  CHECK_EQ(float_to_bfloat16(from_bits(0x3f808001u)), (uint16_t)0x3f81);  // above tie
  CHECK_EQ(float_to_bfloat16(from_bits(0x3f817fffu)), (uint16_t)0x3f81);  // below tie
  CHECK_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), (uint16_t)0x3f80);  // 1 + ulp/2
  CHECK_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), (uint16_t)0x7f80);  // overflows
  CHECK_EQ(float_to_bfloat16(from_bits(0x7f7f7fffu)), (uint16_t)0x7f7f);
  CHECK_EQ(float_to_bfloat16(from_bits(0x00000001u)), (uint16_t)0x0000);  // subnormal tiny
  CHECK_EQ(float_to_bfloat16(from_bits(0x00018000u)), (uint16_t)0x0002);  // subnormal tie, odd up
  CHECK(bf16_is_nan(float_to_bfloat16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(bf16_is_nan(float_to_bfloat16(-std::numeric_limits<float>::quiet_NaN())));
  CHECK(bf16_is_nan(float_to_bfloat16(from_bits(0x7f800001u))));  // payload only in low bits
  CHECK(bf16_is_nan(float_to_bfloat16(from_bits(0xff80ffffu))));  // would round to -inf if not special-cased
  CHECK(bf16_is_nan(float_to_bfloat16(from_bits(0x7fffffffu))));  // would carry into the sign
  CHECK_EQ(float_to_bfloat16(from_bits(0xff80ffffu)) & 0x8000u, 0x8000u);  // sign kept

  // Exhaustive: every bfloat16 decodes exactly and round-trips; every tie and
  // its neighbours rounds as the reference says.
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t bits = (uint16_t)b;
    const float f = bfloat16_to_float(bits);
    CHECK_MSG(to_bits(f) == (b << 16), "bfloat16_to_float(0x%04x) bits 0x%08x", b, to_bits(f));
    if (bf16_is_nan(bits)) {
      CHECK_MSG(bf16_is_nan(float_to_bfloat16(f)), "NaN bf16 0x%04x should stay NaN", b);
      continue;
    }
    CHECK_MSG(float_to_bfloat16(f) == bits, "round trip of bf16 0x%04x", b);
    if ((b & 0x7f80u) == 0x7f80u) continue;  // inf: no tie above
    for (uint32_t low : {0x8000u, 0x7fffu, 0x8001u, 0x0001u, 0xffffu}) {
      const float p = from_bits((b << 16) | low);
      const uint16_t got = float_to_bfloat16(p), want = ref_float_to_bf16(p);
      CHECK_MSG(got == want, "float_to_bfloat16(0x%08x) = 0x%04x, expected 0x%04x", (b << 16) | low, got, want);
    }
  }
  std::mt19937_64 rng(777);
  for (int i = 0; i < 1000000; ++i) {
    const float f = from_bits((uint32_t)rng());
    const uint16_t got = float_to_bfloat16(f);
    if (std::isnan(f)) {
      CHECK(bf16_is_nan(got));
      continue;
    }
    const uint16_t want = ref_float_to_bf16(f);
    CHECK_MSG(got == want, "float_to_bfloat16(%a) = 0x%04x, expected 0x%04x", (double)f, got, want);
  }
}

void test_load_store() {
  // uint8: clamp, NaN -> 0, round half to even (torch.round).
  struct Case { float in; int out; };
  const Case cases[] = {
      {0.f, 0},     {-0.f, 0},    {-1.f, 0},     {-1e30f, 0},   {0.49999997f, 0}, {0.5f, 0},   {0.5000001f, 1},
      {1.5f, 2},    {2.5f, 2},    {3.5f, 4},     {4.5f, 4},     {254.5f, 254},    {254.51f, 255},
      {255.f, 255}, {255.4f, 255}, {255.5f, 255}, {256.f, 255},  {1e30f, 255},
  };
  for (const Case& c : cases) {
    uint8_t v = 77;
    store_value(&v, c.in);
    CHECK_MSG(v == c.out, "store_value(uint8, %.9g) = %d, expected %d", (double)c.in, v, c.out);
  }
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  const int special_out[] = {0, 0, 255, 0};
  for (int i = 0; i < 4; ++i) {
    uint8_t v = 77;
    store_value(&v, specials[i]);
    CHECK_MSG(v == special_out[i], "store_value(uint8, special %d) = %d", i, v);
  }
  // Every x.5 in range, every integer, and random values against nearbyint.
  for (int i = 0; i <= 255; ++i) {
    uint8_t v;
    store_value(&v, (float)i);
    CHECK_EQ((int)v, i);
    store_value(&v, (float)i + 0.5f);
    CHECK_EQ((int)v, (int)ref_uint8((float)i + 0.5f));
    uint8_t back = (uint8_t)i;
    CHECK_EQ(load_value(&back), (float)i);
  }
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<float> dist(-20.f, 280.f);
  for (int i = 0; i < 200000; ++i) {
    const float f = dist(rng);
    uint8_t v;
    store_value(&v, f);
    CHECK_MSG(v == ref_uint8(f), "store_value(uint8, %.9g) = %d, expected %d", (double)f, v, ref_uint8(f));
  }

  // Half / BFloat16 / float wrappers agree with the raw codecs.
  for (float f : {0.f, 1.f, -3.25f, 0.1f, 65504.f, 1e-7f, 3.4e38f}) {
    Half h{0};
    BFloat16 b{0};
    float x = 0.f;
    store_value(&h, f);
    store_value(&b, f);
    store_value(&x, f);
    CHECK_EQ(h.bits, float_to_half(f));
    CHECK_EQ(b.bits, float_to_bfloat16(f));
    CHECK_EQ(x, f);
    CHECK_EQ(load_value(&h), half_to_float(h.bits));
    CHECK_EQ(load_value(&b), bfloat16_to_float(b.bits));
    CHECK_EQ(load_value(&x), f);
  }
  // Layout contract with c10::Half / c10::BFloat16.
  static_assert(sizeof(Half) == 2 && alignof(Half) == 2);
  static_assert(sizeof(BFloat16) == 2 && alignof(BFloat16) == 2);
}

void test_dispatch() {
  int seen = -1;
  size_t size = 0;
  auto probe = [&](auto tag) {
    using T = typename decltype(tag)::type;
    size = sizeof(T);
    if constexpr (std::is_same_v<T, uint8_t>) seen = 0;
    else if constexpr (std::is_same_v<T, Half>) seen = 1;
    else if constexpr (std::is_same_v<T, BFloat16>) seen = 2;
    else if constexpr (std::is_same_v<T, float>) seen = 3;
  };
  const DType all[] = {DType::UInt8, DType::Float16, DType::BFloat16, DType::Float32};
  const size_t sizes[] = {1, 2, 2, 4};
  for (int i = 0; i < 4; ++i) {
    seen = -1;
    dispatch_dtype(all[i], probe);
    CHECK_EQ(seen, i);
    CHECK_EQ(size, sizes[i]);
  }
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      size_t in_size = 0, out_size = 0;
      dispatch_in_out(all[i], all[j], [&](auto in_tag, auto out_tag) {
        in_size = sizeof(typename decltype(in_tag)::type);
        out_size = sizeof(typename decltype(out_tag)::type);
      });
      CHECK_EQ(in_size, sizes[i]);
      CHECK_EQ(out_size, sizes[j]);
    }
  }
  CHECK_EQ(ceil_div(0, 4), (int64_t)0);
  CHECK_EQ(ceil_div(1, 4), (int64_t)1);
  CHECK_EQ(ceil_div(8, 4), (int64_t)2);
  CHECK_EQ(ceil_div(9, 4), (int64_t)3);
}

}  // namespace

int main() {
  CHECK(std::fegetround() == FE_TONEAREST);
  test_half_known_values();
  test_half_exhaustive_round_trip();
  test_half_ties_and_neighbours();
  test_half_random();
  test_bfloat16();
  test_load_store();
  test_dispatch();
  return sslfast_test::finish("test_convert");
}
