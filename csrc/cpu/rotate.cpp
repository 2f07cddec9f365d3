// CPU backend of the rotate family: rows of the output are the work items.
#include <ATen/Parallel.h>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/rotate.h"
#include "vectorize.h"

namespace sslfast::cpu {

namespace {

// Tiles [begin, end) in plane-major order; cloned per ISA so the shared span
// loops vectorise to the widest vectors the processor has.
template <typename In, typename Out>
SSLFAST_CPU_CLONES void rotate90_tiles(const Rotate90Args& args, int64_t begin, int64_t end, int64_t tiles_per_side) {
  const int64_t tiles_per_plane = tiles_per_side * tiles_per_side;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t within = t % tiles_per_plane;
    rotate90_tile<In, Out>(args, t / tiles_per_plane, (within / tiles_per_side) * kRotateTile,
                           (within % tiles_per_side) * kRotateTile);
  }
}

}  // namespace

void rotate90(const Rotate90Args& args, DType in, DType out) {
  // Work items are tiles, so a thread's reads stay in cache for the transposes.
  const int64_t tiles_per_side = ceil_div(args.size, kRotateTile);
  const int64_t tiles = args.out_batch * args.channels * tiles_per_side * tiles_per_side;
  const int64_t grain = std::max<int64_t>(1, 32768 / (kRotateTile * kRotateTile));
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, tiles, grain, [&](int64_t begin, int64_t end) {
      rotate90_tiles<In, Out>(args, begin, end, tiles_per_side);
    });
  });
}

void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n) {
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) labels[i] = rotation_label(seed, index[i]);
  });
}

}  // namespace sslfast::cpu
