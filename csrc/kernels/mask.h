// Inpainting masks (Context Encoders): box samplers (centre square, random
// blocks), random-region masks (thresholded, smoothly upsampled noise with a
// per-sample coverage), box rasterisation, and the apply op that fills the
// masked pixels fused with dtype conversion and normalisation. Shared by the
// CPU and CUDA backends.
#pragma once

#include <type_traits>

#include "common.h"

namespace sslfast {

// Field ids of the counter-based generator for this family.
constexpr uint64_t kMaskBoxField = 0x4d61736bull;     // "Mask"
constexpr uint64_t kMaskRegionField = 0x5265676eull;  // "Regn"
constexpr uint64_t kMaskNoiseField = 0x4e6f6973ull;   // "Nois"

// ---------------------------------------------------------------------------
// Boxes: int64 (x0, y0, x1, y1), half-open (x0 <= x < x1, y0 <= y < y1),
// torchvision's XYXY order. A box with x1 <= x0 or y1 <= y0 is empty (the
// padding of samples that drew fewer blocks than slots).
// ---------------------------------------------------------------------------
struct BoxSamplerArgs {
  const int64_t* index;  // [n] sample ids
  int64_t* boxes;        // [n, count_max, 4]
  uint64_t seed;
  int64_t n, height, width;
  int64_t count_min, count_max;  // blocks per sample, inclusive
  int64_t h_min, h_max, w_min, w_max;  // block size in pixels, inclusive, at most the image size
  bool centered;         // one box of size (h_min, w_min) in the middle, no randomness
};

// Hash of draw `what` (0: height, 1: width, 2: y0, 3: x0) of block k.
SSLFAST_HD uint64_t box_hash(uint64_t seed, int64_t index, int64_t k, int what) {
  return counter_hash(seed, (uint64_t)index, kMaskBoxField + ((uint64_t)(4 * k + what + 1) << 32));
}

// Number of blocks of sample `index`: uniform in [count_min, count_max].
SSLFAST_HD int64_t box_count(const BoxSamplerArgs& a, int64_t index) {
  const uint32_t span = (uint32_t)(a.count_max - a.count_min + 1);
  return a.count_min + (int64_t)hash_below(counter_hash(a.seed, (uint64_t)index, kMaskBoxField), span);
}

// All box slots of sample i: sizes uniform in their ranges, then a position
// uniform among those that keep the block inside the image.
SSLFAST_HD void sample_boxes_one(const BoxSamplerArgs& a, int64_t i) {
  int64_t* out = a.boxes + i * a.count_max * 4;
  if (a.centered) {
    const int64_t y0 = (a.height - a.h_min) / 2, x0 = (a.width - a.w_min) / 2;
    out[0] = x0;
    out[1] = y0;
    out[2] = x0 + a.w_min;
    out[3] = y0 + a.h_min;
    return;
  }
  const int64_t index = a.index[i];
  const int64_t count = box_count(a, index);
  for (int64_t k = 0; k < a.count_max; ++k) {
    int64_t* box = out + 4 * k;
    if (k >= count) {
      box[0] = box[1] = box[2] = box[3] = 0;
      continue;
    }
    const int64_t h = a.h_min + hash_below(box_hash(a.seed, index, k, 0), (uint32_t)(a.h_max - a.h_min + 1));
    const int64_t w = a.w_min + hash_below(box_hash(a.seed, index, k, 1), (uint32_t)(a.w_max - a.w_min + 1));
    const int64_t y0 = hash_below(box_hash(a.seed, index, k, 2), (uint32_t)(a.height - h + 1));
    const int64_t x0 = hash_below(box_hash(a.seed, index, k, 3), (uint32_t)(a.width - w + 1));
    box[0] = x0;
    box[1] = y0;
    box[2] = x0 + w;
    box[3] = y0 + h;
  }
}

SSLFAST_HD bool inside_any_box(const int64_t* boxes, int64_t count, int64_t y, int64_t x) {
  for (int64_t k = 0; k < count; ++k) {
    const int64_t* b = boxes + 4 * k;
    if (x >= b[0] && x < b[2] && y >= b[1] && y < b[3]) return true;
  }
  return false;
}

// Pixel `flat` of a [n, 1, height, width] mask from boxes [n, count, 4].
SSLFAST_HD void boxes_to_mask_element(const int64_t* boxes, int64_t count, int64_t height, int64_t width,
                                      bool* mask, int64_t flat) {
  const int64_t plane = height * width;
  const int64_t sample = flat / plane, y = (flat % plane) / width, x = flat % width;
  mask[flat] = inside_any_box(boxes + sample * count * 4, count, y, x);
}

// ---------------------------------------------------------------------------
// Random regions: uniform 16-bit noise on a cells x cells grid, upsampled to
// the image with the cubic B-spline (smooth, and a convex combination, so no
// overshoot), then thresholded so that the masked pixel count is exactly a
// per-sample target drawn uniformly from [covered_min, covered_max]. Integer
// arithmetic throughout, so CPU and CUDA give the same mask bit for bit.
//
// The threshold comes from a histogram of the field over kRegionBins bins:
// whole bins from the top while they fit the target, then the first pixels
// (in raster order) of the bin where the target falls. As one int64 key per
// pixel, bin * plane + (plane - 1 - pixel), the mask is "key >= threshold".
// ---------------------------------------------------------------------------
constexpr int kRegionBins = 4096;
constexpr int64_t kRegionSubdivisions = 1024;  // fixed-point steps per grid cell

struct RegionArgs {
  const int64_t* index;  // [n]
  uint16_t* grid;        // [n, cells, cells] noise (workspace)
  uint16_t* bins;        // [n, height, width] field bins (workspace)
  int32_t* histogram;    // [n, kRegionBins], zeroed before use
  int64_t* threshold;    // [n] threshold keys
  bool* mask;            // [n, 1, height, width]
  uint64_t seed;
  int64_t n, height, width, cells;
  int64_t covered_min, covered_max;  // masked pixels per sample, inclusive
};

// Noise value of grid entry `flat` of the [n, cells, cells] grid.
SSLFAST_HD void region_noise_element(const RegionArgs& a, int64_t flat) {
  const int64_t cells2 = a.cells * a.cells;
  const int64_t sample = flat / cells2, cell = flat % cells2;
  const uint64_t field = kMaskRegionField + ((uint64_t)(cell + 1) << 32);
  a.grid[flat] = (uint16_t)(counter_hash(a.seed, (uint64_t)a.index[sample], field) >> 48);
}

// Cubic B-spline weights (sum 6 * S^3, S = kRegionSubdivisions) of the four
// grid entries around pixel p of an axis of `size` pixels over `cells`
// cells, and the first entry's (unclamped) grid index.
SSLFAST_HD int64_t region_spline(int64_t p, int64_t size, int64_t cells, int64_t w[4]) {
  const int64_t S = kRegionSubdivisions;
  // Grid coordinate (p + 0.5) * cells / size - 0.5, in 1/S steps, floored.
  const int64_t numerator = (2 * p + 1) * cells * S - size * S, denominator = 2 * size;
  const int64_t u = numerator >= 0 ? numerator / denominator : -((-numerator + denominator - 1) / denominator);
  const int64_t base = u >= 0 ? u / S : -((-u + S - 1) / S);
  const int64_t t = u - base * S, s = S - t;
  w[0] = s * s * s;
  w[1] = 3 * t * t * t - 6 * S * t * t + 4 * S * S * S;
  w[2] = -3 * t * t * t + 3 * S * t * t + 3 * S * S * t + S * S * S;
  w[3] = t * t * t;
  return base - 1;
}

SSLFAST_HD int64_t clamp_index(int64_t i, int64_t size) { return i < 0 ? 0 : (i >= size ? size - 1 : i); }

// One axis's spline at a pixel: first grid index and the four weights.
struct RegionSpline {
  int64_t first;
  int64_t w[4];
};

SSLFAST_HD RegionSpline region_axis(int64_t p, int64_t size, int64_t cells) {
  RegionSpline s;
  s.first = region_spline(p, size, cells, s.w);
  return s;
}

// Histogram bin of the upsampled noise of sample `sample` where the row and
// column splines are `sy` and `sx`. With W = 6 S^3 < 2^33 the weight sum per
// axis: a row sum is < W * 2^16, kept to its top 30 bits (>> 19), so the
// column sum stays < 36 * 2^57.
SSLFAST_HD uint16_t region_bin(const RegionArgs& a, int64_t sample, const RegionSpline& sy, const RegionSpline& sx) {
  const uint16_t* grid = a.grid + sample * a.cells * a.cells;
  uint64_t total = 0;
  for (int r = 0; r < 4; ++r) {
    const uint16_t* line = grid + clamp_index(sy.first + r, a.cells) * a.cells;
    uint64_t across = 0;
    for (int c = 0; c < 4; ++c) across += (uint64_t)sx.w[c] * line[clamp_index(sx.first + c, a.cells)];
    total += (uint64_t)sy.w[r] * (across >> 19);
  }
  return (uint16_t)(total / ((36ull << 57) / kRegionBins));
}

// Bin of pixel `flat` of the [n, height, width] grid (CUDA; the caller
// counts it into the histogram).
SSLFAST_HD uint16_t region_bin_element(const RegionArgs& a, int64_t flat) {
  const int64_t plane = a.height * a.width;
  const int64_t sample = flat / plane, y = (flat % plane) / a.width, x = flat % a.width;
  const uint16_t bin =
      region_bin(a, sample, region_axis(y, a.height, a.cells), region_axis(x, a.width, a.cells));
  a.bins[flat] = bin;
  return bin;
}

// Bins of all pixels of sample `sample`, counted into its histogram (CPU):
// the column splines once per sample (columns: width entries of scratch),
// the row spline once per row.
SSLFAST_HD void region_bins_sample(const RegionArgs& a, int64_t sample, RegionSpline* columns) {
  for (int64_t x = 0; x < a.width; ++x) columns[x] = region_axis(x, a.width, a.cells);
  int32_t* hist = a.histogram + sample * kRegionBins;
  uint16_t* bins = a.bins + sample * a.height * a.width;
  for (int64_t y = 0; y < a.height; ++y) {
    const RegionSpline row = region_axis(y, a.height, a.cells);
    for (int64_t x = 0; x < a.width; ++x) {
      const uint16_t bin = region_bin(a, sample, row, columns[x]);
      bins[y * a.width + x] = bin;
      ++hist[bin];
    }
  }
}

// Threshold key of sample `sample`: whole bins from the top, then the first
// pixels of the bin where the sample's target count falls.
SSLFAST_HD void region_threshold_one(const RegionArgs& a, int64_t sample) {
  const int64_t plane = a.height * a.width;
  const uint32_t span = (uint32_t)(a.covered_max - a.covered_min + 1);
  const int64_t wanted =
      a.covered_min + hash_below(counter_hash(a.seed, (uint64_t)a.index[sample], kMaskRegionField), span);
  if (wanted == 0) {
    a.threshold[sample] = kRegionBins * plane;  // above every key
    return;
  }
  const int32_t* hist = a.histogram + sample * kRegionBins;
  int64_t above = 0;  // pixels in bins above b
  int b = kRegionBins - 1;
  while (above + hist[b] < wanted) above += hist[b--];
  const int64_t needed = wanted - above;  // 1 .. hist[b]
  const uint16_t* bins = a.bins + sample * plane;
  int64_t seen = 0, cutoff = 0;
  for (int64_t p = 0; p < plane; ++p) {
    if (bins[p] == b && ++seen == needed) {
      cutoff = p;
      break;
    }
  }
  a.threshold[sample] = b * plane + (plane - 1 - cutoff);
}

SSLFAST_HD void region_mask_element(const RegionArgs& a, int64_t flat) {
  const int64_t plane = a.height * a.width, sample = flat / plane, pixel = flat % plane;
  a.mask[flat] = (int64_t)a.bins[flat] * plane + (plane - 1 - pixel) >= a.threshold[sample];
}

// ---------------------------------------------------------------------------
// Apply: masked pixels take the fill value, the rest are copied; both go
// through the fused dtype conversion and normalisation.
// ---------------------------------------------------------------------------
enum class MaskFill : int { Zero = 0, Mean = 1, Value = 2, Noise = 3 };

struct MaskApplyArgs {
  const void* input;       // contiguous [batch, channels, height, width]
  void* output;            // same shape
  const bool* mask;        // [batch, 1, height, width], or null when boxes are given
  const int64_t* boxes;    // [batch, box_count, 4], or null
  int64_t box_count;
  bool* mask_out;          // boxes given: the rasterised mask [batch, 1, height, width]
  MaskFill fill;
  const float* plane_mean;  // Mean: [batch, channels] per-image channel means, input units
  float fill_value[kMaxAffineChannels];  // Value: per channel (fill_count 1 broadcasts), input units
  int fill_count;
  uint64_t noise_seed;      // Noise: value = hash of (noise_seed, output element)
  bool integer_noise;       // uint8 input: noise is a whole level 0..255, else uniform in [0, 1)
  bool raw_copy;            // no conversion (same dtype, identity affine): unmasked pixels are copied bit for bit
  ChannelAffine affine;
  int64_t batch, channels, height, width;
};

// Fill value of output element `flat` (image b, channel c), in input units.
SSLFAST_HD float mask_fill_value(const MaskApplyArgs& a, int64_t b, int64_t c, int64_t flat) {
  switch (a.fill) {
    case MaskFill::Mean: return a.plane_mean[b * a.channels + c];
    case MaskFill::Value: return a.fill_value[a.fill_count == 1 ? 0 : c];
    case MaskFill::Noise: {
      const uint64_t h = counter_hash(a.noise_seed, (uint64_t)flat, kMaskNoiseField);
      return a.integer_noise ? (float)hash_below(h, 256) : hash_unit_float(h);
    }
    default: return 0.f;
  }
}

template <typename In, typename Out>
SSLFAST_HD void mask_store(const MaskApplyArgs& a, int64_t flat, int64_t c, bool masked, int64_t b) {
  Out* out = static_cast<Out*>(a.output) + flat;
  const In* in = static_cast<const In*>(a.input) + flat;
  if constexpr (std::is_same_v<In, Out>) {
    if (!masked && a.raw_copy) {
      *out = *in;
      return;
    }
  }
  const float v = masked ? mask_fill_value(a, b, c, flat) : load_value(in);
  const int64_t slot = a.affine.slot(c);
  store_value(out, v * a.affine.scale[slot] + a.affine.bias[slot]);
}

// One output element (CUDA). With boxes, the channel-0 element also writes
// the mask pixel.
template <typename In, typename Out>
SSLFAST_HD void mask_element(const MaskApplyArgs& a, int64_t flat) {
  const int64_t plane = a.height * a.width;
  const int64_t pixel = flat % plane, c = (flat / plane) % a.channels, b = flat / (plane * a.channels);
  bool masked;
  if (a.boxes) {
    masked = inside_any_box(a.boxes + b * a.box_count * 4, a.box_count, pixel / a.width, pixel % a.width);
    if (c == 0 && a.mask_out) a.mask_out[b * plane + pixel] = masked;
  } else {
    masked = a.mask[b * plane + pixel];
  }
  mask_store<In, Out>(a, flat, c, masked, b);
}

// One output row (CPU work item): row = (b * channels + c) * height + y.
// The whole row is converted first in a loop the compiler vectorises (locals
// rather than a's fields: a uint8 store may alias them), then the masked
// pixels are overwritten with their fill, as mask_element would write them.
template <typename In, typename Out>
SSLFAST_HD void mask_row(const MaskApplyArgs& a, int64_t row) {
  const int64_t y = row % a.height, c = (row / a.height) % a.channels, b = row / (a.height * a.channels);
  const int64_t first = row * a.width, width = a.width;
  const In* __restrict__ in = static_cast<const In*>(a.input) + first;
  Out* __restrict__ out = static_cast<Out*>(a.output) + first;
  const int64_t slot = a.affine.slot(c);
  const float scale = a.affine.scale[slot], bias = a.affine.bias[slot];
  bool copied = false;
  if constexpr (std::is_same_v<In, Out>) {
    if (a.raw_copy) {
      for (int64_t x = 0; x < width; ++x) out[x] = in[x];
      copied = true;
    }
  }
  if (!copied)
    for (int64_t x = 0; x < width; ++x) store_value(out + x, load_value(in + x) * scale + bias);
  const int64_t pixels = (b * a.height + y) * width;  // first mask pixel of the row
  if (!a.boxes) {
    for (int64_t x = 0; x < width; ++x)
      if (a.mask[pixels + x]) mask_store<In, Out>(a, first + x, c, true, b);
    return;
  }
  bool* mask_out = c == 0 ? a.mask_out : nullptr;
  if (mask_out)
    for (int64_t x = 0; x < width; ++x) mask_out[pixels + x] = false;
  const int64_t* boxes = a.boxes + b * a.box_count * 4;
  for (int64_t k = 0; k < a.box_count; ++k) {
    const int64_t* box = boxes + 4 * k;
    if (y < box[1] || y >= box[3]) continue;
    const int64_t x0 = box[0] < 0 ? 0 : box[0], x1 = box[2] > width ? width : box[2];
    for (int64_t x = x0; x < x1; ++x) {
      mask_store<In, Out>(a, first + x, c, true, b);
      if (mask_out) mask_out[pixels + x] = true;
    }
  }
}

// Backend entry points, defined in csrc/cpu/mask.cpp and csrc/cuda/mask.cu.
namespace cpu {
void sample_boxes(const BoxSamplerArgs& args);
void boxes_to_mask(const int64_t* boxes, int64_t n, int64_t count, int64_t height, int64_t width, bool* mask);
void region_masks(const RegionArgs& args);
void apply_mask(const MaskApplyArgs& args, DType in, DType out);
}  // namespace cpu
namespace cuda {
void sample_boxes(const BoxSamplerArgs& args);
void boxes_to_mask(const int64_t* boxes, int64_t n, int64_t count, int64_t height, int64_t width, bool* mask);
void region_masks(const RegionArgs& args);
void apply_mask(const MaskApplyArgs& args, DType in, DType out);
}  // namespace cuda

}  // namespace sslfast
