// CUDA backend of the patch family: one warp per patch computes its
// statistics, then one thread per output element writes it; samplers run one
// thread per sample. All of them call the same code as the CPU backend.
#include "launch.h"
#include "../kernels/dispatch_dtypes.h"
#include "../kernels/patches.h"

namespace sslfast::cuda {
namespace {

constexpr int kWarp = 32;

// Sum of a partial over the 32 lanes of a warp, returned to every lane.
struct WarpTotal {
  __host__ __device__ double operator()(double partial) const {
#if defined(__CUDA_ARCH__)
    for (int offset = kWarp / 2; offset > 0; offset /= 2) partial += __shfl_xor_sync(0xffffffffu, partial, offset);
#endif
    return partial;
  }
};

template <typename In>
__global__ void patch_stats_kernel(const GatherPatchesArgs args) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = (int64_t)gridDim.x * blockDim.x / kWarp;
  // Whole warps step together, so every lane of a warp joins each reduction.
  for (int64_t p = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / kWarp; p < args.patches; p += warps)
    patch_stats<In, kWarp>(args, p, lane, WarpTotal{});
}

template <typename In, typename Out>
__global__ void gather_patches_kernel(const GatherPatchesArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step())
    gather_patch_element<In, Out>(args, i);
}

template <typename Sampler>
__global__ void sample_kernel(const Sampler sampler, int64_t n) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    sampler(i);
}

template <typename Sampler>
void launch_sampler(const Sampler& sampler, int64_t n) {
  sample_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(sampler, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void gather_patches(const GatherPatchesArgs& args, DType in, DType out) {
  const int64_t total = args.patches * args.channels * args.patch_h * args.patch_w;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    if (args.stats) {
      patch_stats_kernel<In><<<grid_for(args.patches * kWarp), kThreads, 0, current_stream()>>>(args);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    gather_patches_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void sample_jigsaw(const JigsawSampler& sampler, int64_t n) { launch_sampler(sampler, n); }
void sample_context(const ContextSampler& sampler, int64_t n) { launch_sampler(sampler, n); }
void sample_tuples(const TupleSampler& sampler, int64_t n) { launch_sampler(sampler, n); }
void sample_color_drop(const ColorDropSampler& sampler, int64_t n) { launch_sampler(sampler, n); }

}  // namespace sslfast::cuda
