// SSLFAST_CPU_CLONES marks a CPU loop function to be compiled twice, for the
// baseline x86-64 ISA and for AVX2, with the copy picked at load time for the
// processor at hand (GCC target_clones). The extension is built without
// -march flags so it runs anywhere, yet its hot loops (table gathers, float
// math) get 8-wide vectors where the processor has them. Give such functions
// __restrict pointer arguments: the loop vectoriser needs them to prove the
// outputs do not overlap what the loop reads.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SSLFAST_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SSLFAST_CPU_CLONES
#endif
