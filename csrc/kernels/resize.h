// Separable resampling (box / bilinear / bicubic, antialiased like PIL and
// torch.nn.functional.interpolate(antialias=True)), super-resolution pairs,
// grayscale and Sobel gradients. Shared by the CPU and CUDA backends.
//
// Resampling is a weighted sum over a window of input samples along each
// axis. The weights of one axis depend only on (filter, antialias, in size,
// out size), so they are computed once per call into a table (one entry per
// output index: a window start and `taps` weights) and both passes read it.
#pragma once

#include <cmath>
#include <type_traits>

#include "common.h"

namespace sslfast {

enum class ResampleFilter : int { Box = 0, Bilinear = 1, Bicubic = 2 };

// a * b + c, rounded twice: nvcc would otherwise contract it into one fused
// multiply-add, and CPU (no contraction under -std=c++20) and CUDA results
// would differ in the last bit (enough to flip a uint8 rounding).
SSLFAST_HD float mul_add_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}

// a * b + c, rounded once: the resampling passes' multiply-accumulate. Fused
// on purpose (a single IEEE operation, so still identical everywhere): CUDA's
// __fmaf_rn, the CPU's vfmadd in the x86-64-v3 copies of the resampling loops
// (csrc/cpu/resize.cpp), std::fma (libm) in the baseline copy. One fused
// instruction with a memory operand per tap and 8 lanes, where a separate
// multiply and add took two.
SSLFAST_HD float fused_mul_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// What defines the weights of one axis.
struct ResampleSpec {
  ResampleFilter filter;
  bool antialias;    // widen bilinear/bicubic by the downscale factor (PIL, torch antialias=True)
  int64_t in_size;
  int64_t out_size;
  int64_t taps;      // window length: resample_taps(...)
};

// One axis's table: output index i reads input samples start[i] ..
// start[i] + taps - 1 with weights weight[i * entry_stride + k * tap_stride]
// (zero-padded, zeros stored as +0). Rows are entry-major; columns are
// tap-major, so the CPU's horizontal pass reads each tap's weights for a
// whole output row contiguously.
struct ResampleAxis {
  const int32_t* start;
  const float* weight;
  int64_t taps;
  int64_t entry_stride, tap_stride;
  SSLFAST_HD float w(int64_t i, int64_t k) const { return weight[i * entry_stride + k * tap_stride]; }
};

