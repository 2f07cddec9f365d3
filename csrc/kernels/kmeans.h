// k-means (DeepCluster): the per-row and per-element steps of Lloyd's
// algorithm, shared by the CPU and CUDA backends.
//
// Design: the assignment step never holds the N x K distance matrix. The op
// layer walks the points in chunks of R rows; for each chunk a GEMM (at::addmm,
// cuBLAS / MKL) writes the R x K block ||c||^2 - 2 x.c, and kmeans_argmin_row
// reduces each row of that block to its arg-min and adds ||x||^2, so the
// scratch memory is R x K, independent of N. The update step sums each
// cluster's points in the order of a stable sort by cluster (one output
// element per thread, no atomics), so sums are deterministic and identical
// on CPU and CUDA. Empty clusters are split as faiss does.
#pragma once

#include "common.h"

namespace sslfast {

// Field ids of the counter-based generator for this family.
constexpr uint64_t kKmeansInitField = 0x4b6d496eull;   // "KmIn": random-init keys
constexpr uint64_t kKmeansSplitField = 0x4b6d5370ull;  // "KmSp": which cluster an empty one splits
// Relative perturbation of a split pair of centroids (faiss's EPS).
constexpr float kKmeansSplitEps = 1.f / 1024.f;

// --------------------------------------------------------------------------- assignment
struct KmeansArgminArgs {
  const float* x;        // [rows, dim]: the chunk's points
  const float* partial;  // [rows, k]: ||c_j||^2 - 2 x.c_j for the chunk
  int64_t* assign;       // [rows]: index of the nearest centroid
  float* distance;       // [rows]: squared distance to it
  int64_t rows, k, dim;
};

// Row `row` of the chunk: the nearest centroid (first one on ties, as
// torch.argmin) and its squared distance ||x||^2 + min_j partial, clamped at 0
// (the expanded form can round slightly below zero).
SSLFAST_HD void kmeans_argmin_row(const KmeansArgminArgs& a, int64_t row) {
  const float* p = a.partial + row * a.k;
  int64_t best = 0;
  float best_value = p[0];
  for (int64_t j = 1; j < a.k; ++j) {
    if (p[j] < best_value) {
      best_value = p[j];
      best = j;
    }
  }
  const float* x = a.x + row * a.dim;
  float norm = 0.f;
  for (int64_t d = 0; d < a.dim; ++d) norm += x[d] * x[d];
  const float distance = norm + best_value;
  a.assign[row] = best;
  a.distance[row] = distance > 0.f ? distance : 0.f;
}

// --------------------------------------------------------------------------- update
struct KmeansSumArgs {
  const float* x;          // [n, dim]
  const int64_t* order;    // [n]: point indices, stably sorted by cluster
  const int64_t* offsets;  // [k + 1]: cluster c owns order[offsets[c] .. offsets[c + 1])
  double* sums;            // [k, dim]
  int64_t k, dim;
};

// Element (c, d) of the per-cluster sums, flat = c * dim + d: the cluster's
// points added in index order, in double.
SSLFAST_HD void kmeans_sum_element(const KmeansSumArgs& a, int64_t flat) {
  const int64_t c = flat / a.dim, d = flat % a.dim;
  double sum = 0.0;
  for (int64_t j = a.offsets[c]; j < a.offsets[c + 1]; ++j) sum += (double)a.x[a.order[j] * a.dim + d];
  a.sums[flat] = sum;
}

struct KmeansMeanArgs {
  const double* sums;     // [k, dim]
  const int64_t* counts;  // [k]
  const float* previous;  // [k, dim]: centroids of the last round
  float* centroids;       // [k, dim]
  int64_t k, dim;
};

// New centroid element: the cluster's mean; an empty cluster keeps its old
// centroid until kmeans_split_empty moves it.
SSLFAST_HD void kmeans_mean_element(const KmeansMeanArgs& a, int64_t flat) {
  const int64_t n = a.counts[flat / a.dim];
  a.centroids[flat] = n > 0 ? (float)(a.sums[flat] / (double)n) : a.previous[flat];
}

// Empty-cluster split, faiss's rule, run by one thread (empty clusters are
// rare and each split depends on the ones before): every empty cluster i, in
// order, takes a cluster j drawn with probability proportional to
// counts[j] - 1 (a large one; singletons never), copies its centroid, and the
// pair is pushed apart: even dimensions of i scaled by 1 + eps and of j by
// 1 - eps, odd ones the other way round. j's count is shared between the two
// so later draws see the split. The draw for cluster i of round `round` is
// counter_hash(seed, round * k + i). Returns the number of splits (clusters
// stay empty only if no cluster has two points).
SSLFAST_HD int64_t kmeans_split_weight(int64_t count) { return count > 1 ? count - 1 : 0; }

SSLFAST_HD int64_t kmeans_split_empty(float* centroids, int64_t* counts, int64_t k, int64_t dim, uint64_t seed,
                                      uint64_t round) {
  int64_t splits = 0, weight = 0;
  for (int64_t j = 0; j < k; ++j) weight += kmeans_split_weight(counts[j]);
  for (int64_t i = 0; i < k; ++i) {
    if (counts[i] != 0) continue;
    if (weight == 0) return splits;
    const uint64_t hash = counter_hash(seed, round * (uint64_t)k + (uint64_t)i, kKmeansSplitField);
    int64_t target = (int64_t)(((hash >> 1) % (uint64_t)weight)), j = 0;
    for (;; ++j) {
      if (target < kmeans_split_weight(counts[j])) break;
      target -= kmeans_split_weight(counts[j]);
    }
    float* ci = centroids + i * dim;
    float* cj = centroids + j * dim;
    for (int64_t d = 0; d < dim; ++d) {
      const float up = cj[d] * (1.f + kKmeansSplitEps), down = cj[d] * (1.f - kKmeansSplitEps);
      ci[d] = d % 2 == 0 ? up : down;
      cj[d] = d % 2 == 0 ? down : up;
    }
    weight -= kmeans_split_weight(counts[j]);
    counts[i] = counts[j] / 2;
    counts[j] -= counts[i];
    weight += kmeans_split_weight(counts[i]) + kmeans_split_weight(counts[j]);
    ++splits;
  }
  return splits;
}

// --------------------------------------------------------------------------- initialisation
// Random init: the k points with the smallest keys. A key depends only on the
// seed and the point's global index, so shards of a distributed run agree.
SSLFAST_HD int64_t kmeans_init_key(uint64_t seed, int64_t index) {
  return (int64_t)(counter_hash(seed, (uint64_t)index, kKmeansInitField) >> 1);
}

struct KmeansNearestArgs {
  const float* x;       // [n, dim]
  const float* center;  // [dim]: the newest k-means++ centre
  const float* best;    // [n]: squared distance to the nearest earlier centre
  float* out;           // [n]: min(best, ||x - center||^2)
  int64_t dim;
};

// k-means++ (D^2 sampling) bookkeeping for point `row`.
SSLFAST_HD void kmeans_nearest_row(const KmeansNearestArgs& a, int64_t row) {
  const float* x = a.x + row * a.dim;
  float distance = 0.f;
  for (int64_t d = 0; d < a.dim; ++d) {
    const float diff = x[d] - a.center[d];
    distance += diff * diff;
  }
  a.out[row] = distance < a.best[row] ? distance : a.best[row];
}

// Backend entry points, defined in csrc/cpu/kmeans.cpp and csrc/cuda/kmeans.cu.
namespace cpu {
void kmeans_argmin(const KmeansArgminArgs& args);
void kmeans_sums(const KmeansSumArgs& args);
void kmeans_means(const KmeansMeanArgs& args, int64_t* counts, uint64_t seed, uint64_t round);
void kmeans_init_keys(uint64_t seed, const int64_t* index, int64_t* keys, int64_t n);
void kmeans_nearest(const KmeansNearestArgs& args, int64_t n);
}  // namespace cpu
namespace cuda {
void kmeans_argmin(const KmeansArgminArgs& args);
void kmeans_sums(const KmeansSumArgs& args);
void kmeans_means(const KmeansMeanArgs& args, int64_t* counts, uint64_t seed, uint64_t round);
void kmeans_init_keys(uint64_t seed, const int64_t* index, int64_t* keys, int64_t n);
void kmeans_nearest(const KmeansNearestArgs& args, int64_t n);
}  // namespace cuda

}  // namespace sslfast
