// CUDA backend of the render family: one thread per scene or pixel, each
// calling the same code as the CPU backend; the passes run in stream order,
// so each sees the previous one's output.
#include "launch.h"
#include "../kernels/render.h"

namespace sslfast::cuda {

#define SSLFAST_GRID_STRIDE(i, total) for (int64_t i = grid_first(); i < (total); i += grid_step())

__global__ void prepare_scenes_kernel(const render::RenderArgs args) {
  SSLFAST_GRID_STRIDE(b, args.batch) render::prepare_scene(args, b);
}

__global__ void render_pixels_kernel(const render::RenderArgs args, int64_t total) {
  SSLFAST_GRID_STRIDE(i, total) {
    const int64_t x = i % args.width, row = i / args.width;
    render::render_pixel(args, row / args.height, row % args.height, x);
  }
}

__global__ void edge_pixels_kernel(const render::RenderArgs args, int64_t total) {
  SSLFAST_GRID_STRIDE(i, total) {
    const int64_t x = i % args.width, row = i / args.width;
    render::edge_pixel(args, row / args.height, row % args.height, x);
  }
}

__global__ void sample_scenes_kernel(const render::SceneSamplerArgs args) {
  SSLFAST_GRID_STRIDE(b, args.batch) render::sample_scene(args, b);
}

void render_scenes(const render::RenderArgs& args) {
  const cudaStream_t stream = current_stream();
  const int64_t pixels = args.batch * args.height * args.width;
  prepare_scenes_kernel<<<grid_for(args.batch), kThreads, 0, stream>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  render_pixels_kernel<<<grid_for(pixels), kThreads, 0, stream>>>(args, pixels);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  edge_pixels_kernel<<<grid_for(pixels), kThreads, 0, stream>>>(args, pixels);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void sample_scenes(const render::SceneSamplerArgs& args) {
  sample_scenes_kernel<<<grid_for(args.batch), kThreads, 0, current_stream()>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#undef SSLFAST_GRID_STRIDE

}  // namespace sslfast::cuda
