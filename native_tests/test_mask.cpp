// csrc/kernels/mask.h: box sampling (inside the image, counts and sizes in
// range, centred box exact), rasterisation against a naive loop, the region
// pipeline run serially (exact target coverage, mask = top of the field), and
// mask_element (CUDA's entry point) against mask_row (CPU's) bit for bit for
// every fill, boxes and mask tensors, dtype pairs; outputs carry guard bands.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "buffers.h"
#include "check.h"
#include "kernels/common.h"
#include "kernels/mask.h"

using namespace sslfast;
using sslfast_test::Guarded;
using sslfast_test::random_value;
using sslfast_test::same_bits;

namespace {

void test_box_sampler() {
  const int64_t n = 500, height = 23, width = 31;
  std::vector<int64_t> index((size_t)n);
  for (int64_t i = 0; i < n; ++i) index[(size_t)i] = i * 7919 - 100;
  for (bool centered : {false, true}) {
    const int64_t count_min = centered ? 1 : 0, count_max = centered ? 1 : 5;
    Guarded<int64_t> boxes(n * count_max * 4);
    BoxSamplerArgs a{index.data(), boxes.data(), 99, n, height, width, count_min, count_max,
                     centered ? 9 : 2, centered ? 9 : 10, centered ? 12 : 3, centered ? 12 : 31, centered};
    for (int64_t i = 0; i < n; ++i) sample_boxes_one(a, i);
    CHECK(boxes.guards_intact());
    std::vector<int> seen_counts((size_t)count_max + 1, 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t used = 0;
      bool padding = false;
      for (int64_t k = 0; k < count_max; ++k) {
        const int64_t* b = a.boxes + (i * count_max + k) * 4;
        if (b[2] <= b[0]) {
          CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0);
          padding = true;
          continue;
        }
        CHECK_MSG(!padding, "sample %lld: a block after a padding slot", (long long)i);
        ++used;
        CHECK(b[0] >= 0 && b[1] >= 0 && b[2] <= width && b[3] <= height);
        CHECK(b[3] - b[1] >= a.h_min && b[3] - b[1] <= a.h_max && b[2] - b[0] >= a.w_min && b[2] - b[0] <= a.w_max);
        if (centered) CHECK(b[0] == (width - 12) / 2 && b[1] == (height - 9) / 2);
      }
      CHECK(used >= count_min && used <= count_max);
      ++seen_counts[(size_t)used];
    }
    for (int64_t c = count_min; c <= count_max; ++c) CHECK_MSG(seen_counts[(size_t)c] > 0, "count %lld never drawn",
                                                               (long long)c);
    // rasterisation against a naive loop
    bool* mask = new bool[(size_t)(n * height * width)];
    for (int64_t f = 0; f < n * height * width; ++f) boxes_to_mask_element(a.boxes, count_max, height, width, mask, f);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          bool want = false;
          for (int64_t k = 0; k < count_max; ++k) {
            const int64_t* b = a.boxes + (i * count_max + k) * 4;
            want |= x >= b[0] && x < b[2] && y >= b[1] && y < b[3];
          }
          wrong += mask[(i * height + y) * width + x] != want;
        }
    CHECK_MSG(wrong == 0, "boxes_to_mask: %lld wrong pixels", (long long)wrong);
    delete[] mask;
  }
}

void test_spline_weights() {
  const int64_t S = kRegionSubdivisions;
  for (int64_t size : {1, 7, 64, 100})
    for (int64_t cells : {2, 5, 8}) {
      int64_t previous = -1000000;
      for (int64_t p = 0; p < size; ++p) {
        int64_t w[4];
        const int64_t first = region_spline(p, size, cells, w);
        int64_t sum = 0;
        for (int64_t v : w) {
          CHECK(v >= 0);
          sum += v;
        }
        CHECK_EQ(sum, 6 * S * S * S);
        // The grid coordinate (first + 1 + t / S) never decreases along the axis.
        const int64_t t = (int64_t)std::llround(std::cbrt((double)w[3]));
        const int64_t position = (first + 1) * S + t;
        CHECK(position >= previous);
        previous = position;
      }
    }
}

