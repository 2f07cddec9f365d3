// CPU backend of the resize family: output rows are the work items; each task
// keeps its own scratch line for the vertical pass (or the three gray lines
// of the Sobel stencil).
#include <ATen/Parallel.h>

#include <vector>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/resize.h"
#include "vectorize.h"

namespace sslfast::cpu {
namespace {

// Rows per task: about 32K output elements, at least one row.
int64_t row_grain(int64_t row_length) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(row_length, 1)); }

// Blocks of kResizeBlockRows rows per task, by the same measure.
int64_t block_grain(int64_t row_length) { return ceil_div(row_grain(row_length), kResizeBlockRows); }

// Sobel rows [begin, end) of the [batch * height] rows, with three gray
// lines rolling down the image: each gray row is computed once per task
// (three times at a task's first row or an image's top), not three times.
template <typename In, typename Out>
void sobel_rows(const GrayArgs& args, int64_t begin, int64_t end) {
  std::vector<float> storage(3 * (size_t)args.width);
  float* lines[3] = {storage.data(), storage.data() + args.width, storage.data() + 2 * args.width};
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

void resample_tables(const ResampleSpec& rows, const ResampleSpec& cols, int32_t* start, float* weight) {
  const int64_t entries = rows.out_size + cols.out_size;
  at::parallel_for(0, entries, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) resample_table_entry(rows, cols, start, weight, k);
  });
}

void resize(const ResizeArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    const int64_t items = args.planes * resize_blocks_per_plane(args);
    at::parallel_for(0, items, block_grain(args.out_w), [&](int64_t begin, int64_t end) {
      std::vector<float> scratch((size_t)resize_block_scratch(args));
      run_vectorized([&] {
        for (int64_t item = begin; item < end; ++item) resize_block_item<In, Out>(args, item, scratch.data());
      });
    });
  });
}

void sr_pair(const SrPairArgs& args, DType out) {
  const ResizeArgs& lr = args.lr;
  dispatch_dtype(out, [&](auto out_tag) {
    using Out = typename decltype(out_tag)::type;
    const int64_t items = lr.planes * resize_blocks_per_plane(lr);
    at::parallel_for(0, items, block_grain(args.factor * lr.in_w), [&](int64_t begin, int64_t end) {
      std::vector<float> scratch((size_t)resize_block_scratch(lr));
      run_vectorized([&] {
        for (int64_t item = begin; item < end; ++item) sr_pair_block_item<Out>(args, item, scratch.data());
      });
    });
  });
}

void grayscale(const GrayArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    const int64_t total = args.batch * args.height * args.width;
    at::parallel_for(0, total, 32768, [&](int64_t begin, int64_t end) {
      run_vectorized([&] {
        for (int64_t flat = begin; flat < end; ++flat) grayscale_element<In, Out>(args, flat);
      });
    });
  });
}

void sobel(const GrayArgs& args, DType in, DType out) {
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, args.batch * args.height, row_grain(args.width), [&](int64_t begin, int64_t end) {
      run_vectorized([&] { sobel_rows<In, Out>(args, begin, end); });
    });
  });
}

}  // namespace sslfast::cpu
