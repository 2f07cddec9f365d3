// Colour family (colorization, split-brain): sRGB <-> CIE Lab, and the soft
// encoding of ab values onto the k nearest of Q quantised ab bins. Shared by
// the CPU and CUDA backends.
//
// Lab follows the sRGB standard and CIE 1976 with the D65 / 2 degree white:
// the sRGB transfer function with the 0.04045 threshold, the sRGB -> XYZ
// matrix and f(t) = cbrt(t) above 0.008856, 7.787 t + 16/116 below, as
// scikit-image and kornia define them. L is in [0, 100].
#pragma once

#include <math.h>

#include <type_traits>

#include "common.h"

// The per-pixel functions of the CPU conversion loops must inline into them
// for the loops to vectorise, in every dtype instantiation: force it on the
// host (SSLFAST_HD already forces it under nvcc).
#if !defined(__CUDACC__) && defined(__GNUC__)
#define SSLFAST_HD_PIXEL inline __attribute__((always_inline))
#else
#define SSLFAST_HD_PIXEL SSLFAST_HD
#endif

namespace sslfast {

// ---------------------------------------------------------------------------
// Constants (computed in double at compile time, rounded once to float).
// ---------------------------------------------------------------------------
struct Matrix3 {
  double m[3][3];
};

// Linear sRGB -> CIE XYZ (D65).
SSLFAST_HD constexpr Matrix3 xyz_from_rgb() {
  return {{{0.412453, 0.357580, 0.180423}, {0.212671, 0.715160, 0.072169}, {0.019334, 0.119193, 0.950227}}};
}

// The D65 white point (2 degree observer) that XYZ is divided by.
SSLFAST_HD constexpr double white(int row) { return row == 0 ? 0.95047 : (row == 1 ? 1.0 : 1.08883); }

// Linear sRGB -> white-normalised XYZ: rows of xyz_from_rgb divided by the white.
SSLFAST_HD constexpr Matrix3 normalized_xyz_from_rgb() {
  Matrix3 out = xyz_from_rgb();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) out.m[i][j] /= white(i);
  return out;
}

