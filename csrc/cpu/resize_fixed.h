// CPU block path of the fixed-point resampling (uint8 in, whole levels out;
// the per-element definition is resize_fixed_element in
// csrc/kernels/resize.h). Torch-free, so the native tests run it against the
// element path.
//
// A work item is a block of up to kResizeBlockRows output rows of one plane:
//  1. vertical pass: each output row's int16 intermediate over the whole
//     input row width, straight from the uint8 rows;
//  2. transpose to [input element][block row], so that
//  3. the horizontal pass runs along the block's rows as vector lanes (taps
//     at a fixed distance, no gathers, any interleave);
//  4. transpose the levels back and store them (uint8 output: packed to
//     bytes straight from the transpose, in chunks of kStoreChunk pixels).
// With AVX2 both passes take two taps per vpmaddwd (int16 pairs into int32),
// 16 lanes at a time; the portable copies do the same sums one element at a
// time. Integer sums are exact, so every copy gives the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#include "../kernels/resize.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SSLFAST_FIXED_AVX2 1
#define SSLFAST_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define SSLFAST_FIXED_AVX2 0
#endif

namespace sslfast::fixed {

// Lanes of the transposed block: kResizeBlockRows rounded up to 16.
constexpr int64_t kLanes = (kResizeBlockRows + 15) / 16 * 16;

// int16s of scratch one block needs: the vertical sums [kLanes, in_row],
// their transpose, the horizontal levels [out_row, kLanes] and theirs.
inline int64_t block_scratch(const ResizeArgs& a) { return 2 * kLanes * (a.in_row() + a.out_row()); }

// First and one-past-last nonzero tap of entry i (windows are padded to the
// longest one with zeros at either end).
inline void nonzero_taps(const FixedAxis& axis, int64_t i, int64_t* first, int64_t* last) {
  int64_t lo = 0, hi = axis.taps;
  while (lo < hi && axis.w(i, lo) == 0) ++lo;
  while (hi > lo && axis.w(i, hi - 1) == 0) --hi;
  *first = lo;
  *last = hi;
}

// Vertical pass of output row yo over elements [e0, e1): `top` is the
// window's first input row.
inline void vertical_portable(const ResizeArgs& a, const uint8_t* top, int64_t yo, int64_t e0, int64_t e1,
                              int16_t* __restrict__ dst) {
  for (int64_t e = e0; e < e1; ++e) dst[e] = (int16_t)fixed_column(a, top + e, a.in_row(), yo);
}

// Horizontal pass of output elements [e0, e1) over all kLanes lanes of the
// transposed vertical sums `across` ([in_row, kLanes]) into dst [out_row, kLanes].
inline void horizontal_portable(const ResizeArgs& a, const int16_t* across, int64_t e0, int64_t e1,
                                int16_t* __restrict__ dst) {
  const int64_t il = a.interleave;
  for (int64_t e = e0; e < e1; ++e) {
    const int64_t xo = e / il;
    const int16_t* first = across + ((int64_t)a.cols.start[xo] * il + e % il) * kLanes;
    const int shift = a.cols_q.bits[xo] + a.frac;
    for (int64_t l = 0; l < kLanes; ++l) {
      int32_t acc = 0;
      for (int64_t k = 0; k < a.cols_q.taps; ++k) acc += a.cols_q.w(xo, k) * (int32_t)first[k * il * kLanes + l];
      dst[e * kLanes + l] = (int16_t)clamp_level(round_shift(acc, shift));
    }
  }
}

inline void transpose_portable(const int16_t* __restrict__ src, int64_t rows, int64_t cols,
                               int16_t* __restrict__ dst) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

constexpr int64_t kStoreChunk = 32;  // output pixels per horizontal pass + store of uint8 output (a multiple of 16)
constexpr int64_t kMaxPairs = 16;  // longer horizontal windows take the portable loop

// Per output pixel of the horizontal pass, built once per task: the offset
// of its first nonzero tap's line in the transposed block, the number of tap
// pairs (-1: too many, the portable loop takes it), the final shift and the
// weight pairs as vpmaddwd takes them.
constexpr int64_t kPlanStride = kMaxPairs + 3;

inline int64_t plan_size(const ResizeArgs& a) { return a.out_w * kPlanStride; }

inline void plan_columns(const ResizeArgs& a, int32_t* plan) {
  const int64_t il = a.interleave;
  for (int64_t xo = 0; xo < a.out_w; ++xo) {
    int32_t* p = plan + xo * kPlanStride;
    int64_t k0, k1;
    nonzero_taps(a.cols_q, xo, &k0, &k1);
    if (k1 == k0) k0 = 0, k1 = 1;  // an all-zero entry: one pair of zero weights (horizontal_avx2 takes >= 1)
    const int64_t pairs = (k1 - k0 + 1) / 2;
    p[0] = (int32_t)(((int64_t)a.cols.start[xo] + k0) * il * kLanes);
    p[1] = pairs > kMaxPairs ? -1 : (int32_t)pairs;
    p[2] = a.cols_q.bits[xo] + a.frac;
    for (int64_t j = 0; j < pairs && j < kMaxPairs; ++j) {
      const int64_t k = k0 + 2 * j;
      const int32_t w1 = k + 1 < k1 ? a.cols_q.w(xo, k + 1) : 0;
      p[3 + j] = (int32_t)(((uint32_t)(uint16_t)a.cols_q.w(xo, k)) | ((uint32_t)(uint16_t)w1 << 16));
    }
  }
}

#if SSLFAST_FIXED_AVX2

// Weights k and k + 1 as the int16 pair vpmaddwd multiplies with.
SSLFAST_TARGET_AVX2 inline __m256i weight_pair(int32_t w0, int32_t w1) {
  return _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)w0) | ((uint32_t)(uint16_t)w1 << 16)));
}

