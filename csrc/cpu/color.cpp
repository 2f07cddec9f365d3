// CPU backend of the colour family. Pixel-wise conversions run over runs of
// contiguous pixels inside one image, in functions with restrict planes so
// the loops vectorise (with an AVX2 copy, see vectorize.h); the k-nearest-bin
// search runs per target pixel.
#include <ATen/Parallel.h>

#include <algorithm>

#include "../kernels/color.h"
#include "../kernels/dispatch_dtypes.h"
#include "vectorize.h"

namespace sslfast::cpu {
namespace {

constexpr int64_t kPixelGrain = 16384;  // pixels per task for the conversions
constexpr int64_t kTargetGrain = 512;   // target pixels per task for the bin search

// Calls run(image, p0, p1), in parallel, on pieces of the pixels of a
// [batch, pixels] space that lie inside one image each.
template <typename Run>
void for_image_runs(int64_t batch, int64_t pixels, const Run& run) {
  at::parallel_for(0, batch * pixels, kPixelGrain, [&](int64_t begin, int64_t end) {
    while (begin < end) {
      const int64_t image = begin / pixels, p0 = begin - image * pixels;
      const int64_t p1 = std::min(pixels, p0 + (end - begin));
      run(image, p0, p1);
      begin += p1 - p0;
    }
  });
}

// Pixels [p0, p1) of one image (`src`, `dst`: its first planes).
template <typename In, typename Out>
SSLFAST_CPU_CLONES void rgb_to_lab_pixels(const In* __restrict src, Out* __restrict dst,
                                          const float* __restrict table, int64_t pixels, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) rgb_to_lab_at(src, dst, table, pixels, p);
}

template <typename In, typename Out>
SSLFAST_CPU_CLONES void lightness_pixels(const In* __restrict src, Out* __restrict dst, const float* __restrict table,
                                         int64_t pixels, int64_t p0, int64_t p1, float scale, float bias) {
  for (int64_t p = p0; p < p1; ++p) lightness_at(src, dst, table, pixels, p, scale, bias);
}

}  // namespace

void rgb_to_lab(const LabArgs& args, DType in, DType out) {
  dispatch_dtype(in, [&](auto in_tag) {
    dispatch_float_dtype(out, [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      const int64_t pixels = args.pixels;
      for_image_runs(args.batch, pixels, [&](int64_t image, int64_t p0, int64_t p1) {
        rgb_to_lab_pixels(static_cast<const In*>(args.input) + image * 3 * pixels,
                          static_cast<Out*>(args.output) + image * 3 * pixels, args.table, pixels, p0, p1);
      });
    });
  });
}

void lab_to_rgb(const LabArgs& args, DType in, DType out) {
  dispatch_float_dtype(in, [&](auto in_tag) {
    dispatch_dtype(out, [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      const int64_t pixels = args.pixels;
      for_image_runs(args.batch, pixels, [&](int64_t image, int64_t p0, int64_t p1) {
        const In* src = static_cast<const In*>(args.input) + image * 3 * pixels;
        Out* dst = static_cast<Out*>(args.output) + image * 3 * pixels;
        for (int64_t p = p0; p < p1; ++p) lab_to_rgb_at(src, dst, pixels, p, args.clip);
      });
    });
  });
}

void build_bin_table(const float* bins, int num_bins, int k, int32_t* cell_count, int16_t* cell_bins,
                     float* cell_bound) {
  at::parallel_for(0, kCellCount, 64, [&](int64_t begin, int64_t end) {
    for (int64_t cell = begin; cell < end; ++cell)
      build_cell(bins, num_bins, k, (int)cell, cell_count, cell_bins, cell_bound);
  });
}

void ab_encode(const AbEncodeArgs& args, DType in) {
  dispatch_float_dtype(in, [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    at::parallel_for(0, args.batch * args.out_height * args.out_width, kTargetGrain, [&](int64_t begin, int64_t end) {
      for (int64_t flat = begin; flat < end; ++flat) ab_encode_pixel<In>(args, flat);
    });
  });
}

void colorization_batch(const ColorizationArgs& args, DType in, DType out) {
  dispatch_dtype(in, [&](auto in_tag) {
    dispatch_float_dtype(out, [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      const int64_t pixels = args.height * args.width;
      for_image_runs(args.batch, pixels, [&](int64_t image, int64_t p0, int64_t p1) {
        lightness_pixels(static_cast<const In*>(args.input) + image * 3 * pixels,
                         static_cast<Out*>(args.lightness) + image * pixels, args.table, pixels, p0, p1,
                         args.l_scale, args.l_bias);
      });
      // Targets by whole images, so each grayscale flag has one writer.
      const int64_t plane = args.out_height * args.out_width;
      const int64_t images_per_task = std::max<int64_t>(1, kTargetGrain / std::max<int64_t>(plane, 1));
      at::parallel_for(0, args.batch, images_per_task, [&](int64_t begin, int64_t end) {
        for (int64_t image = begin; image < end; ++image) {
          bool colour = false;
          for (int64_t q = 0; q < plane; ++q) colour |= colorization_target_pixel<In>(args, image * plane + q);
          args.grayscale[image] = !colour;
        }
      });
    });
  });
}

}  // namespace sslfast::cpu
