// The patch family of csrc/kernels/patches.h against naive references written
// here: gather_patch_row and gather_patch_element (after patch_stats) over
// every storage type pair, with plain, gray and colour-dropped patches and
// the three normalisations; out-of-range parameters stay inside the inputs
// (AddressSanitizer sees every read, exact-size buffers); the samplers keep
// every patch inside the image and follow their documented layouts; the
// greedy permutation set equals a brute-force greedy search.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "check.h"
#include "kernels/common.h"
#include "kernels/patches.h"

using namespace sslfast;

namespace {

struct SingleLane {
  double operator()(double partial) const { return partial; }
};

template <typename T>
T random_value(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return (uint8_t)(rng() & 0xff);
  } else {
    T out{};
    store_value(&out, std::uniform_real_distribution<float>(0.0f, 1.0f)(rng));
    return out;
  }
}

template <typename T>
double as_double(const T& v) {
  return (double)load_value(&v);
}

// One configuration of a gather: inputs, parameters and the expected output
// computed in double straight from the definition.
struct Case {
  int64_t count, channels, height, width, batch, per_sample, ph, pw;
  PatchNorm norm;
  bool use_gray, use_keep, use_affine;
};

template <typename In, typename Out>
void run_case(std::mt19937_64& rng, const Case& k) {
  const int64_t patches = k.batch * k.per_sample, plane = k.height * k.width;
  const int64_t numel = patches * k.channels * k.ph * k.pw;
  std::vector<In> images((size_t)(k.count * k.channels * plane));
  for (In& v : images) v = random_value<In>(rng);
  std::vector<int64_t> src((size_t)patches), origins((size_t)(2 * patches)), keep((size_t)patches, -1);
  std::vector<uint8_t> gray((size_t)patches, 0);
  for (int64_t p = 0; p < patches; ++p) {
    src[(size_t)p] = (int64_t)(rng() % (uint64_t)k.count);
    origins[(size_t)(2 * p)] = (int64_t)(rng() % (uint64_t)(k.height - k.ph + 1));
    origins[(size_t)(2 * p + 1)] = (int64_t)(rng() % (uint64_t)(k.width - k.pw + 1));
    if (k.use_keep) keep[(size_t)p] = (int64_t)(rng() % (uint64_t)(k.channels + 1)) - 1;
    if (k.use_gray) gray[(size_t)p] = (uint8_t)(rng() & 1);
  }
  const bool float_out = !std::is_same_v<Out, uint8_t>;
  const double unit = std::is_same_v<In, uint8_t> == std::is_same_v<Out, uint8_t>
                          ? 1.0
                          : (std::is_same_v<In, uint8_t> ? 1.0 / 255.0 : 255.0);
  GatherPatchesArgs a{};
  a.images = images.data();
  a.src = src.data();
  a.origins = origins.data();
  a.keep = k.use_keep ? keep.data() : nullptr;
  a.gray = k.use_gray ? gray.data() : nullptr;
  a.affine.count = k.use_affine ? (int)k.channels : 1;
  for (int c = 0; c < kMaxAffineChannels; ++c) {
    a.affine.scale[c] = k.use_affine ? 1.0f / (0.2f + 0.05f * (float)c) : 1.0f;
    a.affine.bias[c] = k.use_affine ? -(0.4f + 0.01f * (float)c) * a.affine.scale[c] : 0.0f;
  }
  a.unit_scale = (float)unit;
  a.eps = 1e-5f;
  a.noise_std = 0.25f;
  a.noise_seed = 99;
  a.norm = k.norm;
  a.count = k.count;
  a.channels = k.channels;
  a.height = k.height;
  a.width = k.width;
  a.patches = patches;
  a.patch_h = k.ph;
  a.patch_w = k.pw;
  const bool needs_stats = k.norm != PatchNorm::None || k.use_keep;
  std::vector<float> stats(needs_stats ? (size_t)(patches * patch_stats_stride(a)) : 0);
  a.stats = needs_stats ? stats.data() : nullptr;

  // Reference: values after gray / dropping, in double, then normalised.
  std::vector<double> expected((size_t)numel);
  const int64_t n = k.ph * k.pw;
  for (int64_t p = 0; p < patches; ++p) {
    const In* base = images.data() + src[(size_t)p] * k.channels * plane;
    const int64_t y0 = origins[(size_t)(2 * p)], x0 = origins[(size_t)(2 * p + 1)];
    const auto source = [&](int64_t c, int64_t y, int64_t x) {
      const int64_t at = (y0 + y) * k.width + x0 + x;
      if (gray[(size_t)p] && k.use_gray)
        return (0.299 * as_double(base[at]) + 0.587 * as_double(base[plane + at]) +
                0.114 * as_double(base[2 * plane + at])) * unit;
      return as_double(base[c * plane + at]) * unit;
    };
    std::vector<double> values((size_t)(k.channels * n));
    const int64_t kept = keep[(size_t)p];
    double kept_mean = 0, kept_var = 0;
    if (kept >= 0) {
      for (int64_t i = 0; i < n; ++i) kept_mean += source(kept, i / k.pw, i % k.pw) / (double)n;
      for (int64_t i = 0; i < n; ++i) kept_var += std::pow(source(kept, i / k.pw, i % k.pw) - kept_mean, 2) / (double)n;
    }
    for (int64_t c = 0; c < k.channels; ++c)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t flat = (p * k.channels + c) * n + i;
        values[(size_t)(c * n + i)] =
            kept >= 0 && c != kept
                ? kept_mean + 0.25 * std::sqrt(kept_var) * (double)patch_noise(a.noise_seed, flat)
                : source(c, i / k.pw, i % k.pw);
      }
    std::vector<double> means((size_t)k.channels, 0.0), vars((size_t)k.channels, 0.0);
    for (int64_t c = 0; c < k.channels; ++c) {
      for (int64_t i = 0; i < n; ++i) means[(size_t)c] += values[(size_t)(c * n + i)] / (double)n;
      for (int64_t i = 0; i < n; ++i) vars[(size_t)c] += std::pow(values[(size_t)(c * n + i)] - means[(size_t)c], 2) / (double)n;
    }
    double mean_var = 0;
    for (double v : vars) mean_var += v / (double)k.channels;
    for (int64_t c = 0; c < k.channels; ++c) {
      double shift = 0, scale = 1;
      if (k.norm == PatchNorm::Patch) shift = means[(size_t)c], scale = 1.0 / std::sqrt(vars[(size_t)c] + 1e-5);
      if (k.norm == PatchNorm::Rms) shift = means[(size_t)c], scale = 1.0 / std::sqrt(mean_var + 1e-5);
      const int slot = (int)a.affine.slot(c);
      for (int64_t i = 0; i < n; ++i)
        expected[(size_t)((p * k.channels + c) * n + i)] =
            (values[(size_t)(c * n + i)] - shift) * scale * a.affine.scale[slot] + a.affine.bias[slot];
    }
  }

  const std::string label = "C=" + std::to_string(k.channels) + " patch " + std::to_string(k.ph) + "x" +
                            std::to_string(k.pw) + " norm=" + std::to_string((int)k.norm) +
                            " gray=" + std::to_string(k.use_gray) + " keep=" + std::to_string(k.use_keep) +
                            " in=" + std::to_string(sizeof(In)) + " out=" + std::to_string(sizeof(Out));
  constexpr int64_t kGuard = 8;
  for (int entry = 0; entry < 2; ++entry) {
    Out sentinel;
    std::memset(&sentinel, 0xA5, sizeof sentinel);
    std::vector<Out> buffer((size_t)(numel + 2 * kGuard), sentinel);
    a.output = buffer.data() + kGuard;
    if (needs_stats)
      for (int64_t p = 0; p < patches; ++p) patch_stats<In, 1>(a, p, 0, SingleLane{});
    if (entry == 0) {
      for (int64_t p = 0; p < patches; ++p)
        for (int64_t c = 0; c < k.channels; ++c)
          for (int64_t y = 0; y < k.ph; ++y) gather_patch_row<In, Out>(a, patch_plan(a, p), p, c, y);
    } else {
      for (int64_t flat = 0; flat < numel; ++flat) gather_patch_element<In, Out>(a, flat);
    }
    for (int64_t g = 0; g < kGuard; ++g) {
      CHECK_MSG(std::memcmp(&buffer[(size_t)g], &sentinel, sizeof sentinel) == 0, "%s wrote before", label.c_str());
      CHECK_MSG(std::memcmp(&buffer[(size_t)(kGuard + numel + g)], &sentinel, sizeof sentinel) == 0, "%s wrote after",
                label.c_str());
    }
    // Tolerance: the output's rounding, plus float math amplified by the
    // normalisation (a patch's std can be small).
    double worst = 0;
    int64_t worst_at = -1;
    for (int64_t i = 0; i < numel; ++i) {
      const double want = expected[(size_t)i], got = as_double(buffer[(size_t)(kGuard + i)]);
      double tol = 2e-4 * (1.0 + std::fabs(want));
      if (std::is_same_v<Out, Half>) tol += std::fabs(want) * 1e-3;
      if (std::is_same_v<Out, BFloat16>) tol += std::fabs(want) * 8e-3;
      if (!float_out) tol = 0.51;  // one rounding to an integer
      const double err = std::fabs(got - (float_out ? want : std::min(255.0, std::max(0.0, want))));
      if (err > tol && err - tol > worst) {
        worst = err - tol;
        worst_at = i;
      }
    }
    CHECK_MSG(worst_at < 0, "%s entry %d: element %lld off by %g beyond tolerance", label.c_str(), entry,
              (long long)worst_at, worst);
  }
}

