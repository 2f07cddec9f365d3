// CPU backend of the rotate family: rows of the output are the work items.
#include <ATen/Parallel.h>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/rotate.h"

namespace sslfast::cpu {

void rotate90(const Rotate90Args& args, DType in, DType out) {
  const int64_t rows = args.out_batch * args.channels * args.size;
  // Aim for ~32K output elements per task so small images still parallelise.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(args.size, 1));
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) rotate90_row<In, Out>(args, row);
    });
  });
}

void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n) {
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) labels[i] = rotation_label(seed, index[i]);
  });
}

}  // namespace sslfast::cpu
