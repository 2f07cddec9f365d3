// CUDA backend of the rotate family: one thread per output element, each
// calling the same per-element code as the CPU backend.
#include "launch.h"
#include "../kernels/rotate.h"

namespace sslfast::cuda {
namespace {

template <typename In, typename Out>
struct Rotate90Op {
  static __device__ void run(const Rotate90Args& a, int64_t i) { rotate90_element<In, Out>(a, i); }
};

struct SampleRotationArgs {
  uint64_t seed;
  const int64_t* index;
  int64_t* labels;
};

struct SampleRotationOp {
  static __device__ void run(const SampleRotationArgs& a, int64_t i) { a.labels[i] = rotation_label(a.seed, a.index[i]); }
};

}  // namespace

void rotate90(const Rotate90Args& args, DType in, DType out) {
  launch_in_out<Rotate90Op>(args, args.out_batch * args.channels * args.size * args.size, in, out);
}

void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n) {
  launch_for_each<SampleRotationOp>(SampleRotationArgs{seed, index, labels}, n);
}

}  // namespace sslfast::cuda
