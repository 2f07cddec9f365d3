// CPU backend entry points: plain-struct arguments, at::parallel_for inside.
#pragma once

#include "../kernels/rotate.h"

namespace sslfast::cpu {

void rotate90(const Rotate90Args& args, DType in, DType out);
void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n);

}  // namespace sslfast::cpu
