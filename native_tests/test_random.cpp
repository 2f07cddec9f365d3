// Counter-based generator of csrc/kernels/common.h (splitmix64, counter_hash,
// hash_below, hash_unit_float) and the rotation label sampler built on it.
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "check.h"
#include "kernels/common.h"
#include "kernels/rotate.h"

using namespace sslfast;

namespace {

void test_splitmix64_reference() {
  // Published outputs of Vigna's splitmix64 generator seeded with 0: the k-th
  // output is the finaliser applied to k * golden gamma, which is what
  // splitmix64(state) computes for state = (k - 1) * gamma.
  CHECK_EQ(splitmix64(0), (uint64_t)0xE220A8397B1DCDAFull);
  CHECK_EQ(splitmix64(0x9E3779B97F4A7C15ull), (uint64_t)0x6E789E6AA1B965F4ull);
  CHECK_EQ(splitmix64(0x3C6EF372FE94F82Aull), (uint64_t)0x06C45D188009454Full);
}

void test_counter_hash() {
  // Determinism: a pure function of its arguments, whatever the call order.
  std::vector<uint64_t> first;
  for (uint64_t i = 0; i < 1000; ++i) first.push_back(counter_hash(42, i, kRotationField));
  for (uint64_t i = 1000; i-- > 0;) CHECK_EQ(counter_hash(42, i, kRotationField), first[i]);
  CHECK_EQ(counter_hash(7, 3, 5), splitmix64(splitmix64(splitmix64(7) ^ 3) ^ 5));

  // Different seed, index or field give different values (no collisions in a
  // small grid, and swapping arguments is not symmetric).
  std::set<uint64_t> seen;
  int total = 0;
  for (uint64_t seed = 0; seed < 16; ++seed)
    for (uint64_t index = 0; index < 64; ++index)
      for (uint64_t field = 0; field < 8; ++field) {
        seen.insert(counter_hash(seed, index, field));
        ++total;
      }
  CHECK_EQ((int)seen.size(), total);
  CHECK(counter_hash(1, 2, 3) != counter_hash(2, 1, 3));
  CHECK(counter_hash(1, 2, 3) != counter_hash(1, 3, 2));
  CHECK(counter_hash(0, 0, 0) != counter_hash(0, 0, 1));
  // Huge and "negative" indices (int64 -1 cast to uint64) are fine.
  CHECK(counter_hash(0, ~0ull, 0) != counter_hash(0, 0, 0));

  // Avalanche: flipping one input bit flips about half the output bits.
  double flipped = 0;
  int trials = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const uint64_t base = counter_hash(11, i, kRotationField);
    for (int bit = 0; bit < 64; bit += 7) {
      flipped += __builtin_popcountll(base ^ counter_hash(11, i ^ (1ull << bit), kRotationField));
      ++trials;
    }
  }
  const double mean = flipped / trials;
  CHECK_MSG(mean > 30.0 && mean < 34.0, "mean flipped bits %.3f", mean);
}

void test_hash_below_uniform() {
  const int draws = 100000;
  for (uint32_t n : {2u, 3u, 4u, 7u, 24u}) {
    std::vector<int> counts(n, 0);
    for (int i = 0; i < draws; ++i) {
      const uint32_t v = hash_below(counter_hash(2024, (uint64_t)i, kRotationField), n);
      CHECK_MSG(v < n, "hash_below(., %u) = %u", n, v);
      if (v < n) ++counts[v];
    }
    const double expected = (double)draws / n;
    for (uint32_t b = 0; b < n; ++b)
      CHECK_MSG(std::fabs(counts[b] - expected) <= 0.05 * expected, "n=%u bucket %u has %d draws, expected %.0f",
                n, b, counts[b], expected);
  }
  // Edges: the multiply-shift covers the whole range and never reaches n.
  CHECK_EQ(hash_below(0, 4), 0u);
  CHECK_EQ(hash_below(~0ull, 4), 3u);
  CHECK_EQ(hash_below(~0ull, 1), 0u);
  CHECK_EQ(hash_below(~0ull, 0xffffffffu), 0xfffffffeu);
  CHECK_EQ(hash_below(0x4000000000000000ull, 4), 1u);
  CHECK_EQ(hash_below(0x8000000000000000ull, 4), 2u);
  CHECK_EQ(hash_below(0xC000000000000000ull, 4), 3u);
}

void test_hash_unit_float() {
  CHECK_EQ(hash_unit_float(0), 0.0f);
  CHECK(hash_unit_float(~0ull) < 1.0f);
  CHECK_EQ(hash_unit_float(~0ull), 1.0f - std::ldexp(1.0f, -24));
  CHECK_EQ(hash_unit_float(1ull << 63), 0.5f);
  double sum = 0;
  int below_quarter = 0;
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const float u = hash_unit_float(counter_hash(5, (uint64_t)i, 1));
    CHECK_MSG(u >= 0.0f && u < 1.0f, "hash_unit_float out of [0,1): %.9g", (double)u);
    sum += u;
    below_quarter += u < 0.25f;
  }
  CHECK_MSG(std::fabs(sum / draws - 0.5) < 0.01, "mean %.4f", sum / draws);
  CHECK_MSG(std::abs(below_quarter - draws / 4) <= draws / 4 / 20, "%d below 0.25", below_quarter);
}

void test_rotation_label() {
  const int draws = 100000;
  int counts[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < draws; ++i) {
    const int64_t label = rotation_label(123, i);
    CHECK_MSG(label >= 0 && label < 4, "label %lld", (long long)label);
    if (label >= 0 && label < 4) ++counts[label];
    CHECK_EQ(label, rotation_label(123, i));
    CHECK_EQ(label, (int64_t)hash_below(counter_hash(123, (uint64_t)i, kRotationField), 4));
  }
  for (int b = 0; b < 4; ++b)
    CHECK_MSG(std::abs(counts[b] - draws / 4) <= draws / 4 / 20, "label %d drawn %d times", b, counts[b]);
  // Seeds decorrelate: labels under two seeds agree about a quarter of the time.
  int agree = 0;
  for (int64_t i = 0; i < draws; ++i) agree += rotation_label(1, i) == rotation_label(2, i);
  CHECK_MSG(std::abs(agree - draws / 4) <= draws / 4 / 20, "seeds 1 and 2 agree on %d labels", agree);
}

}  // namespace

int main() {
  test_splitmix64_reference();
  test_counter_hash();
  test_hash_below_uniform();
  test_hash_unit_float();
  test_rotation_label();
  return sslfast_test::finish("test_random");
}
