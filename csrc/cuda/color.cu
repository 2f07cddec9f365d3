// CUDA backend of the colour family: one thread per pixel (or per bin-table
// cell), each calling the same per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/color.h"
#include "../kernels/dispatch_dtypes.h"

namespace sslfast::cuda {
namespace {

template <typename In, typename Out>
__global__ void rgb_to_lab_kernel(const LabArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step())
    rgb_to_lab_pixel<In, Out>(args, i);
}

template <typename In, typename Out>
__global__ void lab_to_rgb_kernel(const LabArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step())
    lab_to_rgb_pixel<In, Out>(args, i);
}

__global__ void build_bin_table_kernel(const float* bins, int num_bins, int k, int32_t* cell_count,
                                       int16_t* cell_bins, float* cell_bound) {
  for (int cell = blockIdx.x * blockDim.x + threadIdx.x; cell < kCellCount; cell += blockDim.x * gridDim.x)
    build_cell(bins, num_bins, k, cell, cell_count, cell_bins, cell_bound);
}

template <typename In>
__global__ void ab_encode_kernel(const AbEncodeArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step())
    ab_encode_pixel<In>(args, i);
}

template <typename In, typename Out>
__global__ void lightness_kernel(const ColorizationArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step())
    colorization_lightness_pixel<In, Out>(args, i);
}

// The grayscale flags start true; a thread with a coloured target clears its
// image's flag (every writer stores the same value).
template <typename In>
__global__ void colorization_targets_kernel(const ColorizationArgs args, int64_t total) {
  const int64_t plane = args.out_height * args.out_width;
  for (int64_t i = grid_first(); i < total; i += grid_step())
    if (colorization_target_pixel<In>(args, i)) args.grayscale[i / plane] = false;
}

}  // namespace

void rgb_to_lab(const LabArgs& args, DType in, DType out) {
  const int64_t total = args.batch * args.pixels;
  dispatch_dtype(in, [&](auto in_tag) {
    dispatch_float_dtype(out, [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      rgb_to_lab_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void lab_to_rgb(const LabArgs& args, DType in, DType out) {
  const int64_t total = args.batch * args.pixels;
  dispatch_float_dtype(in, [&](auto in_tag) {
    dispatch_dtype(out, [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      lab_to_rgb_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void build_bin_table(const float* bins, int num_bins, int k, int32_t* cell_count, int16_t* cell_bins,
                     float* cell_bound) {
  build_bin_table_kernel<<<grid_for(kCellCount), kThreads, 0, current_stream()>>>(bins, num_bins, k, cell_count,
                                                                                     cell_bins, cell_bound);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void ab_encode(const AbEncodeArgs& args, DType in) {
  const int64_t total = args.batch * args.out_height * args.out_width;
  dispatch_float_dtype(in, [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    ab_encode_kernel<In><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void colorization_batch(const ColorizationArgs& args, DType in, DType out) {
  const int64_t pixels = args.batch * args.height * args.width;
  const int64_t targets = args.batch * args.out_height * args.out_width;
  dispatch_dtype(in, [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    dispatch_float_dtype(out, [&](auto out_tag) {
      using Out = typename decltype(out_tag)::type;
      lightness_kernel<In, Out><<<grid_for(pixels), kThreads, 0, current_stream()>>>(args, pixels);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    colorization_targets_kernel<In><<<grid_for(targets), kThreads, 0, current_stream()>>>(args, targets);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace sslfast::cuda
