// CUDA backend of the motion family: one thread per low-resolution cell, then
// one per step, each calling the same per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/motion.h"

namespace sslfast::cuda {
namespace {

template <typename In>
struct MotionCellOp {
  static __device__ void run(const FrameMotionArgs& a, int64_t i) { frame_motion_cell<In>(a, i); }
};

struct MotionStepOp {
  static __device__ void run(const FrameMotionArgs& a, int64_t s) { frame_motion_step(a, s); }
};

}  // namespace

void frame_motion(const FrameMotionArgs& args, DType in) {
  const int64_t cells = args.clips * args.length * args.channels * args.out_h * args.out_w;
  dispatch_dtype(in, [&](auto tag) { launch_for_each<MotionCellOp<typename decltype(tag)::type>>(args, cells); });
  launch_for_each<MotionStepOp>(args, args.clips * (args.length - 1));  // same stream: runs after the cells
}

}  // namespace sslfast::cuda
