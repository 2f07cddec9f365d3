// CUDA backend of the resize family: one thread per output element (per
// pixel for Sobel, which writes both gradients), each calling the same
// per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/dispatch_dtypes.h"
#include "../kernels/resize.h"

namespace sslfast::cuda {

__global__ void resample_tables_kernel(const ResampleSpec rows, const ResampleSpec cols, int32_t* start,
                                       float* weight, int64_t total) {
  for (int64_t k = grid_first(); k < total; k += grid_step()) resample_table_entry(rows, cols, start, weight, k);
}

template <typename In, typename Out>
__global__ void resize_kernel(const ResizeArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) resize_element<In, Out>(args, i);
}

template <typename Out>
__global__ void sr_pair_kernel(const SrPairArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) sr_pair_element<Out>(args, i);
}

template <typename In, typename Out>
__global__ void grayscale_kernel(const GrayArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) grayscale_element<In, Out>(args, i);
}

template <typename In, typename Out>
__global__ void sobel_kernel(const GrayArgs args, int64_t total) {
  for (int64_t i = grid_first(); i < total; i += grid_step()) sobel_element<In, Out>(args, i);
}

void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight) {
  const int64_t total = rows.out_size + cols.out_size;
  resample_tables_kernel<<<grid_for(total), kThreads, 0, current_stream()>>>(rows, cols, start, weight, total);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void resize(const ResizeArgs& args, DType in, DType out) {
  const int64_t total = args.planes * args.out_h * args.out_w;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    resize_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void sr_pair(const SrPairArgs& args, DType out) {
  const ResizeArgs& lr = args.lr;
  const int64_t total = lr.planes * (lr.in_h * lr.in_w + lr.out_h * lr.out_w);
  dispatch_dtype(out, [&](auto out_tag) {
    using Out = typename decltype(out_tag)::type;
    sr_pair_kernel<Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void grayscale(const GrayArgs& args, DType in, DType out) {
  const int64_t total = args.batch * args.height * args.width;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    grayscale_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void sobel(const GrayArgs& args, DType in, DType out) {
  const int64_t total = args.batch * args.height * args.width;
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    sobel_kernel<In, Out><<<grid_for(total), kThreads, 0, current_stream()>>>(args, total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace sslfast::cuda
