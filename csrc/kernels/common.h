// Torch-free building blocks shared by every op family: the host/device
// qualifier, small dtype codecs and the counter-based random generator.
// Nothing here may include a torch or CUDA runtime header, so the kernels can
// be compiled into native tests under AddressSanitizer/UBSan.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SSLFAST_HD __host__ __device__ __forceinline__
#else
#define SSLFAST_HD inline
#endif

namespace sslfast {

// ---------------------------------------------------------------------------
// Element types. Half and BFloat16 are bit containers with the same layout as
// c10::Half / c10::BFloat16, so backends reinterpret torch's pointers.
// ---------------------------------------------------------------------------
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

enum class DType : int { UInt8 = 0, Float16 = 1, BFloat16 = 2, Float32 = 3 };

SSLFAST_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

SSLFAST_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// IEEE binary16 -> binary32, exact (subnormals, inf and NaN included).
SSLFAST_HD float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    // Subnormal: value = mantissa * 2^-24, exact in float.
    const float magnitude = (float)mantissa * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// binary32 -> binary16 with round-to-nearest-even, as torch and CUDA do.
SSLFAST_HD uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude >= 0x7f800000u)  // inf or NaN (keep NaN quiet)
    return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // rounds to inf
  if (magnitude < 0x38800000u) {
    // Result is subnormal or zero: round magnitude * 2^24 to an integer.
    if (magnitude < 0x33000000u) return sign;  // below half the smallest subnormal
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14..24
    uint32_t result = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return sign | (uint16_t)result;
  }
  uint32_t rebased = magnitude - 0x38000000u;  // exponent bias 127 -> 15
  const uint32_t round_bit = 0x1000u, lower = rebased & 0x1fffu;
  rebased >>= 13;
  if (lower > round_bit || (lower == round_bit && (rebased & 1u))) ++rebased;
  return sign | (uint16_t)rebased;
}

SSLFAST_HD float bfloat16_to_float(uint16_t b) { return bits_float((uint32_t)b << 16); }

// binary32 -> bfloat16 with round-to-nearest-even; NaN stays NaN.
SSLFAST_HD uint16_t float_to_bfloat16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// load_value / store_value convert between a storage type and float32 math.
SSLFAST_HD float load_value(const uint8_t* p) { return (float)*p; }
SSLFAST_HD float load_value(const Half* p) { return half_to_float(p->bits); }
SSLFAST_HD float load_value(const BFloat16* p) { return bfloat16_to_float(p->bits); }
SSLFAST_HD float load_value(const float* p) { return *p; }

SSLFAST_HD void store_value(float* p, float v) { *p = v; }
// uint8 outputs: clamp to [0, 255] (NaN -> 0), then round half to even
// (adding and subtracting 1.5 * 2^23 leaves the nearest integer under IEEE
// rounding), as torch.round does. The clamp is integer masks on the float's
// bits, not float compares, so that compilers vectorise loops of it: positive
// floats order as their bits, so [255, +inf] saturates, and NaN and anything
// with the sign bit fall outside both ranges and give 0.
SSLFAST_HD void store_value(uint8_t* p, float v) {
  const uint32_t u = float_bits(v);
  const uint32_t saturated = (uint32_t)(u >= 0x437f0000u) & (uint32_t)(u <= 0x7f800000u);  // 255.f .. +inf
  const float inside = bits_float(u & (0u - (uint32_t)(u < 0x437f0000u)));  // [+0, 255) kept, else +0
  const int32_t rounded = (int32_t)((inside + 12582912.f) - 12582912.f);
  *p = (uint8_t)((uint32_t)rounded | (0u - saturated));
}
SSLFAST_HD void store_value(Half* p, float v) { p->bits = float_to_half(v); }
SSLFAST_HD void store_value(BFloat16* p, float v) { p->bits = float_to_bfloat16(v); }

// Per-channel affine map applied while converting: out = in * scale + bias.
// Carried by value in kernel arguments, so no host-to-device copy (and no
// synchronisation) is needed to launch an op; count == 1 broadcasts.
constexpr int kMaxAffineChannels = 64;

struct ChannelAffine {
  int count;
  float scale[kMaxAffineChannels];
  float bias[kMaxAffineChannels];

  SSLFAST_HD int64_t slot(int64_t channel) const { return count == 1 ? 0 : channel; }
};

// ---------------------------------------------------------------------------
// Counter-based random numbers. A draw is a pure function of
// (seed, index, field): no state, so a sample's parameters do not depend on
// batch composition, device, worker count or call order.
// ---------------------------------------------------------------------------
SSLFAST_HD uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Each argument passes through its own mixing round, so (seed, index, field)
// triples that differ anywhere give unrelated outputs.
SSLFAST_HD uint64_t counter_hash(uint64_t seed, uint64_t index, uint64_t field) {
  return splitmix64(splitmix64(splitmix64(seed) ^ index) ^ field);
}

// Uniform integer in [0, n) by multiply-shift on the top 32 bits (bias < n/2^32).
SSLFAST_HD uint32_t hash_below(uint64_t hash, uint32_t n) {
  return (uint32_t)(((hash >> 32) * (uint64_t)n) >> 32);
}

// Uniform float in [0, 1) with 24 random bits.
SSLFAST_HD float hash_unit_float(uint64_t hash) {
  return (float)(hash >> 40) * 5.9604644775390625e-8f;
}

// ---------------------------------------------------------------------------
// Work splitting helpers used by both backends.
// ---------------------------------------------------------------------------
SSLFAST_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace sslfast