// (lo, hi) += the products of a and b's int16 lanes interleaved with the pair:
// lo holds lanes 0-3 and 8-11, hi 4-7 and 12-15, as packs_epi32 puts back.
SSLFAST_TARGET_AVX2 inline void madd_pair(__m256i a, __m256i b, __m256i w, __m256i* lo, __m256i* hi) {
  *lo = _mm256_add_epi32(*lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
  *hi = _mm256_add_epi32(*hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
}

// (lo, hi) = the products of the first pair (as madd_pair onto zeros, one add less).
SSLFAST_TARGET_AVX2 inline void madd_first_pair(__m256i a, __m256i b, __m256i w, __m256i* lo, __m256i* hi) {
  *lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w);
  *hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w);
}

// round_shift of both halves by `shift`, packed (saturating) to 16 int16 lanes in order.
SSLFAST_TARGET_AVX2 inline __m256i round_pack(__m256i lo, __m256i hi, int shift) {
  const __m256i half = _mm256_set1_epi32(shift > 0 ? 1 << (shift - 1) : 0);
  const __m128i count = _mm_cvtsi32_si128(shift);
  return _mm256_packs_epi32(_mm256_sra_epi32(_mm256_add_epi32(lo, half), count),
                            _mm256_sra_epi32(_mm256_add_epi32(hi, half), count));
}

SSLFAST_TARGET_AVX2 inline void vertical_avx2(const ResizeArgs& a, const uint8_t* top, int64_t yo,
                                              int16_t* __restrict__ dst) {
  const int64_t in_row = a.in_row();
  int64_t k0, k1;
  nonzero_taps(a.rows_q, yo, &k0, &k1);
  const int shift = a.rows_q.bits[yo] - a.frac;
  int64_t e = 0;
  for (; e + 16 <= in_row; e += 16) {
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    for (int64_t k = k0; k < k1; k += 2) {
      const uint8_t* p = top + k * in_row + e;
      const __m256i x0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i*)p));
      const bool pair = k + 1 < k1;
      const __m256i x1 = pair ? _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i*)(p + in_row)))
                              : _mm256_setzero_si256();
      const __m256i w = weight_pair(a.rows_q.w(yo, k), pair ? a.rows_q.w(yo, k + 1) : 0);
      if (k == k0) {
        madd_first_pair(x0, x1, w, &lo, &hi);
      } else {
        madd_pair(x0, x1, w, &lo, &hi);
      }
    }
    _mm256_storeu_si256((__m256i*)(dst + e), round_pack(lo, hi, shift));
  }
  vertical_portable(a, top, yo, e, in_row, dst);
}

