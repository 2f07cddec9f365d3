// Rotation by multiples of 90 degrees (RotNet), fused with dtype conversion
// and per-channel normalisation. Shared by the CPU and CUDA backends.
#pragma once

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

// Where output row (o, c, y, :) reads from: the source offset is affine in x,
// so a row walks the input with a constant step.
struct RowSource {
  int64_t start;    // input element offset of x = 0
  int64_t step;     // input offset change per output x
  int64_t channel;
};

SSLFAST_HD RowSource rotate90_row_source(const Rotate90Args& a, int64_t row) {
  const int64_t y = row % a.size;
  const int64_t c = (row / a.size) % a.channels;
  const int64_t o = row / (a.size * a.channels);
  int turns;
  int64_t source;
  rotate90_plan(a, o, &turns, &source);
  const int64_t plane_start = (source * a.channels + c) * a.size * a.size;
  const int64_t first = rotate90_source_offset(turns, a.size, y, 0);
  return {plane_start + first, rotate90_source_offset(turns, a.size, y, 1) - first, c};
}

// One output element, given its flat index in the output tensor (CUDA: one
// thread each).
template <typename In, typename Out>
SSLFAST_HD void rotate90_element(const Rotate90Args& a, int64_t flat) {
  const int64_t x = flat % a.size;
  const RowSource r = rotate90_row_source(a, flat / a.size);
  const float v = load_value(static_cast<const In*>(a.input) + r.start + x * r.step);
  const int64_t slot = a.affine.slot(r.channel);
  store_value(static_cast<Out*>(a.output) + flat, v * a.affine.scale[slot] + a.affine.bias[slot]);
}

// One whole output row (CPU: rows are the parallel work items). The loop is
// split by step so the compiler vectorises the unrotated and the flipped rows.
template <typename In, typename Out>
SSLFAST_HD void rotate90_row(const Rotate90Args& a, int64_t row) {
  const RowSource r = rotate90_row_source(a, row);
  const In* src = static_cast<const In*>(a.input) + r.start;
  Out* out = static_cast<Out*>(a.output) + row * a.size;
  const int64_t slot = a.affine.slot(r.channel);
  const float scale = a.affine.scale[slot], bias = a.affine.bias[slot];
  if (r.step == 1) {
    for (int64_t x = 0; x < a.size; ++x) store_value(out + x, load_value(src + x) * scale + bias);
  } else {
    for (int64_t x = 0; x < a.size; ++x) store_value(out + x, load_value(src + x * r.step) * scale + bias);
  }
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
