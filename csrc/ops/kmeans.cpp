// Schemas and dispatch of the kmeans family. The assignment GEMM of each
// chunk runs here through at::addmm (MKL / cuBLAS); the arg-min, sums, means,
// split and init keys are the shared kernels of csrc/kernels/kmeans.h.
#include "tensor_utils.h"
#include "../kernels/kmeans.h"

namespace sslfast {
namespace {

void check_points(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, name, ": expected float32, got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.dim() == 2 && t.is_contiguous(), name, ": expected a contiguous 2-D tensor, got ", t.sizes());
}

void check_like(const at::Tensor& t, const at::Tensor& reference, at::ScalarType dtype, at::IntArrayRef shape,
                const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, ": expected ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.sizes() == shape && t.is_contiguous(), name, ": expected a contiguous ", shape, " tensor, got ",
                    t.sizes());
  TORCH_CHECK_VALUE(t.device() == reference.device(), name, ": expected device ", reference.device());
}

// Nearest centroid and squared distance of every point, chunk by chunk: only
// a [chunk, K] block of partial distances exists at any time.
std::tuple<at::Tensor, at::Tensor> kmeans_assign(const at::Tensor& x, const at::Tensor& centroids, int64_t chunk) {
  check_points(x, "x");
  check_points(centroids, "centroids");
  TORCH_CHECK_VALUE(centroids.size(0) >= 1 && centroids.size(1) == x.size(1), "centroids: expected [K >= 1, ",
                    x.size(1), "], got ", centroids.sizes());
  TORCH_CHECK_VALUE(centroids.device() == x.device(), "centroids: expected device ", x.device());
  TORCH_CHECK_VALUE(chunk >= 1, "chunk: expected a positive number of rows, got ", chunk);
  const int64_t n = x.size(0), k = centroids.size(0), dim = x.size(1);
  at::Tensor assign = at::empty({n}, x.options().dtype(at::kLong));
  at::Tensor distance = at::empty({n}, x.options());
  if (n == 0) return {assign, distance};
  const at::Tensor norms = centroids.mul(centroids).sum(1).unsqueeze(0);  // [1, K]
  const at::Tensor transposed = centroids.t();
  at::Tensor partial = at::empty({std::min(chunk, n), k}, x.options());
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t rows = std::min(chunk, n - start);
    at::Tensor block = partial.narrow(0, 0, rows);
    at::addmm_out(block, norms.expand({rows, k}), x.narrow(0, start, rows), transposed, 1.0, -2.0);
    KmeansArgminArgs args{x.data_ptr<float>() + start * dim, block.data_ptr<float>(),
                          assign.data_ptr<int64_t>() + start, distance.data_ptr<float>() + start, rows, k, dim};
    run_on_device(x, [&] { cpu::kmeans_argmin(args); },
                  [&] {
#ifdef SSLFAST_WITH_CUDA
                    cuda::kmeans_argmin(args);
#endif
                  });
  }
  return {assign, distance};
}

// Per-cluster sums (float64) and counts of the points under `assign`.
std::tuple<at::Tensor, at::Tensor> kmeans_update(const at::Tensor& x, const at::Tensor& assign, int64_t k) {
  check_points(x, "x");
  check_like(assign, x, at::kLong, {x.size(0)}, "assign");
  TORCH_CHECK_VALUE(k >= 1, "k: expected k >= 1, got ", k);
  const int64_t dim = x.size(1);
  at::Tensor sums = at::empty({k, dim}, x.options().dtype(at::kDouble));
  at::Tensor counts = x.size(0) ? at::bincount(assign, {}, k) : at::zeros({k}, assign.options());
  TORCH_CHECK_VALUE(counts.size(0) == k, "assign: expected cluster ids in 0..", k - 1);
  const at::Tensor order = at::argsort(assign, /*stable=*/true);
  at::Tensor offsets = at::zeros({k + 1}, assign.options());
  offsets.narrow(0, 1, k).copy_(counts.cumsum(0));
  if (sums.numel() == 0) return {sums, counts};
  KmeansSumArgs args{x.data_ptr<float>(), order.data_ptr<int64_t>(), offsets.data_ptr<int64_t>(),
                     sums.data_ptr<double>(), k, dim};
  run_on_device(x, [&] { cpu::kmeans_sums(args); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::kmeans_sums(args);
#endif
                });
  return {sums, counts};
}

