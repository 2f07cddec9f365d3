// Schemas and dispatch of the mask family: box and region samplers, box
// rasterisation, apply_mask (mask tensor) and apply_boxes (boxes, also
// returning the rasterised mask).
#include "tensor_utils.h"
#include "../kernels/mask.h"

namespace sslfast {
namespace {

void check_index(const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "index: expected int64, got ", index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1 && index.is_contiguous(), "index: expected a contiguous 1-D tensor");
}

void check_size(int64_t height, int64_t width) {
  TORCH_CHECK_VALUE(height > 0 && width > 0 && height < (1LL << 31) && width < (1LL << 31),
                    "size: expected positive height and width below 2^31, got ", height, "x", width);
}

void check_boxes(const at::Tensor& boxes) {
  TORCH_CHECK_TYPE(boxes.scalar_type() == at::kLong, "boxes: expected int64, got ", boxes.scalar_type());
  TORCH_CHECK_VALUE(boxes.dim() == 3 && boxes.size(2) == 4 && boxes.is_contiguous(),
                    "boxes: expected a contiguous [B, M, 4] tensor, got ", boxes.sizes());
}

at::Tensor sample_boxes(int64_t seed, const at::Tensor& index, int64_t height, int64_t width, int64_t count_min,
                        int64_t count_max, int64_t h_min, int64_t h_max, int64_t w_min, int64_t w_max,
                        bool centered) {
  check_index(index);
  check_size(height, width);
  TORCH_CHECK_VALUE(count_min >= 0 && count_min <= count_max && count_max >= 1 && (!centered || count_max == 1),
                    "count: expected 0 <= min <= max, max >= 1 (1 when centred), got ", count_min, "..", count_max);
  TORCH_CHECK_VALUE(h_min >= 1 && h_min <= h_max && h_max <= height && w_min >= 1 && w_min <= w_max &&
                        w_max <= width,
                    "block_size: expected 1 <= min <= max <= image size, got heights ", h_min, "..", h_max,
                    " and widths ", w_min, "..", w_max, " for ", height, "x", width);
  at::Tensor boxes = at::empty({index.size(0), count_max, 4}, index.options());
  if (index.numel() == 0) return boxes;
  BoxSamplerArgs a{index.data_ptr<int64_t>(), boxes.data_ptr<int64_t>(), (uint64_t)seed, index.size(0), height,
                   width, count_min, count_max, h_min, h_max, w_min, w_max, centered};
  run_on_device(index, [&] { cpu::sample_boxes(a); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::sample_boxes(a);
#endif
                });
  return boxes;
}

at::Tensor boxes_to_mask(const at::Tensor& boxes, int64_t height, int64_t width) {
  check_boxes(boxes);
  check_size(height, width);
  at::Tensor mask = at::empty({boxes.size(0), 1, height, width}, boxes.options().dtype(at::kBool));
  if (mask.numel() == 0) return mask;
  const int64_t* b = boxes.data_ptr<int64_t>();
  bool* m = mask.data_ptr<bool>();
  run_on_device(boxes, [&] { cpu::boxes_to_mask(b, boxes.size(0), boxes.size(1), height, width, m); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::boxes_to_mask(b, boxes.size(0), boxes.size(1), height, width, m);
#endif
                });
  return mask;
}

at::Tensor sample_region_masks(int64_t seed, const at::Tensor& index, int64_t height, int64_t width, int64_t cells,
                               int64_t covered_min, int64_t covered_max) {
  check_index(index);
  check_size(height, width);
  TORCH_CHECK_VALUE(cells >= 2 && cells <= 4096, "cells: expected 2..4096, got ", cells);
  TORCH_CHECK_VALUE(0 <= covered_min && covered_min <= covered_max && covered_max <= height * width,
                    "coverage: expected 0 <= min <= max <= ", height * width, " pixels, got ", covered_min, "..",
                    covered_max);
  const int64_t n = index.size(0);
  at::Tensor mask = at::empty({n, 1, height, width}, index.options().dtype(at::kBool));
  if (n == 0) return mask;
  at::Tensor grid = at::empty({n, cells, cells}, index.options().dtype(at::kUInt16));
  at::Tensor bins = at::empty({n, height, width}, index.options().dtype(at::kUInt16));
  at::Tensor histogram = at::zeros({n, kRegionBins}, index.options().dtype(at::kInt));
  at::Tensor threshold = at::empty({n}, index.options());
  RegionArgs a{index.data_ptr<int64_t>(),
               static_cast<uint16_t*>(grid.data_ptr()),
               static_cast<uint16_t*>(bins.data_ptr()),
               histogram.data_ptr<int32_t>(),
               threshold.data_ptr<int64_t>(),
               mask.data_ptr<bool>(),
               (uint64_t)seed, n, height, width, cells, covered_min, covered_max};
  run_on_device(index, [&] { cpu::region_masks(a); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::region_masks(a);
#endif
                });
  return mask;
}

// Everything apply_mask and apply_boxes share: fill mode and value, the
// fused conversion, the output.
MaskApplyArgs apply_args(const at::Tensor& images, c10::string_view fill, std::optional<at::ArrayRef<double>> value,
                         int64_t noise_seed, at::ScalarType out_type, std::optional<at::ArrayRef<double>> mean,
                         std::optional<at::ArrayRef<double>> std, at::Tensor& plane_mean) {
  TORCH_CHECK_VALUE(images.dim() == 4 && images.is_contiguous(), "images: expected a contiguous [B, C, H, W] tensor");
  const at::ScalarType in_type = images.scalar_type();
  dtype_code(in_type, "images");
  MaskApplyArgs a{};
  a.affine = make_affine(in_type, out_type, images.size(1), mean, std);
  a.raw_copy = in_type == out_type && !mean;
  a.batch = images.size(0);
  a.channels = images.size(1);
  a.height = images.size(2);
  a.width = images.size(3);
  a.input = images.data_ptr();
  if (fill == "zero") {
    a.fill = MaskFill::Zero;
  } else if (fill == "mean") {
    a.fill = MaskFill::Mean;
    plane_mean = images.mean({2, 3}, /*keepdim=*/false, at::kFloat).contiguous();
    a.plane_mean = plane_mean.data_ptr<float>();
  } else if (fill == "noise") {
    a.fill = MaskFill::Noise;
    a.noise_seed = (uint64_t)noise_seed;
    a.integer_noise = in_type == at::kByte;
  } else {
    TORCH_CHECK_VALUE(fill == "value", "fill: expected 'zero', 'mean', 'noise' or 'value', got '", fill, "'");
    TORCH_CHECK_VALUE(value && !value->empty() && (int64_t)value->size() <= kMaxAffineChannels &&
                          ((int64_t)value->size() == 1 || (int64_t)value->size() == a.channels),
                      "fill: expected 1 or ", a.channels, " values");
    a.fill = MaskFill::Value;
    a.fill_count = (int)value->size();
    for (size_t c = 0; c < value->size(); ++c) a.fill_value[c] = (float)(*value)[c];
  }
  return a;
}

void run_apply(const MaskApplyArgs& a, at::ScalarType in_type, at::ScalarType out_type, const at::Tensor& images) {
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");
  run_on_device(images, [&] { cpu::apply_mask(a, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::apply_mask(a, in_code, out_code);
#endif
                });
}

at::Tensor apply_mask(const at::Tensor& images, const at::Tensor& mask, c10::string_view fill,
                      std::optional<at::ArrayRef<double>> value, int64_t noise_seed,
                      std::optional<at::ScalarType> out_dtype, std::optional<at::ArrayRef<double>> mean,
                      std::optional<at::ArrayRef<double>> std) {
  const at::ScalarType out_type = out_dtype.value_or(images.scalar_type());
  at::Tensor plane_mean;
  MaskApplyArgs a = apply_args(images, fill, value, noise_seed, out_type, mean, std, plane_mean);
  TORCH_CHECK_TYPE(mask.scalar_type() == at::kBool, "mask: expected bool, got ", mask.scalar_type());
  TORCH_CHECK_VALUE(mask.dim() == 4 && mask.size(0) == a.batch && mask.size(1) == 1 && mask.size(2) == a.height &&
                        mask.size(3) == a.width && mask.is_contiguous(),
                    "mask: expected a contiguous [", a.batch, ", 1, ", a.height, ", ", a.width, "] tensor, got ",
                    mask.sizes());
  TORCH_CHECK_VALUE(mask.device() == images.device(), "mask: expected device ", images.device());
  at::Tensor out = at::empty(images.sizes(), images.options().dtype(out_type));
  if (out.numel() == 0) return out;
  a.mask = mask.data_ptr<bool>();
  a.output = out.data_ptr();
  run_apply(a, images.scalar_type(), out_type, images);
  return out;
}

std::tuple<at::Tensor, at::Tensor> apply_boxes(const at::Tensor& images, const at::Tensor& boxes,
                                               c10::string_view fill, std::optional<at::ArrayRef<double>> value,
                                               int64_t noise_seed, std::optional<at::ScalarType> out_dtype,
                                               std::optional<at::ArrayRef<double>> mean,
                                               std::optional<at::ArrayRef<double>> std) {
  const at::ScalarType out_type = out_dtype.value_or(images.scalar_type());
  at::Tensor plane_mean;
  MaskApplyArgs a = apply_args(images, fill, value, noise_seed, out_type, mean, std, plane_mean);
  check_boxes(boxes);
  TORCH_CHECK_VALUE(boxes.size(0) == a.batch, "boxes: expected ", a.batch, " rows (one per image), got ",
                    boxes.size(0));
  TORCH_CHECK_VALUE(boxes.device() == images.device(), "boxes: expected device ", images.device());
  at::Tensor out = at::empty(images.sizes(), images.options().dtype(out_type));
  at::Tensor mask = at::empty({a.batch, 1, a.height, a.width}, images.options().dtype(at::kBool));
  if (out.numel() == 0) return {out, mask};
  a.boxes = boxes.data_ptr<int64_t>();
  a.box_count = boxes.size(1);
  a.mask_out = mask.data_ptr<bool>();
  a.output = out.data_ptr();
  run_apply(a, images.scalar_type(), out_type, images);
  return {out, mask};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("sample_boxes(int seed, Tensor index, int height, int width, int count_min, int count_max, int h_min, "
        "int h_max, int w_min, int w_max, bool centered) -> Tensor");
  m.def("boxes_to_mask(Tensor boxes, int height, int width) -> Tensor");
  m.def("sample_region_masks(int seed, Tensor index, int height, int width, int cells, int covered_min, "
        "int covered_max) -> Tensor");
  m.def("apply_mask(Tensor images, Tensor mask, str fill='zero', float[]? value=None, int noise_seed=0, "
        "ScalarType? out_dtype=None, float[]? mean=None, float[]? std=None) -> Tensor");
  m.def("apply_boxes(Tensor images, Tensor boxes, str fill='zero', float[]? value=None, int noise_seed=0, "
        "ScalarType? out_dtype=None, float[]? mean=None, float[]? std=None) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("sample_boxes", &sample_boxes);
  m.impl("boxes_to_mask", &boxes_to_mask);
  m.impl("sample_region_masks", &sample_region_masks);
  m.impl("apply_mask", &apply_mask);
  m.impl("apply_boxes", &apply_boxes);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("sample_boxes", &sample_boxes);
  m.impl("boxes_to_mask", &boxes_to_mask);
  m.impl("sample_region_masks", &sample_region_masks);
  m.impl("apply_mask", &apply_mask);
  m.impl("apply_boxes", &apply_boxes);
}
#endif

}  // namespace sslfast