template <typename In, typename Out>
void sweep(std::mt19937_64& rng) {
  const bool float_out = !std::is_same_v<Out, uint8_t>;
  for (PatchNorm norm : {PatchNorm::None, PatchNorm::Patch, PatchNorm::Rms}) {
    if (norm != PatchNorm::None && !float_out) continue;
    for (int variant = 0; variant < 4; ++variant) {
      const bool use_gray = variant & 1, use_keep = (variant & 2) != 0;
      run_case<In, Out>(rng, {3, 3, 9, 11, 2, 3, 4, 5, norm, use_gray, use_keep, float_out && variant == 3});
      run_case<In, Out>(rng, {2, 3, 7, 7, 1, 2, 7, 7, norm, use_gray, use_keep, false});  // whole image
    }
    run_case<In, Out>(rng, {4, 1, 6, 5, 3, 2, 1, 1, norm, false, false, false});  // 1x1 patches, one channel
    run_case<In, Out>(rng, {2, 5, 8, 8, 2, 2, 3, 6, norm, false, true, float_out});
  }
}

// Out-of-range src / origins / keep (a traced call skips the Python checks)
// read clamped places: ASan would flag any read outside `images`.
void test_out_of_range_parameters_stay_inside() {
  std::vector<float> images(2 * 3 * 5 * 6, 0.5f);
  images.back() = 7.0f;  // last pixel of the last image
  const int64_t src[3] = {5, -3, 1}, origins[6] = {100, -100, -7, 99, 4, 4}, keep[3] = {9, -5, 2};
  GatherPatchesArgs a{};
  a.images = images.data();
  a.src = src;
  a.origins = origins;
  a.keep = keep;
  a.affine.count = 1;
  a.affine.scale[0] = 1.0f;
  a.unit_scale = 1.0f;
  a.eps = 1e-5f;
  a.count = 2;
  a.channels = 3;
  a.height = 5;
  a.width = 6;
  a.patches = 3;
  a.patch_h = 2;
  a.patch_w = 3;
  std::vector<float> stats((size_t)(3 * patch_stats_stride(a)));
  a.stats = stats.data();
  std::vector<float> out(3 * 3 * 2 * 3);
  a.output = out.data();
  for (int64_t p = 0; p < 3; ++p) {
    patch_stats<float, 1>(a, p, 0, SingleLane{});
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 2; ++y) gather_patch_row<float, float>(a, patch_plan(a, p), p, c, y);
  }
  // Patch 0 is clamped to image 1, bottom-left corner; patch 2 is in range
  // and keeps channel 2 (its bottom-right pixel is the 7).
  CHECK_EQ(patch_plan(a, 0).offset, (int64_t)((1 * 3 * 5 + 3) * 6 + 0));
  CHECK_EQ(patch_plan(a, 0).keep, (int64_t)-1);
  CHECK_EQ(patch_plan(a, 1).offset, (int64_t)3);
  CHECK_EQ(out[2 * 18 + 2 * 6 + 5], 7.0f);
}

