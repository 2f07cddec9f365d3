// CUDA backend of the resize family: one thread per output element (per
// pixel for Sobel, which writes both gradients; per table entry for the
// weights), each calling the same per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/resize.h"

namespace sslfast::cuda {
namespace {

struct TablesOp {
  struct Args {
    ResampleSpec rows, cols;
    int32_t* start;
    float* weight;
    int16_t* fixed;
  };
  static __device__ void run(const Args& a, int64_t k) {
    resample_table_entry(a.rows, a.cols, a.start, a.weight, k, a.fixed);
  }
};

template <typename In, typename Out>
struct ResizeOp {
  static __device__ void run(const ResizeArgs& a, int64_t i) { resize_element<In, Out>(a, i); }
};

template <typename Out>
struct SrPairOp {
  static __device__ void run(const SrPairArgs& a, int64_t i) { sr_pair_element<Out>(a, i); }
};

template <typename In, typename Out>
struct GrayscaleOp {
  static __device__ void run(const GrayArgs& a, int64_t i) { grayscale_element<In, Out>(a, i); }
};

template <typename In, typename Out>
struct SobelOp {
  static __device__ void run(const GrayArgs& a, int64_t i) { sobel_element<In, Out>(a, i); }
};

}  // namespace

void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight,
                     int16_t* fixed) {
  launch_for_each<TablesOp>(TablesOp::Args{rows, cols, start, weight, fixed}, rows.out_size + cols.out_size);
}

void resize(const ResizeArgs& args, DType in, DType out) {
  launch_in_out<ResizeOp>(args, args.planes * args.out_h * args.out_row(), in, out);
}

void sr_pair(const SrPairArgs& args, DType out) {
  const ResizeArgs& lr = args.lr;
  const int64_t total = lr.planes * (lr.in_h * lr.in_w + lr.out_h * lr.out_w);  // HR, then LR elements
  dispatch_dtype(out, [&](auto out_tag) { launch_for_each<SrPairOp<typename decltype(out_tag)::type>>(args, total); });
}

void grayscale(const GrayArgs& args, DType in, DType out) {
  launch_in_out<GrayscaleOp>(args, args.batch * args.height * args.width, in, out);
}

void sobel(const GrayArgs& args, DType in, DType out) {
  launch_in_out<SobelOp>(args, args.batch * args.height * args.width, in, out);
}

}  // namespace sslfast::cuda
