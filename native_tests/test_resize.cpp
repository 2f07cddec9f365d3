// csrc/kernels/resize.h: the weight tables against weights written here from
// the definitions (all input samples, no windowing), resize_element (CUDA's
// entry point) against resize_block (CPU's) bit for bit and against a naive
// separable resampling in double, sr_pair's two entry points, and grayscale /
// Sobel against naive stencils; output buffers carry sentinel guard bands.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "buffers.h"
#include "check.h"
#include "kernels/common.h"
#include "kernels/resize.h"
#include "cpu/resize_fixed.h"

using namespace sslfast;
using sslfast_test::Guarded;
using sslfast_test::random_value;
using sslfast_test::same_bits;

namespace {

// Weight of every input sample for output i, straight from the definitions.
std::vector<double> naive_weights(ResampleFilter filter, bool antialias, int64_t in, int64_t out, int64_t i) {
  std::vector<double> w((size_t)in, 0.0);
  const double scale = (double)in / (double)out;
  if (filter == ResampleFilter::Box) {
    for (int64_t j = 0; j < in; ++j)
      w[(size_t)j] = std::max(0.0, std::min((double)(j + 1), (i + 1) * scale) - std::max((double)j, i * scale));
  } else if (antialias) {
    const double stretch = std::max(scale, 1.0), center = scale * (i + 0.5);
    for (int64_t j = 0; j < in; ++j) {
      const double x = std::fabs((j + 0.5 - center) / stretch);
      w[(size_t)j] = filter == ResampleFilter::Bilinear ? std::max(0.0, 1.0 - x)
                     : x < 1 ? 1.5 * x * x * x - 2.5 * x * x + 1
                     : x < 2 ? -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2
                             : 0.0;
    }
  } else {
    double position = scale * (i + 0.5) - 0.5;
    if (filter == ResampleFilter::Bilinear) position = std::max(position, 0.0);
    const int64_t base = (int64_t)std::floor(position);
    const int64_t first = filter == ResampleFilter::Bicubic ? base - 1 : base;
    const int64_t taps = filter == ResampleFilter::Bicubic ? 4 : 2;
    for (int64_t j = first; j < first + taps; ++j) {
      const double x = std::fabs(j - position);
      const double v = filter == ResampleFilter::Bilinear ? std::max(0.0, 1.0 - x)
                       : x < 1 ? 1.25 * x * x * x - 2.25 * x * x + 1
                       : x < 2 ? -0.75 * x * x * x + 3.75 * x * x - 6 * x + 3
                               : 0.0;
      w[(size_t)std::min(std::max<int64_t>(j, 0), in - 1)] += v;
    }
  }
  double total = 0;
  for (double v : w) total += v;
  for (double& v : w) v /= total;
  return w;
}

struct Tables {
  ResampleSpec rows, cols;
  std::vector<int32_t> start;
  std::vector<float> weight;
  std::vector<int16_t> fixed;
  FixedAxis rows_fixed() const { return fixed_row_axis(rows, cols, fixed.data()); }
  FixedAxis cols_fixed() const { return fixed_column_axis(rows, cols, fixed.data()); }
  ResampleAxis rows_axis() const { return row_axis(rows, start.data(), weight.data()); }
  ResampleAxis cols_axis() const { return column_axis(rows, cols, start.data(), weight.data()); }
};

Tables make_tables(ResampleFilter filter, bool antialias, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  Tables t;
  t.rows = {filter, antialias, in_h, out_h, resample_taps(filter, antialias, in_h, out_h)};
  t.cols = {filter, antialias, in_w, out_w, resample_taps(filter, antialias, in_w, out_w)};
  t.start.assign((size_t)(out_h + out_w), -1);
  t.weight.assign((size_t)(out_h * t.rows.taps + out_w * t.cols.taps), NAN);
  t.fixed.assign((size_t)resample_fixed_size(t.rows, t.cols), -12345);
  for (int64_t k = 0; k < out_h + out_w; ++k)
    resample_table_entry(t.rows, t.cols, t.start.data(), t.weight.data(), k, t.fixed.data());
  return t;
}

const char* filter_name(ResampleFilter f) {
  return f == ResampleFilter::Box ? "box" : f == ResampleFilter::Bilinear ? "bilinear" : "bicubic";
}

void test_tables_match_definitions() {
  for (ResampleFilter filter : {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Bicubic})
    for (bool antialias : {true, false})
      for (int64_t in = 1; in <= 23; ++in)
        for (int64_t out = 1; out <= 23; ++out) {
          // Both layouts: rows entry-major, columns tap-major.
          const Tables t = make_tables(filter, antialias, in, in, out, out);
          for (const ResampleAxis axis : {t.rows_axis(), t.cols_axis()}) {
            CHECK(axis.taps >= 1 && axis.taps <= in);
            for (int64_t i = 0; i < out; ++i) {
              const int32_t s = axis.start[i];
              CHECK_MSG(s >= 0 && s + axis.taps <= in, "%s aa=%d %lld->%lld i=%lld start %d taps %lld",
                        filter_name(filter), antialias, (long long)in, (long long)out, (long long)i, s,
                        (long long)axis.taps);
              const std::vector<double> want = naive_weights(filter, antialias, in, out, i);
              double sum = 0, worst = 0;
              for (int64_t j = 0; j < in; ++j) {
                const int64_t k = j - s;
                const double got = k >= 0 && k < axis.taps ? axis.w(i, k) : 0.0;
                sum += got;
                worst = std::max(worst, std::fabs(got - want[(size_t)j]));
              }
              CHECK_MSG(worst < 1e-6 && std::fabs(sum - 1.0) < 1e-6, "%s aa=%d %lld->%lld i=%lld: error %g sum %g",
                        filter_name(filter), antialias, (long long)in, (long long)out, (long long)i, worst, sum);
              for (int64_t k = 0; k < axis.taps; ++k) CHECK(!std::signbit(axis.w(i, k)) || axis.w(i, k) != 0.f);
            }
          }
        }
}

// The shape fields of ResizeArgs: planes of in_h x in_w (NHWC images of il
// channels when il > 1) resampled to out_h x out_w.
void set_geometry(ResizeArgs& a, int64_t planes, int64_t il, int64_t in_h, int64_t in_w, int64_t out_h,
                  int64_t out_w) {
  a.planes = planes;
  a.channels = il == 1 ? planes : il;
  a.interleave = il;
  a.in_h = in_h;
  a.in_w = in_w;
  a.out_h = out_h;
  a.out_w = out_w;
}

// Both entry points against each other (bit for bit) and a naive separable
// resampling in double. interleave > 1: planes are NHWC images of that many
// channels, each with its own output scale when per_channel.
template <typename In, typename Out>
void run_resize(std::mt19937_64& rng, ResampleFilter filter, bool antialias, int64_t planes, int64_t in_h,
                int64_t in_w, int64_t out_h, int64_t out_w, bool quantize, int64_t interleave = 1,
                bool per_channel = false) {
  const int64_t il = interleave;
  std::vector<In> input((size_t)(planes * in_h * in_w * il));
  for (In& v : input) v = random_value<In>(rng);
  const Tables t = make_tables(filter, antialias, in_h, in_w, out_h, out_w);
  ResizeArgs a{};
  a.input = input.data();
  a.rows = t.rows_axis();
  a.cols = t.cols_axis();
  a.affine.count = per_channel ? (int)il : 1;
  for (int c = 0; c < a.affine.count; ++c)
    a.affine.scale[c] = (std::is_same_v<In, uint8_t> && !std::is_same_v<Out, uint8_t> ? 1.0f / 255 : 1.0f) *
                        (per_channel ? 0.5f + 0.25f * c : 1.0f);
  a.quantize = quantize;
  set_geometry(a, planes, il, in_h, in_w, out_h, out_w);
  const int64_t numel = planes * out_h * out_w * il;
  Guarded<Out> by_element(numel), by_row(numel);
  a.output = by_element.data();
  for (int64_t f = 0; f < numel; ++f) resize_element<In, Out>(a, f);
  a.output = by_row.data();
  std::vector<float> scratch((size_t)resize_block_scratch(a));
  for (int64_t item = 0; item < planes * resize_blocks_per_plane(a); ++item)
    resize_block_item<In, Out>(a, item, scratch.data());
  const std::string label = std::string(filter_name(filter)) + " aa=" + std::to_string(antialias) + " " +
                            std::to_string(in_h) + "x" + std::to_string(in_w) + "->" + std::to_string(out_h) + "x" +
                            std::to_string(out_w) + " interleave=" + std::to_string(il);
  CHECK_MSG(by_element.guards_intact() && by_row.guards_intact(), "%s wrote outside the output", label.c_str());
  int64_t differ = 0, off = 0;
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t yo = 0; yo < out_h; ++yo) {
      const std::vector<double> wy = naive_weights(filter, antialias, in_h, out_h, yo);
      for (int64_t xo = 0; xo < out_w * il; ++xo) {
        const int64_t f = (p * out_h + yo) * out_w * il + xo, c = xo % il;
        if (!same_bits(by_element[f], by_row[f])) ++differ;
        const std::vector<double> wx = naive_weights(filter, antialias, in_w, out_w, xo / il);
        double want = 0;
        for (int64_t y = 0; y < in_h; ++y)
          for (int64_t x = 0; x < in_w; ++x)
            want += wy[(size_t)y] * wx[(size_t)x] * load_value(&input[(size_t)(((p * in_h + y) * in_w + x) * il + c)]);
        if (quantize) want = std::min(255.0, std::max(0.0, std::nearbyint(want)));
        want *= a.affine.scale[per_channel ? c : 0];
        const double got = load_value(&by_row[f]);
        const double tol = std::is_same_v<Out, uint8_t> ? 0.5001 + (quantize ? 0 : 1e-3)
                           : std::is_same_v<Out, float> && !std::is_same_v<In, uint8_t> ? 1e-5 * (1 + std::fabs(want))
                           : std::is_same_v<Out, float> ? 1e-4 * (1 + std::fabs(want))
                                                        : 1e-2 * (1 + std::fabs(want));
        if (!(std::fabs(got - want) <= tol) && !(std::is_same_v<Out, uint8_t> && (want < -0.5 || want > 255.5)))
          ++off;
      }
    }
  CHECK_MSG(differ == 0, "%s: %lld elements differ between resize_element and resize_block", label.c_str(),
            (long long)differ);
  CHECK_MSG(off == 0, "%s: %lld elements off the naive resampling", label.c_str(), (long long)off);
}

