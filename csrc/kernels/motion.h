// Frame motion (Shuffle & Learn tuple mining): the mean absolute difference of
// consecutive frames at low resolution. Downsampling is fused into the read:
// frames are box-averaged straight into a small [frames, C, out_h, out_w]
// grid (never a full-size intermediate), then each step reduces the
// difference of two neighbouring grids. Shared by the CPU and CUDA backends.
#pragma once

#include "common.h"

namespace sslfast {

struct FrameMotionArgs {
  const void* frames;   // [clips * length, channels, height, width], contiguous
  float* low;           // [clips * length, channels, out_h, out_w] box means (scratch)
  float* motion;        // [clips, length - 1]
  int64_t clips, length, channels, height, width, out_h, out_w;
  float scale;          // input units -> [0, 1] (1/255 for uint8)
};

// Cell i of n over `extent` input pixels covers [cell_begin, cell_end): the
// bins of torch's adaptive_avg_pool2d (floor start, ceil end), so cells tile
// the frame exactly when n divides it and overlap by at most a pixel otherwise.
SSLFAST_HD int64_t cell_begin(int64_t i, int64_t extent, int64_t n) { return i * extent / n; }
SSLFAST_HD int64_t cell_end(int64_t i, int64_t extent, int64_t n) { return ((i + 1) * extent + n - 1) / n; }

// One low-resolution value: the mean of its cell in one channel of one frame,
// in [0, 1] units. `flat` indexes the low grid (CUDA: one thread each).
template <typename In>
SSLFAST_HD void frame_motion_cell(const FrameMotionArgs& a, int64_t flat) {
  const int64_t x = flat % a.out_w, y = (flat / a.out_w) % a.out_h, plane = flat / (a.out_w * a.out_h);
  const In* p = static_cast<const In*>(a.frames) + plane * a.height * a.width;
  const int64_t y0 = cell_begin(y, a.height, a.out_h), y1 = cell_end(y, a.height, a.out_h);
  const int64_t x0 = cell_begin(x, a.width, a.out_w), x1 = cell_end(x, a.width, a.out_w);
  float sum = 0.f;  // exact for uint8 cells below 65793 pixels (sums < 2^24)
  for (int64_t r = y0; r < y1; ++r)
    for (int64_t c = x0; c < x1; ++c) sum += load_value(p + r * a.width + c);
  a.low[flat] = sum / (float)((y1 - y0) * (x1 - x0)) * a.scale;
}

// A whole row of cells (`row` = plane * out_h + y), as frame_motion_cell
// computes them one by one, for the CPU: the band's rows are first summed
// column-wise into `columns` (a.width floats; unit stride, vectorised, no
// divisions per pixel), then each cell sums its columns. For uint8 every sum
// is an exact integer, so both orders give the same bits; floating inputs
// may differ in the last place.
template <typename In>
SSLFAST_HD void frame_motion_row(const FrameMotionArgs& a, int64_t row, float* columns) {
  const int64_t y = row % a.out_h, plane = row / a.out_h;
  const In* p = static_cast<const In*>(a.frames) + plane * a.height * a.width;
  const int64_t y0 = cell_begin(y, a.height, a.out_h), y1 = cell_end(y, a.height, a.out_h);
  for (int64_t c = 0; c < a.width; ++c) columns[c] = 0.f;
  for (int64_t r = y0; r < y1; ++r) {
    const In* line = p + r * a.width;
    for (int64_t c = 0; c < a.width; ++c) columns[c] += load_value(line + c);
  }
  for (int64_t x = 0; x < a.out_w; ++x) {
    const int64_t x0 = cell_begin(x, a.width, a.out_w), x1 = cell_end(x, a.width, a.out_w);
    float sum = 0.f;
    for (int64_t c = x0; c < x1; ++c) sum += columns[c];
    a.low[row * a.out_w + x] = sum / (float)((y1 - y0) * (x1 - x0)) * a.scale;
  }
}

// Step s (clip s / (length - 1), frames t and t + 1): mean over channels and
// cells of |low[t + 1] - low[t]|, summed in a fixed order so both backends
// agree to the bit.
SSLFAST_HD void frame_motion_step(const FrameMotionArgs& a, int64_t s) {
  const int64_t steps = a.length - 1, clip = s / steps, t = s % steps;
  const int64_t n = a.channels * a.out_h * a.out_w;
  const float* u = a.low + (clip * a.length + t) * n;
  const float* v = u + n;
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) sum += v[i] > u[i] ? v[i] - u[i] : u[i] - v[i];
  a.motion[s] = sum / (float)n;
}

// Backend entry points, defined in csrc/cpu/motion.cpp and csrc/cuda/motion.cu:
// fill args.low, then args.motion.
namespace cpu {
void frame_motion(const FrameMotionArgs& args, DType in);
}  // namespace cpu
namespace cuda {
void frame_motion(const FrameMotionArgs& args, DType in);
}  // namespace cuda

}  // namespace sslfast
