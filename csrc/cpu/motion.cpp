// CPU backend of the motion family: low-resolution cells, then steps, each
// loop over the shared per-element code.
#include <ATen/Parallel.h>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/motion.h"

namespace sslfast::cpu {

void frame_motion(const FrameMotionArgs& args, DType in) {
  const int64_t cells = args.clips * args.length * args.channels * args.out_h * args.out_w;
  // A cell reads (height / out_h) * (width / out_w) pixels: aim for ~32k reads per task.
  const int64_t per_cell = std::max<int64_t>(1, (args.height / args.out_h) * (args.width / args.out_w));
  dispatch_dtype(in, [&](auto tag) {
    using In = typename decltype(tag)::type;
    at::parallel_for(0, cells, std::max<int64_t>(1, 32768 / per_cell), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) frame_motion_cell<In>(args, i);
    });
  });
  at::parallel_for(0, args.clips * (args.length - 1), 16, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) frame_motion_step(args, s);
  });
}

}  // namespace sslfast::cpu
