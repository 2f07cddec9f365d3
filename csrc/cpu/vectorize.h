// SSLFAST_CPU_CLONES marks a CPU loop function to be compiled three times,
// for x86-64-v4 (AVX-512), AVX2 and the baseline x86-64 ISA, with the copy
// picked at load time for the processor at hand (GCC target_clones). The
// extension is built without -march flags so it runs anywhere, yet its hot
// loops get 16- or 8-wide vectors where the processor has them (AVX-512
// nearly halves the float rgb_to_lab time against AVX2 on a Zen 4). The
// copies compute the same IEEE operations (setup.py passes -ffp-contract=off:
// GCC would otherwise fuse a*b+c into FMA in the AVX copies only), so their
// results are identical. Give such functions
// __restrict pointer arguments: the vectoriser needs them to prove the
// outputs do not overlap what the loop reads.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SSLFAST_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SSLFAST_CPU_CLONES
#endif
