// Helpers shared by the op files: dtype codes, the fused affine map, device
// guards. The user-facing argument checks live in sslfast/ops.py; the
// TORCH_CHECKs here only guard memory safety for direct torch.ops calls.
#pragma once

#include <torch/library.h>
#include <ATen/ATen.h>

#ifdef SSLFAST_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

#include <cstdint>
#include <optional>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "../kernels/common.h"

namespace sslfast {

inline DType dtype_code(at::ScalarType t, const char* what) {
  switch (t) {
    case at::kByte: return DType::UInt8;
    case at::kHalf: return DType::Float16;
    case at::kBFloat16: return DType::BFloat16;
    case at::kFloat: return DType::Float32;
    default: TORCH_CHECK_TYPE(false, what, ": expected uint8, float16, bfloat16 or float32, got ", t);
  }
}

// Multiply input values by this to reach output units: uint8 is [0, 255],
// floating is [0, 1].
inline double value_range(at::ScalarType in, at::ScalarType out) {
  if (in == at::kByte && out != at::kByte) return 1.0 / 255.0;
  if (in != at::kByte && out == at::kByte) return 255.0;
  return 1.0;
}

// The conversion from the input's value range to the output's, followed by
// optional (x - mean) / std; computed in double, applied in float.
inline ChannelAffine make_affine(at::ScalarType in, at::ScalarType out, int64_t channels,
                                 const std::optional<at::ArrayRef<double>>& mean,
                                 const std::optional<at::ArrayRef<double>>& std) {
  const double range = value_range(in, out);
  const int64_t count = mean ? (int64_t)mean->size() : 1;
  TORCH_CHECK_VALUE(count >= 1 && count <= kMaxAffineChannels && (count == 1 || count == channels),
                    "mean: expected 1 or ", channels, " values (at most ", kMaxAffineChannels, ")");
  TORCH_CHECK_VALUE((bool)mean == (bool)std && (!std || (int64_t)std->size() == count),
                    "mean and std: expected both or neither, of equal length");
  ChannelAffine affine{};
  affine.count = (int)count;
  for (int64_t c = 0; c < count; ++c) {
    const double m = mean ? (*mean)[c] : 0.0, s = std ? (*std)[c] : 1.0;
    TORCH_CHECK_VALUE(s != 0.0 && s == s, "std: values must be non-zero and not NaN");
    affine.scale[c] = (float)(range / s);
    affine.bias[c] = (float)(-m / s);
  }
  return affine;
}

// A large fresh CPU output is filled in one pass: ask the kernel for
// transparent huge pages first, so that pass takes ~500x fewer page faults
// (glibc maps big allocations afresh on every call).
inline void advise_huge_pages(const at::Tensor& t) {
#ifdef __linux__
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  if (!t.is_cpu() || t.nbytes() < 4 * kHugePage) return;
  const uintptr_t start = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t begin = (start + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (start + t.nbytes()) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: errors ignored
#else
  (void)t;
#endif
}

// Calls on_cpu() or on_cuda() by the tensor's device, under a device guard.
template <typename Cpu, typename Cuda>
void run_on_device(const at::Tensor& t, Cpu&& on_cpu, Cuda&& on_cuda) {
  if (t.is_cpu()) return on_cpu();
#ifdef SSLFAST_WITH_CUDA
  if (t.is_cuda()) {
    c10::cuda::CUDAGuard guard(t.device());
    return on_cuda();
  }
#else
  (void)on_cuda;
#endif
  TORCH_CHECK(false, "sslfast was built without support for device ", t.device());
}

}  // namespace sslfast
