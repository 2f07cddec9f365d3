// Minimal assertion helper for the native (torch-free) kernel tests.
// No gtest: the suite must build offline with nothing but a C++20 compiler.
//
//   CHECK(cond)            records a failure (file:line + expression) and goes on
//   CHECK_EQ(a, b)         same, printing both values
//   CHECK_MSG(cond, ...)   same, with a printf-style message
//   return sslfast_test::finish("name");   at the end of main()
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <type_traits>

namespace sslfast_test {

inline int& failure_count() {
  static int count = 0;
  return count;
}
inline int& check_count() {
  static int count = 0;
  return count;
}

// Failures past this many are counted but not printed, so one broken loop
// does not flood the log.
constexpr int kMaxPrinted = 30;

inline void report(const char* file, int line, const std::string& what) {
  if (++failure_count() <= kMaxPrinted) std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

template <typename T>
std::string show(const T& v) {
  std::ostringstream s;
  if constexpr (sizeof(T) == 1 && std::is_integral_v<T>) {
    s << static_cast<int>(v);
  } else if constexpr (std::is_integral_v<T>) {
    s << v << " (0x" << std::hex << static_cast<uint64_t>(v) << ")";
  } else if constexpr (std::is_floating_point_v<T>) {
    s.precision(9);
    s << v;
  } else {
    s << v;
  }
  return s.str();
}

inline int finish(const char* name) {
  if (failure_count() == 0) {
    std::printf("%s: all %d checks passed\n", name, check_count());
    return EXIT_SUCCESS;
  }
  std::fprintf(stderr, "%s: %d of %d checks FAILED\n", name, failure_count(), check_count());
  return EXIT_FAILURE;
}

}  // namespace sslfast_test

#define CHECK(cond)                                                          \
  do {                                                                       \
    ++::sslfast_test::check_count();                                         \
    if (!(cond)) ::sslfast_test::report(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                     \
  do {                                                                                     \
    ++::sslfast_test::check_count();                                                       \
    const auto& check_a_ = (a);                                                            \
    const auto& check_b_ = (b);                                                            \
    if (!(check_a_ == check_b_))                                                           \
      ::sslfast_test::report(__FILE__, __LINE__,                                           \
                             "CHECK_EQ(" #a ", " #b "): " + ::sslfast_test::show(check_a_) + \
                                 " != " + ::sslfast_test::show(check_b_));                 \
  } while (0)

#define CHECK_MSG(cond, ...)                                                  \
  do {                                                                        \
    ++::sslfast_test::check_count();                                          \
    if (!(cond)) {                                                            \
      char check_buf_[512];                                                   \
      std::snprintf(check_buf_, sizeof check_buf_, __VA_ARGS__);              \
      ::sslfast_test::report(__FILE__, __LINE__,                              \
                             std::string("CHECK(" #cond "): ") + check_buf_); \
    }                                                                         \
  } while (0)
