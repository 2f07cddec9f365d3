// CPU backend of the render family: the three passes of csrc/kernels/render.h,
// over scenes, then pixel rows, each with at::parallel_for.
#include <ATen/Parallel.h>

#include <algorithm>

#include "../kernels/render.h"

namespace sslfast::cpu {

void render_scenes(const render::RenderArgs& args) {
  at::parallel_for(0, args.batch, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) render::prepare_scene(args, b);
  });
  // ~2K pixels per task: enough to amortise scheduling, small enough to
  // balance scenes of very different cost.
  const int64_t rows = args.batch * args.height;
  const int64_t grain = std::max<int64_t>(1, 2048 / args.width);
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      for (int64_t x = 0; x < args.width; ++x) render::render_pixel(args, row / args.height, row % args.height, x);
  });
  at::parallel_for(0, rows, 4 * grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      for (int64_t x = 0; x < args.width; ++x) render::edge_pixel(args, row / args.height, row % args.height, x);
  });
}

void sample_scenes(const render::SceneSamplerArgs& args) {
  at::parallel_for(0, args.batch, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) render::sample_scene(args, b);
  });
}

}  // namespace sslfast::cpu