// Means from (all-reduced) sums and counts, then the empty-cluster split.
// Returns the centroids and the counts after splitting.
std::tuple<at::Tensor, at::Tensor> kmeans_centroids(const at::Tensor& sums, const at::Tensor& counts,
                                                    const at::Tensor& previous, int64_t seed, int64_t round) {
  check_points(previous, "previous");
  const int64_t k = previous.size(0), dim = previous.size(1);
  check_like(sums, previous, at::kDouble, {k, dim}, "sums");
  check_like(counts, previous, at::kLong, {k}, "counts");
  TORCH_CHECK_VALUE(round >= 0, "round: expected round >= 0, got ", round);
  at::Tensor centroids = at::empty_like(previous);
  at::Tensor new_counts = counts.clone();
  if (centroids.numel() == 0) return {centroids, new_counts};
  KmeansMeanArgs args{sums.data_ptr<double>(), counts.data_ptr<int64_t>(), previous.data_ptr<float>(),
                      centroids.data_ptr<float>(), k, dim};
  int64_t* out_counts = new_counts.data_ptr<int64_t>();
  run_on_device(previous, [&] { cpu::kmeans_means(args, out_counts, (uint64_t)seed, (uint64_t)round); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::kmeans_means(args, out_counts, (uint64_t)seed, (uint64_t)round);
#endif
                });
  return {centroids, new_counts};
}

at::Tensor kmeans_init_keys(int64_t seed, const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "index: expected int64, got ", index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1 && index.is_contiguous(), "index: expected a contiguous 1-D tensor");
  at::Tensor keys = at::empty_like(index);
  if (index.numel() == 0) return keys;
  const int64_t* in = index.data_ptr<int64_t>();
  int64_t* out = keys.data_ptr<int64_t>();
  run_on_device(index, [&] { cpu::kmeans_init_keys((uint64_t)seed, in, out, index.numel()); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::kmeans_init_keys((uint64_t)seed, in, out, index.numel());
#endif
                });
  return keys;
}

// min(best, ||x - center||^2) per point: one k-means++ round.
at::Tensor kmeans_nearest(const at::Tensor& x, const at::Tensor& center, const at::Tensor& best) {
  check_points(x, "x");
  check_like(center, x, at::kFloat, {x.size(1)}, "center");
  check_like(best, x, at::kFloat, {x.size(0)}, "best");
  at::Tensor out = at::empty_like(best);
  if (out.numel() == 0) return out;
  KmeansNearestArgs args{x.data_ptr<float>(), center.data_ptr<float>(), best.data_ptr<float>(),
                         out.data_ptr<float>(), x.size(1)};
  run_on_device(x, [&] { cpu::kmeans_nearest(args, x.size(0)); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::kmeans_nearest(args, x.size(0));
#endif
                });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("kmeans_assign(Tensor x, Tensor centroids, int chunk) -> (Tensor, Tensor)");
  m.def("kmeans_update(Tensor x, Tensor assign, int k) -> (Tensor, Tensor)");
  m.def("kmeans_centroids(Tensor sums, Tensor counts, Tensor previous, int seed, int round) -> (Tensor, Tensor)");
  m.def("kmeans_init_keys(int seed, Tensor index) -> Tensor");
  m.def("kmeans_nearest(Tensor x, Tensor center, Tensor best) -> Tensor");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("kmeans_assign", &kmeans_assign);
  m.impl("kmeans_update", &kmeans_update);
  m.impl("kmeans_centroids", &kmeans_centroids);
  m.impl("kmeans_init_keys", &kmeans_init_keys);
  m.impl("kmeans_nearest", &kmeans_nearest);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("kmeans_assign", &kmeans_assign);
  m.impl("kmeans_update", &kmeans_update);
  m.impl("kmeans_centroids", &kmeans_centroids);
  m.impl("kmeans_init_keys", &kmeans_init_keys);
  m.impl("kmeans_nearest", &kmeans_nearest);
}
#endif

}  // namespace sslfast