// ---------------------------------------------------------------------------
// Samplers
// ---------------------------------------------------------------------------
void test_jigsaw_sampler() {
  const int64_t grid = 3, cell = 10, tile = 7, tiles = 9;
  std::vector<int64_t> perms = {0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0, 4, 0, 8, 1, 7, 2, 6, 3, 5};
  const int64_t n = 500;
  std::vector<int64_t> index((size_t)n);
  for (int64_t i = 0; i < n; ++i) index[(size_t)i] = i * 7919 - 300;
  for (int64_t height : {30, 41}) {
    std::vector<int64_t> src((size_t)(n * tiles)), origins((size_t)(2 * n * tiles)), perm_id((size_t)n);
    JigsawSampler s{index.data(), perms.data(), src.data(), origins.data(), perm_id.data(), 5, height, 30,
                    grid, cell, tile, 3};
    for (int64_t i = 0; i < n; ++i) s(i);
    std::set<int64_t> seen_perms, seen_jitter, seen_top;
    for (int64_t i = 0; i < n; ++i) {
      CHECK(perm_id[(size_t)i] >= 0 && perm_id[(size_t)i] < 3);
      seen_perms.insert(perm_id[(size_t)i]);
      for (int64_t j = 0; j < tiles; ++j) {
        const int64_t t = perms[(size_t)(perm_id[(size_t)i] * tiles + j)];
        const int64_t y = origins[(size_t)(2 * (i * tiles + j))], x = origins[(size_t)(2 * (i * tiles + j) + 1)];
        CHECK_EQ(src[(size_t)(i * tiles + j)], i);
        CHECK(y >= 0 && y + tile <= height && x >= 0 && x + tile <= 30);
        // Inside its own cell of the block (the block starts at 0..height-30 in y, 0 in x).
        const int64_t jitter_x = x - (t % 3) * cell;
        CHECK(jitter_x >= 0 && jitter_x <= cell - tile);
        seen_jitter.insert(jitter_x);
        const int64_t block_top = y - (t / 3) * cell;
        CHECK(block_top >= 0 && block_top <= height - 30 + cell - tile);
        seen_top.insert(block_top);
      }
    }
    CHECK_EQ((int)seen_perms.size(), 3);
    CHECK_EQ((int)seen_jitter.size(), (int)(cell - tile + 1));
    CHECK(height == 30 ? seen_top.size() == (size_t)(cell - tile + 1) : seen_top.size() > (size_t)(cell - tile + 1));
  }
}

