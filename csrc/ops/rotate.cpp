// Schemas and dispatch of the rotate family.
#include "tensor_utils.h"
#include "../kernels/rotate.h"

namespace sslfast {
namespace {

at::Tensor rotate90_apply(const at::Tensor& images, const std::optional<at::Tensor>& k,
                          std::optional<at::ScalarType> out_dtype,
                          std::optional<at::ArrayRef<double>> mean,
                          std::optional<at::ArrayRef<double>> std) {
  TORCH_CHECK_VALUE(images.dim() == 4 && images.size(2) == images.size(3),
                    "images: expected [B, C, S, S], got ", images.sizes());
  TORCH_CHECK_VALUE(images.is_contiguous(), "images: expected a contiguous tensor");
  const at::ScalarType in_type = images.scalar_type(), out_type = out_dtype.value_or(in_type);
  const int64_t batch = images.size(0);
  int64_t out_batch = 4 * batch;
  if (k) {
    TORCH_CHECK_TYPE(k->scalar_type() == at::kLong, "k: expected int64, got ", k->scalar_type());
    TORCH_CHECK_VALUE(k->dim() == 1 && k->size(0) == batch && k->is_contiguous(),
                      "k: expected a contiguous [", batch, "] tensor, got ", k->sizes());
    TORCH_CHECK_VALUE(k->device() == images.device(), "k: expected device ", images.device());
    out_batch = batch;
  }
  TORCH_CHECK_VALUE(out_type != at::kByte || !mean, "out_dtype: uint8 output cannot be normalised");
  Rotate90Args args{};
  args.affine = make_affine(in_type, out_type, images.size(1), mean, std);
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");
  at::Tensor out = at::empty({out_batch, images.size(1), images.size(2), images.size(3)},
                             images.options().dtype(out_type));
  if (out.numel() == 0) return out;
  advise_huge_pages(out);
  args.input = images.data_ptr();
  args.output = out.data_ptr();
  args.k = k ? k->data_ptr<int64_t>() : nullptr;
  args.in_batch = batch;
  args.out_batch = out_batch;
  args.channels = images.size(1);
  args.size = images.size(2);
  run_on_device(images, [&] { cpu::rotate90(args, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::rotate90(args, in_code, out_code);
#endif
                });
  return out;
}

at::Tensor rotate90(const at::Tensor& images, const at::Tensor& k, std::optional<at::ScalarType> out_dtype,
                    std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> std) {
  return rotate90_apply(images, k, out_dtype, mean, std);
}

at::Tensor rotate90_all(const at::Tensor& images, std::optional<at::ScalarType> out_dtype,
                        std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> std) {
  return rotate90_apply(images, std::nullopt, out_dtype, mean, std);
}

at::Tensor sample_rotation(int64_t seed, const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "index: expected int64, got ", index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1 && index.is_contiguous(), "index: expected a contiguous 1-D tensor");
  at::Tensor labels = at::empty_like(index);
  if (index.numel() == 0) return labels;
  const int64_t* in = index.data_ptr<int64_t>();
  int64_t* out = labels.data_ptr<int64_t>();
  run_on_device(index, [&] { cpu::sample_rotation((uint64_t)seed, in, out, index.numel()); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::sample_rotation((uint64_t)seed, in, out, index.numel());
#endif
                });
  return labels;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("rotate90(Tensor images, Tensor k, ScalarType? out_dtype=None, float[]? mean=None, "
        "float[]? std=None) -> Tensor");
  m.def("rotate90_all(Tensor images, ScalarType? out_dtype=None, float[]? mean=None, "
        "float[]? std=None) -> Tensor");
  m.def("sample_rotation(int seed, Tensor index) -> Tensor");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("rotate90", &rotate90);
  m.impl("rotate90_all", &rotate90_all);
  m.impl("sample_rotation", &sample_rotation);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("rotate90", &rotate90);
  m.impl("rotate90_all", &rotate90_all);
  m.impl("sample_rotation", &sample_rotation);
}
#endif

}  // namespace sslfast
