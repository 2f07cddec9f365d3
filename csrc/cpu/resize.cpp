// CPU backend of the resize family: blocks of output rows (resize, sr_pair),
// rows (Sobel) or pixels (grayscale) are the work items. The loops over them
// are cloned per ISA (vectorize.h) and flattened, so the kernel header's
// inline code is compiled into each clone.
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/resize.h"
#include "resize_fixed.h"
#include "vectorize.h"

namespace sslfast::cpu {
namespace {

// Rows per task: about 32K output elements, at least one row.
int64_t row_grain(int64_t row_length) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(row_length, 1)); }

// Blocks of kResizeBlockRows rows per task, by the same measure.
int64_t block_grain(int64_t row_length) { return ceil_div(row_grain(row_length), kResizeBlockRows); }

// The resampling blocks are cloned for x86-64-v3 (AVX2 with FMA: the passes'
// fused_mul_add is one instruction there) and the baseline only: their
// strided transposes become scatters under AVX-512 (x86-64-v4), which made
// them about 1.6x slower than the AVX2 copy on our AVX-512 AMD EPYC.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SSLFAST_RESAMPLE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SSLFAST_RESAMPLE_CLONES
#endif

template <typename In, typename Out>
SSLFAST_RESAMPLE_CLONES __attribute__((flatten)) void resize_items(const ResizeArgs& args, int64_t begin, int64_t end,
                                                              float* scratch) {
  for (int64_t item = begin; item < end; ++item) resize_block_item<In, Out>(args, item, scratch);
}

template <typename Out>
SSLFAST_RESAMPLE_CLONES __attribute__((flatten)) void sr_pair_items(const SrPairArgs& args, int64_t begin, int64_t end,
                                                               float* scratch) {
  for (int64_t item = begin; item < end; ++item) sr_pair_block_item<Out>(args, item, scratch);
}

// Fixed-point blocks (uint8 in, whole levels out): the AVX2 copy where the
// processor has it (compiled for AVX2 as a whole, so its plain loops use it
// too), else the portable one; the same bits either way.
#if SSLFAST_FIXED_AVX2
template <typename Out, typename Args>
SSLFAST_TARGET_AVX2 __attribute__((flatten)) void fixed_items_avx2(const Args& args, int64_t begin, int64_t end,
                                                                   int16_t* scratch) {
  std::vector<int32_t> plan((size_t)fixed::plan_size(fixed::resampled(args)));
  fixed::plan_columns(fixed::resampled(args), plan.data());
  for (int64_t item = begin; item < end; ++item) fixed::block_item<Out, true>(args, plan.data(), item, scratch);
}
#endif

// Work items [begin, end) of a resize (ResizeArgs) or an sr_pair (SrPairArgs).
template <typename Out, typename Args>
void fixed_items(const Args& args, int64_t begin, int64_t end, int16_t* scratch) {
#if SSLFAST_FIXED_AVX2
  if (fixed::have_avx2()) return fixed_items_avx2<Out>(args, begin, end, scratch);
#endif
  for (int64_t item = begin; item < end; ++item) fixed::block_item<Out, false>(args, nullptr, item, scratch);
}

// Pixels [begin, end) in spans of up to kGraySpan that stay inside one image.
template <typename In, typename Out>
SSLFAST_CPU_CLONES __attribute__((flatten)) void grayscale_pixels(const GrayArgs& args, int64_t begin, int64_t end) {
  constexpr int64_t kGraySpan = 1024;
  float gray[kGraySpan];
  const int64_t plane = args.height * args.width;
  for (int64_t flat = begin; flat < end;) {
    const int64_t count = std::min({end - flat, plane - flat % plane, kGraySpan});
    grayscale_span<In, Out>(args, flat, count, gray);
    flat += count;
  }
}

// Sobel rows [begin, end) of the [batch * height] rows, with three padded
// gray lines (storage: 3 * (width + 2) floats) rolling down the image: each gray row is
// computed once per task (three times at a task's first row or an image's
// top), not three times.
template <typename In, typename Out>
SSLFAST_CPU_CLONES __attribute__((flatten)) void sobel_rows(const GrayArgs& args, int64_t begin, int64_t end,
                                                            float* storage) {
  const int64_t stride = args.width + 2;
  float* lines[3] = {storage, storage + stride, storage + 2 * stride};
  int64_t loaded_b = -1, loaded_y = 0;  // lines hold rows loaded_y - 1 .. loaded_y + 1 of image loaded_b
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / args.height, y = row % args.height;
    if (b == loaded_b && y == loaded_y + 1) {
      float* oldest = lines[0];
      lines[0] = lines[1];
      lines[1] = lines[2];
      lines[2] = oldest;
      gray_row<In>(args, b, y + 1, lines[2]);
    } else {
      for (int r = 0; r < 3; ++r) gray_row<In>(args, b, y + r - 1, lines[r]);
    }
    loaded_b = b;
    loaded_y = y;
    sobel_row<Out>(args, b, y, lines[0], lines[1], lines[2]);
  }
}

}  // namespace

void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight,
                     int16_t* fixed) {
  const int64_t entries = rows.out_size + cols.out_size;
  at::parallel_for(0, entries, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) resample_table_entry(rows, cols, start, weight, k, fixed);
  });
}

void resize(const ResizeArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    const int64_t items = args.planes * resize_blocks_per_plane(args);
    if constexpr (std::is_same_v<In, uint8_t>) {
      if (args.fixed) {
        at::parallel_for(0, items, block_grain(args.out_row()), [&](int64_t begin, int64_t end) {
          std::vector<int16_t> scratch((size_t)fixed::block_scratch(args));
          fixed_items<Out>(args, begin, end, scratch.data());
        });
        return;
      }
    }
    at::parallel_for(0, items, block_grain(args.out_row()), [&](int64_t begin, int64_t end) {
      std::vector<float> scratch((size_t)resize_block_scratch(args));
      resize_items<In, Out>(args, begin, end, scratch.data());
    });
  });
}

void sr_pair(const SrPairArgs& args, DType out) {
  const ResizeArgs& lr = args.lr;
  dispatch_dtype(out, [&](auto out_tag) {
    using Out = typename decltype(out_tag)::type;
    const int64_t items = lr.planes * resize_blocks_per_plane(lr);
    if (lr.fixed) {
      at::parallel_for(0, items, block_grain(args.factor * lr.in_w), [&](int64_t begin, int64_t end) {
        std::vector<int16_t> scratch((size_t)fixed::block_scratch(lr));
        fixed_items<Out>(args, begin, end, scratch.data());
      });
      return;
    }
    at::parallel_for(0, items, block_grain(args.factor * lr.in_w), [&](int64_t begin, int64_t end) {
      std::vector<float> scratch((size_t)resize_block_scratch(lr));
      sr_pair_items<Out>(args, begin, end, scratch.data());
    });
  });
}

void grayscale(const GrayArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, args.batch * args.height * args.width, 32768, [&](int64_t begin, int64_t end) {
      grayscale_pixels<In, Out>(args, begin, end);
    });
  });
}

void sobel(const GrayArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, args.batch * args.height, row_grain(args.width), [&](int64_t begin, int64_t end) {
      std::vector<float> storage(3 * (size_t)(args.width + 2));
      sobel_rows<In, Out>(args, begin, end, storage.data());
    });
  });
}

}  // namespace sslfast::cpu