void test_context_sampler() {
  const int64_t patch = 5, gap = 2, jitter = 1, size = 3 * patch + 2 * (gap + jitter);  // the smallest image
  const int64_t n = 2000;
  std::vector<int64_t> index((size_t)n), src((size_t)(2 * n)), origins((size_t)(4 * n)), label((size_t)n);
  for (int64_t i = 0; i < n; ++i) index[(size_t)i] = i;
  ContextSampler s{index.data(), src.data(), origins.data(), label.data(), 3, size, size + 4, patch, gap, jitter};
  int counts[8] = {};
  for (int64_t i = 0; i < n; ++i) {
    s(i);
    const int64_t lab = label[(size_t)i];
    CHECK(lab >= 0 && lab < 8);
    if (lab < 0 || lab >= 8) continue;
    ++counts[lab];
    CHECK_EQ(src[(size_t)(2 * i)], i);
    CHECK_EQ(src[(size_t)(2 * i + 1)], i);
    for (int k = 0; k < 2; ++k) {
      const int64_t y = origins[(size_t)(4 * i + 2 * k)], x = origins[(size_t)(4 * i + 2 * k + 1)];
      CHECK(y >= 0 && y + patch <= size && x >= 0 && x + patch <= size + 4);
    }
    // The neighbour sits one step (patch + gap) away in the labelled
    // direction, up to the two jitters.
    int64_t dy, dx;
    context_offset(lab, &dy, &dx);
    const int64_t step = patch + gap;
    CHECK(std::llabs(origins[(size_t)(4 * i + 2)] - origins[(size_t)(4 * i)] - dy * step) <= 2 * jitter);
    CHECK(std::llabs(origins[(size_t)(4 * i + 3)] - origins[(size_t)(4 * i + 1)] - dx * step) <= 2 * jitter);
  }
  for (int lab = 0; lab < 8; ++lab) CHECK_MSG(counts[lab] > 150, "label %d drawn %d times of 2000", lab, counts[lab]);
  // Documented order: 0 is up-left, 4 is right, 6 is down.
  int64_t dy, dx;
  context_offset(0, &dy, &dx);
  CHECK(dy == -1 && dx == -1);
  context_offset(4, &dy, &dx);
  CHECK(dy == 0 && dx == 1);
  context_offset(6, &dy, &dx);
  CHECK(dy == 1 && dx == 0);
}

