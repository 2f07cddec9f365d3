// Grid sizing shared by the CUDA launchers: grid-stride loops over `total`
// work items on the current stream.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

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

}  // namespace sslfast::cuda