template <typename In, typename Out>
void sweep_resize(std::mt19937_64& rng) {
  const int64_t shapes[][4] = {{8, 8, 2, 2}, {17, 23, 5, 9}, {5, 7, 11, 2}, {1, 1, 3, 4}, {9, 13, 1, 1},
                               {12, 12, 12, 12}, {31, 6, 7, 6}, {40, 9, 70, 5},
                               {16, 16, 33, 47}, {3, 2, 40, 9}, {50, 37, 41, 26}};
  for (ResampleFilter filter : {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Bicubic})
    for (bool antialias : {true, false})
      for (const auto& s : shapes) {
        run_resize<In, Out>(rng, filter, antialias, 2, s[0], s[1], s[2], s[3], false);
        run_resize<In, Out>(rng, filter, antialias, 2, s[0], s[1], s[2], s[3], false, 3);  // channels_last
      }
}

// sr_pair arguments over `input` ([planes, in_h, in_w] uint8, bicubic tables
// t) with a per-plane normalisation, LR rounded to whole levels.
SrPairArgs sr_args(const Tables& t, const std::vector<uint8_t>& input, int64_t planes, int64_t factor) {
  SrPairArgs a{};
  a.lr.input = input.data();
  a.lr.rows = t.rows_axis();
  a.lr.cols = t.cols_axis();
  a.lr.rows_q = t.rows_fixed();
  a.lr.cols_q = t.cols_fixed();
  a.lr.frac = fixed_frac_bits(t.rows.filter);
  a.lr.affine.count = (int)planes;
  for (int c = 0; c < planes; ++c) {
    a.lr.affine.scale[c] = 1.0f / 255 / (0.2f + 0.01f * c);
    a.lr.affine.bias[c] = -0.45f / (0.2f + 0.01f * c);
  }
  a.lr.quantize = true;
  a.lr.planes = a.lr.channels = planes;
  a.lr.interleave = 1;
  a.lr.in_h = t.rows.in_size;
  a.lr.in_w = t.cols.in_size;
  a.lr.out_h = t.rows.out_size;
  a.lr.out_w = t.cols.out_size;
  a.factor = factor;
  return a;
}

