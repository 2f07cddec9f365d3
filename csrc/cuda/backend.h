// CUDA backend entry points. Torch-free so the .cu files compile with nvcc
// and the light c10 headers only; callers set the device guard.
#pragma once

#include "../kernels/rotate.h"

namespace sslfast::cuda {

void rotate90(const Rotate90Args& args, DType in, DType out);
void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n);

}  // namespace sslfast::cuda
