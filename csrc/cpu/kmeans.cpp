// CPU backend of the kmeans family: at::parallel_for over the shared rows and
// elements of csrc/kernels/kmeans.h.
#include <ATen/Parallel.h>

#include "../kernels/kmeans.h"

namespace sslfast::cpu {

void kmeans_argmin(const KmeansArgminArgs& args) {
  // Each row reads k partial distances: aim for ~64K values per task.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, args.k));
  at::parallel_for(0, args.rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) kmeans_argmin_row(args, row);
  });
}

void kmeans_sums(const KmeansSumArgs& args) {
  at::parallel_for(0, args.k * args.dim, 256, [&](int64_t begin, int64_t end) {
    for (int64_t flat = begin; flat < end; ++flat) kmeans_sum_element(args, flat);
  });
}

void kmeans_means(const KmeansMeanArgs& args, int64_t* counts, uint64_t seed, uint64_t round) {
  at::parallel_for(0, args.k * args.dim, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t flat = begin; flat < end; ++flat) kmeans_mean_element(args, flat);
  });
  kmeans_split_empty(args.centroids, counts, args.k, args.dim, seed, round);
}

void kmeans_init_keys(uint64_t seed, const int64_t* index, int64_t* keys, int64_t n) {
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) keys[i] = kmeans_init_key(seed, index[i]);
  });
}

void kmeans_nearest(const KmeansNearestArgs& args, int64_t n) {
  at::parallel_for(0, n, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, args.dim)), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) kmeans_nearest_row(args, row);
  });
}

}  // namespace sslfast::cpu