// sr_pair's work items against its element path on 3 random planes of
// in_h x in_w, bicubic x4: the float path, or with `fixed` the fixed-point
// blocks (with the column plan; AVX2 where the processor has it).
void test_sr_pair(std::mt19937_64& rng, int64_t in_h, int64_t in_w, bool fixed) {
  const int64_t planes = 3, factor = 4, out_h = in_h / factor, out_w = in_w / factor;
  std::vector<uint8_t> input((size_t)(planes * in_h * in_w));
  for (uint8_t& v : input) v = random_value<uint8_t>(rng);
  const Tables t = make_tables(ResampleFilter::Bicubic, true, in_h, in_w, out_h, out_w);
  SrPairArgs a = sr_args(t, input, planes, factor);
  a.lr.fixed = fixed;
  const int64_t hr_numel = planes * in_h * in_w, lr_numel = planes * out_h * out_w;
  Guarded<float> hr_e(hr_numel), lr_e(lr_numel), hr_r(hr_numel), lr_r(lr_numel);
  a.hr = hr_e.data();
  a.lr.output = lr_e.data();
  for (int64_t f = 0; f < hr_numel + lr_numel; ++f) sr_pair_element<float>(a, f);
  a.hr = hr_r.data();
  a.lr.output = lr_r.data();
  const int64_t items = planes * resize_blocks_per_plane(a.lr);
  if (fixed) {
    std::vector<int16_t> scratch((size_t)fixed::block_scratch(a.lr));
    std::vector<int32_t> plan((size_t)fixed::plan_size(a.lr));
    fixed::plan_columns(a.lr, plan.data());
    for (int64_t item = 0; item < items; ++item) {
      if (fixed::have_avx2()) fixed::block_item<float, true>(a, plan.data(), item, scratch.data());
      else fixed::block_item<float, false>(a, nullptr, item, scratch.data());
    }
  } else {
    std::vector<float> scratch((size_t)resize_block_scratch(a.lr));
    for (int64_t item = 0; item < items; ++item) sr_pair_block_item<float>(a, item, scratch.data());
  }
  CHECK(hr_e.guards_intact() && lr_e.guards_intact() && hr_r.guards_intact() && lr_r.guards_intact());
  for (int64_t f = 0; f < hr_numel; ++f) {
    CHECK(same_bits(hr_e[f], hr_r[f]));
    const int64_t c = f / (in_h * in_w);
    CHECK(hr_r[f] == input[(size_t)f] * a.lr.affine.scale[c] + a.lr.affine.bias[c]);
  }
  for (int64_t f = 0; f < lr_numel; ++f) {
    CHECK(same_bits(lr_e[f], lr_r[f]));
    // quantised: the value before the affine map is a whole level
    const int64_t c = f / (out_h * out_w);
    const double level = (lr_r[f] - a.lr.affine.bias[c]) / a.lr.affine.scale[c];
    CHECK_MSG(std::fabs(level - std::nearbyint(level)) < 1e-3, "LR %lld is not on a uint8 level: %f", (long long)f,
              level);
  }
}

