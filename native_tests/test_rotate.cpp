// rotate90_element and rotate90_tile of csrc/kernels/rotate.h against a naive
// rotation written here, over every output element / tile (sizes that span
// several partial tiles included), for each storage
// type pair, odd and even sizes (1x1 included), several channels, explicit
// per-image turns (negative and >= 4 too) and all-four mode, with identity,
// broadcast and per-channel ChannelAffine.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "check.h"
#include "kernels/common.h"
#include "kernels/rotate.h"

using namespace sslfast;

namespace {

template <typename T> const char* type_name();
template <> const char* type_name<uint8_t>() { return "uint8"; }
template <> const char* type_name<float>() { return "float32"; }
template <> const char* type_name<Half>() { return "float16"; }
template <> const char* type_name<BFloat16>() { return "bfloat16"; }

// Random input element, stored in T.
template <typename T>
T random_value(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return (uint8_t)(rng() & 0xff);
  } else {
    const float f = std::uniform_real_distribution<float>(-0.25f, 1.25f)(rng);
    T out{};
    store_value(&out, f);
    return out;
  }
}

template <typename T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The pixel of an S x S plane `in` (row-major) that lands at (y, x) after k
// counter-clockwise quarter turns, as torch.rot90(x, k, dims=(-2, -1)).
template <typename T>
const T& naive_rotated(const T* in, int64_t S, int k, int64_t y, int64_t x) {
  const int r = ((k % 4) + 4) % 4;
  if (r == 1) return in[x * S + (S - 1 - y)];
  if (r == 2) return in[(S - 1 - y) * S + (S - 1 - x)];
  if (r == 3) return in[(S - 1 - x) * S + y];
  return in[y * S + x];
}

enum class AffineKind { Identity, Broadcast, PerChannel };

ChannelAffine make_affine(AffineKind kind, int64_t channels, bool input_is_uint8) {
  ChannelAffine a{};
  const float to_unit = input_is_uint8 ? 1.0f / 255.0f : 1.0f;
  if (kind == AffineKind::Identity) {
    a.count = 1;
    a.scale[0] = 1.0f;
    a.bias[0] = 0.0f;
  } else if (kind == AffineKind::Broadcast) {
    a.count = 1;
    a.scale[0] = to_unit / 0.25f;
    a.bias[0] = -0.5f / 0.25f;
  } else {
    // ImageNet-style (x / 255 - mean) / std with distinct values per channel.
    a.count = (int)channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float mean = 0.4f + 0.03f * (float)c, std = 0.2f + 0.01f * (float)c;
      a.scale[c] = to_unit / std;
      a.bias[c] = -mean / std;
    }
  }
  // Poison the unused slots so that reading one shows up as a mismatch.
  for (int s = a.count; s < kMaxAffineChannels; ++s) {
    a.scale[s] = 1e6f;
    a.bias[s] = -1e6f;
  }
  return a;
}

constexpr int kGuard = 16;  // elements of sentinel on each side of an output

template <typename Out>
Out sentinel() {
  Out s;
  std::memset(&s, 0xA5, sizeof s);
  return s;
}

// Runs one configuration through both kernel entry points and the naive
// reference. `ks` empty => all-four mode.
template <typename In, typename Out>
void run_case(std::mt19937_64& rng, int64_t batch, int64_t channels, int64_t size, AffineKind affine_kind,
              const std::vector<int64_t>& ks) {
  const bool all_four = ks.empty();
  const int64_t out_batch = all_four ? 4 * batch : batch;
  const int64_t plane = size * size;
  const int64_t in_numel = batch * channels * plane, out_numel = out_batch * channels * plane;

  // Exact-size input so that AddressSanitizer sees any read past either end.
  std::vector<In> input((size_t)in_numel);
  for (In& v : input) v = random_value<In>(rng);

  Rotate90Args args{};
  args.input = input.data();
  args.k = all_four ? nullptr : ks.data();
  args.affine = make_affine(affine_kind, channels, std::is_same_v<In, uint8_t>);
  args.in_batch = batch;
  args.out_batch = out_batch;
  args.channels = channels;
  args.size = size;

  // Expected output from the naive rotation; the dtype cast goes through
  // store_value, which test_convert checks against its own references.
  std::vector<Out> expected((size_t)out_numel);
  for (int64_t o = 0; o < out_batch; ++o) {
    const int turns = all_four ? (int)(o / batch) : (int)ks[(size_t)o];
    const int64_t source = all_four ? o % batch : o;
    for (int64_t c = 0; c < channels; ++c) {
      const In* in_plane = input.data() + (source * channels + c) * plane;
      const int slot = args.affine.count == 1 ? 0 : (int)c;
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          const float v = load_value(&naive_rotated(in_plane, size, turns, y, x));
          store_value(&expected[(size_t)(((o * channels + c) * size + y) * size + x)],
                      v * args.affine.scale[slot] + args.affine.bias[slot]);
        }
    }
  }

  const std::string label = std::string(type_name<In>()) + "->" + type_name<Out>() +
                            " B=" + std::to_string(batch) + " C=" + std::to_string(channels) +
                            " S=" + std::to_string(size) + " affine=" + std::to_string((int)affine_kind) +
                            (all_four ? " all-four" : " per-image k");

  for (int entry = 0; entry < 2; ++entry) {
    // Output with sentinel guard bands on both sides to catch stray writes;
    // every element in between must be overwritten.
    std::vector<Out> buffer((size_t)(out_numel + 2 * kGuard), sentinel<Out>());
    args.output = buffer.data() + kGuard;
    if (entry == 0) {
      for (int64_t flat = 0; flat < out_numel; ++flat) rotate90_element<In, Out>(args, flat);
    } else {
      for (int64_t plane = 0; plane < out_batch * channels; ++plane)
        for (int64_t y0 = 0; y0 < size; y0 += kRotateTile)
          for (int64_t x0 = 0; x0 < size; x0 += kRotateTile) rotate90_tile<In, Out>(args, plane, y0, x0);
    }
    const char* entry_name = entry == 0 ? "rotate90_element" : "rotate90_tile";
    for (int g = 0; g < kGuard; ++g) {
      CHECK_MSG(same_bits(buffer[(size_t)g], sentinel<Out>()), "%s %s wrote before the output", entry_name,
                label.c_str());
      CHECK_MSG(same_bits(buffer[(size_t)(kGuard + out_numel + g)], sentinel<Out>()), "%s %s wrote past the output",
                entry_name, label.c_str());
    }
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < out_numel; ++i) {
      if (!same_bits(buffer[(size_t)(kGuard + i)], expected[(size_t)i])) {
        if (first < 0) first = i;
        ++mismatches;
      }
    }
    CHECK_MSG(mismatches == 0, "%s %s: %lld of %lld elements differ, first at flat index %lld", entry_name,
              label.c_str(), (long long)mismatches, (long long)out_numel, (long long)first);
  }
}

