// Rotation by multiples of 90 degrees (RotNet), fused with dtype conversion
// and per-channel normalisation. Shared by the CPU and CUDA backends.
#pragma once

#include <type_traits>

#include "common.h"

namespace sslfast {

// Field ids of the counter-based generator for this family.
constexpr uint64_t kRotationField = 0x526f7439ull;  // "Rot9"

// Everything an apply call needs, as raw pointers and sizes.
struct Rotate90Args {
  const void* input;      // [in_batch, channels, size, size], contiguous
  void* output;           // [out_batch, channels, size, size], contiguous
  const int64_t* k;       // [out_batch] turns per output image; null => all-four mode
  ChannelAffine affine;   // dtype scaling and normalisation, fused
  int64_t in_batch;
  int64_t out_batch;      // in_batch, or 4 * in_batch in all-four mode
  int64_t channels;
  int64_t size;           // height == width
};

// Turns and source image of output image `o`. In all-four mode the output is
// rotation-major: out[r * B + i] is image i turned r times.
SSLFAST_HD void rotate90_plan(const Rotate90Args& a, int64_t o, int* turns, int64_t* source) {
  if (a.k) {
    *turns = (int)(a.k[o] & 3);  // mod 4 as torch.rot90; range is checked in Python
    *source = o;
  } else {
    *turns = (int)(o / a.in_batch);
    *source = o % a.in_batch;
  }
}

// Offset inside one S x S plane of the pixel that lands at (y, x) after
// `turns` counter-clockwise quarter turns (torch.rot90 with dims (-2, -1)).
SSLFAST_HD int64_t rotate90_source_offset(int turns, int64_t size, int64_t y, int64_t x) {
  const int64_t last = size - 1;
  switch (turns) {
    case 1: return x * size + (last - y);
    case 2: return (last - y) * size + (last - x);
    case 3: return (last - x) * size + y;
    default: return y * size + x;
  }
}

// One output element, given its flat index in the output tensor (CUDA: one
// thread each).
template <typename In, typename Out>
SSLFAST_HD void rotate90_element(const Rotate90Args& a, int64_t flat) {
  const int64_t plane_size = a.size * a.size;
  const int64_t x = flat % a.size, y = (flat / a.size) % a.size;
  const int64_t plane = flat / plane_size, c = plane % a.channels;
  int turns;
  int64_t source;
  rotate90_plan(a, plane / a.channels, &turns, &source);
  const In* in = static_cast<const In*>(a.input) + (source * a.channels + c) * plane_size;
  const int64_t slot = a.affine.slot(c);
  const float v = load_value(in + rotate90_source_offset(turns, a.size, y, x));
  store_value(static_cast<Out*>(a.output) + flat, v * a.affine.scale[slot] + a.affine.bias[slot]);
}

// Byte-block helpers for the CPU's uint8 path: eight rows of eight bytes are
// moved as 64-bit words (byte j of a word is column j on little-endian
// machines, the only ones torch supports).
SSLFAST_HD uint64_t load_word(const uint8_t* p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

SSLFAST_HD void store_word(uint8_t* p, uint64_t w) { memcpy(p, &w, 8); }

SSLFAST_HD uint64_t reverse_bytes(uint64_t w) {
  w = ((w & 0x00FF00FF00FF00FFull) << 8) | ((w >> 8) & 0x00FF00FF00FF00FFull);
  w = ((w & 0x0000FFFF0000FFFFull) << 16) | ((w >> 16) & 0x0000FFFF0000FFFFull);
  return (w << 32) | (w >> 32);
}

// Swaps the blocks of `span` bytes across the diagonal between rows a and b.
SSLFAST_HD void swap_byte_blocks(uint64_t& a, uint64_t& b, int span, uint64_t mask) {
  const uint64_t t = ((a >> (8 * span)) ^ b) & mask;
  a ^= t << (8 * span);
  b ^= t;
}

// In place: afterwards byte j of r[i] is what byte i of r[j] was. Three
// rounds swap 4x4, 2x2 and 1x1 blocks across the diagonal (written out so the
// eight words stay in registers).
SSLFAST_HD void transpose_8x8_bytes(uint64_t r[8]) {
  constexpr uint64_t m4 = 0x00000000FFFFFFFFull, m2 = 0x0000FFFF0000FFFFull, m1 = 0x00FF00FF00FF00FFull;
  swap_byte_blocks(r[0], r[4], 4, m4); swap_byte_blocks(r[1], r[5], 4, m4);
  swap_byte_blocks(r[2], r[6], 4, m4); swap_byte_blocks(r[3], r[7], 4, m4);
  swap_byte_blocks(r[0], r[2], 2, m2); swap_byte_blocks(r[1], r[3], 2, m2);
  swap_byte_blocks(r[4], r[6], 2, m2); swap_byte_blocks(r[5], r[7], 2, m2);
  swap_byte_blocks(r[0], r[1], 1, m1); swap_byte_blocks(r[2], r[3], 1, m1);
  swap_byte_blocks(r[4], r[5], 1, m1); swap_byte_blocks(r[6], r[7], 1, m1);
}

// The CPU backend's work item: a kRotateTile x kRotateTile tile of one output
// plane, so the quarter-turn transposes read a cache-resident block of the
// input. Per row only an offset and a step are computed (no divisions); the
// span loops are split by step so the compiler vectorises the unrotated and
// the flipped rows, and uint8 -> uint8 under the identity map (the only one
// the ops allow) is a plain copy.
constexpr int64_t kRotateTile = 64;

template <typename In, typename Out>
SSLFAST_HD void rotate90_span(const In* src, int64_t step, Out* out, int64_t count, float scale, float bias) {
  if (std::is_same_v<In, Out> && scale == 1.f && bias == 0.f) {
    const Out* same = reinterpret_cast<const Out*>(src);
    for (int64_t x = 0; x < count; ++x) out[x] = same[x * step];
  } else if (step == 1) {
    for (int64_t x = 0; x < count; ++x) store_value(out + x, load_value(src + x) * scale + bias);
  } else if (step == -1) {
    for (int64_t x = 0; x < count; ++x) store_value(out + x, load_value(src - x) * scale + bias);
  } else {
    for (int64_t x = 0; x < count; ++x) store_value(out + x, load_value(src + x * step) * scale + bias);
  }
}

// block[i] = src[-i] for i in [0, n).
template <typename In>
SSLFAST_HD void reverse_copy(const In* src, int64_t n, In* block) {
  for (int64_t i = 0; i < n; ++i) block[i] = src[-i];
}

template <>
SSLFAST_HD void reverse_copy<uint8_t>(const uint8_t* src, int64_t n, uint8_t* block) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store_word(block + i, reverse_bytes(load_word(src - i - 7)));
  for (; i < n; ++i) block[i] = src[-i];
}

// block[(y - y0) * T + (x - x0)] = source value of output (y, x) for a quarter
// turn (1 or 3), walking each input row contiguously.
template <typename In>
SSLFAST_HD void rotate90_gather_block(const In* in, int64_t size, int turns, int64_t y0, int64_t y1, int64_t x0,
                                      int64_t x1, In* block) {
  for (int64_t x = x0; x < x1; ++x) {
    const int64_t first = rotate90_source_offset(turns, size, y0, x);
    const int64_t step = turns == 1 ? -1 : 1;  // along y, the source walks a row
    for (int64_t y = 0; y < y1 - y0; ++y) block[y * kRotateTile + (x - x0)] = in[first + y * step];
  }
}

// uint8: whole 8x8 blocks move as words through a byte transpose (a quarter
// turn is a transpose plus a flip). Ragged edges take the generic path.
template <>
SSLFAST_HD void rotate90_gather_block<uint8_t>(const uint8_t* in, int64_t size, int turns, int64_t y0, int64_t y1,
                                               int64_t x0, int64_t x1, uint8_t* block) {
  const int64_t last = size - 1, full_y = y0 + (y1 - y0) / 8 * 8, full_x = x0 + (x1 - x0) / 8 * 8;
  // Source rows are output columns: turns 1 reads rows x0, x0+1, ... at
  // columns last-by-7..last-by; turns 3 reads rows last-x0, last-x0-1, ... at
  // columns by..by+7. Reading turn 3's rows in that descending order makes its
  // transpose come out right; turn 1's comes out upside down.
  const int64_t row_step = turns == 1 ? size : -size;
  for (int64_t by = y0; by < full_y; by += 8) {
    const uint8_t* src = turns == 1 ? in + x0 * size + (last - by - 7) : in + (last - x0) * size + by;
    uint8_t* dst = block + (by - y0) * kRotateTile;
    for (int64_t bx = x0; bx < full_x; bx += 8, src += 8 * row_step, dst += 8) {
      uint64_t r[8];
      for (int i = 0; i < 8; ++i) r[i] = load_word(src + i * row_step);
      transpose_8x8_bytes(r);
      for (int u = 0; u < 8; ++u) store_word(dst + u * kRotateTile, r[turns == 1 ? 7 - u : u]);
    }
  }
  // Ragged right edge (all rows) and bottom edge (full-width columns only).
  for (int64_t x = full_x; x < x1; ++x)
    for (int64_t y = y0; y < y1; ++y)
      block[(y - y0) * kRotateTile + (x - x0)] = in[rotate90_source_offset(turns, size, y, x)];
  for (int64_t y = full_y; y < y1; ++y)
    for (int64_t x = x0; x < full_x; ++x)
      block[(y - y0) * kRotateTile + (x - x0)] = in[rotate90_source_offset(turns, size, y, x)];
}

// Output plane `plane` (= o * channels + c), rows [y0, y0 + T) and columns
// [x0, x0 + T), clipped to the image.
template <typename In, typename Out>
SSLFAST_HD void rotate90_tile(const Rotate90Args& a, int64_t plane, int64_t y0, int64_t x0) {
  const int64_t y1 = y0 + kRotateTile < a.size ? y0 + kRotateTile : a.size;
  const int64_t x1 = x0 + kRotateTile < a.size ? x0 + kRotateTile : a.size;
  const int64_t c = plane % a.channels;
  int turns;
  int64_t source;
  rotate90_plan(a, plane / a.channels, &turns, &source);
  const In* in = static_cast<const In*>(a.input) + (source * a.channels + c) * a.size * a.size;
  Out* out = static_cast<Out*>(a.output) + plane * a.size * a.size;
  const int64_t slot = a.affine.slot(c);
  const float scale = a.affine.scale[slot], bias = a.affine.bias[slot];
  In block[kRotateTile * kRotateTile];
  if (turns % 2 == 0) {
    // Unturned and half-turned planes read whole rows forwards or backwards:
    // the tile's rows merge into one long span, done by the x0 == 0 tile.
    // Backwards spans are first reversed into the block, chunk by chunk, so
    // the conversion always runs forwards (vectorised).
    if (x0 != 0) return;
    const In* src = in + rotate90_source_offset(turns, a.size, y0, 0);
    const int64_t count = (y1 - y0) * a.size;
    Out* dst = out + y0 * a.size;
    if (turns == 0) return rotate90_span<In, Out>(src, 1, dst, count, scale, bias);
    for (int64_t done = 0; done < count; done += kRotateTile * kRotateTile) {
      const int64_t n = count - done < kRotateTile * kRotateTile ? count - done : kRotateTile * kRotateTile;
      reverse_copy(src - done, n, block);
      rotate90_span<In, Out>(block, 1, dst + done, n, scale, bias);
    }
    return;
  }
  // Quarter turns transpose: first copy the tile's source values into a
  // local block in output order, then convert the block row by row with
  // unit-stride (vectorised) spans.
  rotate90_gather_block(in, a.size, turns, y0, y1, x0, x1, block);
  for (int64_t y = y0; y < y1; ++y)
    rotate90_span<In, Out>(block + (y - y0) * kRotateTile, 1, out + y * a.size + x0, x1 - x0, scale, bias);
}

// Label of sample `index` under `seed`: uniform in 0..3.
SSLFAST_HD int64_t rotation_label(uint64_t seed, int64_t index) {
  return (int64_t)hash_below(counter_hash(seed, (uint64_t)index, kRotationField), 4);
}

// Backend entry points, defined in csrc/cpu/rotate.cpp and csrc/cuda/rotate.cu.
namespace cpu {
void rotate90(const Rotate90Args& args, DType in, DType out);
void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n);
}  // namespace cpu
namespace cuda {
void rotate90(const Rotate90Args& args, DType in, DType out);
void sample_rotation(uint64_t seed, const int64_t* index, int64_t* labels, int64_t n);
}  // namespace cuda

}  // namespace sslfast
