// Maps runtime DType codes to the storage types of common.h, for backends.
#pragma once

#include "common.h"

namespace sslfast {

template <typename T>
struct TypeTag { using type = T; };

template <typename F>
void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::UInt8: f(TypeTag<uint8_t>{}); return;
    case DType::Float16: f(TypeTag<Half>{}); return;
    case DType::BFloat16: f(TypeTag<BFloat16>{}); return;
    case DType::Float32: f(TypeTag<float>{}); return;
  }
}

// Floating types only, for outputs that cannot be uint8 (the ops check
// that first; a uint8 code does nothing here).
template <typename F>
void dispatch_float_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float16: f(TypeTag<Half>{}); return;
    case DType::BFloat16: f(TypeTag<BFloat16>{}); return;
    case DType::Float32: f(TypeTag<float>{}); return;
    case DType::UInt8: return;
  }
}

template <typename F>
void dispatch_in_out(DType in, DType out, F&& f) {
  dispatch_dtype(in, [&](auto in_tag) { dispatch_dtype(out, [&](auto out_tag) { f(in_tag, out_tag); }); });
}

}  // namespace sslfast
