// csrc/kernels/color.h against references written here from the definitions
// in double precision: the division-free roots, the uint8 table and the float
// transfer curve, sRGB -> Lab -> sRGB per pixel for every input type,
// and the cell-table k-nearest-bin search against a brute-force sort, for
// lattice and scattered bins, ties, far-away points and overflowing cells.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "check.h"
#include "kernels/color.h"

using namespace sslfast;

namespace {

// ---------------------------------------------------------------- references
double srgb_to_linear_reference(double v) { return v > 0.04045 ? std::pow((v + 0.055) / 1.055, 2.4) : v / 12.92; }

struct LabD {
  double L, a, b;
};

LabD lab_reference(double r, double g, double b) {
  const double rl = srgb_to_linear_reference(r), gl = srgb_to_linear_reference(g), bl = srgb_to_linear_reference(b);
  const double x = (0.412453 * rl + 0.357580 * gl + 0.180423 * bl) / 0.95047;
  const double y = 0.212671 * rl + 0.715160 * gl + 0.072169 * bl;
  const double z = (0.019334 * rl + 0.119193 * gl + 0.950227 * bl) / 1.08883;
  auto f = [](double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; };
  return {116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))};
}

std::vector<float> make_table() {
  std::vector<float> table(kLinearTableSize);
  fill_linear_table(table.data());
  return table;
}

// ---------------------------------------------------------------- conversions
void test_roots() {
  double worst_cube = 0, worst_fifth = 0;
  for (double e = -30; e <= 30; e += 0.003) {
    const float t = (float)std::pow(10.0, e);
    worst_cube = std::max(worst_cube, std::fabs(cube_root(t) / std::cbrt((double)t) - 1));
    worst_fifth = std::max(worst_fifth, std::fabs(fifth_root(t) / std::pow((double)t, 0.2) - 1));
  }
  CHECK_MSG(worst_cube < 2.5e-7, "cube root: worst relative error %g", worst_cube);
  CHECK_MSG(worst_fifth < 2.5e-7, "fifth root: worst relative error %g", worst_fifth);
  CHECK_EQ(cube_root(0.0f), 0.0f);
  CHECK_EQ(cube_root(1.0f), 1.0f);
  CHECK_EQ(cube_root(8.0f), 2.0f);
  CHECK_EQ(fifth_root(32.0f), 2.0f);
}

void test_matrix_inverse() {
  constexpr Matrix3 m = normalized_xyz_from_rgb(), inv = rgb_from_normalized_xyz();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int k = 0; k < 3; ++k) sum += m.m[i][k] * inv.m[k][j];
      CHECK_MSG(std::fabs(sum - (i == j)) < 1e-12, "(M M^-1)[%d][%d] = %.17g", i, j, sum);
    }
}

void test_linearize() {
  const std::vector<float> table = make_table();
  for (int v = 0; v < 256; ++v) {
    const uint8_t byte = (uint8_t)v;
    CHECK_EQ(linearize(&byte, table.data()), (float)srgb_to_linear_reference(v / 255.0));
  }
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float v = (float)(i / 200000.0);
    worst = std::max(worst, std::fabs(linearize(&v, table.data()) - srgb_to_linear_reference(v)));
  }
  CHECK_MSG(worst < 6e-7, "worst error of the float transfer curve %g", worst);
  // Out of range: clamped (NaN lands on an end).
  const float low = -3.0f, high = 7.5f, huge = 1e30f, nan = std::nanf("");
  CHECK_EQ(linearize(&low, table.data()), 0.0f);
  CHECK_EQ(linearize(&high, table.data()), 1.0f);
  CHECK_EQ(linearize(&huge, table.data()), 1.0f);
  const float at_nan = linearize(&nan, table.data());
  CHECK(at_nan == 0.0f || at_nan == 1.0f);
}

