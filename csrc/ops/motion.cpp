// Schema and dispatch of the motion family.
#include "tensor_utils.h"
#include "../kernels/motion.h"

namespace sslfast {
namespace {

// frames [T, C, H, W] -> [T - 1], or [N, T, C, H, W] -> [N, T - 1].
at::Tensor frame_motion(const at::Tensor& frames, int64_t size) {
  TORCH_CHECK_VALUE(frames.dim() == 4 || frames.dim() == 5, "frames: expected [T, C, H, W] or [N, T, C, H, W], got ",
                    frames.sizes());
  TORCH_CHECK_VALUE(frames.is_contiguous(), "frames: expected a contiguous tensor");
  TORCH_CHECK_VALUE(size >= 1, "size: expected a positive size, got ", size);
  const bool batched = frames.dim() == 5;
  const int64_t clips = batched ? frames.size(0) : 1, length = frames.size(-4);
  TORCH_CHECK_VALUE(length >= 2, "frames: expected at least 2 frames, got ", length);
  const int64_t channels = frames.size(-3), height = frames.size(-2), width = frames.size(-1);
  TORCH_CHECK_VALUE(channels >= 1 && height >= 1 && width >= 1, "frames: expected non-empty frames, got ",
                    frames.sizes());
  const DType in = dtype_code(frames.scalar_type(), "frames");
  const int64_t out_h = std::min(size, height), out_w = std::min(size, width);
  at::Tensor motion = at::empty(batched ? std::vector<int64_t>{clips, length - 1} : std::vector<int64_t>{length - 1},
                                frames.options().dtype(at::kFloat));
  if (clips == 0) return motion;
  at::Tensor low = at::empty({clips * length, channels, out_h, out_w}, frames.options().dtype(at::kFloat));
  FrameMotionArgs args{};
  args.frames = frames.data_ptr();
  args.low = low.data_ptr<float>();
  args.motion = motion.data_ptr<float>();
  args.clips = clips;
  args.length = length;
  args.channels = channels;
  args.height = height;
  args.width = width;
  args.out_h = out_h;
  args.out_w = out_w;
  args.scale = frames.scalar_type() == at::kByte ? 1.f / 255.f : 1.f;
  run_on_device(frames, [&] { cpu::frame_motion(args, in); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::frame_motion(args, in);
#endif
                });
  return motion;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) { m.def("frame_motion(Tensor frames, int size=32) -> Tensor"); }

TORCH_LIBRARY_IMPL(sslfast, CPU, m) { m.impl("frame_motion", &frame_motion); }

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) { m.impl("frame_motion", &frame_motion); }
#endif

}  // namespace sslfast
