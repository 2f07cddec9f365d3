// CPU backend of the mask family: samples (samplers) or output rows (apply)
// are the work items; the loops of the heavy ones are cloned per ISA
// (vectorize.h) and flattened, so the kernel header's inline code is
// compiled into each clone.
#include <ATen/Parallel.h>

#include <vector>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/mask.h"
#include "vectorize.h"

namespace sslfast::cpu {
namespace {

// Samples [begin, end): noise grid, field bins and histogram, threshold, mask.
SSLFAST_CPU_CLONES __attribute__((flatten)) void region_samples(const RegionArgs& args, int64_t begin, int64_t end,
                                                                RegionSpline* columns) {
  const int64_t cells2 = args.cells * args.cells, plane = args.height * args.width;
  for (int64_t s = begin; s < end; ++s) {
    for (int64_t g = s * cells2; g < (s + 1) * cells2; ++g) region_noise_element(args, g);
    region_bins_sample(args, s, columns);
    region_threshold_one(args, s);
    for (int64_t p = s * plane; p < (s + 1) * plane; ++p) region_mask_element(args, p);
  }
}

template <typename In, typename Out>
SSLFAST_CPU_CLONES __attribute__((flatten)) void mask_rows(const MaskApplyArgs& args, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) mask_row<In, Out>(args, row);
}

}  // namespace

void sample_boxes(const BoxSamplerArgs& args) {
  at::parallel_for(0, args.n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sample_boxes_one(args, i);
  });
}

void boxes_to_mask(const int64_t* boxes, int64_t n, int64_t count, int64_t height, int64_t width, bool* mask) {
  at::parallel_for(0, n * height * width, 32768, [&](int64_t begin, int64_t end) {
    for (int64_t flat = begin; flat < end; ++flat) boxes_to_mask_element(boxes, count, height, width, mask, flat);
  });
}

void region_masks(const RegionArgs& args) {
  at::parallel_for(0, args.n, 1, [&](int64_t begin, int64_t end) {
    std::vector<RegionSpline> columns((size_t)args.width);
    region_samples(args, begin, end, columns.data());
  });
}

void apply_mask(const MaskApplyArgs& args, DType in, DType out) {
  const int64_t rows = args.batch * args.channels * args.height;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(args.width, 1));
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) { mask_rows<In, Out>(args, begin, end); });
  });
}

}  // namespace sslfast::cpu
