// Test buffers shared by the kernel tests: random inputs in any storage type,
// bitwise comparison, and outputs with sentinel guard bands that show writes
// outside their bounds.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/common.h"

namespace sslfast_test {

// A random element stored in T: any uint8 level, or a float in [-0.25, 1.25).
template <typename T>
T random_value(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return (uint8_t)(rng() & 0xff);
  } else {
    T out{};
    sslfast::store_value(&out, std::uniform_real_distribution<float>(-0.25f, 1.25f)(rng));
    return out;
  }
}

template <typename T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
T sentinel() {
  T s;
  std::memset(&s, 0xA5, sizeof s);
  return s;
}

// n elements between two guard bands of sentinels.
template <typename T>
struct Guarded {
  static constexpr int kGuard = 8;
  std::vector<T> buffer;
  explicit Guarded(int64_t n) : buffer((size_t)(n + 2 * kGuard), sentinel<T>()) {}
  T* data() { return buffer.data() + kGuard; }
  const T& operator[](int64_t i) const { return buffer[(size_t)(kGuard + i)]; }
  bool guards_intact() const {
    for (int g = 0; g < kGuard; ++g)
      if (!same_bits(buffer[(size_t)g], sentinel<T>()) ||
          !same_bits(buffer[buffer.size() - 1 - (size_t)g], sentinel<T>()))
        return false;
    return true;
  }
};

}  // namespace sslfast_test