void test_region_pipeline() {
  for (const auto& shape : {std::pair<int64_t, int64_t>{32, 32}, {13, 29}, {2, 3}, {1, 1}})
    for (int64_t cells : {2, 8}) {
      const int64_t n = 12, height = shape.first, width = shape.second, plane = height * width;
      const int64_t covered_min = plane / 5, covered_max = (plane * 3) / 10;
      std::vector<int64_t> index((size_t)n);
      for (int64_t i = 0; i < n; ++i) index[(size_t)i] = 1000 + i;
      std::vector<uint16_t> grid((size_t)(n * cells * cells)), bins((size_t)(n * plane));
      std::vector<int32_t> histogram((size_t)(n * kRegionBins), 0);
      std::vector<int64_t> threshold((size_t)n);
      bool* mask = new bool[(size_t)(n * plane)];
      RegionArgs a{index.data(), grid.data(), bins.data(), histogram.data(), threshold.data(), mask,
                   5, n, height, width, cells, covered_min, covered_max};
      for (int64_t g = 0; g < n * cells * cells; ++g) region_noise_element(a, g);
      // CPU entry point (per sample) first; the CUDA one (per pixel) must agree.
      std::vector<RegionSpline> columns((size_t)width);
      for (int64_t s = 0; s < n; ++s) region_bins_sample(a, s, columns.data());
      const std::vector<uint16_t> per_sample = bins;
      const std::vector<int32_t> per_sample_histogram = histogram;
      std::fill(histogram.begin(), histogram.end(), 0);
      int64_t differ = 0;
      for (int64_t p = 0; p < n * plane; ++p) {
        const uint16_t bin = region_bin_element(a, p);
        CHECK(bin < kRegionBins);
        differ += bin != per_sample[(size_t)p];
        ++histogram[(size_t)((p / plane) * kRegionBins + bin)];
      }
      CHECK_MSG(differ == 0 && histogram == per_sample_histogram, "%lldx%lld cells %lld: %lld bins differ",
                (long long)height, (long long)width, (long long)cells, (long long)differ);
      for (int64_t s = 0; s < n; ++s) region_threshold_one(a, s);
      for (int64_t p = 0; p < n * plane; ++p) region_mask_element(a, p);
      for (int64_t s = 0; s < n; ++s) {
        int64_t covered = 0;
        uint16_t lowest_masked = 0xffff, highest_unmasked = 0;
        for (int64_t p = s * plane; p < (s + 1) * plane; ++p) {
          covered += mask[p];
          if (mask[p]) lowest_masked = std::min(lowest_masked, bins[(size_t)p]);
          else highest_unmasked = std::max(highest_unmasked, bins[(size_t)p]);
        }
        const int64_t wanted = covered_min + hash_below(counter_hash(5, (uint64_t)index[(size_t)s], kMaskRegionField),
                                                        (uint32_t)(covered_max - covered_min + 1));
        CHECK_MSG(covered == wanted, "%lldx%lld cells %lld sample %lld: %lld pixels masked, wanted %lld",
                  (long long)height, (long long)width, (long long)cells, (long long)s, (long long)covered,
                  (long long)wanted);
        if (covered > 0 && covered < plane) CHECK(lowest_masked >= highest_unmasked);
      }
      delete[] mask;
    }
}