template <typename In, typename Out>
void test_gray_and_sobel(std::mt19937_64& rng, int64_t channels, int64_t height, int64_t width) {
  const int64_t batch = 2, plane = height * width;
  std::vector<In> input((size_t)(batch * channels * plane));
  for (In& v : input) v = random_value<In>(rng);
  GrayArgs a{};
  a.input = input.data();
  const float weights[3] = {0.2989f, 0.587f, 0.114f};
  for (int c = 0; c < channels; ++c) a.weight[c] = channels == 1 ? 1.0f : weights[c];
  a.pre.count = (int)channels;
  for (int c = 0; c < channels; ++c) {
    a.pre.scale[c] = (std::is_same_v<In, uint8_t> ? 1.0f / 255 : 1.0f) / (0.22f + 0.01f * c);
    a.pre.bias[c] = -(0.45f + 0.02f * c) / (0.22f + 0.01f * c);
  }
  a.post.count = 1;
  a.post.scale[0] = 2.0f;
  a.post.bias[0] = -0.5f;
  a.batch = batch;
  a.channels = channels;
  a.height = height;
  a.width = width;
  auto gray = [&](int64_t b, int64_t y, int64_t x) {
    if (y < 0 || y >= height || x < 0 || x >= width) return 0.0;
    double g = 0;
    for (int64_t c = 0; c < channels; ++c)
      g += a.weight[c] *
           (load_value(&input[(size_t)((b * channels + c) * plane + y * width + x)]) * (double)a.pre.scale[c] +
            a.pre.bias[c]);
    return g;
  };
  const double tol = std::is_same_v<Out, float> ? 1e-4 : 5e-2;
  // grayscale: one entry point on both backends
  Guarded<Out> gray_out(batch * plane);
  a.output = gray_out.data();
  for (int64_t f = 0; f < batch * plane; ++f) grayscale_element<In, Out>(a, f);
  CHECK(gray_out.guards_intact());
  int64_t off = 0;
  for (int64_t f = 0; f < batch * plane; ++f) {
    const double want = gray(f / plane, (f % plane) / width, f % width) * 2.0 - 0.5;
    if (!(std::fabs(load_value(&gray_out[f]) - want) <= tol * (1 + std::fabs(want)))) ++off;
  }
  CHECK_MSG(off == 0, "grayscale C=%lld %lldx%lld: %lld off", (long long)channels, (long long)height,
            (long long)width, (long long)off);
  // sobel: element entry point vs row entry point vs naive stencil
  Guarded<Out> by_element(batch * 2 * plane), by_row(batch * 2 * plane);
  a.output = by_element.data();
  for (int64_t f = 0; f < batch * plane; ++f) sobel_element<In, Out>(a, f);
  a.output = by_row.data();
  const int64_t stride = width + 2;
  std::vector<float> lines((size_t)(3 * stride));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < height; ++y) {
      for (int r = 0; r < 3; ++r) gray_row<In>(a, b, y + r - 1, lines.data() + r * stride);
      sobel_row<Out>(a, b, y, lines.data(), lines.data() + stride, lines.data() + 2 * stride);
    }
  CHECK(by_element.guards_intact() && by_row.guards_intact());
  int64_t differ = 0;
  off = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        const double dx = gray(b, y - 1, x + 1) - gray(b, y - 1, x - 1) + 2 * (gray(b, y, x + 1) - gray(b, y, x - 1)) +
                          gray(b, y + 1, x + 1) - gray(b, y + 1, x - 1);
        const double dy = gray(b, y + 1, x - 1) - gray(b, y - 1, x - 1) + 2 * (gray(b, y + 1, x) - gray(b, y - 1, x)) +
                          gray(b, y + 1, x + 1) - gray(b, y - 1, x + 1);
        const int64_t fx = b * 2 * plane + y * width + x, fy = fx + plane;
        if (!same_bits(by_element[fx], by_row[fx]) || !same_bits(by_element[fy], by_row[fy])) ++differ;
        if (!(std::fabs(load_value(&by_row[fx]) - dx) <= tol * (1 + std::fabs(dx))) ||
            !(std::fabs(load_value(&by_row[fy]) - dy) <= tol * (1 + std::fabs(dy))))
          ++off;
      }
  CHECK_MSG(differ == 0, "sobel C=%lld %lldx%lld: %lld pixels differ between entry points", (long long)channels,
            (long long)height, (long long)width, (long long)differ);
  CHECK_MSG(off == 0, "sobel C=%lld %lldx%lld: %lld pixels off the naive stencil", (long long)channels,
            (long long)height, (long long)width, (long long)off);
}

