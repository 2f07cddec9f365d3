// CPU backend of the motion family: low-resolution rows of cells, then steps,
// each a loop over the shared code of csrc/kernels/motion.h.
#include <ATen/Parallel.h>

#include <vector>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/motion.h"

namespace sslfast::cpu {

void frame_motion(const FrameMotionArgs& args, DType in) {
  // Work items are rows of cells (see frame_motion_row); ~32k pixels per task.
  const int64_t rows = args.clips * args.length * args.channels * args.out_h;
  const int64_t per_row = std::max<int64_t>(1, (args.height / args.out_h + 1) * args.width);
  dispatch_dtype(in, [&](auto tag) {
    using In = typename decltype(tag)::type;
    at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / per_row), [&](int64_t begin, int64_t end) {
      std::vector<float> columns(args.width);
      for (int64_t r = begin; r < end; ++r) frame_motion_row<In>(args, r, columns.data());
    });
  });
  at::parallel_for(0, args.clips * (args.length - 1), 16, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) frame_motion_step(args, s);
  });
}

}  // namespace sslfast::cpu