template <typename In, typename Out>
void run_apply(std::mt19937_64& rng, MaskFill fill, bool use_boxes, bool convert) {
  const int64_t batch = 3, channels = 3, height = 7, width = 11, plane = height * width;
  const int64_t numel = batch * channels * plane;
  std::vector<In> input((size_t)numel);
  for (In& v : input) v = random_value<In>(rng);
  // Boxes partly outside, empty, overlapping; the mask tensor is their rasterisation.
  const std::vector<int64_t> boxes = {2, 1, 6, 4, -3, 5, 3, 20, 0, 0, 0, 0,
                                      0, 0, 11, 7, 5, 5, 5, 9, 0, 0, 0, 0,
                                      9, 2, 15, 3, 1, 1, 4, 6, 3, 2, 5, 5};
  bool* mask = new bool[(size_t)(batch * plane)];
  for (int64_t f = 0; f < batch * plane; ++f) boxes_to_mask_element(boxes.data(), 3, height, width, mask, f);
  std::vector<float> plane_mean((size_t)(batch * channels));
  for (float& m : plane_mean) m = std::uniform_real_distribution<float>(0.f, 200.f)(rng);
  MaskApplyArgs a{};
  a.input = input.data();
  a.fill = fill;
  a.plane_mean = plane_mean.data();
  a.fill_count = 3;
  a.fill_value[0] = 0.1f;
  a.fill_value[1] = 0.5f;
  a.fill_value[2] = 0.9f;
  a.noise_seed = 4242;
  a.integer_noise = std::is_same_v<In, uint8_t>;
  a.affine.count = convert ? 3 : 1;
  for (int c = 0; c < 3; ++c) {
    a.affine.scale[c] = convert ? 1.0f / (0.2f + 0.01f * c) : 1.0f;
    a.affine.bias[c] = convert ? -0.4f : 0.0f;
  }
  a.raw_copy = !convert && std::is_same_v<In, Out>;
  a.batch = batch;
  a.channels = channels;
  a.height = height;
  a.width = width;
  if (use_boxes) {
    a.boxes = boxes.data();
    a.box_count = 3;
  } else {
    a.mask = mask;
  }
  Guarded<Out> by_element(numel), by_row(numel);
  bool* mask_element_out = new bool[(size_t)(batch * plane)];
  bool* mask_row_out = new bool[(size_t)(batch * plane)];
  a.output = by_element.data();
  a.mask_out = use_boxes ? mask_element_out : nullptr;
  for (int64_t f = 0; f < numel; ++f) mask_element<In, Out>(a, f);
  a.output = by_row.data();
  a.mask_out = use_boxes ? mask_row_out : nullptr;
  for (int64_t row = 0; row < batch * channels * height; ++row) mask_row<In, Out>(a, row);
  const std::string label = "fill " + std::to_string((int)fill) + (use_boxes ? " boxes" : " mask") +
                            (convert ? " converted" : "");
  CHECK_MSG(by_row.guards_intact() && by_element.guards_intact(), "%s wrote outside the output", label.c_str());
  int64_t differ = 0, wrong = 0;
  for (int64_t f = 0; f < numel; ++f) {
    const Out& got = by_row[f];
    if (!same_bits(got, by_element[f])) ++differ;
    const int64_t b = f / (channels * plane), c = (f / plane) % channels, pixel = f % plane;
    const bool masked = mask[b * plane + pixel];
    if (!masked && a.raw_copy) {
      if constexpr (std::is_same_v<In, Out>) wrong += !same_bits(got, input[(size_t)f]);
      continue;
    }
    float v = load_value(&input[(size_t)f]);
    if (masked) {
      if (fill == MaskFill::Zero) v = 0.f;
      if (fill == MaskFill::Mean) v = plane_mean[(size_t)(b * channels + c)];
      if (fill == MaskFill::Value) v = a.fill_value[c];
      if (fill == MaskFill::Noise) {
        const uint64_t h = counter_hash(4242, (uint64_t)f, kMaskNoiseField);
        v = a.integer_noise ? (float)hash_below(h, 256) : hash_unit_float(h);
      }
    }
    Out want;
    store_value(&want, v * a.affine.scale[a.affine.slot(c)] + a.affine.bias[a.affine.slot(c)]);
    wrong += !same_bits(got, want);
  }
  CHECK_MSG(differ == 0, "%s: %lld elements differ between mask_element and mask_row", label.c_str(),
            (long long)differ);
  CHECK_MSG(wrong == 0, "%s: %lld elements wrong", label.c_str(), (long long)wrong);
  if (use_boxes) {
    int64_t mask_wrong = 0;
    for (int64_t p = 0; p < batch * plane; ++p)
      mask_wrong += mask_element_out[p] != mask[p] || mask_row_out[p] != mask[p];
    CHECK_MSG(mask_wrong == 0, "%s: %lld mask pixels wrong", label.c_str(), (long long)mask_wrong);
  }
  delete[] mask;
  delete[] mask_element_out;
  delete[] mask_row_out;
}

template <typename In, typename Out>
void sweep_apply(std::mt19937_64& rng) {
  for (MaskFill fill : {MaskFill::Zero, MaskFill::Mean, MaskFill::Value, MaskFill::Noise})
    for (bool use_boxes : {false, true})
      for (bool convert : {false, true}) run_apply<In, Out>(rng, fill, use_boxes, convert);
}

}  // namespace

int main() {
  std::mt19937_64 rng(11);
  test_box_sampler();
  test_spline_weights();
  test_region_pipeline();
  sweep_apply<uint8_t, uint8_t>(rng);
  sweep_apply<uint8_t, float>(rng);
  sweep_apply<float, float>(rng);
  sweep_apply<Half, Half>(rng);
  sweep_apply<BFloat16, float>(rng);
  sweep_apply<float, Half>(rng);
  return sslfast_test::finish("test_mask");
}