template <typename In, typename Out>
void sweep_gray(std::mt19937_64& rng) {
  for (int64_t channels : {1, 3})
    for (const auto& hw : {std::pair<int64_t, int64_t>{1, 1}, {1, 7}, {6, 1}, {2, 2}, {9, 13}})
      test_gray_and_sobel<In, Out>(rng, channels, hw.first, hw.second);
}

}  // namespace

// The quantised tables: each entry's weights sum to exactly 2^bits, within
// the accumulator limits, and within half a unit of the float weights
// except for the residual on the largest one.
void test_fixed_tables() {
  for (ResampleFilter filter : {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Bicubic})
    for (bool antialias : {true, false})
      for (int64_t in : {1, 2, 5, 9, 16, 31, 64, 200, 1000})
        for (int64_t out : {1, 3, 7, 16, 50, 224}) {
          const Tables t = make_tables(filter, antialias, in, in, out, out);
          const ResampleAxis floats[2] = {t.rows_axis(), t.cols_axis()};
          const FixedAxis fixed[2] = {t.rows_fixed(), t.cols_fixed()};
          for (int axis = 0; axis < 2; ++axis)
            for (int64_t i = 0; i < out; ++i) {
              const int bits = fixed[axis].bits[i];
              int64_t sum = 0, magnitude = 0, worst = 0;
              for (int64_t k = 0; k < fixed[axis].taps; ++k) {
                const int64_t q = fixed[axis].w(i, k);
                sum += q;
                magnitude += q < 0 ? -q : q;
                const double error = std::fabs(q - std::ldexp((double)floats[axis].w(i, k), bits));
                worst = std::max<int64_t>(worst, (int64_t)std::ceil(error - 0.5));
              }
              CHECK_MSG(sum == (int64_t(1) << bits), "%s aa=%d %lld->%lld axis %d i=%lld: sum %lld, bits %d",
                        filter_name(filter), antialias, (long long)in, (long long)out, axis, (long long)i,
                        (long long)sum, bits);
              CHECK(magnitude <= (axis == 0 ? kFixedRowSumLimit : kFixedColumnSumLimit));
              CHECK(bits >= (axis == 0 ? fixed_frac_bits(filter) : 0) && bits >= 10);
              CHECK_MSG(worst <= fixed[axis].taps, "residual %lld", (long long)worst);
            }
        }
}

