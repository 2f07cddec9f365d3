// Schemas and dispatch of the resize family: resize, sr_pair, grayscale, sobel.
#include "tensor_utils.h"
#include "../kernels/resize.h"

namespace sslfast {
namespace {

ResampleFilter filter_code(c10::string_view name) {
  if (name == "box") return ResampleFilter::Box;
  if (name == "bilinear") return ResampleFilter::Bilinear;
  TORCH_CHECK_VALUE(name == "bicubic", "filter: expected 'box', 'bilinear' or 'bicubic', got '", name, "'");
  return ResampleFilter::Bicubic;
}

void check_images_4d(const at::Tensor& images) {
  TORCH_CHECK_VALUE(images.dim() == 4, "images: expected [B, C, H, W], got ", images.sizes());
  TORCH_CHECK_VALUE(images.is_contiguous(), "images: expected a contiguous tensor");
}

// resize also takes channels_last images as they are (and returns
// channels_last): NHWC memory is resampled with C channels per pixel.
bool is_channels_last(const at::Tensor& images) {
  return images.dim() == 4 && !images.is_contiguous() && images.is_contiguous(at::MemoryFormat::ChannelsLast);
}

bool is_identity(const ChannelAffine& affine) {
  for (int c = 0; c < affine.count; ++c)
    if (affine.scale[c] != 1.f || affine.bias[c] != 0.f) return false;
  return true;
}

// Weight tables of both axes on the images' device, and the ResizeArgs that
// point into them (the tables must outlive the launch: returned alongside).
struct Resampling {
  at::Tensor start, weight, fixed;
  ResizeArgs args{};
};

// With `fixed_point`, also the quantised tables of the fixed-point path (built only then).
Resampling plan_resampling(const at::Tensor& images, int64_t out_h, int64_t out_w, ResampleFilter filter,
                           bool antialias, bool fixed_point) {
  const int64_t in_h = images.size(2), in_w = images.size(3);
  TORCH_CHECK_VALUE(in_h < (1LL << 31) && in_w < (1LL << 31), "images: height and width must be below 2^31");
  const ResampleSpec rows{filter, antialias, in_h, out_h, resample_taps(filter, antialias, in_h, out_h)};
  const ResampleSpec cols{filter, antialias, in_w, out_w, resample_taps(filter, antialias, in_w, out_w)};
  Resampling r;
  r.start = at::empty({out_h + out_w}, images.options().dtype(at::kInt));
  r.weight = at::empty({out_h * rows.taps + out_w * cols.taps}, images.options().dtype(at::kFloat));
  if (fixed_point) r.fixed = at::empty({resample_fixed_size(rows, cols)}, images.options().dtype(at::kShort));
  int32_t* start = r.start.data_ptr<int32_t>();
  float* weight = r.weight.data_ptr<float>();
  int16_t* fixed = fixed_point ? r.fixed.data_ptr<int16_t>() : nullptr;
  run_on_device(images, [&] { cpu::resample_tables(rows, cols, start, weight, fixed); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::resample_tables(rows, cols, start, weight, fixed);
#endif
                });
  ResizeArgs& a = r.args;
  a.rows = row_axis(rows, start, weight);
  a.cols = column_axis(rows, cols, start, weight);
  a.fixed = fixed_point;
  if (fixed_point) {
    a.rows_q = fixed_row_axis(rows, cols, fixed);
    a.cols_q = fixed_column_axis(rows, cols, fixed);
    a.frac = fixed_frac_bits(filter);
  }
  const bool nhwc = is_channels_last(images);
  a.planes = nhwc ? images.size(0) : images.size(0) * images.size(1);
  a.channels = images.size(1);
  a.interleave = nhwc ? images.size(1) : 1;
  a.in_h = in_h;
  a.in_w = in_w;
  a.out_h = out_h;
  a.out_w = out_w;
  a.input = images.data_ptr();
  return r;
}

at::Tensor resize(const at::Tensor& images, at::IntArrayRef size, c10::string_view filter, bool antialias,
                  std::optional<at::ScalarType> out_dtype, std::optional<at::ArrayRef<double>> mean,
                  std::optional<at::ArrayRef<double>> std) {
  if (!is_channels_last(images)) check_images_4d(images);
  TORCH_CHECK_VALUE(size.size() == 2, "size: expected [height, width], got ", size);
  const at::ScalarType in_type = images.scalar_type(), out_type = out_dtype.value_or(in_type);
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");
  const ChannelAffine affine = make_affine(in_type, out_type, images.size(1), mean, std);
  const ResampleFilter code = filter_code(filter);
  TORCH_CHECK_VALUE(size[0] > 0 && size[1] > 0, "size: expected positive sizes, got ", size);
  const auto layout = is_channels_last(images) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  at::Tensor out = at::empty({images.size(0), images.size(1), size[0], size[1]},
                             images.options().dtype(out_type).memory_format(layout));
  if (images.numel() == 0) return out;
  advise_huge_pages(out);
  // uint8 to uint8 (the identity map): whole levels, in fixed point.
  const bool fixed = in_type == at::kByte && out_type == at::kByte && is_identity(affine);
  Resampling r = plan_resampling(images, size[0], size[1], code, antialias, fixed);
  r.args.output = out.data_ptr();
  r.args.affine = affine;
  run_on_device(images, [&] { cpu::resize(r.args, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::resize(r.args, in_code, out_code);
#endif
                });
  return out;
}

std::tuple<at::Tensor, at::Tensor> sr_pair(const at::Tensor& images, int64_t factor, c10::string_view filter,
                                           at::ScalarType out_dtype, std::optional<at::ArrayRef<double>> mean,
                                           std::optional<at::ArrayRef<double>> std, bool quantize) {
  check_images_4d(images);
  TORCH_CHECK_TYPE(images.scalar_type() == at::kByte, "images: expected uint8, got ", images.scalar_type());
  TORCH_CHECK_VALUE(factor >= 1 && images.size(2) % factor == 0 && images.size(3) % factor == 0,
                    "scale: expected a positive integer dividing height and width ", images.sizes());
  const DType out_code = dtype_code(out_dtype, "out_dtype");
  const ChannelAffine affine = make_affine(at::kByte, out_dtype, images.size(1), mean, std);
  const ResampleFilter code = filter_code(filter);
  const int64_t out_h = images.size(2) / factor, out_w = images.size(3) / factor;
  at::Tensor hr = at::empty(images.sizes(), images.options().dtype(out_dtype));
  at::Tensor lr = at::empty({images.size(0), images.size(1), out_h, out_w}, images.options().dtype(out_dtype));
  if (images.numel() == 0) return {lr, hr};
  advise_huge_pages(hr);
  advise_huge_pages(lr);
  const bool fixed = quantize && (out_dtype != at::kByte || is_identity(affine));
  Resampling r = plan_resampling(images, out_h, out_w, code, /*antialias=*/true, fixed);
  r.args.output = lr.data_ptr();
  r.args.affine = affine;
  r.args.quantize = quantize;
  SrPairArgs args{r.args, hr.data_ptr(), factor};
  run_on_device(images, [&] { cpu::sr_pair(args, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::sr_pair(args, out_code);
#endif
                });
  return {lr, hr};
}

// Shared by grayscale and sobel: input range scaling (and, for sobel, the
// input normalisation) go into `pre`, the mixing weights into `weight`.
GrayArgs gray_args(const at::Tensor& images, at::ArrayRef<double> weights) {
  check_images_4d(images);
  const int64_t channels = images.size(1);
  TORCH_CHECK_VALUE(channels == 1 || channels == 3, "images: expected 1 or 3 channels, got ", channels);
  TORCH_CHECK_VALUE((int64_t)weights.size() == channels, "weights: expected ", channels, " values, got ",
                    weights.size());
  GrayArgs a{};
  for (int64_t c = 0; c < channels; ++c) a.weight[c] = (float)weights[c];
  a.batch = images.size(0);
  a.channels = channels;
  a.height = images.size(2);
  a.width = images.size(3);
  a.input = images.data_ptr();
  return a;
}

at::Tensor grayscale(const at::Tensor& images, at::ArrayRef<double> weights, std::optional<at::ScalarType> out_dtype,
                     std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> std) {
  const at::ScalarType in_type = images.scalar_type(), out_type = out_dtype.value_or(in_type);
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");
  GrayArgs a = gray_args(images, weights);
  a.pre = make_affine(in_type, out_type, a.channels, std::nullopt, std::nullopt);
  a.post = make_affine(out_type, out_type, 1, mean, std);
  at::Tensor out = at::empty({a.batch, 1, a.height, a.width}, images.options().dtype(out_type));
  if (out.numel() == 0) return out;
  a.output = out.data_ptr();
  run_on_device(images, [&] { cpu::grayscale(a, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::grayscale(a, in_code, out_code);
#endif
                });
  return out;
}

at::Tensor sobel(const at::Tensor& images, at::ArrayRef<double> weights, std::optional<at::ScalarType> out_dtype,
                 std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> std) {
  const at::ScalarType in_type = images.scalar_type(), out_type = out_dtype.value_or(at::kFloat);
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");
  TORCH_CHECK_TYPE(out_type != at::kByte, "out_dtype: gradients need a floating type, got uint8");
  GrayArgs a = gray_args(images, weights);
  a.pre = make_affine(in_type, out_type, a.channels, mean, std);
  at::Tensor out = at::empty({a.batch, 2, a.height, a.width}, images.options().dtype(out_type));
  if (out.numel() == 0) return out;
  a.output = out.data_ptr();
  run_on_device(images, [&] { cpu::sobel(a, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::sobel(a, in_code, out_code);
#endif
                });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("resize(Tensor images, int[2] size, str filter='bicubic', bool antialias=True, ScalarType? out_dtype=None, "
        "float[]? mean=None, float[]? std=None) -> Tensor");
  m.def("sr_pair(Tensor images, int scale, str filter='bicubic', ScalarType out_dtype=float, float[]? mean=None, "
        "float[]? std=None, bool quantize=True) -> (Tensor, Tensor)");
  m.def("grayscale(Tensor images, float[] weights, ScalarType? out_dtype=None, float[]? mean=None, "
        "float[]? std=None) -> Tensor");
  m.def("sobel(Tensor images, float[] weights, ScalarType? out_dtype=None, float[]? mean=None, "
        "float[]? std=None) -> Tensor");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("resize", &resize);
  m.impl("sr_pair", &sr_pair);
  m.impl("grayscale", &grayscale);
  m.impl("sobel", &sobel);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("resize", &resize);
  m.impl("sr_pair", &sr_pair);
  m.impl("grayscale", &grayscale);
  m.impl("sobel", &sobel);
}
#endif

}  // namespace sslfast