template <typename In, typename Out>
void sweep(std::mt19937_64& rng) {
  for (int64_t size : {1, 2, 3, 4, 5, 7, 8})
    for (int64_t channels : {1, 3, 4})
      for (int64_t batch : {1, 2, 3})
        for (AffineKind affine : {AffineKind::Identity, AffineKind::Broadcast, AffineKind::PerChannel}) {
          // Per-image turns: every residue, plus values that need the mod 4.
          std::vector<int64_t> ks((size_t)batch);
          for (int64_t& k : ks) k = (int64_t)(rng() % 14) - 5;  // -5 .. 8
          run_case<In, Out>(rng, batch, channels, size, affine, ks);
          run_case<In, Out>(rng, batch, channels, size, affine, {});
        }
  // A batch wide enough that each of k = 0..3 and the negative/large aliases
  // occurs with every size.
  std::vector<int64_t> ks = {0, 1, 2, 3, -1, -2, -3, -4, 4, 5, 6, 7};
  for (int64_t size : {1, 2, 3, 6, 9, 33, 70}) run_case<In, Out>(rng, (int64_t)ks.size(), 2, size, AffineKind::PerChannel, ks);
}

// Pins the convention to torch.rot90 with literal results, independent of
// naive_rotated: rot90([[1,2,3],[4,5,6],[7,8,9]], k).
void test_literal_3x3() {
  const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float want[4][9] = {
      {1, 2, 3, 4, 5, 6, 7, 8, 9},
      {3, 6, 9, 2, 5, 8, 1, 4, 7},
      {9, 8, 7, 6, 5, 4, 3, 2, 1},
      {7, 4, 1, 8, 5, 2, 9, 6, 3},
  };
  Rotate90Args args{};
  args.input = in;
  args.affine.count = 1;
  args.affine.scale[0] = 1.0f;
  args.affine.bias[0] = 0.0f;
  args.in_batch = 1;
  args.channels = 1;
  args.size = 3;
  // All-four mode, tile entry point.
  float out4[36];
  args.output = out4;
  args.k = nullptr;
  args.out_batch = 4;
  for (int64_t plane = 0; plane < 4; ++plane) rotate90_tile<float, float>(args, plane, 0, 0);
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 9; ++i) CHECK_MSG(out4[r * 9 + i] == want[r][i], "all-four r=%d i=%d", r, i);
  // Explicit turns, element entry point.
  for (int64_t k = -4; k <= 7; ++k) {
    float out[9];
    args.output = out;
    args.k = &k;
    args.out_batch = 1;
    for (int64_t flat = 0; flat < 9; ++flat) rotate90_element<float, float>(args, flat);
    const int r = (int)(((k % 4) + 4) % 4);
    for (int i = 0; i < 9; ++i) CHECK_MSG(out[i] == want[r][i], "k=%lld i=%d", (long long)k, i);
    // The naive reference agrees with the literal too.
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) CHECK(naive_rotated(in, 3, (int)k, y, x) == want[r][y * 3 + x]);
  }
}

// rotate90_source_offset maps each plane onto itself bijectively.
void test_source_offset_is_permutation() {
  for (int64_t size : {1, 2, 5, 8})
    for (int turns = 0; turns < 4; ++turns) {
      std::vector<int> hits((size_t)(size * size), 0);
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          const int64_t off = rotate90_source_offset(turns, size, y, x);
          CHECK(off >= 0 && off < size * size);
          if (off >= 0 && off < size * size) ++hits[(size_t)off];
        }
      for (int h : hits) CHECK_EQ(h, 1);
    }
}

}  // namespace

int main() {
  test_literal_3x3();
  test_source_offset_is_permutation();
  std::mt19937_64 rng(20240521);
  sweep<uint8_t, float>(rng);
  sweep<uint8_t, uint8_t>(rng);
  sweep<uint8_t, Half>(rng);
  sweep<uint8_t, BFloat16>(rng);
  sweep<float, float>(rng);
  sweep<float, uint8_t>(rng);
  sweep<float, Half>(rng);
  sweep<float, BFloat16>(rng);
  sweep<Half, float>(rng);
  sweep<BFloat16, Half>(rng);
  return sslfast_test::finish("test_rotate");
}