// The fixed-point path (uint8 in, whole levels out): resize_element against
// the CPU blocks (portable and, where the processor has it, AVX2) bit for
// bit, and against the exact resampling in double: within one level, and
// rarely off the exactly rounded level at all.
template <typename Out>
void run_fixed(std::mt19937_64& rng, ResampleFilter filter, bool antialias, int64_t planes, int64_t in_h,
               int64_t in_w, int64_t out_h, int64_t out_w, int64_t il, bool constant = false) {
  std::vector<uint8_t> input((size_t)(planes * in_h * in_w * il));
  const uint8_t level = random_value<uint8_t>(rng);
  for (uint8_t& v : input) v = constant ? level : random_value<uint8_t>(rng);
  const Tables t = make_tables(filter, antialias, in_h, in_w, out_h, out_w);
  ResizeArgs a{};
  a.input = input.data();
  a.rows = t.rows_axis();
  a.cols = t.cols_axis();
  a.rows_q = t.rows_fixed();
  a.cols_q = t.cols_fixed();
  a.frac = fixed_frac_bits(filter);
  a.fixed = a.quantize = true;
  a.affine.count = 1;
  a.affine.scale[0] = std::is_same_v<Out, uint8_t> ? 1.0f : 1.0f / 255;
  set_geometry(a, planes, il, in_h, in_w, out_h, out_w);
  const int64_t numel = planes * out_h * out_w * il;
  Guarded<Out> by_element(numel), portable(numel), vector(numel);
  a.output = by_element.data();
  for (int64_t f = 0; f < numel; ++f) resize_element<uint8_t, Out>(a, f);
  std::vector<int16_t> scratch((size_t)fixed::block_scratch(a));
  std::vector<int32_t> plan((size_t)fixed::plan_size(a));
  fixed::plan_columns(a, plan.data());
  a.output = portable.data();
  for (int64_t item = 0; item < planes * resize_blocks_per_plane(a); ++item)
    fixed::block_item<Out, false>(a, nullptr, item, scratch.data());
  const bool avx2 = fixed::have_avx2();
  if (avx2) {
    a.output = vector.data();
    for (int64_t item = 0; item < planes * resize_blocks_per_plane(a); ++item)
      fixed::block_item<Out, true>(a, plan.data(), item, scratch.data());
  }
  const std::string label = std::string("fixed ") + filter_name(filter) + " aa=" + std::to_string(antialias) + " " +
                            std::to_string(in_h) + "x" + std::to_string(in_w) + "->" + std::to_string(out_h) + "x" +
                            std::to_string(out_w) + " interleave=" + std::to_string(il);
  CHECK_MSG(by_element.guards_intact() && portable.guards_intact() && vector.guards_intact(),
            "%s wrote outside the output", label.c_str());
  int64_t differ = 0, far = 0, rounded_off = 0;
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t yo = 0; yo < out_h; ++yo) {
      const std::vector<double> wy = naive_weights(filter, antialias, in_h, out_h, yo);
      for (int64_t xo = 0; xo < out_w * il; ++xo) {
        const int64_t f = (p * out_h + yo) * out_w * il + xo, c = xo % il;
        if (!same_bits(by_element[f], portable[f]) || (avx2 && !same_bits(by_element[f], vector[f]))) ++differ;
        const std::vector<double> wx = naive_weights(filter, antialias, in_w, out_w, xo / il);
        double want = 0;
        for (int64_t y = 0; y < in_h; ++y)
          for (int64_t x = 0; x < in_w; ++x)
            want += wy[(size_t)y] * wx[(size_t)x] * input[(size_t)(((p * in_h + y) * in_w + x) * il + c)];
        want = std::min(255.0, std::max(0.0, want));
        const double got = std::nearbyint(load_value(&by_element[f]) / a.affine.scale[0]);
        if (std::fabs(got - want) > 1.0) ++far;
        // Off the rounded level only where the exact value lies within the
        // fixed-point error (a few hundredths of a level) of a rounding boundary.
        if (got != std::nearbyint(want) && std::fabs(want - std::floor(want) - 0.5) > 0.03) ++rounded_off;
      }
    }
  CHECK_MSG(differ == 0, "%s: %lld elements differ between the element path and the blocks", label.c_str(),
            (long long)differ);
  CHECK_MSG(far == 0, "%s: %lld elements more than one level off", label.c_str(), (long long)far);
  CHECK_MSG(rounded_off == 0, "%s: %lld of %lld elements off the rounded level away from a boundary",
            label.c_str(), (long long)rounded_off, (long long)numel);
  if (constant)
    for (int64_t f = 0; f < numel; ++f)
      CHECK_MSG(std::nearbyint(load_value(&by_element[f]) / a.affine.scale[0]) == level,
                "%s: a constant image changed", label.c_str());
}