// White-normalised XYZ -> linear sRGB: the inverse of the matrix above.
SSLFAST_HD constexpr Matrix3 rgb_from_normalized_xyz() {
  const Matrix3 a = normalized_xyz_from_rgb();
  const auto& m = a.m;
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  Matrix3 inv{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // Cofactor of m[j][i] (transposed adjugate), by cyclic indices.
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      inv.m[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
    }
  return inv;
}

constexpr float kLabEpsilon = 0.008856f;          // f(t) switches to cbrt above this
constexpr float kLabSlope = 7.787f;               // f(t) = kLabSlope * t + 16/116 below it
constexpr float kLabOffset = 16.0f / 116.0f;
constexpr float kLabInverseThreshold = 6.0f / 29.0f;  // f value at the switch, for the inverse
constexpr float kSrgbThreshold = 0.04045f;        // sRGB value where the transfer curve turns linear
constexpr float kLinearThreshold = 0.0031308f;    // the same point in linear light
constexpr float kGrayscaleChroma = 5.0f;          // |a| or |b| above this: the pixel has colour

// ---------------------------------------------------------------------------
// Branch-free building blocks. The CPU pixel loops must vectorise, and a
// compiler keeps a real branch around `c ? a : b` when it can sink the work of
// one side into it (float math may trap, so it will not then run it
// speculatively): these combine both sides through bit masks instead.
// ---------------------------------------------------------------------------
SSLFAST_HD float select_bits(bool take_a, float a, float b) {
  const uint32_t mask = 0u - (uint32_t)take_a;
  return bits_float((float_bits(a) & mask) | (float_bits(b) & ~mask));
}

// Floating inputs are clamped to [0, 1]. A NaN lands on 0 or 1 by its sign
// bit (the Python wrappers reject NaN before it gets here).
SSLFAST_HD_PIXEL float clamp_unit(float v) {
  const uint32_t bits = float_bits(v), one = float_bits(1.0f);
  const uint32_t keep = (bits >> 31) - 1u;  // all ones unless negative
  const uint32_t over = 0u - (uint32_t)((int32_t)bits > (int32_t)one);
  return bits_float((bits & keep & ~over) | (one & over));
}

// Root estimates from the exponent bits: bits(x^p) ~ (1 - p) bits(1.0f) +
// p bits(x), computed in float so it vectorises; the constants are tuned for
// the smallest worst-case error of the estimate.
SSLFAST_HD float root_estimate(float x, float magic, float p) {
  return bits_float((uint32_t)(int32_t)(magic + (float)(int32_t)float_bits(x) * p));
}

// Cube root of t >= 0 without a division or a libm call: the estimate of
// r = t^(-1/3) (within 3.5%), two Newton steps r <- r (4 - t r^3) / 3
// (relative error e -> 2e^2: 3e-3, then 1e-5), then y = t r^2 and one Newton
// step on y itself, y <- y + (t - y^3) r^2 / 3. Within 2 float ulps of cbrt(t)
// for t in [1e-30, 1e30]; t = 0 gives 0.
SSLFAST_HD_PIXEL float cube_root(float t) {
  const float third = t * (1.0f / 3.0f);  // the 1/3 folded in: r <- r (4/3 - (t/3) r^3)
  float r = root_estimate(t, 1419916000.0f, -1.0f / 3.0f);
  for (int step = 0; step < 2; ++step) r = r * ((4.0f / 3.0f) - (third * r) * (r * r));  // t = 0: no inf * 0
  const float r2 = r * r, y = t * r2;
  return y + (t - y * y * y) * (r2 * (1.0f / 3.0f));
}

// Fifth root of x > 0 the same way: r = x^(-1/5) within 3.2%, two Newton
// steps r <- r (6 - x r^5) / 5 (e -> 3e^2), then y = x r^4 and one step on y.
SSLFAST_HD_PIXEL float fifth_root(float x) {
  const float fifth = x * 0.2f;  // the 1/5 folded in: r <- r (6/5 - (x/5) r^5)
  float r = root_estimate(x, 1277930000.0f, -0.2f);
  for (int step = 0; step < 2; ++step) {
    const float r2 = r * r;
    r = r * (1.2f - ((fifth * r) * r2) * r2);
  }
  const float r4 = (r * r) * (r * r), y = x * r4, y2 = y * y;
  return y + (x - y2 * y2 * y) * (r4 * 0.2f);
}

// ---------------------------------------------------------------------------
// sRGB transfer function.
// ---------------------------------------------------------------------------
// Exact sRGB -> linear, in double: fills the uint8 table (host only).
inline double srgb_to_linear_exact(double v) {
  return v > 0.04045 ? pow((v + 0.055) / 1.055, 2.4) : v / 12.92;
}

// uint8 inputs are linearised through a table of the 256 values v / 255,
// computed once on the host and handed to kernels by pointer.
constexpr int kLinearTableSize = 256;

inline void fill_linear_table(float* table) {
  for (int i = 0; i < kLinearTableSize; ++i) table[i] = (float)srgb_to_linear_exact(i / 255.0);
}

// sRGB -> linear for v in [0, 1] in float arithmetic alone (no table gather,
// no libm), so it vectorises: x^2.4 = x^2 (x^(1/5))^2. Within 5e-7 of the
// exact curve.
SSLFAST_HD_PIXEL float srgb_to_linear(float v) {
  const float x = (v + 0.055f) * (1.0f / 1.055f);
  const float root = fifth_root(x);
  return select_bits(v > kSrgbThreshold, x * x * (root * root), v * (1.0f / 12.92f));
}

SSLFAST_HD_PIXEL float linearize(const uint8_t* p, const float* table) { return table[*p]; }

template <typename T>
SSLFAST_HD_PIXEL float linearize(const T* p, const float*) {
  return srgb_to_linear(clamp_unit(load_value(p)));
}

// Linear -> sRGB (used by lab_to_rgb; negative input stays on the linear segment).
SSLFAST_HD float linear_to_srgb(float v) {
  return v > kLinearThreshold ? 1.055f * powf(v, 1.0f / 2.4f) - 0.055f : 12.92f * v;
}

// ---------------------------------------------------------------------------
// Lab non-linearity.
// ---------------------------------------------------------------------------
SSLFAST_HD_PIXEL float lab_f(float t) {
  return select_bits(t > kLabEpsilon, cube_root(t), kLabSlope * t + kLabOffset);
}

SSLFAST_HD float lab_f_inverse(float f) {
  return f > kLabInverseThreshold ? f * f * f : (f - kLabOffset) * (1.0f / kLabSlope);
}

struct Lab {
  float L, a, b;
};

SSLFAST_HD_PIXEL Lab linear_rgb_to_lab(float r, float g, float b) {
  constexpr Matrix3 m = normalized_xyz_from_rgb();
  const float fx = lab_f((float)m.m[0][0] * r + (float)m.m[0][1] * g + (float)m.m[0][2] * b);
  const float fy = lab_f((float)m.m[1][0] * r + (float)m.m[1][1] * g + (float)m.m[1][2] * b);
  const float fz = lab_f((float)m.m[2][0] * r + (float)m.m[2][1] * g + (float)m.m[2][2] * b);
  return {116.0f * fy - 16.0f, 500.0f * (fx - fy), 200.0f * (fy - fz)};
}

// L alone needs only Y: one dot product and one cube root.
SSLFAST_HD_PIXEL float linear_rgb_to_lightness(float r, float g, float b) {
  constexpr Matrix3 m = normalized_xyz_from_rgb();
  return 116.0f * lab_f((float)m.m[1][0] * r + (float)m.m[1][1] * g + (float)m.m[1][2] * b) - 16.0f;
}

struct Rgb {
  float r, g, b;
};

// Lab -> linear sRGB (unclamped: out-of-gamut Lab gives values outside [0, 1]).
SSLFAST_HD Rgb lab_to_linear_rgb(float L, float a, float b) {
  constexpr Matrix3 m = rgb_from_normalized_xyz();
  const float fy = (L + 16.0f) * (1.0f / 116.0f);
  const float x = lab_f_inverse(fy + a * (1.0f / 500.0f));
  const float y = lab_f_inverse(fy);
  const float z = lab_f_inverse(fy - b * (1.0f / 200.0f));
  return {(float)m.m[0][0] * x + (float)m.m[0][1] * y + (float)m.m[0][2] * z,
          (float)m.m[1][0] * x + (float)m.m[1][1] * y + (float)m.m[1][2] * z,
          (float)m.m[2][0] * x + (float)m.m[2][1] * y + (float)m.m[2][2] * z};
}

SSLFAST_HD bool has_colour(float a, float b) {
  return fabsf(a) > kGrayscaleChroma || fabsf(b) > kGrayscaleChroma;
}

// ---------------------------------------------------------------------------
// Planar image conversions: one pixel of a [B, 3, H, W] batch per call.
// ---------------------------------------------------------------------------
struct LabArgs {
  const void* input;    // [batch, 3, pixels] contiguous (RGB for rgb_to_lab, Lab for lab_to_rgb)
  void* output;         // [batch, 3, pixels] contiguous
  const float* table;   // kLinearTableSize entries (rgb_to_lab only)
  int64_t batch;
  int64_t pixels;       // H * W
  bool clip;            // lab_to_rgb: clamp the result to [0, 1]
};

// Pixel p of one image: `in` and `out` point at the image's first plane. The
// restrict-qualified planes let the CPU loops over p vectorise.
template <typename In, typename Out>
SSLFAST_HD_PIXEL void rgb_to_lab_at(const In* __restrict in, Out* __restrict out, const float* __restrict table,
                                    int64_t pixels, int64_t p) {
  const Lab lab = linear_rgb_to_lab(linearize(in + p, table), linearize(in + pixels + p, table),
                                    linearize(in + 2 * pixels + p, table));
  store_value(out + p, lab.L);
  store_value(out + pixels + p, lab.a);
  store_value(out + 2 * pixels + p, lab.b);
}

template <typename In, typename Out>
SSLFAST_HD void lab_to_rgb_at(const In* __restrict in, Out* __restrict out, int64_t pixels, int64_t p, bool clip) {
  const Rgb rgb = lab_to_linear_rgb(load_value(in + p), load_value(in + pixels + p), load_value(in + 2 * pixels + p));
  // A uint8 output is in [0, 255]; store_value clamps it there.
  const float scale = std::is_same_v<Out, uint8_t> ? 255.0f : 1.0f;
  const float channel[3] = {linear_to_srgb(rgb.r), linear_to_srgb(rgb.g), linear_to_srgb(rgb.b)};
  for (int c = 0; c < 3; ++c) store_value(out + c * pixels + p, (clip ? clamp_unit(channel[c]) : channel[c]) * scale);
}

// By flat pixel index over the batch (CUDA: one thread each).
template <typename In, typename Out>
SSLFAST_HD void rgb_to_lab_pixel(const LabArgs& a, int64_t flat) {
  const int64_t image = flat / a.pixels, start = image * 3 * a.pixels;
  rgb_to_lab_at(static_cast<const In*>(a.input) + start, static_cast<Out*>(a.output) + start, a.table, a.pixels,
                flat - image * a.pixels);
}

template <typename In, typename Out>
SSLFAST_HD void lab_to_rgb_pixel(const LabArgs& a, int64_t flat) {
  const int64_t image = flat / a.pixels, start = image * 3 * a.pixels;
  lab_to_rgb_at(static_cast<const In*>(a.input) + start, static_cast<Out*>(a.output) + start, a.pixels,
                flat - image * a.pixels, a.clip);
}

// ---------------------------------------------------------------------------
// k nearest ab bins.
//
// An exact search accelerated by a cell table: the plane [-128, 128)^2 is cut
// into kCellsPerSide^2 square cells and each cell lists every bin that can be
// among the k nearest of some point in it. With c the cell's centre, h its
// half-diagonal and R the k-th smallest distance from c to a bin: a point p of
// the cell is within h of c, so its k-th nearest distance is at most R + h and
// each of its k nearest bins lies within R + 2h of c. The list is the bins
// that close to c, sorted by their distance d_c from c, each stored with the
// lower bound (d_c - h)^2 on its squared distance to any point of the cell: a
// scan stops at the first bin whose bound exceeds the k-th best so far. (The
// radius and the bounds carry a margin for float rounding.) Points outside
// the table, and cells whose list would overflow kCellCapacity, fall back to
// scanning all Q bins. Both ways rank bins by (squared distance, bin index),
// so the results are identical.
constexpr int kMaxNeighbours = 16;
constexpr int kCellsPerSide = 32;
constexpr int kCellCount = kCellsPerSide * kCellsPerSide;
constexpr int kCellCapacity = 32;
constexpr float kTableOrigin = -128.0f;
constexpr float kCellSize = 8.0f;
constexpr float kCellHalfDiagonal = kCellSize * 0.70710678f;
constexpr int kMaxBins = 32767;           // candidates are stored as int16
constexpr float kRoundingMargin = 0.01f;  // ab units added to the list's radius

struct BinSearch {
  const float* bins;        // [num_bins, 2] (a, b) centres
  int num_bins;
  int k;                    // 1..kMaxNeighbours, <= num_bins
  float inv_two_sigma2;     // 1 / (2 sigma^2) of the Gaussian weights
  const int32_t* cell_count;  // [kCellCount]: number of candidates, -1 = scan all bins
  const int16_t* cell_bins;   // [kCellCount, kCellCapacity]: candidates, nearest the centre first
  const float* cell_bound;    // [kCellCount, kCellCapacity]: their squared-distance lower bounds
};

// The k smallest (squared distance, index) pairs offered so far, ascending.
// Only the first `size` entries are meaningful.
struct NearestK {
  float dist[kMaxNeighbours] = {};  // zeroed: GCC -O3 cannot see that entries are written before read
  int index[kMaxNeighbours] = {};
  int k;
  int size;

  SSLFAST_HD explicit NearestK(int k_) : k(k_), size(0) {}

  SSLFAST_HD static bool before(float d0, int i0, float d1, int i1) { return d0 < d1 || (d0 == d1 && i0 < i1); }

  SSLFAST_HD void offer(float d, int i) {
    if (size == k && !before(d, i, dist[k - 1], index[k - 1])) return;
    int slot = size < k ? size++ : k - 1;
    while (slot > 0 && before(d, i, dist[slot - 1], index[slot - 1])) {
      dist[slot] = dist[slot - 1];
      index[slot] = index[slot - 1];
      --slot;
    }
    dist[slot] = d;
    index[slot] = i;
  }
};

SSLFAST_HD float squared_distance(const float* bin, float a, float b) {
  const float da = a - bin[0], db = b - bin[1];
  return da * da + db * db;
}

// Cell holding (a, b), or -1 outside the table (NaN included).
SSLFAST_HD int table_cell(float a, float b) {
  const float u = (a - kTableOrigin) * (1.0f / kCellSize), v = (b - kTableOrigin) * (1.0f / kCellSize);
  if (!(u >= 0.f && u < (float)kCellsPerSide && v >= 0.f && v < (float)kCellsPerSide)) return -1;
  return (int)u * kCellsPerSide + (int)v;
}

// Builds the candidate list of one cell (CPU: cells are the work items; CUDA:
// one thread each).
SSLFAST_HD void build_cell(const float* bins, int num_bins, int k, int cell, int32_t* cell_count,
                           int16_t* cell_bins, float* cell_bound) {
  const float ca = kTableOrigin + ((float)(cell / kCellsPerSide) + 0.5f) * kCellSize;
  const float cb = kTableOrigin + ((float)(cell % kCellsPerSide) + 0.5f) * kCellSize;
  NearestK nearest(k);
  for (int j = 0; j < num_bins; ++j) nearest.offer(squared_distance(bins + 2 * j, ca, cb), j);
  const float radius = sqrtf(nearest.dist[k - 1]) + 2.0f * kCellHalfDiagonal + kRoundingMargin;
  const float radius2 = radius * radius;
  int16_t* out = cell_bins + (int64_t)cell * kCellCapacity;
  float* bound = cell_bound + (int64_t)cell * kCellCapacity;
  int count = 0;
  for (int j = 0; j < num_bins; ++j) {
    const float d2 = squared_distance(bins + 2 * j, ca, cb);
    if (d2 > radius2) continue;
    if (count == kCellCapacity) {
      count = -1;
      break;
    }
    // Insertion by centre distance (bins arrive in index order, so ties keep it).
    int slot = count++;
    for (; slot > 0 && bound[slot - 1] > d2; --slot) {
      out[slot] = out[slot - 1];
      bound[slot] = bound[slot - 1];
    }
    out[slot] = (int16_t)j;
    bound[slot] = d2;
  }
  for (int c = 0; c < count; ++c) {  // centre distance -> lower bound for the whole cell
    const float reach = sqrtf(bound[c]) - kCellHalfDiagonal - kRoundingMargin;
    bound[c] = reach > 0.f ? reach * reach : 0.f;
  }
  cell_count[cell] = count;
}

SSLFAST_HD void find_nearest(const BinSearch& s, float a, float b, NearestK& best) {
  const int cell = table_cell(a, b);
  const int count = cell < 0 ? -1 : s.cell_count[cell];
  if (count < 0) {
    for (int j = 0; j < s.num_bins; ++j) best.offer(squared_distance(s.bins + 2 * j, a, b), j);
    return;
  }
  const int16_t* candidates = s.cell_bins + (int64_t)cell * kCellCapacity;
  const float* bound = s.cell_bound + (int64_t)cell * kCellCapacity;
  for (int c = 0; c < count; ++c) {
    if (best.size == best.k && bound[c] > best.dist[best.k - 1]) break;  // the rest are farther
    const int j = candidates[c];
    best.offer(squared_distance(s.bins + 2 * j, a, b), j);
  }
}

// Soft encoding of one ab value: the k nearest bins, nearest first, with
// Gaussian weights exp(-d^2 / (2 sigma^2)) normalised to sum 1 (taken
// relative to the nearest, so far-away values do not underflow to 0 / 0).
// Writes index[c * step] and weight[c * step] for c in 0..k-1.
SSLFAST_HD void soft_encode(const BinSearch& s, float a, float b, int64_t* index, float* weight, int64_t step) {
  NearestK best(s.k);
  find_nearest(s, a, b, best);
  float w[kMaxNeighbours];
  float total = 0.f;
  for (int c = 0; c < s.k; ++c) {
    w[c] = expf(-(best.dist[c] - best.dist[0]) * s.inv_two_sigma2);
    total += w[c];
  }
  const float inv_total = 1.0f / total;
  for (int c = 0; c < s.k; ++c) {
    index[c * step] = best.index[c];
    weight[c * step] = w[c] * inv_total;
  }
}

// ab_encode: [B, 2, H, W] ab values, subsampled by `stride` (the top-left
// pixel of each stride x stride block, as the reference's 1x1 stride-4
// convolution), soft-encoded into index / weight [B, k, h, w].
struct AbEncodeArgs {
  const void* ab;
  int64_t* index;
  float* weight;
  BinSearch search;
  int64_t batch, height, width, stride, out_height, out_width;
};

template <typename In>
SSLFAST_HD void ab_encode_pixel(const AbEncodeArgs& a, int64_t flat) {
  const int64_t plane = a.out_height * a.out_width;
  const int64_t image = flat / plane, q = flat % plane;
  const int64_t y = (q / a.out_width) * a.stride, x = (q % a.out_width) * a.stride;
  const In* in = static_cast<const In*>(a.ab) + image * 2 * a.height * a.width + y * a.width + x;
  const int64_t out = image * a.search.k * plane + q;
  soft_encode(a.search, load_value(in), load_value(in + a.height * a.width), a.index + out, a.weight + out, plane);
}

// colorization_batch: uint8 / float RGB -> normalised L at full resolution
// and soft ab targets at 1 / stride, never holding full-resolution Lab.
struct ColorizationArgs {
  const void* input;       // [B, 3, H, W] RGB
  const float* table;      // linearisation table
  void* lightness;         // [B, 1, H, W]: L * l_scale + l_bias
  float l_scale, l_bias;
  int64_t* index;          // [B, k, h, w]
  float* weight;           // [B, k, h, w]
  bool* grayscale;         // [B]: set to true beforehand; cleared by any coloured target pixel
  BinSearch search;
  int64_t batch, height, width, stride, out_height, out_width;
};

// Normalised L of pixel p of one image (`in`: its RGB planes; `out`: its L plane).
template <typename In, typename Out>
SSLFAST_HD_PIXEL void lightness_at(const In* __restrict in, Out* __restrict out, const float* __restrict table,
                                   int64_t pixels, int64_t p, float scale, float bias) {
  const float L = linear_rgb_to_lightness(linearize(in + p, table), linearize(in + pixels + p, table),
                                          linearize(in + 2 * pixels + p, table));
  store_value(out + p, L * scale + bias);
}

template <typename In, typename Out>
SSLFAST_HD void colorization_lightness_pixel(const ColorizationArgs& a, int64_t flat) {
  const int64_t pixels = a.height * a.width, image = flat / pixels;
  lightness_at(static_cast<const In*>(a.input) + image * 3 * pixels, static_cast<Out*>(a.lightness) + image * pixels,
               a.table, pixels, flat - image * pixels, a.l_scale, a.l_bias);
}

// One target pixel; returns whether it has colour. The caller clears the
// image's grayscale flag (CPU: once per image; CUDA: racing threads all
// store the same false).
template <typename In>
SSLFAST_HD bool colorization_target_pixel(const ColorizationArgs& a, int64_t flat) {
  const int64_t plane = a.out_height * a.out_width, pixels = a.height * a.width;
  const int64_t image = flat / plane, q = flat % plane;
  const int64_t y = (q / a.out_width) * a.stride, x = (q % a.out_width) * a.stride;
  const In* in = static_cast<const In*>(a.input) + image * 3 * pixels + y * a.width + x;
  const Lab lab = linear_rgb_to_lab(linearize(in, a.table), linearize(in + pixels, a.table),
                                    linearize(in + 2 * pixels, a.table));
  const int64_t out = image * a.search.k * plane + q;
  soft_encode(a.search, lab.a, lab.b, a.index + out, a.weight + out, plane);
  return has_colour(lab.a, lab.b);
}

// Backend entry points, defined in csrc/cpu/color.cpp and csrc/cuda/color.cu.
// build_bin_table fills the cell table that a BinSearch then reads; it runs
// before the encoders, on the same stream.
namespace cpu {
void rgb_to_lab(const LabArgs& args, DType in, DType out);
void lab_to_rgb(const LabArgs& args, DType in, DType out);
void build_bin_table(const float* bins, int num_bins, int k, int32_t* cell_count, int16_t* cell_bins,
                     float* cell_bound);
void ab_encode(const AbEncodeArgs& args, DType in);
void colorization_batch(const ColorizationArgs& args, DType in, DType out);
}  // namespace cpu
namespace cuda {
void rgb_to_lab(const LabArgs& args, DType in, DType out);
void lab_to_rgb(const LabArgs& args, DType in, DType out);
void build_bin_table(const float* bins, int num_bins, int k, int32_t* cell_count, int16_t* cell_bins,
                     float* cell_bound);
void ab_encode(const AbEncodeArgs& args, DType in);
void colorization_batch(const ColorizationArgs& args, DType in, DType out);
}  // namespace cuda

}  // namespace sslfast
