// CUDA backend of the kmeans family: one thread per row or output element,
// each calling the same code as the CPU backend; the empty-cluster split is
// sequential by nature and runs on one thread.
#include "launch.h"
#include "../kernels/kmeans.h"

namespace sslfast::cuda {
namespace {

struct ArgminOp {
  static __device__ void run(const KmeansArgminArgs& a, int64_t i) { kmeans_argmin_row(a, i); }
};

struct SumOp {
  static __device__ void run(const KmeansSumArgs& a, int64_t i) { kmeans_sum_element(a, i); }
};

struct MeanOp {
  static __device__ void run(const KmeansMeanArgs& a, int64_t i) { kmeans_mean_element(a, i); }
};

struct SplitArgs {
  float* centroids;
  int64_t* counts;
  int64_t k, dim;
  uint64_t seed, round;
};

struct SplitOp {
  static __device__ void run(const SplitArgs& a, int64_t) {
    kmeans_split_empty(a.centroids, a.counts, a.k, a.dim, a.seed, a.round);
  }
};

struct InitKeyArgs {
  uint64_t seed;
  const int64_t* index;
  int64_t* keys;
};

struct InitKeyOp {
  static __device__ void run(const InitKeyArgs& a, int64_t i) { a.keys[i] = kmeans_init_key(a.seed, a.index[i]); }
};

struct NearestOp {
  static __device__ void run(const KmeansNearestArgs& a, int64_t i) { kmeans_nearest_row(a, i); }
};

}  // namespace

void kmeans_argmin(const KmeansArgminArgs& args) { launch_for_each<ArgminOp>(args, args.rows); }

void kmeans_sums(const KmeansSumArgs& args) { launch_for_each<SumOp>(args, args.k * args.dim); }

void kmeans_means(const KmeansMeanArgs& args, int64_t* counts, uint64_t seed, uint64_t round) {
  launch_for_each<MeanOp>(args, args.k * args.dim);
  launch_for_each<SplitOp>(SplitArgs{args.centroids, counts, args.k, args.dim, seed, round}, 1);
}

void kmeans_init_keys(uint64_t seed, const int64_t* index, int64_t* keys, int64_t n) {
  launch_for_each<InitKeyOp>(InitKeyArgs{seed, index, keys}, n);
}

void kmeans_nearest(const KmeansNearestArgs& args, int64_t n) { launch_for_each<NearestOp>(args, n); }

}  // namespace sslfast::cuda