void sweep_fixed(std::mt19937_64& rng) {
  const int64_t shapes[][4] = {{8, 8, 2, 2},   {17, 23, 5, 9},  {5, 7, 11, 2},  {1, 1, 3, 4},
                               {9, 13, 1, 1},  {12, 12, 12, 12}, {31, 6, 7, 6}, {40, 9, 70, 5},
                               {16, 16, 33, 47}, {3, 2, 40, 9}, {50, 37, 41, 26}, {96, 40, 24, 10},
                               {64, 70, 32, 35}, {24, 30, 40, 50}, {180, 20, 5, 3}};
  for (ResampleFilter filter : {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Bicubic})
    for (bool antialias : {true, false})
      for (const auto& s : shapes)
        for (int64_t il : {1, 3, 4}) {
          run_fixed<uint8_t>(rng, filter, antialias, 2, s[0], s[1], s[2], s[3], il);
          run_fixed<float>(rng, filter, antialias, 1, s[0], s[1], s[2], s[3], il);
        }
  run_fixed<uint8_t>(rng, ResampleFilter::Bicubic, true, 2, 37, 45, 11, 9, 3, /*constant=*/true);
  run_fixed<uint8_t>(rng, ResampleFilter::Bilinear, false, 2, 20, 21, 45, 33, 1, /*constant=*/true);
}

int main() {
  std::mt19937_64 rng(7);
  test_tables_match_definitions();
  sweep_resize<uint8_t, uint8_t>(rng);
  sweep_resize<uint8_t, float>(rng);
  sweep_resize<float, float>(rng);
  sweep_resize<Half, BFloat16>(rng);
  sweep_resize<BFloat16, float>(rng);
  run_resize<uint8_t, float>(rng, ResampleFilter::Bicubic, true, 3, 16, 12, 4, 3, true);
  run_resize<uint8_t, float>(rng, ResampleFilter::Bicubic, true, 2, 19, 21, 40, 9, true, 3, true);
  run_resize<float, float>(rng, ResampleFilter::Bicubic, true, 2, 9, 30, 5, 17, false, 4, true);
  test_sr_pair(rng, 16, 12, /*fixed=*/false);
  test_fixed_tables();
  sweep_fixed(rng);
  test_sr_pair(rng, 96, 40, /*fixed=*/true);
  sweep_gray<uint8_t, float>(rng);
  sweep_gray<float, float>(rng);
  sweep_gray<Half, BFloat16>(rng);
  return sslfast_test::finish("test_resize");
}
