// frame_motion_row, frame_motion_cell and frame_motion_step of csrc/kernels/motion.h against a
// naive double-precision box average and difference written here, for
// uint8/float32/float16 frames, grid sizes that divide the frame and ones
// that do not (overlapping bins), 1x1 frames, several clips and channels.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "kernels/common.h"
#include "kernels/motion.h"

using namespace sslfast;

namespace {

// Box mean of cell (y, x) with floor/ceil bins, written from the spec.
double naive_cell(const std::vector<double>& plane, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t y,
                  int64_t x) {
  const int64_t y0 = (int64_t)std::floor((double)y * h / oh), y1 = (int64_t)std::ceil((double)(y + 1) * h / oh);
  const int64_t x0 = (int64_t)std::floor((double)x * w / ow), x1 = (int64_t)std::ceil((double)(x + 1) * w / ow);
  double sum = 0;
  for (int64_t r = y0; r < y1; ++r)
    for (int64_t c = x0; c < x1; ++c) sum += plane[r * w + c];
  return sum / (double)((y1 - y0) * (x1 - x0));
}

template <typename T>
void check_case(int64_t clips, int64_t length, int64_t channels, int64_t h, int64_t w, int64_t size,
                std::mt19937_64& rng) {
  const int64_t oh = size < h ? size : h, ow = size < w ? size : w;
  const int64_t planes = clips * length * channels;
  std::vector<T> frames(planes * h * w);
  std::vector<double> values(frames.size());  // what each stored element means, in [0, 1]
  for (size_t i = 0; i < frames.size(); ++i) {
    if constexpr (std::is_same_v<T, uint8_t>) {
      frames[i] = (uint8_t)(rng() & 0xff);
      values[i] = frames[i] / 255.0;
    } else {
      store_value(&frames[i], std::uniform_real_distribution<float>(0.f, 1.f)(rng));
      values[i] = load_value(&frames[i]);
    }
  }
  std::vector<float> low(planes * oh * ow, -1.f), motion(clips * (length - 1), -1.f);
  FrameMotionArgs a{frames.data(), low.data(), motion.data(), clips, length, channels, h, w, oh, ow,
                    std::is_same_v<T, uint8_t> ? 1.f / 255.f : 1.f};
  // The CPU's row path first; the CUDA's per-cell path must give the same cells.
  std::vector<float> columns(w);
  for (int64_t r = 0; r < planes * oh; ++r) frame_motion_row<T>(a, r, columns.data());
  const std::vector<float> by_rows = low;
  for (int64_t i = 0; i < (int64_t)low.size(); ++i) frame_motion_cell<T>(a, i);
  for (size_t i = 0; i < low.size(); ++i) {
    if constexpr (std::is_same_v<T, uint8_t>) {
      CHECK_EQ(by_rows[i], low[i]);  // exact integer sums in either order
    } else {
      CHECK_MSG(std::fabs(by_rows[i] - low[i]) <= 1e-6f, "cell %zu: row %f vs cell %f", i, by_rows[i], low[i]);
    }
  }
  for (int64_t s = 0; s < (int64_t)motion.size(); ++s) frame_motion_step(a, s);
  std::vector<double> want_low(low.size());
  for (int64_t p = 0; p < planes; ++p) {
    std::vector<double> plane(values.begin() + p * h * w, values.begin() + (p + 1) * h * w);
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        want_low[(p * oh + y) * ow + x] = naive_cell(plane, h, w, oh, ow, y, x);
        CHECK_MSG(std::fabs(low[(p * oh + y) * ow + x] - want_low[(p * oh + y) * ow + x]) < 1e-5,
                  "cell %lld,%lld of plane %lld", (long long)y, (long long)x, (long long)p);
      }
  }
  const int64_t n = channels * oh * ow;
  for (int64_t clip = 0; clip < clips; ++clip)
    for (int64_t t = 0; t + 1 < length; ++t) {
      double sum = 0;
      for (int64_t i = 0; i < n; ++i)
        sum += std::fabs(want_low[(clip * length + t + 1) * n + i] - want_low[(clip * length + t) * n + i]);
      CHECK_MSG(std::fabs(motion[clip * (length - 1) + t] - sum / n) < 1e-5, "clip %lld step %lld: %f vs %f",
                (long long)clip, (long long)t, motion[clip * (length - 1) + t], sum / n);
    }
}

// A still clip is exactly zero; a cut gives exactly one non-zero step.
void check_still_and_cut() {
  const int64_t h = 9, w = 11, length = 6;
  std::vector<uint8_t> frames(length * h * w);
  for (int64_t t = 0; t < length; ++t)
    for (int64_t i = 0; i < h * w; ++i) frames[t * h * w + i] = (uint8_t)(t < 3 ? i * 7 : 255 - i);
  std::vector<float> low(length * 4 * 4), motion(length - 1), columns(w);
  FrameMotionArgs a{frames.data(), low.data(), motion.data(), 1, length, 1, h, w, 4, 4, 1.f / 255.f};
  for (int64_t r = 0; r < length * 4; ++r) frame_motion_row<uint8_t>(a, r, columns.data());
  for (int64_t s = 0; s < length - 1; ++s) frame_motion_step(a, s);
  for (int64_t s = 0; s < length - 1; ++s) CHECK_MSG((motion[s] != 0.f) == (s == 2), "step %lld", (long long)s);
}

}  // namespace

int main() {
  std::mt19937_64 rng(7);
  check_case<uint8_t>(1, 5, 3, 64, 64, 32, rng);
  check_case<uint8_t>(2, 4, 3, 37, 53, 8, rng);
  check_case<uint8_t>(1, 3, 1, 7, 5, 32, rng);
  check_case<uint8_t>(3, 2, 2, 1, 1, 4, rng);
  check_case<float>(2, 3, 3, 30, 41, 30, rng);
  check_case<Half>(1, 4, 2, 19, 23, 6, rng);
  check_still_and_cut();
  return sslfast_test::finish("test_motion");
}