void test_tuple_sampler() {
  const int64_t n = 3000, frames = 7;
  std::vector<int64_t> index((size_t)n), src((size_t)(3 * n)), origins((size_t)(6 * n)), label((size_t)n);
  for (int64_t i = 0; i < n; ++i) index[(size_t)i] = 1000 + i;
  TupleSampler s{index.data(), src.data(), origins.data(), label.data(), 9, frames, 12, 10, 12, 4, 0.25f};
  int64_t positives = 0;
  std::set<int64_t> firsts;
  for (int64_t i = 0; i < n; ++i) {
    s(i);
    const int64_t b = src[(size_t)(3 * i)] - i * frames, m = src[(size_t)(3 * i + 1)] - i * frames,
                  d = src[(size_t)(3 * i + 2)] - i * frames;
    CHECK(b >= 0 && d < frames && b < d);
    CHECK(b >= 1 && d <= frames - 2);  // a before b, e after d
    if (label[(size_t)i] == 1) {
      ++positives;
      CHECK(b < m && m < d);
    } else {
      CHECK_EQ(label[(size_t)i], (int64_t)0);
      CHECK(m < b || m > d);
    }
    firsts.insert(b);
    for (int k = 0; k < 3; ++k) {
      CHECK_EQ(origins[(size_t)(6 * i + 2 * k)], origins[(size_t)(6 * i)]);
      CHECK_EQ(origins[(size_t)(6 * i + 2 * k + 1)], origins[(size_t)(6 * i + 1)]);
      CHECK(origins[(size_t)(6 * i + 2 * k)] == 0);  // crop as tall as the frame
      CHECK(origins[(size_t)(6 * i + 2 * k + 1)] >= 0 && origins[(size_t)(6 * i + 2 * k + 1)] <= 6);
    }
  }
  CHECK_MSG(positives > 600 && positives < 900, "%lld positives of 3000", (long long)positives);
  CHECK_EQ((int)firsts.size(), 3);  // b can be 1, 2 or 3 in a 7-frame clip
}