// An odd last tap pairs with weight 0: its partner line is read (it lies
// inside the block: windows never end past the input) and multiplied by 0.
// Output pixels [x0, x1) into dst ([(x1 - x0) * interleave, kLanes]).
template <bool Clamp>
SSLFAST_TARGET_AVX2 inline void horizontal_avx2(const ResizeArgs& a, const int32_t* plan, const int16_t* across,
                                                int64_t x0, int64_t x1, int16_t* __restrict__ dst) {
  const int64_t il = a.interleave, stride = il * kLanes;
  const __m256i zero = _mm256_setzero_si256(), top = _mm256_set1_epi16(255);
  for (int64_t xo = x0; xo < x1; ++xo) {
    const int32_t* p = plan + xo * kPlanStride;
    const int64_t pairs = p[1];
    if (pairs < 0) {
      horizontal_portable(a, across, xo * il, (xo + 1) * il, dst - x0 * il * kLanes);
      continue;
    }
    const int shift = p[2];
    for (int64_t c = 0; c < il; ++c) {
      const int16_t* first = across + p[0] + c * kLanes;
      int16_t* out = dst + ((xo - x0) * il + c) * kLanes;
      for (int64_t l = 0; l < kLanes; l += 16) {
        __m256i lo, hi;
        madd_first_pair(_mm256_loadu_si256((const __m256i*)(first + l)),
                        _mm256_loadu_si256((const __m256i*)(first + stride + l)), _mm256_set1_epi32(p[3]), &lo, &hi);
        for (int64_t j = 1; j < pairs; ++j) {
          const int16_t* q = first + 2 * j * stride + l;
          madd_pair(_mm256_loadu_si256((const __m256i*)q), _mm256_loadu_si256((const __m256i*)(q + stride)),
                    _mm256_set1_epi32(p[3 + j]), &lo, &hi);
        }
        const __m256i packed = round_pack(lo, hi, shift);
        // store_levels_avx2's unsigned saturation is the clamp for uint8 output.
        _mm256_storeu_si256((__m256i*)(out + l), Clamp ? _mm256_min_epi16(_mm256_max_epi16(packed, zero), top) : packed);
      }
    }
  }
}

