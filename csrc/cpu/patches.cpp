// CPU backend of the patch family: a patch is the work item (its statistics,
// then its rows, while it is in cache); samplers run one sample per index.
#include <ATen/Parallel.h>

#include "../kernels/dispatch_dtypes.h"
#include "../kernels/patches.h"

namespace sslfast::cpu {
namespace {

// The sum over one lane is the total.
struct SingleLane {
  double operator()(double partial) const { return partial; }
};

template <typename Sampler>
void for_each_sample(const Sampler& sampler, int64_t n) {
  at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sampler(i);
  });
}

}  // namespace

void gather_patches(const GatherPatchesArgs& args, DType in, DType out) {
  // Aim for ~16K output elements per task.
  const int64_t per_patch = std::max<int64_t>(1, args.channels * args.patch_h * args.patch_w);
  const int64_t grain = std::max<int64_t>(1, 16384 / per_patch);
  dispatch_in_out(in, out, [&](auto in_tag, auto out_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    at::parallel_for(0, args.patches, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        if (args.stats) patch_stats<In, 1>(args, p, 0, SingleLane{});
        const PatchPlan plan = patch_plan(args, p);
        for (int64_t c = 0; c < args.channels; ++c)
          for (int64_t y = 0; y < args.patch_h; ++y) gather_patch_row<In, Out>(args, plan, p, c, y);
      }
    });
  });
}

void sample_jigsaw(const JigsawSampler& sampler, int64_t n) { for_each_sample(sampler, n); }
void sample_context(const ContextSampler& sampler, int64_t n) { for_each_sample(sampler, n); }
void sample_tuples(const TupleSampler& sampler, int64_t n) { for_each_sample(sampler, n); }
void sample_color_drop(const ColorDropSampler& sampler, int64_t n) { for_each_sample(sampler, n); }

PermutationSetStats permutation_set(int tiles, int64_t n, PermutationRule rule, uint64_t seed, int64_t* out) {
  const auto parallel = [](int64_t begin, int64_t end, const auto& body) {
    at::parallel_for(begin, end, 16384, [&](int64_t b, int64_t e) { body(b, e); });
  };
  return greedy_permutation_set(tiles, n, rule, seed, parallel, out);
}

}  // namespace sslfast::cpu