void test_color_drop_sampler() {
  const int64_t n = 4000, patches = 2;
  std::vector<int64_t> index((size_t)n), keep((size_t)(n * patches));
  std::vector<uint8_t> gray((size_t)(n * patches));
  for (int64_t i = 0; i < n; ++i) index[(size_t)i] = i;
  ColorDropSampler s{index.data(), keep.data(), gray.data(), 1, patches, 3, 0.5f, 0.3f};
  int64_t dropped = 0, grays = 0, kept[3] = {};
  for (int64_t i = 0; i < n; ++i) {
    s(i);
    CHECK_EQ(gray[(size_t)(2 * i)], gray[(size_t)(2 * i + 1)]);
    grays += gray[(size_t)(2 * i)];
    for (int64_t j = 0; j < patches; ++j) {
      const int64_t k = keep[(size_t)(2 * i + j)];
      CHECK(k >= -1 && k < 3);
      if (k >= 0 && k < 3) ++dropped, ++kept[k];
    }
  }
  CHECK_MSG(dropped > 3700 && dropped < 4300, "%lld drops of 8000", (long long)dropped);
  CHECK_MSG(grays > 1050 && grays < 1350, "%lld gray of 4000", (long long)grays);
  for (int c = 0; c < 3; ++c) CHECK(kept[c] > 1100);
  ColorDropSampler never{index.data(), keep.data(), gray.data(), 1, patches, 3, 0.0f, 0.0f};
  ColorDropSampler always{index.data(), keep.data(), gray.data(), 1, patches, 3, 1.0f, 1.0f};
  bool all_never = true, all_always = true;
  for (int64_t i = 0; i < n; ++i) {
    never(i);
    all_never &= keep[(size_t)(2 * i)] == -1 && keep[(size_t)(2 * i + 1)] == -1 && !gray[(size_t)(2 * i)];
    always(i);
    all_always &= keep[(size_t)(2 * i)] >= 0 && keep[(size_t)(2 * i + 1)] >= 0 && gray[(size_t)(2 * i)];
  }
  CHECK(all_never);
  CHECK(all_always);
}

void test_patch_noise_is_standard_normal() {
  double sum = 0, squares = 0;
  int beyond_2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = patch_noise(17, i);
    sum += z;
    squares += z * z;
    beyond_2 += std::fabs(z) > 2.0;
  }
  CHECK_MSG(std::fabs(sum / n) < 0.01, "mean %g", sum / n);
  CHECK_MSG(std::fabs(squares / n - 1.0) < 0.015, "variance %g", squares / n);
  CHECK_MSG(std::fabs(beyond_2 / (double)n - 0.0455) < 0.003, "P(|z| > 2) = %g", beyond_2 / (double)n);
  CHECK(patch_noise(17, 5) != patch_noise(18, 5));
}

// ---------------------------------------------------------------------------
// Permutation set
// ---------------------------------------------------------------------------
int naive_hamming(const std::vector<int>& a, const std::vector<int>& b) {
  int d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
  return d;
}

// The greedy rule evaluated from scratch at every step (O(n^2 * tiles!)).
std::vector<std::vector<int>> brute_force_greedy(int tiles, int64_t n, PermutationRule rule, uint64_t seed) {
  std::vector<std::vector<int>> all;
  std::vector<int> perm((size_t)tiles);
  std::iota(perm.begin(), perm.end(), 0);
  do all.push_back(perm);
  while (std::next_permutation(perm.begin(), perm.end()));
  std::vector<std::vector<int>> chosen = {all[hash_below(counter_hash(seed, 0, kPermutationField), (uint32_t)all.size())]};
  while ((int64_t)chosen.size() < n) {
    double best_primary = -1, best_secondary = -1;
    size_t best = 0;
    for (size_t p = 0; p < all.size(); ++p) {
      if (std::find(chosen.begin(), chosen.end(), all[p]) != chosen.end()) continue;
      int nearest = 1 << 20;
      double total = 0;
      for (const auto& c : chosen) {
        const int d = naive_hamming(all[p], c);
        nearest = std::min(nearest, d);
        total += d;
      }
      const double primary = rule == PermutationRule::MaxMin ? nearest : total;
      const double secondary = rule == PermutationRule::MaxMin ? total : 0;
      if (primary > best_primary || (primary == best_primary && secondary > best_secondary)) {
        best_primary = primary;
        best_secondary = secondary;
        best = p;
      }
    }
    chosen.push_back(all[best]);
  }
  return chosen;
}

