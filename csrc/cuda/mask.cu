// CUDA backend of the mask family: one thread per sample (samplers, region
// thresholds) or per output element, each calling the same per-element code
// as the CPU backend. Region masks take four launches: noise grid, field bins
// counted into the histogram (atomics), thresholds, mask.
#include "launch.h"
#include "../kernels/dispatch_dtypes.h"
#include "../kernels/mask.h"

namespace sslfast::cuda {

__global__ void sample_boxes_kernel(const BoxSamplerArgs args) {
  for (int64_t i = grid_first(); i < args.n; i += grid_step()) sample_boxes_one(args, i);
}

__global__ void boxes_to_mask_kernel(const int64_t* boxes, int64_t count, int64_t height, int64_t width, bool* mask,
                                     int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) boxes_to_mask_element(boxes, count, height, width, mask, i);
}

__global__ void region_noise_kernel(const RegionArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) region_noise_element(args, i);
}

__global__ void region_bins_kernel(const RegionArgs args, int64_t total) {
  const int64_t plane = args.height * args.width;
  for (int64_t i = grid_first(); i < total; i += grid_step()) {
    const uint16_t bin = region_bin_element(args, i);
    atomicAdd(args.histogram + (i / plane) * kRegionBins + bin, 1);
  }
}

__global__ void region_threshold_kernel(const RegionArgs args) {
  for (int64_t s = grid_first(); s < args.n; s += grid_step()) region_threshold_one(args, s);
}

__global__ void region_mask_kernel(const RegionArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) region_mask_element(args, i);
}

template <typename In, typename Out>
__global__ void apply_mask_kernel(const MaskApplyArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) mask_element<In, Out>(args, i);
}

void sample_boxes(const BoxSamplerArgs& args) {
  sample_boxes_kernel<<<grid_for(args.n), kThreads, 0, current_stream()>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void boxes_to_mask(const int64_t* boxes, int64_t n, int64_t count, int64_t height, int64_t width, bool* mask) {
  const int64_t total = n * height * width;
  boxes_to_mask_kernel<<<grid_for(total), kThreads, 0, current_stream()>>>(boxes, count, height, width, mask, total);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void region_masks(const RegionArgs& args) {
  const int64_t grid = args.n * args.cells * args.cells, pixels = args.n * args.height * args.width;
  const cudaStream_t stream = current_stream();
  region_noise_kernel<<<grid_for(grid), kThreads, 0, stream>>>(args, grid);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  region_bins_kernel<<<grid_for(pixels), kThreads, 0, stream>>>(args, pixels);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  region_threshold_kernel<<<grid_for(args.n), kThreads, 0, stream>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  region_mask_kernel<<<grid_for(pixels), kThreads, 0, stream>>>(args, pixels);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void apply_mask(const MaskApplyArgs& args, DType in, DType out) {
  const int64_t total = args.batch * args.channels * args.height * args.width;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    apply_mask_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace sslfast::cuda