// Triangle (bilinear) kernel, support 1.
SSLFAST_HD double triangle_kernel(double x) {
  x = x < 0 ? -x : x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys cubic convolution kernel with parameter a, support 2. PIL and torch's
// antialiased path use a = -0.5; torch's plain bicubic uses a = -0.75.
SSLFAST_HD double cubic_kernel(double x, double a) {
  x = x < 0 ? -x : x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Ratio of input to output size: the footprint of one output sample.
SSLFAST_HD double resample_scale(int64_t in_size, int64_t out_size) {
  return (double)in_size / (double)out_size;
}

SSLFAST_HD bool resample_widened(ResampleFilter filter, bool antialias) {
  return filter != ResampleFilter::Box && antialias;
}

// Half-width of the widened kernel in input samples.
SSLFAST_HD double resample_support(ResampleFilter filter, double scale) {
  const double base = filter == ResampleFilter::Bicubic ? 2.0 : 1.0;
  return scale >= 1.0 ? base * scale : base;
}

SSLFAST_HD int64_t ceil_to_int(double v) {
  const int64_t t = (int64_t)v;
  return (double)t < v ? t + 1 : t;
}

SSLFAST_HD int64_t floor_to_int(double v) {
  const int64_t t = (int64_t)v;
  return (double)t > v ? t - 1 : t;
}

// Upper bound of the window length over all output indices, at most in_size.
SSLFAST_HD int64_t resample_taps(ResampleFilter filter, bool antialias, int64_t in_size, int64_t out_size) {
  const double scale = resample_scale(in_size, out_size);
  int64_t taps;
  if (filter == ResampleFilter::Box) {
    taps = ceil_to_int(scale) + 1;  // an interval of length scale touches at most this many samples
  } else if (antialias) {
    taps = 2 * ceil_to_int(resample_support(filter, scale)) + 1;
  } else {
    taps = filter == ResampleFilter::Bicubic ? 4 : 2;
  }
  return taps < in_size ? taps : in_size;
}

// Window of input indices [lo, hi) that output index i reads, and what the
// kernel needs to weigh them.
struct ResampleWindow {
  int64_t lo, hi;
  double center;    // widened: kernel centre in input coordinates
  double inv;       // widened: 1 / max(scale, 1)
  double position;  // plain: source position (align_corners=False)
  int64_t begin, end;  // box: output footprint [begin, end) in units of 1 / out_size
};

SSLFAST_HD ResampleWindow resample_window(const ResampleSpec& s, int64_t i) {
  const double scale = resample_scale(s.in_size, s.out_size);
  ResampleWindow w{};
  if (s.filter == ResampleFilter::Box) {
    // Exact: footprint [i * in / out, (i + 1) * in / out) in integers.
    w.begin = i * s.in_size;
    w.end = (i + 1) * s.in_size;
    w.lo = w.begin / s.out_size;
    w.hi = (w.end + s.out_size - 1) / s.out_size;
  } else if (s.antialias) {
    const double support = resample_support(s.filter, scale);
    w.inv = scale >= 1.0 ? 1.0 / scale : 1.0;
    w.center = scale * ((double)i + 0.5);
    w.lo = (int64_t)(w.center - support + 0.5);  // truncation, as PIL and torch
    w.hi = (int64_t)(w.center + support + 0.5);
  } else {
    w.position = scale * ((double)i + 0.5) - 0.5;
    if (s.filter == ResampleFilter::Bilinear && w.position < 0.0) w.position = 0.0;
    const int64_t base = floor_to_int(w.position);
    w.lo = s.filter == ResampleFilter::Bicubic ? base - 1 : base;
    w.hi = s.filter == ResampleFilter::Bicubic ? base + 3 : base + 2;
  }
  return w;
}

// Unnormalised weight of input index j (which may lie outside the image for
// the plain kernels; the caller clamps it to the border).
SSLFAST_HD double resample_weight(const ResampleSpec& s, const ResampleWindow& w, int64_t j) {
  if (s.filter == ResampleFilter::Box) {
    const int64_t a = j * s.out_size > w.begin ? j * s.out_size : w.begin;
    const int64_t b = (j + 1) * s.out_size < w.end ? (j + 1) * s.out_size : w.end;
    return b > a ? (double)(b - a) : 0.0;
  }
  if (s.antialias) {
    const double x = ((double)j - w.center + 0.5) * w.inv;
    return s.filter == ResampleFilter::Bicubic ? cubic_kernel(x, -0.5) : triangle_kernel(x);
  }
  const double x = (double)j - w.position;
  return s.filter == ResampleFilter::Bicubic ? cubic_kernel(x, -0.75) : triangle_kernel(x);
}

// Weights of output index i: fills start[0] and weight[k * stride] for k in
// 0 .. taps-1, summing to 1.
//  * widened bilinear/bicubic (PIL's and torch's antialias=True): the kernel
//    scaled by max(scale, 1) around centre scale * (i + 0.5), truncated to
//    the image and renormalised;
//  * plain bilinear/bicubic (antialias=False, as F.interpolate with
//    align_corners=False): 2 or 4 taps around scale * (i + 0.5) - 0.5, indices
//    clamped to the border (bilinear also clamps the position at 0);
//  * box: the exact overlap of the output footprint [i, i + 1) * scale with
//    each input sample (area averaging, OpenCV's INTER_AREA on downscaling).
SSLFAST_HD void resample_entry(const ResampleSpec& s, int64_t i, int32_t* start, float* weight, int64_t stride) {
  const ResampleWindow w = resample_window(s, i);
  // Widened and box windows stop at the border and are renormalised; the
  // plain kernels repeat the border sample instead.
  const bool clamp = !s.antialias && s.filter != ResampleFilter::Box;
  const int64_t lo = clamp ? w.lo : (w.lo < 0 ? 0 : w.lo);
  const int64_t hi = clamp ? w.hi : (w.hi > s.in_size ? s.in_size : w.hi);
  const int64_t first = lo < 0 ? 0 : (lo < s.in_size ? lo : s.in_size - 1);
  const int64_t origin = first < s.in_size - s.taps ? first : s.in_size - s.taps;
  *start = (int32_t)origin;
  double total = 0.0;
  for (int64_t j = lo; j < hi; ++j) total += resample_weight(s, w, j);
  for (int64_t k = 0; k < s.taps; ++k) weight[k * stride] = 0.f;
  if (total == 0.0) return;
  for (int64_t j = lo; j < hi; ++j) {
    const int64_t source = j < 0 ? 0 : (j >= s.in_size ? s.in_size - 1 : j);
    weight[(source - origin) * stride] += (float)(resample_weight(s, w, j) / total);
  }
  // A kernel zero can come out as -0; the passes tell skipped taps by +0 bits.
  for (int64_t k = 0; k < s.taps; ++k)
    if (weight[k * stride] == 0.f) weight[k * stride] = 0.f;
}

// ---------------------------------------------------------------------------
// Fixed point: uint8 input resampled to whole uint8 levels (uint8 output, or
// sr_pair's rounded LR) in integers, as PIL and torch's uint8 kernels do,
// but with a 16-bit intermediate that keeps `frac` fractional bits instead
// of rounding to 8 bits between the passes, so the result stays within one
// level of the exact one (rarely off at all). Integer sums are exact in any
// order, so the CPU's vector passes (csrc/cpu/resize_fixed.h, two taps per
// int16 multiply-add) and the element path below agree bit for bit.
//
// Each table entry's weights are quantised to int16 at its own precision
// `bits` (as many bits as fit), and sum to exactly 2^bits (a constant image
// stays constant). Per output element:
//   column = saturate_int16(round_shift(sum_ky wy * x, row bits - frac))
//   level  = clamp(round_shift(sum_kx wx * column, column bits + frac), 0, 255)
// ---------------------------------------------------------------------------
constexpr int kFixedRowBits = 22;     // at most: sum |wy| * 255 must stay below 2^31
constexpr int kFixedColumnBits = 15;  // at most: sum |wx| * 2^15 must stay below 2^31
constexpr int32_t kFixedRowSumLimit = 1 << 23;
constexpr int32_t kFixedColumnSumLimit = 65536 - 1024;

// Fractional bits of the intermediate: 7 where all weights are non-negative
// (255 * 2^7 fits int16), 6 for bicubic, whose overshoot needs headroom.
SSLFAST_HD int fixed_frac_bits(ResampleFilter filter) { return filter == ResampleFilter::Bicubic ? 6 : 7; }

// v / 2^s rounded half up (arithmetic shift: floor for negative v too).
SSLFAST_HD int32_t round_shift(int32_t v, int s) { return s > 0 ? (v + (1 << (s - 1))) >> s : v; }

SSLFAST_HD int32_t saturate_int16(int32_t v) { return v < -32768 ? -32768 : (v > 32767 ? 32767 : v); }

SSLFAST_HD int32_t clamp_level(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

// One axis's quantised table: weight[i * taps + k] (entry-major) and bits[i].
struct FixedAxis {
  const int16_t* weight;
  const int16_t* bits;
  int64_t taps;
  SSLFAST_HD int32_t w(int64_t i, int64_t k) const { return weight[i * taps + k]; }
};

// Quantises taps float weights (w[k * stride]) into q[0 .. taps-1] at the
// largest precision in [min_bits, max_bits] whose weights fit int16 and
// whose sum of magnitudes stays within sum_limit; returns that precision.
// The rounding residual goes to the largest weight, so the weights sum to
// exactly 2^bits (unless all are zero).
SSLFAST_HD int quantize_weights(const float* w, int64_t stride, int64_t taps, int min_bits, int max_bits,
                                int32_t sum_limit, int16_t* q) {
  int64_t largest = 0;
  double total = 0.0;
  for (int64_t k = 0; k < taps; ++k) {
    const double v = w[k * stride];
    total += v;
    const double l = w[largest * stride];
    if ((v < 0 ? -v : v) > (l < 0 ? -l : l)) largest = k;
  }
  for (int bits = max_bits;; --bits) {
    const double one = (double)(1LL << bits);
    int64_t sum = 0;
    for (int64_t k = 0; k < taps; ++k) sum += floor_to_int((double)w[k * stride] * one + 0.5);
    const int64_t residual = total != 0.0 ? ((int64_t)1 << bits) - sum : 0;
    int64_t peak = 0, magnitude = 0;
    for (int64_t k = 0; k < taps; ++k) {
      const int64_t v = floor_to_int((double)w[k * stride] * one + 0.5) + (k == largest ? residual : 0);
      const int64_t m = v < 0 ? -v : v;
      magnitude += m;
      peak = m > peak ? m : peak;
      q[k] = (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
    }
    if (bits <= min_bits || (peak <= 32767 && magnitude <= sum_limit)) return bits;
  }
}

// Entry k of the two tables laid out back to back: rows (out_h entries,
// entry-major weights) then columns (out_w entries, tap-major weights). With
// `fixed` (resample_fixed_size int16s), also the quantised tables: row
// weights, column weights (both entry-major), then each entry's bits.
SSLFAST_HD void resample_table_entry(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start,
                                     float* weight, int64_t k, int16_t* fixed = nullptr) {
  const int frac = fixed_frac_bits(rows.filter);
  const int64_t bits = rows.out_size * rows.taps + cols.out_size * cols.taps;  // offset of the bits
  if (k < rows.out_size) {
    float* w = weight + k * rows.taps;
    resample_entry(rows, k, start + k, w, 1);
    if (fixed)
      fixed[bits + k] = (int16_t)quantize_weights(w, 1, rows.taps, frac, kFixedRowBits, kFixedRowSumLimit,
                                                  fixed + k * rows.taps);
  } else {
    const int64_t i = k - rows.out_size;
    float* w = weight + rows.out_size * rows.taps + i;
    resample_entry(cols, i, start + rows.out_size + i, w, cols.out_size);
    if (fixed) {
      int16_t* q = fixed + rows.out_size * rows.taps + i * cols.taps;
      fixed[bits + k] =
          (int16_t)quantize_weights(w, cols.out_size, cols.taps, 0, kFixedColumnBits, kFixedColumnSumLimit, q);
    }
  }
}

// int16s of the quantised tables resample_table_entry fills.
SSLFAST_HD int64_t resample_fixed_size(const ResampleSpec& rows, const ResampleSpec& cols) {
  return rows.out_size * (rows.taps + 1) + cols.out_size * (cols.taps + 1);
}

// The two axes of tables filled by resample_table_entry.
SSLFAST_HD ResampleAxis row_axis(const ResampleSpec& rows, const int32_t* start, const float* weight) {
  return {start, weight, rows.taps, rows.taps, 1};
}
SSLFAST_HD ResampleAxis column_axis(const ResampleSpec& rows, const ResampleSpec& cols, const int32_t* start,
                                    const float* weight) {
  return {start + rows.out_size, weight + rows.out_size * rows.taps, cols.taps, 1, cols.out_size};
}
SSLFAST_HD FixedAxis fixed_row_axis(const ResampleSpec& rows, const ResampleSpec& cols, const int16_t* fixed) {
  return {fixed, fixed + rows.out_size * rows.taps + cols.out_size * cols.taps, rows.taps};
}
SSLFAST_HD FixedAxis fixed_column_axis(const ResampleSpec& rows, const ResampleSpec& cols, const int16_t* fixed) {
  return {fixed + rows.out_size * rows.taps, fixed + rows.out_size * (rows.taps + 1) + cols.out_size * cols.taps,
          cols.taps};
}

// Rounds to a whole uint8 level in [0, 255] (as store_value does), as float.
SSLFAST_HD float round_to_level(float v) {
  uint8_t level;
  store_value(&level, v);
  return (float)level;
}

// ---------------------------------------------------------------------------
// Resize: [planes, in_h, in_w * interleave] -> [planes, out_h, out_w *
// interleave]. NCHW: plane = (b, c), interleave 1; channels_last (NHWC):
// plane = b, and a row holds `interleave` = C channels per pixel.
// ---------------------------------------------------------------------------
struct ResizeArgs {
  const void* input;     // contiguous [planes, in_h, in_w * interleave]
  void* output;          // contiguous [planes, out_h, out_w * interleave]
  ResampleAxis rows, cols;
  ChannelAffine affine;  // dtype scaling and normalisation, fused
  bool quantize;         // round the resampled value to a whole uint8 level before the affine map
  bool fixed;            // uint8 input, quantize: resample in fixed point (rows_q, cols_q, frac)
  FixedAxis rows_q, cols_q;
  int frac;
  int64_t planes, channels, interleave, in_h, in_w, out_h, out_w;
  SSLFAST_HD int64_t in_row() const { return in_w * interleave; }
  SSLFAST_HD int64_t out_row() const { return out_w * interleave; }
  // Affine slot of element `element` (index within its row) of plane `plane`.
  SSLFAST_HD int64_t slot(int64_t plane, int64_t element) const {
    return affine.slot((plane * interleave + element % interleave) % channels);
  }
};

// The final conversion of a resampled value: optional rounding to a uint8
// level, then the affine map (scale and bias of the output's channel).
SSLFAST_HD float resize_output(float v, bool quantize, float scale, float bias) {
  return mul_add_rn(quantize ? round_to_level(v) : v, scale, bias);
}

// Stores a whole level of the fixed-point path: uint8 as it is (uint8 output
// has the identity affine map), other types through the affine map.
template <typename Out>
SSLFAST_HD void store_level(Out* p, int32_t level, float scale, float bias) {
  if constexpr (std::is_same_v<Out, uint8_t>) {
    *p = (uint8_t)level;
  } else {
    store_value(p, mul_add_rn((float)level, scale, bias));
  }
}

// Vertical fixed-point sum of one column: taps rows of `top` (row stride
// `stride`) with the quantised weights of row entry yo, as the int16
// intermediate.
SSLFAST_HD int32_t fixed_column(const ResizeArgs& a, const uint8_t* top, int64_t stride, int64_t yo) {
  int32_t sum = 0;
  for (int64_t ky = 0; ky < a.rows_q.taps; ++ky) sum += a.rows_q.w(yo, ky) * (int32_t)top[ky * stride];
  return saturate_int16(round_shift(sum, a.rows_q.bits[yo] - a.frac));
}

// One output element of the fixed-point path (see FixedAxis).
template <typename Out>
SSLFAST_HD void resize_fixed_element(const ResizeArgs& a, int64_t flat) {
  const int64_t in_row = a.in_row(), out_row = a.out_row(), il = a.interleave;
  const int64_t element = flat % out_row, xo = element / il;
  const int64_t yo = (flat / out_row) % a.out_h;
  const int64_t plane = flat / (out_row * a.out_h);
  const uint8_t* top = static_cast<const uint8_t*>(a.input) + plane * a.in_h * in_row +
                       (int64_t)a.rows.start[yo] * in_row + (int64_t)a.cols.start[xo] * il + element % il;
  int32_t acc = 0;
  for (int64_t kx = 0; kx < a.cols_q.taps; ++kx) acc += a.cols_q.w(xo, kx) * fixed_column(a, top + kx * il, in_row, yo);
  const int64_t slot = a.slot(plane, element);
  store_level(static_cast<Out*>(a.output) + flat, clamp_level(round_shift(acc, a.cols_q.bits[xo] + a.frac)),
              a.affine.scale[slot], a.affine.bias[slot]);
}

// One output element (CUDA: one thread each). Sums column by column in the
// same order as resize_block (vertical pass, then horizontal), so both entry
// points round identically.
template <typename In, typename Out>
SSLFAST_HD void resize_element(const ResizeArgs& a, int64_t flat) {
  if constexpr (std::is_same_v<In, uint8_t>) {
    if (a.fixed) {
      resize_fixed_element<Out>(a, flat);
      return;
    }
  }
  const int64_t in_row = a.in_row(), out_row = a.out_row(), il = a.interleave;
  const int64_t element = flat % out_row, xo = element / il;
  const int64_t yo = (flat / out_row) % a.out_h;
  const int64_t plane = flat / (out_row * a.out_h);
  const In* src = static_cast<const In*>(a.input) + plane * a.in_h * in_row;
  const In* top = src + (int64_t)a.rows.start[yo] * in_row + (int64_t)a.cols.start[xo] * il + element % il;
  float acc = 0.f;
  for (int64_t kx = 0; kx < a.cols.taps; ++kx) {
    const float wx = a.cols.w(xo, kx);
    if (wx == 0.f) continue;
    float column = 0.f;
    for (int64_t ky = 0; ky < a.rows.taps; ++ky) {
      const float wy = a.rows.w(yo, ky);
      if (wy != 0.f) column = fused_mul_add(wy, load_value(top + ky * in_row + kx * il), column);
    }
    acc = fused_mul_add(wx, column, acc);
  }
  const int64_t slot = a.slot(plane, element);
  store_value(static_cast<Out*>(a.output) + flat, resize_output(acc, a.quantize, a.affine.scale[slot],
                                                                a.affine.bias[slot]));
}

// CPU path: blocks of up to kResizeBlockRows output rows of one plane. The
// vertical pass fills the block's column sums, a transpose turns them into
// rows along x, and the horizontal pass then runs as a second vertical pass,
// whose inner loops are contiguous and vectorise; a zero-weight tap is a
// branch per tap rather than per element. Each output sums its taps in the
// same order as resize_element, so the two paths agree bit for bit.
constexpr int64_t kResizeBlockRows = 32;

// dst[l] = fused_mul_add over taps t < N of (w[t], first[t * stride + l]),
// starting from dst[l], taps in order: one sweep over dst for N taps.
template <int N, typename In>
SSLFAST_HD void accumulate_taps(const In* first, int64_t stride, const float (&w)[4], int64_t n,
                                float* __restrict__ dst) {
  for (int64_t l = 0; l < n; ++l) {
    float v = dst[l];
    for (int t = 0; t < N; ++t) v = fused_mul_add(w[t], load_value(first + t * stride + l), v);
    dst[l] = v;
  }
}

// dst[l] = sum over k < taps of weight(k) * first[k * stride + l], l < n,
// accumulated tap by tap in order, zero-weight taps skipped (as
// resize_element does). Each run of up to four consecutive nonzero weights
// goes in one sweep over dst: the same sums in the same order, with a
// fraction of the loads and stores of dst (a sweep per tap was load/store
// bound).
template <typename In, typename Weight>
SSLFAST_HD void weighted_sum_lines(const In* first, int64_t stride, int64_t taps, Weight weight, int64_t n,
                                   float* __restrict__ dst) {
  for (int64_t l = 0; l < n; ++l) dst[l] = 0.f;
  for (int64_t k = 0; k < taps;) {
    float w[4] = {0.f, 0.f, 0.f, 0.f};
    int run = 0;
    while (run < 4 && k + run < taps && (w[run] = weight(k + run)) != 0.f) ++run;
    const In* line = first + k * stride;
    if (run == 4) accumulate_taps<4>(line, stride, w, n, dst);
    else if (run == 3) accumulate_taps<3>(line, stride, w, n, dst);
    else if (run == 2) accumulate_taps<2>(line, stride, w, n, dst);
    else if (run == 1) accumulate_taps<1>(line, stride, w, n, dst);
    k += run + (run < 4);  // past the run and the zero that ended it
  }
}

// dst[c * rows + r] = src[r * cols + c]. On the CPU, 8x8 tiles go through
// registers (GCC/Clang vector shuffles: 24 shuffles per 64 floats, where an
// element-wise copy took a load and a store each and dominated the block
// path); the rest element by element.
SSLFAST_HD void transpose_block(const float* __restrict__ src, int64_t rows, int64_t cols, float* __restrict__ dst) {
  int64_t tiled_rows = 0, tiled_cols = 0;
#if !defined(__CUDA_ARCH__) && defined(__GNUC__)
  typedef float Vec8 __attribute__((vector_size(32), aligned(4)));  // unaligned loads and stores
  tiled_rows = rows - rows % 8;
  tiled_cols = cols - cols % 8;
  for (int64_t r0 = 0; r0 < tiled_rows; r0 += 8)
    for (int64_t c0 = 0; c0 < tiled_cols; c0 += 8) {
      const float* tile = src + r0 * cols + c0;
      const Vec8 v0 = *(const Vec8*)tile, v1 = *(const Vec8*)(tile + cols), v2 = *(const Vec8*)(tile + 2 * cols),
                 v3 = *(const Vec8*)(tile + 3 * cols), v4 = *(const Vec8*)(tile + 4 * cols),
                 v5 = *(const Vec8*)(tile + 5 * cols), v6 = *(const Vec8*)(tile + 6 * cols),
                 v7 = *(const Vec8*)(tile + 7 * cols);
      // Interleave pairs of rows, then pairs of pairs, then 128-bit halves.
      const Vec8 t0 = __builtin_shufflevector(v0, v1, 0, 8, 1, 9, 4, 12, 5, 13);
      const Vec8 t1 = __builtin_shufflevector(v0, v1, 2, 10, 3, 11, 6, 14, 7, 15);
      const Vec8 t2 = __builtin_shufflevector(v2, v3, 0, 8, 1, 9, 4, 12, 5, 13);
      const Vec8 t3 = __builtin_shufflevector(v2, v3, 2, 10, 3, 11, 6, 14, 7, 15);
      const Vec8 t4 = __builtin_shufflevector(v4, v5, 0, 8, 1, 9, 4, 12, 5, 13);
      const Vec8 t5 = __builtin_shufflevector(v4, v5, 2, 10, 3, 11, 6, 14, 7, 15);
      const Vec8 t6 = __builtin_shufflevector(v6, v7, 0, 8, 1, 9, 4, 12, 5, 13);
      const Vec8 t7 = __builtin_shufflevector(v6, v7, 2, 10, 3, 11, 6, 14, 7, 15);
      const Vec8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
      const Vec8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
      const Vec8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
      const Vec8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
      const Vec8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
      const Vec8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
      const Vec8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
      const Vec8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
      float* out = dst + c0 * rows + r0;
      *(Vec8*)out = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
      *(Vec8*)(out + rows) = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
      *(Vec8*)(out + 2 * rows) = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
      *(Vec8*)(out + 3 * rows) = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
      *(Vec8*)(out + 4 * rows) = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
      *(Vec8*)(out + 5 * rows) = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
      *(Vec8*)(out + 6 * rows) = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
      *(Vec8*)(out + 7 * rows) = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
    }
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < tiled_rows ? tiled_cols : 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// Input rows one block of output rows reads at most: consecutive windows
// start at most floor(in_h / out_h) + 1 rows apart.
SSLFAST_HD int64_t block_input_rows(const ResizeArgs& a) {
  const int64_t rows = (kResizeBlockRows - 1) * (a.in_h / a.out_h + 1) + a.rows.taps;
  return rows < a.in_h ? rows : a.in_h;
}

// Scratch floats resize_block needs: the block's input rows as float, column
// sums, their transpose (later the finished rows), and the horizontal sums.
SSLFAST_HD int64_t resize_block_scratch(const ResizeArgs& a) {
  const int64_t in_row = a.in_row(), out_row = a.out_row();
  return block_input_rows(a) * in_row + kResizeBlockRows * (in_row + (in_row > out_row ? in_row : out_row) + out_row);
}

// Output rows [y0, y0 + count) of plane `plane`, count <= kResizeBlockRows.
// Rows are `interleave` channels per pixel: the vertical pass does not care,
// and the horizontal pass reads channel c of pixel x at element x *
// interleave + c.
template <typename In, typename Out>
SSLFAST_HD void resize_block(const ResizeArgs& a, int64_t plane, int64_t y0, int64_t count, float* scratch) {
  const int64_t in_row = a.in_row(), out_row = a.out_row(), il = a.interleave;
  const int64_t wider = in_row > out_row ? in_row : out_row;
  float* converted = scratch;                             // [block_input_rows, in_row] input rows as float
  float* columns = converted + block_input_rows(a) * in_row;  // [count, in_row] column sums
  float* across = columns + count * in_row;               // [in_row, count] the same, transposed; then [count, out_row]
  float* sums = across + count * wider;                   // [out_row, count] horizontal sums
  const ResampleAxis& rows = a.rows;
  const int64_t first_row = rows.start[y0];
  const In* src = static_cast<const In*>(a.input) + (plane * a.in_h + first_row) * in_row;
  // Each input row feeds several output rows: convert it to float once, so
  // the vertical pass's loads need no conversion.
  const float* lines = converted;
  if constexpr (std::is_same_v<In, float>) {
    lines = src;
  } else {
    const int64_t total = (rows.start[y0 + count - 1] + rows.taps - first_row) * in_row;
    for (int64_t i = 0; i < total; ++i) converted[i] = load_value(src + i);
  }
  for (int64_t r = 0; r < count; ++r) {
    const int64_t yo = y0 + r;
    weighted_sum_lines(lines + (rows.start[yo] - first_row) * in_row, in_row, rows.taps,
                       [&](int64_t ky) { return rows.w(yo, ky); }, in_row, columns + r * in_row);
  }
  transpose_block(columns, count, in_row, across);
  const ResampleAxis& cols = a.cols;
  for (int64_t e = 0; e < out_row; ++e) {
    const int64_t xo = e / il;
    weighted_sum_lines(across + ((int64_t)cols.start[xo] * il + e % il) * count, il * count, cols.taps,
                       [&](int64_t kx) { return cols.w(xo, kx); }, count, sums + e * count);
  }
  transpose_block(sums, out_row, count, across);  // back to [count, out_row]
  // Locals, not a's fields: a uint8 store may alias anything, and the loop
  // would reload them on every element.
  Out* __restrict__ out = static_cast<Out*>(a.output) + (plane * a.out_h + y0) * out_row;
  const float* __restrict__ values = across;
  const bool quantize = a.quantize;
  if (il == 1 || a.affine.count == 1) {  // one affine map for the whole block
    const int64_t slot = a.slot(plane, 0), total = count * out_row;
    const float scale = a.affine.scale[slot], bias = a.affine.bias[slot];
    for (int64_t i = 0; i < total; ++i) store_value(out + i, resize_output(values[i], quantize, scale, bias));
    return;
  }
  for (int64_t i = 0; i < count * out_row; ++i) {
    const int64_t slot = a.slot(plane, i % out_row);
    store_value(out + i, resize_output(values[i], quantize, a.affine.scale[slot], a.affine.bias[slot]));
  }
}

// Work items of the CPU path: (plane, block of rows) pairs.
SSLFAST_HD int64_t resize_blocks_per_plane(const ResizeArgs& a) { return ceil_div(a.out_h, kResizeBlockRows); }

// The output rows of work item `item`: rows [y0, y0 + count) of plane `plane`.
struct BlockRows {
  int64_t plane, y0, count;
};
SSLFAST_HD BlockRows block_rows(const ResizeArgs& a, int64_t item) {
  const int64_t per_plane = resize_blocks_per_plane(a);
  const int64_t y0 = (item % per_plane) * kResizeBlockRows;
  return {item / per_plane, y0, a.out_h - y0 < kResizeBlockRows ? a.out_h - y0 : kResizeBlockRows};
}

template <typename In, typename Out>
SSLFAST_HD void resize_block_item(const ResizeArgs& a, int64_t item, float* scratch) {
  const BlockRows b = block_rows(a, item);
  resize_block<In, Out>(a, b.plane, b.y0, b.count, scratch);
}

// ---------------------------------------------------------------------------
// Super-resolution pair: from one uint8 HR batch, the normalised HR target
// and the LR input resampled by an integer factor, in one pass over the input.
// ---------------------------------------------------------------------------
struct SrPairArgs {
  ResizeArgs lr;   // input = the HR batch, output = the LR batch
  void* hr;        // [planes, in_h, in_w], same affine as the LR output
  int64_t factor;  // in_h == factor * out_h, in_w == factor * out_w
};

// Element `flat` of the concatenation [HR elements, LR elements] (CUDA: one
// launch covers both outputs).
template <typename Out>
SSLFAST_HD void sr_pair_element(const SrPairArgs& a, int64_t flat) {
  const int64_t plane_size = a.lr.in_h * a.lr.in_w;
  const int64_t hr_numel = a.lr.planes * plane_size;
  if (flat < hr_numel) {
    const int64_t slot = a.lr.affine.slot((flat / plane_size) % a.lr.channels);
    const float v = load_value(static_cast<const uint8_t*>(a.lr.input) + flat);
    store_value(static_cast<Out*>(a.hr) + flat, mul_add_rn(v, a.lr.affine.scale[slot], a.lr.affine.bias[slot]));
  } else {
    resize_element<uint8_t, Out>(a.lr, flat - hr_numel);
  }
}

// The HR rows that LR rows [y0, y0 + count) of plane `plane` cover.
template <typename Out>
SSLFAST_HD void sr_pair_hr_rows(const SrPairArgs& a, int64_t plane, int64_t y0, int64_t count) {
  const int64_t slot = a.lr.affine.slot(plane % a.lr.channels);
  const float scale = a.lr.affine.scale[slot], bias = a.lr.affine.bias[slot];
  const int64_t first = (plane * a.lr.in_h + y0 * a.factor) * a.lr.in_w, total = count * a.factor * a.lr.in_w;
  const uint8_t* __restrict__ in = static_cast<const uint8_t*>(a.lr.input) + first;
  Out* __restrict__ hr = static_cast<Out*>(a.hr) + first;
  for (int64_t i = 0; i < total; ++i) store_value(hr + i, mul_add_rn(load_value(in + i), scale, bias));
}

// LR block `item` (as resize_block_item) and the HR rows it covers (CPU work
// item of the float path; the fixed-point one is in csrc/cpu/resize_fixed.h).
template <typename Out>
SSLFAST_HD void sr_pair_block_item(const SrPairArgs& a, int64_t item, float* scratch) {
  const BlockRows b = block_rows(a.lr, item);
  sr_pair_hr_rows<Out>(a, b.plane, b.y0, b.count);
  resize_block<uint8_t, Out>(a.lr, b.plane, b.y0, b.count, scratch);
}

// ---------------------------------------------------------------------------
// Grayscale and Sobel: gray = sum_c weight[c] * (x_c * pre.scale[c] + pre.bias[c]).
// ---------------------------------------------------------------------------
struct GrayArgs {
  const void* input;     // contiguous [batch, channels, height, width]
  void* output;          // grayscale: [batch, 1, h, w]; sobel: [batch, 2, h, w] (d/dx, d/dy)
  float weight[3];       // per input channel (channels is 1 or 3)
  ChannelAffine pre;     // per input channel, before mixing: range scaling and (sobel) normalisation
  ChannelAffine post;    // on the gray value (grayscale only; count 1)
  int64_t batch, channels, height, width;
};

// Gray values of `count` pixels from pixel `offset` (y * width + x) of an
// image with Channels channels into out[0 .. count-1]. Channels is a
// compile-time count so that the CPU row loop keeps the per-channel
// constants in registers and vectorises.
template <int Channels, typename In>
SSLFAST_HD void gray_pixels(const GrayArgs& a, const In* __restrict__ image, int64_t offset, int64_t count,
                            float* __restrict__ out) {
  const int64_t plane = a.height * a.width;
  float scale[Channels], bias[Channels], weight[Channels];
  for (int c = 0; c < Channels; ++c) {
    const int64_t slot = a.pre.slot(c);
    scale[c] = a.pre.scale[slot];
    bias[c] = a.pre.bias[slot];
    weight[c] = a.weight[c];
  }
  for (int64_t x = 0; x < count; ++x) {
    float g = 0.f;
    for (int c = 0; c < Channels; ++c)
      g = mul_add_rn(weight[c], mul_add_rn(load_value(image + c * plane + offset + x), scale[c], bias[c]), g);
    out[x] = g;
  }
}

// gray_pixels for the image's channel count (1 or 3).
template <typename In>
SSLFAST_HD void gray_span(const GrayArgs& a, const In* image, int64_t offset, int64_t count, float* out) {
  if (a.channels == 3) {
    gray_pixels<3>(a, image, offset, count, out);
  } else {
    gray_pixels<1>(a, image, offset, count, out);
  }
}

// Gray value of pixel `offset` (y * width + x) of image b.
template <typename In>
SSLFAST_HD float gray_at(const GrayArgs& a, const In* image, int64_t offset) {
  float g;
  gray_span(a, image, offset, 1, &g);
  return g;
}

// Output pixels [flat, flat + count) of grayscale, all in one image (CPU:
// rows of pixels through `gray` scratch of count floats; CUDA: count 1).
template <typename In, typename Out>
SSLFAST_HD void grayscale_span(const GrayArgs& a, int64_t flat, int64_t count, float* __restrict__ gray) {
  const int64_t plane = a.height * a.width;
  gray_span(a, static_cast<const In*>(a.input) + (flat / plane) * a.channels * plane, flat % plane, count, gray);
  Out* __restrict__ out = static_cast<Out*>(a.output) + flat;
  for (int64_t i = 0; i < count; ++i) store_value(out + i, mul_add_rn(gray[i], a.post.scale[0], a.post.bias[0]));
}

template <typename In, typename Out>
SSLFAST_HD void grayscale_element(const GrayArgs& a, int64_t flat) {
  float g;
  grayscale_span<In, Out>(a, flat, 1, &g);
}

// Gray values of row y of image b into line[1 .. width], with the zero
// padding of the Sobel stencil in line[0] and line[width + 1] (and the whole
// line for rows outside the image): width + 2 floats.
template <typename In>
SSLFAST_HD void gray_row(const GrayArgs& a, int64_t b, int64_t y, float* __restrict__ line) {
  line[0] = line[a.width + 1] = 0.f;
  if (y < 0 || y >= a.height) {
    for (int64_t x = 1; x <= a.width; ++x) line[x] = 0.f;
    return;
  }
  gray_span(a, static_cast<const In*>(a.input) + b * a.channels * a.height * a.width, y * a.width, a.width, line + 1);
}

// 3x3 Sobel of a gray neighbourhood g[row][col] (row 0 above, col 0 left):
// d/dx = right minus left and d/dy = below minus above, each with the
// (1, 2, 1) smoothing across (OpenCV's and kornia's orientation).
SSLFAST_HD void sobel_3x3(const float g[3][3], float* dx, float* dy) {
  *dx = ((g[0][2] - g[0][0]) + 2.f * (g[1][2] - g[1][0])) + (g[2][2] - g[2][0]);
  *dy = ((g[2][0] - g[0][0]) + 2.f * (g[2][1] - g[0][1])) + (g[2][2] - g[0][2]);
}

// Both gradients of pixel `flat` of the [batch, height, width] grid (CUDA).
template <typename In, typename Out>
SSLFAST_HD void sobel_element(const GrayArgs& a, int64_t flat) {
  const int64_t plane = a.height * a.width;
  const int64_t b = flat / plane, y = (flat % plane) / a.width, x = flat % a.width;
  const In* image = static_cast<const In*>(a.input) + b * a.channels * plane;
  float g[3][3];
  for (int dy = 0; dy < 3; ++dy)
    for (int dx = 0; dx < 3; ++dx) {
      const int64_t yy = y + dy - 1, xx = x + dx - 1;
      const bool inside = yy >= 0 && yy < a.height && xx >= 0 && xx < a.width;
      g[dy][dx] = inside ? gray_at(a, image, yy * a.width + xx) : 0.f;
    }
  float gx, gy;
  sobel_3x3(g, &gx, &gy);
  Out* out = static_cast<Out*>(a.output) + b * 2 * plane + y * a.width + x;
  store_value(out, gx);
  store_value(out + plane, gy);
}

// Both gradients of row y of image b from the padded gray rows (gray_row)
// above, at and below it (CPU, which keeps the three rows rolling down the
// image).
template <typename Out>
SSLFAST_HD void sobel_row(const GrayArgs& a, int64_t b, int64_t y, const float* __restrict__ above,
                          const float* __restrict__ middle, const float* __restrict__ below) {
  const int64_t plane = a.height * a.width, width = a.width;
  Out* __restrict__ out_x = static_cast<Out*>(a.output) + b * 2 * plane + y * width;
  Out* __restrict__ out_y = out_x + plane;
  for (int64_t x = 0; x < width; ++x) {
    const float g[3][3] = {{above[x], above[x + 1], above[x + 2]},
                           {middle[x], middle[x + 1], middle[x + 2]},
                           {below[x], below[x + 1], below[x + 2]}};
    float gx, gy;
    sobel_3x3(g, &gx, &gy);
    store_value(out_x + x, gx);
    store_value(out_y + x, gy);
  }
}

// Backend entry points, defined in csrc/cpu/resize.cpp and csrc/cuda/resize.cu.
// resample_tables fills start[rows.out_size + cols.out_size],
// weight[rows.out_size * rows.taps + cols.out_size * cols.taps] and
// fixed[resample_fixed_size(rows, cols)].
namespace cpu {
void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight,
                     int16_t* fixed);
void resize(const ResizeArgs& args, DType in, DType out);
void sr_pair(const SrPairArgs& args, DType out);
void grayscale(const GrayArgs& args, DType in, DType out);
void sobel(const GrayArgs& args, DType in, DType out);
}  // namespace cpu
namespace cuda {
void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight,
                     int16_t* fixed);
void resize(const ResizeArgs& args, DType in, DType out);
void sr_pair(const SrPairArgs& args, DType out);
void grayscale(const GrayArgs& args, DType in, DType out);
void sobel(const GrayArgs& args, DType in, DType out);
}  // namespace cuda

}  // namespace sslfast
