// Runs a CPU work item compiled for AVX2 where the processor has it, else for
// the baseline ISA (SSE2 on x86-64): the same source twice, as the extension
// is built without -march. Only the vector width changes; AVX2 without FMA
// performs the same IEEE operations, so results are bit-identical either way.
#pragma once

namespace sslfast::cpu {

// `flatten` inlines the body's whole call tree (the kernel headers' inline
// functions) into these two, so it is compiled for each one's target.
template <typename Body>
__attribute__((flatten)) void run_baseline(const Body& body) {
  body();
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC push_options
#pragma GCC target("avx2")
template <typename Body>
__attribute__((flatten)) void run_avx2(const Body& body) {
  body();
}
#pragma GCC pop_options

template <typename Body>
void run_vectorized(const Body& body) {
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) {
    run_avx2(body);
  } else {
    run_baseline(body);
  }
}
#else
template <typename Body>
void run_vectorized(const Body& body) {
  run_baseline(body);
}
#endif

}  // namespace sslfast::cpu