// Transposes eight int16 8x8 tiles in place, each 128-bit half on its own:
// on return v[k] holds column k of the tile(s) v[0..7] held as rows.
SSLFAST_TARGET_AVX2 inline void transpose_8x8_halves(__m256i v[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi16(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi16(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      u[4 * i + 2 * j] = _mm256_unpacklo_epi32(t[4 * i + j], t[4 * i + j + 2]);
      u[4 * i + 2 * j + 1] = _mm256_unpackhi_epi32(t[4 * i + j], t[4 * i + j + 2]);
    }
  // u[0..3]: columns (0,1), (2,3), (4,5), (6,7) of rows 0-3; u[4..7] of rows 4-7.
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = _mm256_unpacklo_epi64(u[i], u[i + 4]);
    v[2 * i + 1] = _mm256_unpackhi_epi64(u[i], u[i + 4]);
  }
}

// rows x cols int16 -> cols x rows: 8 x 16 tiles as two 8x8 tiles per
// register, then an 8 x 8 tile in the low halves, the rest element by element.
SSLFAST_TARGET_AVX2 inline void transpose_avx2(const int16_t* __restrict__ src, int64_t rows, int64_t cols,
                                               int16_t* __restrict__ dst) {
  const int64_t tiled_rows = rows - rows % 8, tiled_cols = cols - cols % 8;
  __m256i v[8];
  for (int64_t r0 = 0; r0 < tiled_rows; r0 += 8) {
    int64_t c0 = 0;
    for (; c0 + 16 <= tiled_cols; c0 += 16) {
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_si256((const __m256i*)(src + (r0 + i) * cols + c0));
      transpose_8x8_halves(v);
      for (int k = 0; k < 8; ++k) {
        _mm_storeu_si128((__m128i*)(dst + (c0 + k) * rows + r0), _mm256_castsi256_si128(v[k]));
        _mm_storeu_si128((__m128i*)(dst + (c0 + 8 + k) * rows + r0), _mm256_extracti128_si256(v[k], 1));
      }
    }
    if (c0 < tiled_cols) {
      for (int i = 0; i < 8; ++i)
        v[i] = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(src + (r0 + i) * cols + c0)));
      transpose_8x8_halves(v);
      for (int k = 0; k < 8; ++k) _mm_storeu_si128((__m128i*)(dst + (c0 + k) * rows + r0), _mm256_castsi256_si128(v[k]));
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < tiled_rows ? tiled_cols : 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// uint8 output rows [0, count) of the block from the levels of `width`
// elements ([width, kLanes], not yet clamped): the transpose of
// transpose_avx2, packed to bytes with unsigned saturation (the clamp to
// [0, 255]) and stored straight into the rows (row stride out_row).
SSLFAST_TARGET_AVX2 inline void store_levels_avx2(const int16_t* __restrict__ levels, int64_t width, int64_t count,
                                                  int64_t out_row, uint8_t* __restrict__ out) {
  const int64_t tiled = width - width % 16;
  __m256i v[8];
  for (int64_t e0 = 0; e0 < tiled; e0 += 16)
    for (int64_t l0 = 0; l0 < count; l0 += 8) {
      // Low halves: elements e0..e0+7, high halves: e0+8..e0+15, lanes l0..l0+7.
      for (int i = 0; i < 8; ++i)
        v[i] = _mm256_loadu2_m128i((const __m128i*)(levels + (e0 + 8 + i) * kLanes + l0),
                                   (const __m128i*)(levels + (e0 + i) * kLanes + l0));
      transpose_8x8_halves(v);
      // v[k]: elements e0..e0+15 of lane l0 + k; two lanes per pack.
      for (int k = 0; k < 8; k += 2) {
        const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(v[k], v[k + 1]), 0xd8);
        if (l0 + k < count) _mm_storeu_si128((__m128i*)(out + (l0 + k) * out_row + e0), _mm256_castsi256_si128(bytes));
        if (l0 + k + 1 < count)
          _mm_storeu_si128((__m128i*)(out + (l0 + k + 1) * out_row + e0), _mm256_extracti128_si256(bytes, 1));
      }
    }
  for (int64_t l = 0; l < count; ++l)
    for (int64_t e = tiled; e < width; ++e) out[l * out_row + e] = (uint8_t)clamp_level(levels[e * kLanes + l]);
}
#endif

// Output rows [y0, y0 + count) of plane `plane`, count <= kResizeBlockRows,
// a.fixed set; scratch: block_scratch(a) int16s. Avx2: the vector passes
// (the caller checks the processor has them), with plan from plan_columns.
template <typename Out, bool Avx2>
inline void resize_block(const ResizeArgs& a, const int32_t* plan, int64_t plane, int64_t y0, int64_t count,
                         int16_t* scratch) {
  const int64_t in_row = a.in_row(), out_row = a.out_row();
  int16_t* columns = scratch;                   // [kLanes, in_row]
  int16_t* across = columns + kLanes * in_row;  // [in_row, kLanes]
  int16_t* levels = across + kLanes * in_row;   // [out_row, kLanes]
  int16_t* rows = levels + kLanes * out_row;    // [kLanes, out_row]
  const uint8_t* src = static_cast<const uint8_t*>(a.input) + plane * a.in_h * in_row;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t yo = y0 + r;
    const uint8_t* top = src + (int64_t)a.rows.start[yo] * in_row;
#if SSLFAST_FIXED_AVX2
    if constexpr (Avx2) {
      vertical_avx2(a, top, yo, columns + r * in_row);
      continue;
    }
#endif
    vertical_portable(a, top, yo, 0, in_row, columns + r * in_row);
  }
  // Lanes past the block's rows: zeros, so every lane holds defined values.
  std::memset(columns + count * in_row, 0, sizeof(int16_t) * (size_t)((kLanes - count) * in_row));
#if SSLFAST_FIXED_AVX2
  if constexpr (Avx2) {
    transpose_avx2(columns, kLanes, in_row, across);
    if constexpr (std::is_same_v<Out, uint8_t>) {  // uint8 output: identity affine map
      // In chunks of output pixels, so that the levels stay in L1.
      uint8_t* out = static_cast<uint8_t*>(a.output) + (plane * a.out_h + y0) * out_row;
      for (int64_t x0 = 0; x0 < a.out_w; x0 += kStoreChunk) {
        const int64_t x1 = a.out_w - x0 < kStoreChunk ? a.out_w : x0 + kStoreChunk;
        horizontal_avx2<false>(a, plan, across, x0, x1, levels);
        store_levels_avx2(levels, (x1 - x0) * a.interleave, count, out_row, out + x0 * a.interleave);
      }
      return;
    }
    horizontal_avx2<true>(a, plan, across, 0, a.out_w, levels);
    transpose_avx2(levels, out_row, kLanes, rows);
  }
#endif
  if constexpr (!Avx2 || !SSLFAST_FIXED_AVX2) {
    transpose_portable(columns, kLanes, in_row, across);
    horizontal_portable(a, across, 0, out_row, levels);
    transpose_portable(levels, out_row, kLanes, rows);
  }
  Out* __restrict__ out = static_cast<Out*>(a.output) + (plane * a.out_h + y0) * out_row;
  const int16_t* __restrict__ values = rows;
  if (a.interleave == 1 || a.affine.count == 1) {  // one affine map for the whole block
    const int64_t slot = a.slot(plane, 0), total = count * out_row;
    const float scale = a.affine.scale[slot], bias = a.affine.bias[slot];
    for (int64_t i = 0; i < total; ++i) store_level(out + i, values[i], scale, bias);
    return;
  }
  for (int64_t i = 0; i < count * out_row; ++i) {
    const int64_t slot = a.slot(plane, i % out_row);
    store_level(out + i, values[i], a.affine.scale[slot], a.affine.bias[slot]);
  }
}

// The resampling a job's column plan is made for: the resize itself, or sr_pair's LR.
inline const ResizeArgs& resampled(const ResizeArgs& a) { return a; }
inline const ResizeArgs& resampled(const SrPairArgs& a) { return a.lr; }

// Work item `item` (as resize_block_item) of resize.
template <typename Out, bool Avx2>
inline void block_item(const ResizeArgs& a, const int32_t* plan, int64_t item, int16_t* scratch) {
  const BlockRows b = block_rows(a, item);
  resize_block<Out, Avx2>(a, plan, b.plane, b.y0, b.count, scratch);
}

// Work item `item` of sr_pair: the LR block and the HR rows it covers.
template <typename Out, bool Avx2>
inline void block_item(const SrPairArgs& a, const int32_t* plan, int64_t item, int16_t* scratch) {
  const BlockRows b = block_rows(a.lr, item);
  sr_pair_hr_rows<Out>(a, b.plane, b.y0, b.count);
  resize_block<Out, Avx2>(a.lr, plan, b.plane, b.y0, b.count, scratch);
}

// Whether this processor runs the AVX2 copies.
inline bool have_avx2() {
#if SSLFAST_FIXED_AVX2
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

}  // namespace sslfast::fixed