template <typename In>
void check_lab_pixels(const char* what, int count, std::mt19937_64& rng) {
  const std::vector<float> table = make_table();
  std::vector<In> in(3 * count);
  std::vector<float> lab(3 * count), back(3 * count);
  for (auto& v : in) {
    if constexpr (std::is_same_v<In, uint8_t>) {
      v = (uint8_t)(rng() & 0xff);
    } else {
      store_value(&v, std::uniform_real_distribution<float>(0.f, 1.f)(rng));
    }
  }
  double worst = 0, worst_round_trip = 0;
  for (int p = 0; p < count; ++p) {
    rgb_to_lab_at(in.data(), lab.data(), table.data(), count, p);
    const double scale = std::is_same_v<In, uint8_t> ? 255.0 : 1.0;
    const double r = load_value(&in[p]) / scale, g = load_value(&in[count + p]) / scale,
                 b = load_value(&in[2 * count + p]) / scale;
    const LabD want = lab_reference(r, g, b);
    worst = std::max({worst, std::fabs(lab[p] - want.L), std::fabs(lab[count + p] - want.a),
                      std::fabs(lab[2 * count + p] - want.b)});
    lab_to_rgb_at(lab.data(), back.data(), count, p, true);
    worst_round_trip = std::max({worst_round_trip, std::fabs(back[p] - r), std::fabs(back[count + p] - g),
                                 std::fabs(back[2 * count + p] - b)});
  }
  CHECK_MSG(worst < 2e-4, "%s: worst Lab error %g", what, worst);
  CHECK_MSG(worst_round_trip < 2e-5, "%s: worst round-trip error %g", what, worst_round_trip);
}

void test_lightness_matches_full_conversion() {
  const std::vector<float> table = make_table();
  std::vector<uint8_t> in(3 * 4096);
  for (size_t i = 0; i < in.size(); ++i) in[i] = (uint8_t)((i * 2654435761u) >> 7);
  std::vector<float> lab(3 * 4096), lightness(4096);
  for (int p = 0; p < 4096; ++p) {
    rgb_to_lab_at(in.data(), lab.data(), table.data(), 4096, p);
    lightness_at(in.data(), lightness.data(), table.data(), 4096, p, 0.5f, -25.0f);
    CHECK_EQ(lightness[p], lab[p] * 0.5f - 25.0f);
  }
}

void test_lab_to_rgb_clip_and_uint8() {
  // L = 50, a = 120 is outside the sRGB gamut: green goes negative unclipped.
  const float lab[3] = {50.f, 120.f, 0.f};
  float open[3], clipped[3];
  uint8_t bytes[3];
  lab_to_rgb_at(lab, open, 1, 0, false);
  lab_to_rgb_at(lab, clipped, 1, 0, true);
  lab_to_rgb_at(lab, bytes, 1, 0, false);
  CHECK(open[1] < 0.f && open[0] > 1.f);
  CHECK(clipped[1] == 0.f && clipped[0] == 1.f);
  CHECK(bytes[0] == 255 && bytes[1] == 0);
  const float white[3] = {100.f, 0.f, 0.f};
  lab_to_rgb_at(white, bytes, 1, 0, true);
  CHECK(bytes[0] == 255 && bytes[1] == 255 && bytes[2] == 255);
}

// ---------------------------------------------------------------- k nearest bins
struct Table {
  std::vector<int32_t> count = std::vector<int32_t>(kCellCount);
  std::vector<int16_t> cells = std::vector<int16_t>(kCellCount * kCellCapacity);
  std::vector<float> bounds = std::vector<float>(kCellCount * kCellCapacity);
};

BinSearch make_search(const std::vector<float>& bins, int k, Table& table) {
  const int q = (int)bins.size() / 2;
  for (int cell = 0; cell < kCellCount; ++cell)
    build_cell(bins.data(), q, k, cell, table.count.data(), table.cells.data(), table.bounds.data());
  return {bins.data(), q, k, 1.0f / 50.0f, table.count.data(), table.cells.data(), table.bounds.data()};
}

std::vector<int> brute_force(const std::vector<float>& bins, float a, float b, int k) {
  const int q = (int)bins.size() / 2;
  std::vector<float> d(q);
  for (int j = 0; j < q; ++j) {
    const float da = a - bins[2 * j], db = b - bins[2 * j + 1];
    d[j] = da * da + db * db;
  }
  std::vector<int> order(q);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return d[x] < d[y]; });
  order.resize(k);
  return order;
}

int check_queries(const char* what, const std::vector<float>& bins, int k, const std::vector<float>& queries) {
  Table table;
  const BinSearch search = make_search(bins, k, table);
  int mismatches = 0;
  for (size_t i = 0; i + 1 < queries.size(); i += 2) {
    NearestK best(k);
    find_nearest(search, queries[i], queries[i + 1], best);
    const std::vector<int> want = brute_force(bins, queries[i], queries[i + 1], k);
    for (int c = 0; c < k; ++c) mismatches += best.index[c] != want[c];
  }
  CHECK_MSG(mismatches == 0, "%s (k=%d): %d neighbours differ from brute force", what, k, mismatches);
  return (int)std::count(table.count.begin(), table.count.end(), -1);
}

