// Schemas and dispatch of the colour family.
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "tensor_utils.h"
#include "../kernels/color.h"

namespace sslfast {
namespace {

// The sRGB linearisation table on `device`. Built on the host once; on a GPU
// copied there once per device and kept for the life of the process (never
// freed: a CUDA tensor destroyed at exit could outlive the driver).
const float* linear_table(const at::Device& device) {
  static const std::vector<float> host = [] {
    std::vector<float> table(kLinearTableSize);
    fill_linear_table(table.data());
    return table;
  }();
  if (device.is_cpu()) return host.data();
  static std::mutex mutex;
  static auto* on_device = new std::map<std::pair<int, int>, at::Tensor>();
  const std::lock_guard<std::mutex> lock(mutex);
  at::Tensor& table = (*on_device)[{(int)device.type(), (int)device.index()}];
  if (!table.defined())
    table = at::from_blob(const_cast<float*>(host.data()), {kLinearTableSize}, at::kFloat).to(device);
  return table.const_data_ptr<float>();
}

void check_planar(const at::Tensor& t, const char* name, int64_t channels) {
  TORCH_CHECK_VALUE(t.dim() == 4 && t.size(1) == channels, name, ": expected [B, ", channels, ", H, W], got ",
                    t.sizes());
  TORCH_CHECK_VALUE(t.is_contiguous(), name, ": expected a contiguous tensor");
}

void check_floating(at::ScalarType t, const char* name) {
  TORCH_CHECK_TYPE(t == at::kFloat || t == at::kHalf || t == at::kBFloat16, name,
                   ": expected float32, float16 or bfloat16, got ", t);
}

at::Tensor rgb_to_lab(const at::Tensor& images, at::ScalarType out_dtype) {
  check_planar(images, "images", 3);
  check_floating(out_dtype, "out_dtype");
  const DType in_code = dtype_code(images.scalar_type(), "images"), out_code = dtype_code(out_dtype, "out_dtype");
  at::Tensor out = at::empty(images.sizes(), images.options().dtype(out_dtype));
  if (out.numel() == 0) return out;
  const LabArgs args{images.const_data_ptr(), out.mutable_data_ptr(), linear_table(images.device()),
                     images.size(0), images.size(2) * images.size(3), true};
  run_on_device(images, [&] { cpu::rgb_to_lab(args, in_code, out_code); },
      [&] {
#ifdef SSLFAST_WITH_CUDA
        cuda::rgb_to_lab(args, in_code, out_code);
#endif
      });
  return out;
}

at::Tensor lab_to_rgb(const at::Tensor& lab, at::ScalarType out_dtype, bool clip) {
  check_planar(lab, "lab", 3);
  check_floating(lab.scalar_type(), "lab");
  const DType in_code = dtype_code(lab.scalar_type(), "lab"), out_code = dtype_code(out_dtype, "out_dtype");
  at::Tensor out = at::empty(lab.sizes(), lab.options().dtype(out_dtype));
  if (out.numel() == 0) return out;
  const LabArgs args{lab.const_data_ptr(), out.mutable_data_ptr(), nullptr, lab.size(0),
                     lab.size(2) * lab.size(3), clip};
  run_on_device(lab, [&] { cpu::lab_to_rgb(args, in_code, out_code); },
      [&] {
#ifdef SSLFAST_WITH_CUDA
        cuda::lab_to_rgb(args, in_code, out_code);
#endif
      });
  return out;
}

// Checks the bins and the encoding parameters, allocates the cell table next
// to the bins and builds it. The returned search reads `table`'s tensors.
struct BinTable {
  at::Tensor count, cells, bounds;
};

BinSearch prepare_bin_search(const at::Tensor& bins, const at::Tensor& data, int64_t k, double sigma,
                             BinTable& table) {
  TORCH_CHECK_TYPE(bins.scalar_type() == at::kFloat, "bins: expected float32, got ", bins.scalar_type());
  TORCH_CHECK_VALUE(bins.dim() == 2 && bins.size(1) == 2 && bins.is_contiguous(),
                    "bins: expected a contiguous [Q, 2] tensor, got ", bins.sizes());
  TORCH_CHECK_VALUE(bins.size(0) >= 1 && bins.size(0) <= kMaxBins, "bins: expected 1 to ", kMaxBins,
                    " bins, got ", bins.size(0));
  TORCH_CHECK_VALUE(bins.device() == data.device(), "bins: expected device ", data.device());
  TORCH_CHECK_VALUE(k >= 1 && k <= kMaxNeighbours && k <= bins.size(0), "k: expected 1 <= k <= min(",
                    kMaxNeighbours, ", Q), got ", k);
  TORCH_CHECK_VALUE(sigma > 0.0, "sigma: expected a positive value, got ", sigma);
  table.count = at::empty({kCellCount}, bins.options().dtype(at::kInt));
  table.cells = at::empty({kCellCount, kCellCapacity}, bins.options().dtype(at::kShort));
  table.bounds = at::empty({kCellCount, kCellCapacity}, bins.options());
  const float* centres = bins.const_data_ptr<float>();
  const int num_bins = (int)bins.size(0);
  int32_t* count = table.count.mutable_data_ptr<int32_t>();
  int16_t* cells = table.cells.mutable_data_ptr<int16_t>();
  float* bounds = table.bounds.mutable_data_ptr<float>();
  run_on_device(bins, [&] { cpu::build_bin_table(centres, num_bins, (int)k, count, cells, bounds); },
      [&] {
#ifdef SSLFAST_WITH_CUDA
        cuda::build_bin_table(centres, num_bins, (int)k, count, cells, bounds);
#endif
      });
  return {centres, num_bins, (int)k, (float)(1.0 / (2.0 * sigma * sigma)), count, cells, bounds};
}

int64_t check_stride(int64_t stride) {
  TORCH_CHECK_VALUE(stride >= 1, "stride: expected a positive integer, got ", stride);
  return stride;
}

std::tuple<at::Tensor, at::Tensor> ab_encode(const at::Tensor& ab, const at::Tensor& bins, int64_t k, double sigma,
                                             int64_t stride) {
  check_planar(ab, "ab", 2);
  check_floating(ab.scalar_type(), "ab");
  check_stride(stride);
  const int64_t batch = ab.size(0), height = ab.size(2), width = ab.size(3);
  const int64_t out_height = (height + stride - 1) / stride, out_width = (width + stride - 1) / stride;
  BinTable table;
  const BinSearch search = prepare_bin_search(bins, ab, k, sigma, table);
  at::Tensor index = at::empty({batch, k, out_height, out_width}, ab.options().dtype(at::kLong));
  at::Tensor weight = at::empty({batch, k, out_height, out_width}, ab.options().dtype(at::kFloat));
  if (index.numel() == 0) return {index, weight};
  const AbEncodeArgs args{ab.const_data_ptr(), index.mutable_data_ptr<int64_t>(), weight.mutable_data_ptr<float>(),
                          search, batch, height, width, stride, out_height, out_width};
  const DType in_code = dtype_code(ab.scalar_type(), "ab");
  run_on_device(ab, [&] { cpu::ab_encode(args, in_code); },
      [&] {
#ifdef SSLFAST_WITH_CUDA
        cuda::ab_encode(args, in_code);
#endif
      });
  return {index, weight};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> colorization_batch(
    const at::Tensor& images, const at::Tensor& bins, int64_t k, double sigma, int64_t stride, double l_mean,
    double l_std, at::ScalarType out_dtype) {
  check_planar(images, "images", 3);
  check_floating(out_dtype, "out_dtype");
  check_stride(stride);
  TORCH_CHECK_VALUE(l_std != 0.0 && l_std == l_std, "l_std: expected a non-zero number, got ", l_std);
  const int64_t batch = images.size(0), height = images.size(2), width = images.size(3);
  const int64_t out_height = (height + stride - 1) / stride, out_width = (width + stride - 1) / stride;
  BinTable table;
  const BinSearch search = prepare_bin_search(bins, images, k, sigma, table);
  at::Tensor lightness = at::empty({batch, 1, height, width}, images.options().dtype(out_dtype));
  at::Tensor index = at::empty({batch, k, out_height, out_width}, images.options().dtype(at::kLong));
  at::Tensor weight = at::empty({batch, k, out_height, out_width}, images.options().dtype(at::kFloat));
  at::Tensor grayscale = at::ones({batch}, images.options().dtype(at::kBool));
  if (lightness.numel() == 0) return {lightness, index, weight, grayscale};
  const ColorizationArgs args{images.const_data_ptr(),
                              linear_table(images.device()),
                              lightness.mutable_data_ptr(),
                              (float)(1.0 / l_std),
                              (float)(-l_mean / l_std),
                              index.mutable_data_ptr<int64_t>(),
                              weight.mutable_data_ptr<float>(),
                              grayscale.mutable_data_ptr<bool>(),
                              search,
                              batch,
                              height,
                              width,
                              stride,
                              out_height,
                              out_width};
  const DType in_code = dtype_code(images.scalar_type(), "images"), out_code = dtype_code(out_dtype, "out_dtype");
  run_on_device(images, [&] { cpu::colorization_batch(args, in_code, out_code); },
      [&] {
#ifdef SSLFAST_WITH_CUDA
        cuda::colorization_batch(args, in_code, out_code);
#endif
      });
  return {lightness, index, weight, grayscale};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("rgb_to_lab(Tensor images, ScalarType out_dtype) -> Tensor");
  m.def("lab_to_rgb(Tensor lab, ScalarType out_dtype, bool clip) -> Tensor");
  m.def("ab_encode(Tensor ab, Tensor bins, int k, float sigma, int stride) -> (Tensor, Tensor)");
  m.def("colorization_batch(Tensor images, Tensor bins, int k, float sigma, int stride, float l_mean, "
        "float l_std, ScalarType out_dtype) -> (Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("rgb_to_lab", &rgb_to_lab);
  m.impl("lab_to_rgb", &lab_to_rgb);
  m.impl("ab_encode", &ab_encode);
  m.impl("colorization_batch", &colorization_batch);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("rgb_to_lab", &rgb_to_lab);
  m.impl("lab_to_rgb", &lab_to_rgb);
  m.impl("ab_encode", &ab_encode);
  m.impl("colorization_batch", &colorization_batch);
}
#endif

}  // namespace sslfast
