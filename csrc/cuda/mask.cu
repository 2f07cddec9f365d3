// CUDA backend of the mask family: one thread per sample (samplers, region
// thresholds) or per element, each calling the same per-element code as the
// CPU backend. Region masks take four launches: noise grid, field bins
// counted into the histogram (atomics), thresholds, mask.
#include "launch.h"
#include "../kernels/mask.h"

namespace sslfast::cuda {
namespace {

struct BoxesOp {
  static __device__ void run(const BoxSamplerArgs& a, int64_t i) { sample_boxes_one(a, i); }
};

struct RasterOp {
  struct Args {
    const int64_t* boxes;
    int64_t count, height, width;
    bool* mask;
  };
  static __device__ void run(const Args& a, int64_t i) {
    boxes_to_mask_element(a.boxes, a.count, a.height, a.width, a.mask, i);
  }
};

struct RegionNoiseOp {
  static __device__ void run(const RegionArgs& a, int64_t i) { region_noise_element(a, i); }
};

struct RegionBinsOp {
  static __device__ void run(const RegionArgs& a, int64_t i) {
    const uint16_t bin = region_bin_element(a, i);
    atomicAdd(a.histogram + (i / (a.height * a.width)) * kRegionBins + bin, 1);
  }
};

struct RegionThresholdOp {
  static __device__ void run(const RegionArgs& a, int64_t s) { region_threshold_one(a, s); }
};

struct RegionMaskOp {
  static __device__ void run(const RegionArgs& a, int64_t i) { region_mask_element(a, i); }
};

template <typename In, typename Out>
struct ApplyOp {
  static __device__ void run(const MaskApplyArgs& a, int64_t i) { mask_element<In, Out>(a, i); }
};

}  // namespace

void sample_boxes(const BoxSamplerArgs& args) { launch_for_each<BoxesOp>(args, args.n); }

void boxes_to_mask(const int64_t* boxes, int64_t n, int64_t count, int64_t height, int64_t width, bool* mask) {
  launch_for_each<RasterOp>(RasterOp::Args{boxes, count, height, width, mask}, n * height * width);
}

void region_masks(const RegionArgs& args) {
  const int64_t pixels = args.n * args.height * args.width;
  launch_for_each<RegionNoiseOp>(args, args.n * args.cells * args.cells);
  launch_for_each<RegionBinsOp>(args, pixels);
  launch_for_each<RegionThresholdOp>(args, args.n);
  launch_for_each<RegionMaskOp>(args, pixels);
}

void apply_mask(const MaskApplyArgs& args, DType in, DType out) {
  launch_in_out<ApplyOp>(args, args.batch * args.channels * args.height * args.width, in, out);
}

}  // namespace sslfast::cuda