void test_packed_hamming() {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    const int tiles = 2 + (int)(rng() % 9);
    std::vector<uint8_t> a((size_t)tiles), b((size_t)tiles);
    std::iota(a.begin(), a.end(), (uint8_t)0);
    std::iota(b.begin(), b.end(), (uint8_t)0);
    std::shuffle(a.begin(), a.end(), rng);
    std::shuffle(b.begin(), b.end(), rng);
    int want = 0;
    for (int i = 0; i < tiles; ++i) want += a[(size_t)i] != b[(size_t)i];
    CHECK_EQ((int)packed_hamming(pack_permutation(a.data(), tiles), pack_permutation(b.data(), tiles)), want);
  }
}

void test_greedy_matches_brute_force() {
  const auto serial = [](int64_t begin, int64_t end, const auto& body) { body(begin, end); };
  // Split into uneven chunks, as a parallel run would be.
  const auto chunked = [](int64_t begin, int64_t end, const auto& body) {
    for (int64_t b = begin; b < end; b += 7) body(b, std::min(end, b + 7));
  };
  for (PermutationRule rule : {PermutationRule::MaxMin, PermutationRule::MaxAvg})
    for (int tiles : {4, 5})
      for (uint64_t seed : {0ull, 1ull, 12345ull}) {
        const int64_t n = tiles == 4 ? 24 : 40;
        const auto want = brute_force_greedy(tiles, n, rule, seed);
        std::vector<int64_t> got((size_t)(n * tiles)), again((size_t)(n * tiles));
        const PermutationSetStats stats = greedy_permutation_set(tiles, n, rule, seed, serial, got.data());
        greedy_permutation_set(tiles, n, rule, seed, chunked, again.data());
        CHECK(got == again);
        int mismatched_rows = 0, nearest = 1 << 20;
        double total = 0;
        for (int64_t r = 0; r < n; ++r) {
          std::vector<int> row(got.begin() + r * tiles, got.begin() + (r + 1) * tiles);
          mismatched_rows += row != want[(size_t)r];
          for (int64_t q = 0; q < r; ++q) {
            const int d = naive_hamming(want[(size_t)r], want[(size_t)q]);
            nearest = std::min(nearest, d);
            total += d;
          }
        }
        CHECK_MSG(mismatched_rows == 0, "tiles %d rule %d seed %llu: %d rows differ", tiles, (int)rule,
                  (unsigned long long)seed, mismatched_rows);
        CHECK_EQ(stats.min_distance, nearest);
        CHECK(std::fabs(stats.mean_distance - total / (n * (n - 1) / 2.0)) < 1e-9);
      }
}

}  // namespace

int main() {
  std::mt19937_64 rng(20240607);
  sweep<uint8_t, float>(rng);
  sweep<uint8_t, uint8_t>(rng);
  sweep<uint8_t, Half>(rng);
  sweep<float, float>(rng);
  sweep<float, uint8_t>(rng);
  sweep<Half, BFloat16>(rng);
  sweep<BFloat16, float>(rng);
  test_out_of_range_parameters_stay_inside();
  test_jigsaw_sampler();
  test_context_sampler();
  test_tuple_sampler();
  test_color_drop_sampler();
  test_patch_noise_is_standard_normal();
  test_packed_hamming();
  test_greedy_matches_brute_force();
  return sslfast_test::finish("test_patches");
}