std::vector<float> lattice_bins(float grid, float radius) {
  std::vector<float> bins;
  for (float a = -radius; a <= radius; a += grid)
    for (float b = -radius; b <= radius; b += grid)
      if (a * a + b * b <= radius * radius) {
        bins.push_back(a);
        bins.push_back(b);
      }
  return bins;
}

void test_nearest_bins(std::mt19937_64& rng) {
  std::uniform_real_distribution<float> wide(-150.f, 150.f), inside(-100.f, 100.f);
  std::vector<float> queries;
  for (int i = 0; i < 3000; ++i) {
    queries.push_back(i % 4 ? inside(rng) : wide(rng));
    queries.push_back(i % 4 ? inside(rng) : wide(rng));
  }
  // Exact ties (bin centres, midpoints, cell corners) and far-away points.
  for (float a = -60.f; a <= 60.f; a += 5.f)
    for (float b = -60.f; b <= 60.f; b += 4.f) {
      queries.push_back(a);
      queries.push_back(b);
    }
  for (float far : {-1e6f, 1e6f, -128.f, 127.999f, 128.f}) {
    queries.push_back(far);
    queries.push_back(3.f);
  }

  const std::vector<float> lattice = lattice_bins(10.f, 105.f);
  for (int k : {1, 5, 10, 16}) check_queries("lattice", lattice, k, queries);

  std::vector<float> scattered;
  for (int j = 0; j < 300; ++j) {
    scattered.push_back(inside(rng));
    scattered.push_back(inside(rng));
  }
  for (int k : {1, 5, 16}) check_queries("scattered", scattered, k, queries);

  // 800 bins packed in a 12 x 12 square: their cells overflow and fall back
  // to the full scan, still exact.
  std::vector<float> packed;
  std::uniform_real_distribution<float> small(-6.f, 6.f);
  for (int j = 0; j < 800; ++j) {
    packed.push_back(small(rng));
    packed.push_back(small(rng));
  }
  const int overflowing = check_queries("packed", packed, 5, queries);
  CHECK_MSG(overflowing > 0, "expected overflowing cells, got %d", overflowing);

  // A single bin: every point's nearest.
  check_queries("single", std::vector<float>{7.f, -3.f}, 1, queries);
}

void test_soft_encode_weights() {
  const std::vector<float> bins = lattice_bins(10.f, 105.f);
  Table table;
  BinSearch search = make_search(bins, 5, table);
  int64_t index[5 * 3];
  float weight[5 * 3];
  soft_encode(search, 3.f, -4.f, index, weight, 3);  // step 3: planar layout
  float total = 0;
  for (int c = 0; c < 5; ++c) total += weight[3 * c];
  CHECK_MSG(std::fabs(total - 1.f) < 1e-6f, "weights sum to %g", total);
  for (int c = 0; c < 5; ++c) {
    const float da = 3.f - bins[2 * index[3 * c]], db = -4.f - bins[2 * index[3 * c] + 1];
    const double want = std::exp(-(da * da + db * db) / 50.0);
    const float da0 = 3.f - bins[2 * index[0]], db0 = -4.f - bins[2 * index[0] + 1];
    const double ratio = weight[3 * c] / weight[0], want_ratio = want / std::exp(-(da0 * da0 + db0 * db0) / 50.0);
    CHECK_MSG(std::fabs(ratio - want_ratio) < 1e-5, "weight ratio %g, want %g", ratio, want_ratio);
  }
  // Far from every bin the weights still normalise (no 0 / 0).
  soft_encode(search, 1e4f, 1e4f, index, weight, 1);
  CHECK(weight[0] > 0.f && weight[0] <= 1.f && std::isfinite(weight[4]));
}

void test_has_colour() {
  CHECK(!has_colour(5.f, -5.f));
  CHECK(has_colour(5.001f, 0.f));
  CHECK(has_colour(0.f, -5.001f));
}

}  // namespace

int main() {
  std::mt19937_64 rng(20240611);
  test_roots();
  test_matrix_inverse();
  test_linearize();
  check_lab_pixels<uint8_t>("uint8", 20000, rng);
  check_lab_pixels<float>("float32", 20000, rng);
  check_lab_pixels<Half>("float16", 5000, rng);
  check_lab_pixels<BFloat16>("bfloat16", 5000, rng);
  test_lightness_matches_full_conversion();
  test_lab_to_rgb_clip_and_uint8();
  test_nearest_bins(rng);
  test_soft_encode_weights();
  test_has_colour();
  return sslfast_test::finish("test_color");
}
