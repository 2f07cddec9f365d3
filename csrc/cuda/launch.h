// Grid sizing shared by the CUDA launchers: grid-stride loops over `total`
// work items on the current stream.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

#include "../kernels/dispatch_dtypes.h"

namespace sslfast::cuda {

constexpr int kThreads = 256;

inline unsigned int grid_for(int64_t total) {
  // Enough blocks to fill any current GPU; the grid-stride loop covers the rest.
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return (unsigned int)std::max<int64_t>(1, std::min<int64_t>(blocks, 65535LL * 8));
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// First index and step of this thread in a grid-stride loop:
//   for (int64_t i = grid_first(); i < total; i += grid_step()) ...
__device__ __forceinline__ int64_t grid_first() { return blockIdx.x * (int64_t)blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_step() { return (int64_t)blockDim.x * gridDim.x; }

// The kernel of an Op: a type with `static __device__ void run(const Args&,
// int64_t i)`, called for every i in [0, total).
template <typename Op, typename Args>
__global__ void for_each_kernel(const Args args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) Op::run(args, i);
}

template <typename Op, typename Args>
void launch_for_each(const Args& args, int64_t total) {
  for_each_kernel<Op><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// launch_for_each of Op<In, Out> for the runtime input and output dtypes.
template <template <typename, typename> class Op, typename Args>
void launch_in_out(const Args& args, int64_t total, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    launch_for_each<Op<typename decltype(in_tag)::type, typename decltype(out_tag)::type>>(args, total);
  });
}

}  // namespace sslfast::cuda
