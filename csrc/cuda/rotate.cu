// CUDA backend of the rotate family: one thread per output element, each
// calling the same per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/dispatch_dtypes.h"
#include "../kernels/rotate.h"

namespace sslfast::cuda {

template <typename In, typename Out>
__global__ void rotate90_kernel(const Rotate90Args args, int64_t total) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)blockDim.x * gridDim.x)
    rotate90_element<In, Out>(args, i);
}

__global__ void sample_rotation_kernel(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x)
    labels[i] = rotation_label(seed, index[i]);
}

void rotate90(const Rotate90Args& args, DType in, DType out) {
  const int64_t total = args.out_batch * args.channels * args.size * args.size;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    rotate90_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n) {
  sample_rotation_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(seed, index, labels, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace sslfast::cuda
