// The k-means kernels of csrc/kernels/kmeans.h against naive loops written
// here: the fused arg-min over a partial-distance block, the per-cluster sums
// over a stable cluster order, the means, the empty-cluster split (a direct
// transcription of faiss's rule with the hash draw), the init keys and the
// k-means++ distance update. Exact vectors (std::vector, sized exactly) so
// ASan catches any read or write out of bounds.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "check.h"
#include "kernels/kmeans.h"

using namespace sslfast;

namespace {

std::vector<float> random_floats(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

void test_argmin(std::mt19937_64& rng) {
  for (int64_t k : {1, 2, 7, 64}) {
    const int64_t rows = 23, dim = 5;
    std::vector<float> x = random_floats(rng, rows * dim), c = random_floats(rng, k * dim);
    std::vector<float> partial(rows * k);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) {
        float dot = 0.f, norm = 0.f;
        for (int64_t d = 0; d < dim; ++d) dot += x[r * dim + d] * c[j * dim + d], norm += c[j * dim + d] * c[j * dim + d];
        partial[r * k + j] = norm - 2.f * dot;
      }
    if (k > 1) partial[3 * k + 1] = partial[3 * k + 0];  // a tie: the lower index wins
    std::vector<int64_t> assign(rows);
    std::vector<float> distance(rows);
    KmeansArgminArgs args{x.data(), partial.data(), assign.data(), distance.data(), rows, k, dim};
    for (int64_t r = 0; r < rows; ++r) kmeans_argmin_row(args, r);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t best = 0;
      double best_exact = std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < k; ++j) {
        if (partial[r * k + j] < partial[r * k + best]) best = j;
        double exact = 0;
        for (int64_t d = 0; d < dim; ++d) exact += std::pow((double)x[r * dim + d] - c[j * dim + d], 2);
        best_exact = std::min(best_exact, exact);
      }
      CHECK_EQ(assign[r], best);
      if (r != 3 || k == 1) CHECK(std::fabs(distance[r] - best_exact) <= 1e-4 * (1 + best_exact));
      CHECK(distance[r] >= 0.f);
    }
  }
}

void test_sums_and_means(std::mt19937_64& rng) {
  const int64_t n = 41, k = 6, dim = 3;
  std::vector<float> x = random_floats(rng, n * dim);
  std::vector<int64_t> assign(n);
  for (auto& a : assign) a = (int64_t)(rng() % (uint64_t)k);
  for (auto& a : assign) if (a == 4) a = 5;  // cluster 4 empty
  std::vector<int64_t> order(n), counts(k, 0), offsets(k + 1, 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return assign[a] < assign[b]; });
  for (auto a : assign) ++counts[a];
  for (int64_t c = 0; c < k; ++c) offsets[c + 1] = offsets[c] + counts[c];
  std::vector<double> sums(k * dim);
  KmeansSumArgs sum_args{x.data(), order.data(), offsets.data(), sums.data(), k, dim};
  for (int64_t f = 0; f < k * dim; ++f) kmeans_sum_element(sum_args, f);
  std::vector<double> want(k * dim, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) want[assign[i] * dim + d] += x[i * dim + d];
  for (int64_t f = 0; f < k * dim; ++f) CHECK(std::fabs(sums[f] - want[f]) < 1e-12);
  std::vector<float> previous = random_floats(rng, k * dim), centroids(k * dim);
  KmeansMeanArgs mean_args{sums.data(), counts.data(), previous.data(), centroids.data(), k, dim};
  for (int64_t f = 0; f < k * dim; ++f) kmeans_mean_element(mean_args, f);
  for (int64_t f = 0; f < k * dim; ++f) {
    const int64_t c = f / dim;
    CHECK_EQ(centroids[f], counts[c] ? (float)(want[f] / counts[c]) : previous[f]);
  }
}

void test_split() {
  const int64_t k = 5, dim = 4;
  std::vector<float> centroids(k * dim);
  for (int64_t f = 0; f < k * dim; ++f) centroids[f] = 1.f + (float)f;
  const std::vector<float> before = centroids;
  // One empty cluster: weights (0, 8, 0, 2, 3), the draw from hash (17, round 3, cluster 0).
  std::vector<int64_t> counts = {0, 9, 1, 3, 4};
  CHECK_EQ(kmeans_split_empty(centroids.data(), counts.data(), k, dim, 17, 3), (int64_t)1);
  const uint64_t draw = (counter_hash(17, 3 * k + 0, kKmeansSplitField) >> 1) % 13;
  const int64_t j = draw < 8 ? 1 : draw < 10 ? 3 : 4;
  const int64_t before_j = j == 1 ? 9 : j == 3 ? 3 : 4;
  CHECK_EQ(counts[0], before_j / 2);
  CHECK_EQ(counts[j], before_j - before_j / 2);
  for (int64_t d = 0; d < dim; ++d) {
    const float up = before[j * dim + d] * (1.f + 1.f / 1024.f), down = before[j * dim + d] * (1.f - 1.f / 1024.f);
    CHECK_EQ(centroids[0 * dim + d], d % 2 == 0 ? up : down);
    CHECK_EQ(centroids[j * dim + d], d % 2 == 0 ? down : up);
  }
  // Several empty clusters: all filled, the total count kept.
  std::vector<int64_t> many = {0, 9, 1, 0, 4, 0};
  std::vector<float> six(6 * dim, 1.f);
  CHECK_EQ(kmeans_split_empty(six.data(), many.data(), 6, dim, 5, 0), (int64_t)3);
  int64_t total = 0;
  for (auto c : many) {
    CHECK(c > 0);
    total += c;
  }
  CHECK_EQ(total, (int64_t)14);
  // Only singletons left: nothing to split.
  std::vector<int64_t> singletons = {1, 0, 1};
  std::vector<float> small(3 * dim, 2.f);
  CHECK_EQ(kmeans_split_empty(small.data(), singletons.data(), 3, dim, 0, 0), (int64_t)0);
  CHECK_EQ(singletons[1], (int64_t)0);
}

void test_keys_and_nearest(std::mt19937_64& rng) {
  for (int64_t i = 0; i < 100; ++i) {
    const int64_t key = kmeans_init_key(5, i);
    CHECK(key >= 0);
    CHECK_EQ(key, (int64_t)(counter_hash(5, (uint64_t)i, kKmeansInitField) >> 1));
  }
  const int64_t n = 9, dim = 4;
  std::vector<float> x = random_floats(rng, n * dim), center = random_floats(rng, dim), best(n), out(n);
  for (int64_t i = 0; i < n; ++i) best[i] = i % 2 ? 0.5f : std::numeric_limits<float>::infinity();
  KmeansNearestArgs args{x.data(), center.data(), best.data(), out.data(), dim};
  for (int64_t i = 0; i < n; ++i) kmeans_nearest_row(args, i);
  for (int64_t i = 0; i < n; ++i) {
    float d2 = 0.f;
    for (int64_t d = 0; d < dim; ++d) d2 += (x[i * dim + d] - center[d]) * (x[i * dim + d] - center[d]);
    CHECK_EQ(out[i], std::min(d2, best[i]));
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(7);
  test_argmin(rng);
  test_sums_and_means(rng);
  test_split();
  test_keys_and_nearest(rng);
  return sslfast_test::finish("test_kmeans");
}
