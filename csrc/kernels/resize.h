// Separable resampling (box / bilinear / bicubic, antialiased like PIL and
// torch.nn.functional.interpolate(antialias=True)), super-resolution pairs,
// grayscale and Sobel gradients. Shared by the CPU and CUDA backends.
//
// Resampling is a weighted sum over a window of input samples along each
// axis. The weights of one axis depend only on (filter, antialias, in size,
// out size), so they are computed once per call into a table (one entry per
// output index: a window start and `taps` weights) and both passes read it.
#pragma once

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

// What defines the weights of one axis.
struct ResampleSpec {
  ResampleFilter filter;
  bool antialias;    // widen bilinear/bicubic by the downscale factor (PIL, torch antialias=True)
  int64_t in_size;
  int64_t out_size;
  int64_t taps;      // window length: resample_taps(...)
};

// One axis's table: output index i reads input samples start[i] ..
// start[i] + taps - 1 with weights weight[i * taps + k] (zero-padded).
struct ResampleAxis {
  const int32_t* start;
  const float* weight;
  int64_t taps;
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

// Weights of output index i: fills start[0] and weight[0 .. taps-1], summing to 1.
//  * widened bilinear/bicubic (PIL's and torch's antialias=True): the kernel
//    scaled by max(scale, 1) around centre scale * (i + 0.5), truncated to
//    the image and renormalised;
//  * plain bilinear/bicubic (antialias=False, as F.interpolate with
//    align_corners=False): 2 or 4 taps around scale * (i + 0.5) - 0.5, indices
//    clamped to the border (bilinear also clamps the position at 0);
//  * box: the exact overlap of the output footprint [i, i + 1) * scale with
//    each input sample (area averaging, OpenCV's INTER_AREA on downscaling).
SSLFAST_HD void resample_entry(const ResampleSpec& s, int64_t i, int32_t* start, float* weight) {
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
  for (int64_t k = 0; k < s.taps; ++k) weight[k] = 0.f;
  if (total == 0.0) return;
  for (int64_t j = lo; j < hi; ++j) {
    const int64_t source = j < 0 ? 0 : (j >= s.in_size ? s.in_size - 1 : j);
    weight[source - origin] += (float)(resample_weight(s, w, j) / total);
  }
}

// Entry k of the two tables laid out back to back: rows (out_h entries)
// then columns (out_w entries); weights likewise, rows first.
SSLFAST_HD void resample_table_entry(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start,
                                     float* weight, int64_t k) {
  if (k < rows.out_size) {
    resample_entry(rows, k, start + k, weight + k * rows.taps);
  } else {
    const int64_t i = k - rows.out_size;
    resample_entry(cols, i, start + rows.out_size + i, weight + rows.out_size * rows.taps + i * cols.taps);
  }
}

// Rounds to a whole uint8 level in [0, 255] (as store_value does), as float.
SSLFAST_HD float round_to_level(float v) {
  uint8_t level;
  store_value(&level, v);
  return (float)level;
}

// ---------------------------------------------------------------------------
// Resize: [planes, in_h, in_w] -> [planes, out_h, out_w], plane = (b, c).
// ---------------------------------------------------------------------------
struct ResizeArgs {
  const void* input;     // contiguous [planes, in_h, in_w]
  void* output;          // contiguous [planes, out_h, out_w]
  ResampleAxis rows, cols;
  ChannelAffine affine;  // dtype scaling and normalisation, fused
  bool quantize;         // round the resampled value to a whole uint8 level before the affine map
  int64_t planes, channels, in_h, in_w, out_h, out_w;
};

template <typename Out>
SSLFAST_HD void resize_store(const ResizeArgs& a, Out* out, float v, int64_t channel) {
  if (a.quantize) v = round_to_level(v);
  const int64_t slot = a.affine.slot(channel);
  store_value(out, mul_add_rn(v, a.affine.scale[slot], a.affine.bias[slot]));
}

// One output element (CUDA: one thread each). Sums column by column in the
// same order as resize_row (vertical pass, then horizontal), so both entry
// points round identically.
template <typename In, typename Out>
SSLFAST_HD void resize_element(const ResizeArgs& a, int64_t flat) {
  const int64_t xo = flat % a.out_w;
  const int64_t yo = (flat / a.out_w) % a.out_h;
  const int64_t plane = flat / (a.out_w * a.out_h);
  const In* src = static_cast<const In*>(a.input) + plane * a.in_h * a.in_w;
  const In* top = src + (int64_t)a.rows.start[yo] * a.in_w + a.cols.start[xo];
  const float* wy = a.rows.weight + yo * a.rows.taps;
  const float* wx = a.cols.weight + xo * a.cols.taps;
  float acc = 0.f;
  for (int64_t kx = 0; kx < a.cols.taps; ++kx) {
    if (wx[kx] == 0.f) continue;
    float column = 0.f;
    for (int64_t ky = 0; ky < a.rows.taps; ++ky)
      if (wy[ky] != 0.f) column = mul_add_rn(wy[ky], load_value(top + ky * a.in_w + kx), column);
    acc = mul_add_rn(wx[kx], column, acc);
  }
  resize_store(a, static_cast<Out*>(a.output) + flat, acc, plane % a.channels);
}

// Vertical pass of output row `yo` of one plane into scratch[0 .. in_w).
template <typename In>
SSLFAST_HD void resample_vertical(const ResizeArgs& a, const In* src, int64_t yo, float* scratch) {
  for (int64_t x = 0; x < a.in_w; ++x) scratch[x] = 0.f;
  const float* wy = a.rows.weight + yo * a.rows.taps;
  const In* top = src + (int64_t)a.rows.start[yo] * a.in_w;
  for (int64_t ky = 0; ky < a.rows.taps; ++ky) {
    const float w = wy[ky];
    if (w == 0.f) continue;
    const In* line = top + ky * a.in_w;
    for (int64_t x = 0; x < a.in_w; ++x) scratch[x] = mul_add_rn(w, load_value(line + x), scratch[x]);
  }
}

// One output row (CPU: rows are the work items); scratch holds in_w floats.
template <typename In, typename Out>
SSLFAST_HD void resize_row(const ResizeArgs& a, int64_t row, float* scratch) {
  const int64_t yo = row % a.out_h, plane = row / a.out_h;
  resample_vertical(a, static_cast<const In*>(a.input) + plane * a.in_h * a.in_w, yo, scratch);
  Out* out = static_cast<Out*>(a.output) + row * a.out_w;
  const int64_t channel = plane % a.channels;
  for (int64_t xo = 0; xo < a.out_w; ++xo) {
    const float* wx = a.cols.weight + xo * a.cols.taps;
    const float* line = scratch + a.cols.start[xo];
    float acc = 0.f;
    for (int64_t kx = 0; kx < a.cols.taps; ++kx)
      if (wx[kx] != 0.f) acc = mul_add_rn(wx[kx], line[kx], acc);
    resize_store(a, out + xo, acc, channel);
  }
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

// LR row `row` and the `factor` HR rows it covers (CPU work item).
template <typename Out>
SSLFAST_HD void sr_pair_row(const SrPairArgs& a, int64_t row, float* scratch) {
  const int64_t yo = row % a.lr.out_h, plane = row / a.lr.out_h;
  const int64_t slot = a.lr.affine.slot(plane % a.lr.channels);
  const float scale = a.lr.affine.scale[slot], bias = a.lr.affine.bias[slot];
  const int64_t first = (plane * a.lr.in_h + yo * a.factor) * a.lr.in_w, count = a.factor * a.lr.in_w;
  const uint8_t* in = static_cast<const uint8_t*>(a.lr.input) + first;
  Out* hr = static_cast<Out*>(a.hr) + first;
  for (int64_t x = 0; x < count; ++x) store_value(hr + x, mul_add_rn(load_value(in + x), scale, bias));
  resize_row<uint8_t, Out>(a.lr, row, scratch);
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

// Gray value of pixel `offset` (y * width + x) of image b.
template <typename In>
SSLFAST_HD float gray_at(const GrayArgs& a, const In* image, int64_t offset) {
  const int64_t plane = a.height * a.width;
  float g = 0.f;
  for (int64_t c = 0; c < a.channels; ++c) {
    const int64_t slot = a.pre.slot(c);
    const float v = mul_add_rn(load_value(image + c * plane + offset), a.pre.scale[slot], a.pre.bias[slot]);
    g = mul_add_rn(a.weight[c], v, g);
  }
  return g;
}

template <typename In, typename Out>
SSLFAST_HD void grayscale_element(const GrayArgs& a, int64_t flat) {
  const int64_t plane = a.height * a.width;
  const In* image = static_cast<const In*>(a.input) + (flat / plane) * a.channels * plane;
  const float g = gray_at(a, image, flat % plane);
  store_value(static_cast<Out*>(a.output) + flat, mul_add_rn(g, a.post.scale[0], a.post.bias[0]));
}

// Gray values of row y of image b into line[0 .. width); zeros outside the
// image (Sobel's zero padding).
template <typename In>
SSLFAST_HD void gray_row(const GrayArgs& a, int64_t b, int64_t y, float* line) {
  if (y < 0 || y >= a.height) {
    for (int64_t x = 0; x < a.width; ++x) line[x] = 0.f;
    return;
  }
  const In* image = static_cast<const In*>(a.input) + b * a.channels * a.height * a.width;
  for (int64_t x = 0; x < a.width; ++x) line[x] = gray_at(a, image, y * a.width + x);
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

// Both gradients of row y of image b from the gray rows above, at and below
// it (CPU, which keeps the three rows rolling down the image).
template <typename Out>
SSLFAST_HD void sobel_row(const GrayArgs& a, int64_t b, int64_t y, const float* above, const float* middle,
                          const float* below) {
  const int64_t plane = a.height * a.width;
  Out* out = static_cast<Out*>(a.output) + b * 2 * plane + y * a.width;
  const float* lines[3] = {above, middle, below};
  for (int64_t x = 0; x < a.width; ++x) {
    float g[3][3];
    for (int r = 0; r < 3; ++r) {
      g[r][0] = x > 0 ? lines[r][x - 1] : 0.f;
      g[r][1] = lines[r][x];
      g[r][2] = x + 1 < a.width ? lines[r][x + 1] : 0.f;
    }
    float gx, gy;
    sobel_3x3(g, &gx, &gy);
    store_value(out + x, gx);
    store_value(out + plane + x, gy);
  }
}

// Backend entry points, defined in csrc/cpu/resize.cpp and csrc/cuda/resize.cu.
// resample_tables fills start[rows.out_size + cols.out_size] and
// weight[rows.out_size * rows.taps + cols.out_size * cols.taps].
namespace cpu {
void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight);
void resize(const ResizeArgs& args, DType in, DType out);
void sr_pair(const SrPairArgs& args, DType out);
void grayscale(const GrayArgs& args, DType in, DType out);
void sobel(const GrayArgs& args, DType in, DType out);
}  // namespace cpu
namespace cuda {
void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight);
void resize(const ResizeArgs& args, DType in, DType out);
void sr_pair(const SrPairArgs& args, DType out);
void grayscale(const GrayArgs& args, DType in, DType out);
void sobel(const GrayArgs& args, DType in, DType out);
}  // namespace cuda

}  // namespace sslfast
