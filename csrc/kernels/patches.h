// Patch family: cut N patches per sample (jigsaw tiles, context pairs, frame
// tuples) fused with grayscale, colour dropping, per-patch normalisation,
// dtype conversion and mean/std; the samplers of those pretext tasks; and the
// greedy maximal-Hamming permutation set of the jigsaw task.
// Shared by the CPU and CUDA backends (and the native tests).
#pragma once

#include <math.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <type_traits>
#include <vector>

#include "common.h"

namespace sslfast {

// Field ids of the counter-based generator for this family. A sampler adds a
// small offset to its field for each quantity it draws (documented at each use).
constexpr uint64_t kJigsawField = 0x4a696773ull;       // "Jigs"
constexpr uint64_t kContextField = 0x436e7478ull;      // "Cntx"
constexpr uint64_t kTupleField = 0x54706c65ull;        // "Tple"
constexpr uint64_t kColorDropField = 0x44726f70ull;    // "Drop"
constexpr uint64_t kPatchNoiseField = 0x4e6f6973ull;   // "Nois"
constexpr uint64_t kPermutationField = 0x5065726dull;  // "Perm"

// ITU-R BT.601 luma weights, as OpenCV's RGB2GRAY.
constexpr float kLumaR = 0.299f, kLumaG = 0.587f, kLumaB = 0.114f;

enum class PatchNorm : int {
  None = 0,
  Patch = 1,  // each channel of each patch to zero mean, unit std (jigsaw)
  Rms = 2,    // each channel to zero mean, then the patch divided by its RMS over all channels (context)
};

// Everything a gather_patches call needs, as raw pointers and sizes. Patches
// are numbered p = b * N + n over the [B, N] parameter tensors.
struct GatherPatchesArgs {
  const void* images;      // [count, channels, height, width], contiguous
  void* output;            // [patches, channels, patch_h, patch_w], contiguous
  const int64_t* src;      // [patches] image of each patch
  const int64_t* origins;  // [patches, 2] (y, x) of each patch's top-left corner
  const int64_t* keep;     // [patches] channel kept by colour dropping (-1: all), or null
  const uint8_t* gray;     // [patches] bool: grayscale this patch, or null
  // [patches, channels + 1, 2] per-patch statistics (see patch_stats), or
  // null when no patch needs any (no normalisation and no colour dropping).
  float* stats;
  ChannelAffine affine;  // mean/std, applied last
  float unit_scale;      // input units -> output units (1/255 for uint8 -> floating)
  float eps;             // added to the variance before the square root
  float noise_std;       // dropped channels: noise std / std of the kept channel
  uint64_t noise_seed;
  PatchNorm norm;
  int64_t count, channels, height, width;
  int64_t patches, patch_h, patch_w;
};

SSLFAST_HD int64_t clamp_to(int64_t v, int64_t hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

struct PatchPlan {
  int64_t offset;  // element offset of (src, channel 0, y0, x0) in images
  int64_t keep;    // kept channel, -1 when none is dropped
  bool gray;
};

// Where patch p reads from. The wrappers refuse out-of-range parameters
// eagerly; the clamps keep a call that skipped those checks (traced, or
// torch.ops directly) inside the images.
SSLFAST_HD PatchPlan patch_plan(const GatherPatchesArgs& a, int64_t p) {
  const int64_t s = clamp_to(a.src[p], a.count - 1);
  const int64_t y = clamp_to(a.origins[2 * p], a.height - a.patch_h);
  const int64_t x = clamp_to(a.origins[2 * p + 1], a.width - a.patch_w);
  const int64_t keep = a.keep ? a.keep[p] : -1;
  return {(s * a.channels * a.height + y) * a.width + x, (keep >= 0 && keep < a.channels) ? keep : -1,
          a.gray != nullptr && a.gray[p] != 0};
}

// Row y of channel c of a patch's source.
template <typename In>
SSLFAST_HD const In* source_row(const GatherPatchesArgs& a, const PatchPlan& plan, int64_t c, int64_t y) {
  return static_cast<const In*>(a.images) + plan.offset + c * a.height * a.width + y * a.width;
}

// Standard normal draw for output element `element` (Box-Muller on one
// 64-bit hash: 24 bits for the radius, 24 for the angle).
SSLFAST_HD float patch_noise(uint64_t seed, int64_t element) {
  const uint64_t h = counter_hash(seed, (uint64_t)element, kPatchNoiseField);
  const float u1 = ((float)(h >> 40) + 0.5f) * 5.9604644775390625e-8f;  // (0, 1): log is finite
  const float u2 = (float)(h & 0xffffffu) * 5.9604644775390625e-8f;     // [0, 1)
  return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

// Value of a kept channel (or of every channel of a gray patch) at element
// `at` of the patch's first channel plane, in output units.
template <typename In>
SSLFAST_HD float source_value(const GatherPatchesArgs& a, const PatchPlan& plan, int64_t c, int64_t at) {
  const In* base = static_cast<const In*>(a.images) + plan.offset + at;
  const int64_t plane = a.height * a.width;
  if (plan.gray)
    return (kLumaR * load_value(base) + kLumaG * load_value(base + plane) + kLumaB * load_value(base + 2 * plane)) *
           a.unit_scale;
  return load_value(base + c * plane) * a.unit_scale;
}

// Dropped channels: Gaussian noise around the kept channel's patch mean.
struct PatchFill {
  float mean, std;
};

SSLFAST_HD float dropped_value(const GatherPatchesArgs& a, const PatchFill& fill, int64_t element) {
  return fill.mean + fill.std * patch_noise(a.noise_seed, element);
}

SSLFAST_HD bool is_dropped(const PatchPlan& plan, int64_t c) { return plan.keep >= 0 && c != plan.keep; }

// Channel c of patch p at (y, x), after grayscale and colour dropping, before
// normalisation, in output units.
template <typename In>
SSLFAST_HD float patch_value(const GatherPatchesArgs& a, const PatchPlan& plan, const PatchFill& fill, int64_t p,
                             int64_t c, int64_t y, int64_t x) {
  if (is_dropped(plan, c)) return dropped_value(a, fill, ((p * a.channels + c) * a.patch_h + y) * a.patch_w + x);
  return source_value<In>(a, plan, c, y * a.width + x);
}

// ---------------------------------------------------------------------------
// Per-patch statistics. Layout of one patch's entry in args.stats:
//   [0] fill mean, [1] fill std, then per channel c: [2 + 2c] shift, [3 + 2c] scale,
// so that out = (value - shift) * scale, before mean/std.
// ---------------------------------------------------------------------------
SSLFAST_HD int64_t patch_stats_stride(const GatherPatchesArgs& a) { return 2 * (a.channels + 1); }

struct Moments {
  double mean, var;  // population variance
};

// Mean and variance of one channel of patch p. Lane `lane` of `Lanes` sums
// the columns x = lane (mod Lanes) of every row; `total` adds a partial sum
// over all lanes (the identity for one lane, a warp reduction on CUDA).
// Plain uint8 channels sum integers exactly; others sum in double, so
// E[v^2] - E[v]^2 keeps float precision either way.
template <typename In, int Lanes, typename Total>
SSLFAST_HD Moments channel_moments(const GatherPatchesArgs& a, const PatchPlan& plan, const PatchFill& fill,
                                   int64_t p, int64_t c, int lane, const Total& total) {
  const double n = (double)(a.patch_h * a.patch_w);
  if constexpr (std::is_same_v<In, uint8_t>) {
    if (!plan.gray && !is_dropped(plan, c)) {
      uint64_t sum = 0, squares = 0;
      for (int64_t y = 0; y < a.patch_h; ++y) {
        const uint8_t* row = source_row<uint8_t>(a, plan, c, y);
        uint32_t row_sum = 0, row_squares = 0;  // < 2^32 for rows up to 66051 px
        for (int64_t x = lane; x < a.patch_w; x += Lanes) {
          const uint32_t v = row[x];
          row_sum += v;
          row_squares += v * v;
        }
        sum += row_sum;
        squares += row_squares;
      }
      const double mean = total((double)sum) / n, unit = (double)a.unit_scale;
      const double var = total((double)squares) / n - mean * mean;
      return {mean * unit, var > 0.0 ? var * unit * unit : 0.0};
    }
  }
  double sum = 0.0, squares = 0.0;
  for (int64_t y = 0; y < a.patch_h; ++y)
    for (int64_t x = lane; x < a.patch_w; x += Lanes) {
      const double v = patch_value<In>(a, plan, fill, p, c, y, x);
      sum += v;
      squares += v * v;
    }
  const double mean = total(sum) / n;
  const double var = total(squares) / n - mean * mean;
  return {mean, var > 0.0 ? var : 0.0};
}

// Fills patch p's entry of args.stats (see the layout above). Every lane
// computes the same totals; only lane 0 writes.
template <typename In, int Lanes, typename Total>
SSLFAST_HD void patch_stats(const GatherPatchesArgs& a, int64_t p, int lane, const Total& total) {
  float* out = a.stats + p * patch_stats_stride(a);
  const PatchPlan plan = patch_plan(a, p);
  PatchFill fill{0.0f, 0.0f};
  Moments kept{0.0, 0.0};
  if (plan.keep >= 0) {
    kept = channel_moments<In, Lanes>(a, plan, fill, p, plan.keep, lane, total);
    fill = {(float)kept.mean, (float)(a.noise_std * sqrt(kept.var))};
  }
  if (lane == 0) {
    out[0] = fill.mean;
    out[1] = fill.std;
  }
  double var_sum = 0.0;
  for (int64_t c = 0; c < a.channels; ++c) {
    float shift = 0.0f, scale = 1.0f;
    if (a.norm != PatchNorm::None) {
      const Moments m = c == plan.keep ? kept : channel_moments<In, Lanes>(a, plan, fill, p, c, lane, total);
      var_sum += m.var;
      shift = (float)m.mean;
      if (a.norm == PatchNorm::Patch) scale = (float)(1.0 / sqrt(m.var + (double)a.eps));
    }
    if (lane == 0) {
      out[2 + 2 * c] = shift;
      out[3 + 2 * c] = scale;
    }
  }
  if (a.norm == PatchNorm::Rms && lane == 0) {
    const float scale = (float)(1.0 / sqrt(var_sum / (double)a.channels + (double)a.eps));
    for (int64_t c = 0; c < a.channels; ++c) out[3 + 2 * c] = scale;
  }
}

// out = (value - shift) * multiplier + bias: per-patch normalisation and
// mean/std folded into one multiply-add per element.
struct ChannelMap {
  float shift, multiplier, bias;
};

SSLFAST_HD ChannelMap channel_map(const GatherPatchesArgs& a, int64_t p, int64_t c) {
  float shift = 0.0f, scale = 1.0f;
  if (a.stats) {
    const float* s = a.stats + p * patch_stats_stride(a);
    shift = s[2 + 2 * c];
    scale = s[3 + 2 * c];
  }
  const int64_t slot = a.affine.slot(c);
  return {shift, scale * a.affine.scale[slot], a.affine.bias[slot]};
}

SSLFAST_HD PatchFill patch_fill(const GatherPatchesArgs& a, int64_t p) {
  if (!a.stats) return {0.0f, 0.0f};
  const float* s = a.stats + p * patch_stats_stride(a);
  return {s[0], s[1]};
}

// Nothing to compute for this channel (with In == Out): its elements are
// copied bit for bit, as slicing does.
SSLFAST_HD bool is_plain_copy(const GatherPatchesArgs& a, const PatchPlan& plan, int64_t c, const ChannelMap& m) {
  return !plan.gray && !is_dropped(plan, c) && a.unit_scale == 1.0f && m.shift == 0.0f && m.multiplier == 1.0f &&
         m.bias == 0.0f;
}

// One output element, given its flat index (CUDA: one thread each; the
// statistics must be in args.stats already).
template <typename In, typename Out>
SSLFAST_HD void gather_patch_element(const GatherPatchesArgs& a, int64_t flat) {
  const int64_t x = flat % a.patch_w;
  const int64_t y = (flat / a.patch_w) % a.patch_h;
  const int64_t c = (flat / (a.patch_w * a.patch_h)) % a.channels;
  const int64_t p = flat / (a.patch_w * a.patch_h * a.channels);
  const PatchPlan plan = patch_plan(a, p);
  const ChannelMap m = channel_map(a, p, c);
  Out* out = static_cast<Out*>(a.output) + flat;
  if constexpr (std::is_same_v<In, Out>) {
    if (is_plain_copy(a, plan, c, m)) {
      *out = source_row<In>(a, plan, c, y)[x];
      return;
    }
  }
  const float v = patch_value<In>(a, plan, patch_fill(a, p), p, c, y, x);
  store_value(out, (v - m.shift) * m.multiplier + m.bias);
}

// One whole output row (p, c, y, :) (CPU: the rows of a patch follow its
// statistics). Split by case so the common ones, a copy or a plain
// conversion, vectorise.
template <typename In, typename Out>
SSLFAST_HD void gather_patch_row(const GatherPatchesArgs& a, const PatchPlan& plan, int64_t p, int64_t c, int64_t y) {
  const int64_t first = ((p * a.channels + c) * a.patch_h + y) * a.patch_w;
  Out* out = static_cast<Out*>(a.output) + first;
  const ChannelMap m = channel_map(a, p, c);
  if constexpr (std::is_same_v<In, Out>) {
    if (is_plain_copy(a, plan, c, m)) {
      const In* src = source_row<In>(a, plan, c, y);
      for (int64_t x = 0; x < a.patch_w; ++x) out[x] = src[x];
      return;
    }
  }
  if (is_dropped(plan, c)) {
    const PatchFill fill = patch_fill(a, p);
    for (int64_t x = 0; x < a.patch_w; ++x)
      store_value(out + x, (dropped_value(a, fill, first + x) - m.shift) * m.multiplier + m.bias);
  } else if (plan.gray) {
    for (int64_t x = 0; x < a.patch_w; ++x)
      store_value(out + x, (source_value<In>(a, plan, c, y * a.width + x) - m.shift) * m.multiplier + m.bias);
  } else {
    const In* src = source_row<In>(a, plan, c, y);
    for (int64_t x = 0; x < a.patch_w; ++x)
      store_value(out + x, (load_value(src + x) * a.unit_scale - m.shift) * m.multiplier + m.bias);
  }
}

// ---------------------------------------------------------------------------
// Samplers: one call per sample i, writing that sample's parameters. Each is
// a pure function of (seed, index[i], field) hashes.
// ---------------------------------------------------------------------------

// Jigsaw (Noroozi & Favaro): a grid x grid block of cells at a random place
// in the image, one tile at a random offset inside each cell, and a random
// permutation of the set. Output slot j holds tile permutations[perm][j]
// (tiles numbered row-major). Hash fields: kJigsawField + 0 permutation,
// + 1 / + 2 grid origin y / x, + 16 + 2t / + 17 + 2t jitter y / x of tile t.
struct JigsawSampler {
  const int64_t* index;
  const int64_t* permutations;  // [perm_count, grid * grid]
  int64_t* src;                 // [n, grid * grid]
  int64_t* origins;             // [n, grid * grid, 2]
  int64_t* perm_id;             // [n]
  uint64_t seed;
  int64_t height, width, grid, cell, tile, perm_count;

  SSLFAST_HD void operator()(int64_t i) const {
    const uint64_t id = (uint64_t)index[i];
    const int64_t tiles = grid * grid, jitter = cell - tile + 1;
    const int64_t perm = hash_below(counter_hash(seed, id, kJigsawField), (uint32_t)perm_count);
    const int64_t top = hash_below(counter_hash(seed, id, kJigsawField + 1), (uint32_t)(height - grid * cell + 1));
    const int64_t left = hash_below(counter_hash(seed, id, kJigsawField + 2), (uint32_t)(width - grid * cell + 1));
    perm_id[i] = perm;
    for (int64_t j = 0; j < tiles; ++j) {
      const int64_t t = permutations[perm * tiles + j];
      const uint64_t field = kJigsawField + 16 + 2 * (uint64_t)t;
      src[i * tiles + j] = i;
      origins[2 * (i * tiles + j)] = top + (t / grid) * cell + hash_below(counter_hash(seed, id, field), (uint32_t)jitter);
      origins[2 * (i * tiles + j) + 1] =
          left + (t % grid) * cell + hash_below(counter_hash(seed, id, field + 1), (uint32_t)jitter);
    }
  }
};

// Offset (rows, columns) of context label 0..7 from the centre patch:
// the 8 neighbours in row-major order, as Doersch et al.'s released code
//   0 1 2
//   3 . 4
//   5 6 7
SSLFAST_HD void context_offset(int64_t label, int64_t* dy, int64_t* dx) {
  const int64_t cell = label < 4 ? label : label + 1;  // skip the centre, cell 4 of the 3x3 block
  *dy = cell / 3 - 1;
  *dx = cell % 3 - 1;
}

// Context prediction (Doersch et al.): a centre patch and one of its 8
// neighbours, (patch + gap) apart, each jittered independently by up to
// `jitter` pixels. Hash fields: kContextField + 0 label, + 1 / + 2 centre
// y / x, + 3 / + 4 centre jitter y / x, + 5 / + 6 neighbour jitter y / x.
struct ContextSampler {
  const int64_t* index;
  int64_t* src;      // [n, 2]
  int64_t* origins;  // [n, 2, 2]
  int64_t* label;    // [n]
  uint64_t seed;
  int64_t height, width, patch, gap, jitter;

  SSLFAST_HD int64_t draw(uint64_t id, uint64_t offset, int64_t count) const {
    return hash_below(counter_hash(seed, id, kContextField + offset), (uint32_t)count);
  }

  SSLFAST_HD void operator()(int64_t i) const {
    const uint64_t id = (uint64_t)index[i];
    const int64_t step = patch + gap, margin = step + jitter;
    const int64_t cy = margin + draw(id, 1, height - patch - 2 * margin + 1);
    const int64_t cx = margin + draw(id, 2, width - patch - 2 * margin + 1);
    const int64_t lab = draw(id, 0, 8);
    int64_t dy, dx;
    context_offset(lab, &dy, &dx);
    const int64_t spread = 2 * jitter + 1;
    src[2 * i] = src[2 * i + 1] = i;
    origins[4 * i] = cy + draw(id, 3, spread) - jitter;
    origins[4 * i + 1] = cx + draw(id, 4, spread) - jitter;
    origins[4 * i + 2] = cy + dy * step + draw(id, 5, spread) - jitter;
    origins[4 * i + 3] = cx + dx * step + draw(id, 6, spread) - jitter;
    label[i] = lab;
  }
};

// Frame order verification (Shuffle & Learn): five frames a < b < c < d < e
// of the sample's clip, uniform over all 5-subsets (selection sampling);
// positive tuple (b, c, d) with probability `positive`, else (b, a, d) or
// (b, e, d) equally; one crop place shared by the three frames. Frame t of
// sample i is image i * frames + t. Hash fields: kTupleField + 0 positive,
// + 1 which negative, + 2 / + 3 crop y / x, + 16 + t selection of frame t.
struct TupleSampler {
  const int64_t* index;
  int64_t* src;      // [n, 3]
  int64_t* origins;  // [n, 3, 2]
  int64_t* label;    // [n]: 1 in order, 0 shuffled
  uint64_t seed;
  int64_t frames, height, width, patch_h, patch_w;
  float positive;

  SSLFAST_HD void operator()(int64_t i) const {
    const uint64_t id = (uint64_t)index[i];
    int64_t chosen[5] = {0, 0, 0, 0, 0};
    int64_t needed = 5;
    for (int64_t t = 0; t < frames && needed > 0; ++t)
      if (hash_below(counter_hash(seed, id, kTupleField + 16 + (uint64_t)t), (uint32_t)(frames - t)) < needed)
        chosen[5 - needed--] = t;
    const bool in_order = hash_unit_float(counter_hash(seed, id, kTupleField)) < positive;
    const int64_t middle = in_order ? chosen[2]
                           : hash_below(counter_hash(seed, id, kTupleField + 1), 2) == 0 ? chosen[0]
                                                                                         : chosen[4];
    const int64_t order[3] = {chosen[1], middle, chosen[3]};
    const int64_t y = hash_below(counter_hash(seed, id, kTupleField + 2), (uint32_t)(height - patch_h + 1));
    const int64_t x = hash_below(counter_hash(seed, id, kTupleField + 3), (uint32_t)(width - patch_w + 1));
    for (int k = 0; k < 3; ++k) {
      src[3 * i + k] = i * frames + order[k];
      origins[2 * (3 * i + k)] = y;
      origins[2 * (3 * i + k) + 1] = x;
    }
    label[i] = in_order ? 1 : 0;
  }
};

// Colour dropping and grayscale: each patch keeps one uniform channel with
// probability `drop` (else -1: all kept); each sample is gray with
// probability `gray`, all its patches alike (as the jigsaw recipe grays whole
// images). Hash fields: kColorDropField + 0 gray, + 16 + 2j drop of patch j,
// + 17 + 2j its kept channel.
struct ColorDropSampler {
  const int64_t* index;
  int64_t* keep;  // [n, patches]
  uint8_t* gray;  // [n, patches] bool
  uint64_t seed;
  int64_t patches, channels;
  float drop_p, gray_p;  // probabilities

  SSLFAST_HD void operator()(int64_t i) const {
    const uint64_t id = (uint64_t)index[i];
    const uint8_t is_gray = hash_unit_float(counter_hash(seed, id, kColorDropField)) < gray_p ? 1 : 0;
    for (int64_t j = 0; j < patches; ++j) {
      const uint64_t field = kColorDropField + 16 + 2 * (uint64_t)j;
      const bool dropping = hash_unit_float(counter_hash(seed, id, field)) < drop_p;
      keep[i * patches + j] = dropping ? (int64_t)hash_below(counter_hash(seed, id, field + 1), (uint32_t)channels) : -1;
      gray[i * patches + j] = is_gray;
    }
  }
};

// ---------------------------------------------------------------------------
// Greedy maximal-Hamming permutation set (host only).
// ---------------------------------------------------------------------------
constexpr int kMaxPermutationTiles = 10;  // 10! candidates of 10 positions fit in memory

enum class PermutationRule : int {
  MaxMin = 0,  // add the candidate farthest from its nearest chosen permutation; ties: largest mean
  MaxAvg = 1,  // add the candidate with the largest mean distance to the chosen ones (reference code)
};

// A permutation packed 4 bits per position, so a Hamming distance is a XOR
// and a count of non-zero nibbles.
inline uint64_t pack_permutation(const uint8_t* perm, int tiles) {
  uint64_t packed = 0;
  for (int i = 0; i < tiles; ++i) packed |= (uint64_t)perm[i] << (4 * i);
  return packed;
}

// Branch-free and without a popcount instruction, so the candidate loop vectorises.
inline uint64_t packed_hamming(uint64_t a, uint64_t b) {
  uint64_t x = a ^ b;
  x |= x >> 1;
  x |= x >> 2;
  x &= 0x1111111111111111ull;               // one bit per differing position
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;  // per-byte counts
  x += x >> 8;
  x += x >> 16;
  x += x >> 32;
  return x & 0xffu;
}

// Every permutation of 0..tiles-1, packed, in lexicographic order.
inline std::vector<uint64_t> all_permutations(int tiles) {
  std::vector<uint8_t> perm((size_t)tiles);
  std::iota(perm.begin(), perm.end(), (uint8_t)0);
  std::vector<uint64_t> all;
  do all.push_back(pack_permutation(perm.data(), tiles));
  while (std::next_permutation(perm.begin(), perm.end()));
  return all;
}

struct PermutationSetStats {
  int min_distance;     // smallest pairwise Hamming distance in the set
  double mean_distance;  // mean over all pairs
};

// Greedy selection of n permutations of `tiles` positions: the first is
// candidate hash_below(counter_hash(seed, 0, kPermutationField), tiles!) in
// lexicographic order; each next one maximises `rule` over the candidates not
// yet chosen, ties going to the lexicographically first. Every candidate
// keeps running statistics (sum of and minimum distance to the chosen set),
// so a step costs O(tiles!) and the whole set O(n * tiles!).
// `parallel_for(begin, end, body)` runs body(chunk_begin, chunk_end) over a
// split of [begin, end) (at::parallel_for, or a plain loop in tests).
// Writes n * tiles values to `out` (row r: the r-th permutation chosen).
template <typename ParallelFor>
PermutationSetStats greedy_permutation_set(int tiles, int64_t n, PermutationRule rule, uint64_t seed,
                                           const ParallelFor& parallel_for, int64_t* out) {
  const std::vector<uint64_t> all = all_permutations(tiles);
  const int64_t count = (int64_t)all.size();
  std::vector<uint32_t> sum((size_t)count, 0);
  std::vector<uint8_t> nearest((size_t)count, 0xff), taken((size_t)count, 0);
  // Candidate order key, larger is better; 0 for chosen ones. The low bits
  // prefer small indices and give the index back.
  constexpr uint64_t kRankBits = 24;
  const auto key = [rule](uint64_t nearest_d, uint64_t sum_d, int64_t p) {
    const uint64_t rank = ((uint64_t)1 << kRankBits) - 1 - (uint64_t)p;
    return rule == PermutationRule::MaxMin ? (nearest_d << 56) | (sum_d << kRankBits) | rank
                                           : (sum_d << kRankBits) | rank;
  };
  PermutationSetStats stats{tiles, 0.0};
  uint64_t total = 0;
  int64_t current = hash_below(counter_hash(seed, 0, kPermutationField), (uint32_t)count);
  for (int64_t r = 0;; ++r) {
    taken[(size_t)current] = 1;
    for (int i = 0; i < tiles; ++i) out[r * tiles + i] = (int64_t)((all[(size_t)current] >> (4 * i)) & 0xfu);
    if (r > 0) {
      stats.min_distance = std::min<int>(stats.min_distance, nearest[(size_t)current]);
      total += sum[(size_t)current];
    }
    if (r + 1 == n) break;
    const uint64_t chosen = all[(size_t)current];
    std::mutex best_lock;
    uint64_t best_key = 0;
    parallel_for(0, count, [&](int64_t begin, int64_t end) {
      uint64_t local_key = 0;
      for (int64_t p = begin; p < end; ++p) {
        const uint64_t d = packed_hamming(all[(size_t)p], chosen);
        const uint64_t s = sum[(size_t)p] + d;
        const uint64_t m = std::min<uint64_t>(nearest[(size_t)p], d);
        sum[(size_t)p] = (uint32_t)s;
        nearest[(size_t)p] = (uint8_t)m;
        local_key = std::max(local_key, taken[(size_t)p] ? 0 : key(m, s, p));
      }
      std::lock_guard<std::mutex> guard(best_lock);
      best_key = std::max(best_key, local_key);
    });
    current = (int64_t)(((uint64_t)1 << kRankBits) - 1 - (best_key & (((uint64_t)1 << kRankBits) - 1)));
  }
  stats.mean_distance = n > 1 ? (double)total / ((double)n * (double)(n - 1) / 2.0) : 0.0;
  return stats;
}

// Backend entry points, defined in csrc/cpu/patches.cpp and csrc/cuda/patches.cu.
namespace cpu {
void gather_patches(const GatherPatchesArgs& args, DType in, DType out);
void sample_jigsaw(const JigsawSampler& sampler, int64_t n);
void sample_context(const ContextSampler& sampler, int64_t n);
void sample_tuples(const TupleSampler& sampler, int64_t n);
void sample_color_drop(const ColorDropSampler& sampler, int64_t n);
PermutationSetStats permutation_set(int tiles, int64_t n, PermutationRule rule, uint64_t seed, int64_t* out);
}  // namespace cpu
namespace cuda {
void gather_patches(const GatherPatchesArgs& args, DType in, DType out);
void sample_jigsaw(const JigsawSampler& sampler, int64_t n);
void sample_context(const ContextSampler& sampler, int64_t n);
void sample_tuples(const TupleSampler& sampler, int64_t n);
void sample_color_drop(const ColorDropSampler& sampler, int64_t n);
}  // namespace cuda

}  // namespace sslfast
