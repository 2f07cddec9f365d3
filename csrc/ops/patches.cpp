// Schemas and dispatch of the patch family. The checks here guard memory
// safety for direct torch.ops calls; sslfast/ops/patches.py checks values.
#include <string_view>
#include <tuple>
#include <type_traits>

#include "tensor_utils.h"
#include "../kernels/patches.h"

namespace sslfast {
namespace {

// A per-patch or per-sample parameter tensor: dtype, exact shape, contiguous,
// on `device`.
void check_parameter(const at::Tensor& t, const char* name, at::ScalarType dtype, at::IntArrayRef shape,
                     const at::Device& device) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, ": expected ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.sizes() == shape && t.is_contiguous(), name, ": expected a contiguous ", shape,
                    " tensor, got ", t.sizes());
  TORCH_CHECK_VALUE(t.device() == device, name, ": expected device ", device, ", got ", t.device());
}

void check_index(const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "index: expected int64, got ", index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1 && index.is_contiguous(), "index: expected a contiguous 1-D tensor");
}

PatchNorm patch_norm(const std::optional<c10::string_view>& normalize) {
  if (!normalize) return PatchNorm::None;
  const std::string_view name(normalize->data(), normalize->size());
  if (name == "patch") return PatchNorm::Patch;
  if (name == "rms") return PatchNorm::Rms;
  TORCH_CHECK_VALUE(false, "normalize: expected None, 'patch' or 'rms', got '", name, "'");
}

// Backend entry point of the CUDA build, or none.
#ifdef SSLFAST_WITH_CUDA
#define SSLFAST_CUDA_ENTRY(name) &cuda::name
#else
#define SSLFAST_CUDA_ENTRY(name) nullptr
#endif

// Runs a sampler on the device of `index` (run_on_device never picks CUDA in
// a CPU-only build).
template <typename Sampler>
using SamplerEntry = void (*)(const Sampler&, int64_t);

template <typename Sampler>
void run_sampler(const at::Tensor& index, const Sampler& sampler, SamplerEntry<Sampler> on_cpu,
                 std::type_identity_t<SamplerEntry<Sampler>> on_cuda) {
  const int64_t n = index.numel();
  if (n == 0) return;
  run_on_device(index, [&] { on_cpu(sampler, n); }, [&] { on_cuda(sampler, n); });
}

at::Tensor gather_patches(const at::Tensor& images, const at::Tensor& src, const at::Tensor& origins,
                          at::IntArrayRef size, std::optional<c10::string_view> normalize,
                          const std::optional<at::Tensor>& keep_channel, const std::optional<at::Tensor>& gray,
                          int64_t noise_seed, double noise_std, double eps, std::optional<at::ScalarType> out_dtype,
                          std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> std) {
  TORCH_CHECK_VALUE(images.dim() == 4 && images.numel() > 0, "images: expected a non-empty [T, C, H, W], got ",
                    images.sizes());
  TORCH_CHECK_VALUE(images.is_contiguous(), "images: expected a contiguous tensor");
  TORCH_CHECK_VALUE(src.dim() == 2, "src: expected [B, N], got ", src.sizes());
  TORCH_CHECK_VALUE(size.size() == 2, "size: expected (height, width), got ", size);
  const int64_t batch = src.size(0), per_sample = src.size(1), channels = images.size(1);
  const int64_t patch_h = size[0], patch_w = size[1];
  TORCH_CHECK_VALUE(patch_h >= 1 && patch_w >= 1 && patch_h <= images.size(2) && patch_w <= images.size(3),
                    "size: expected 1 <= size <= image size ", images.sizes().slice(2), ", got ", size);
  const at::Device device = images.device();
  check_parameter(src, "src", at::kLong, {batch, per_sample}, device);
  check_parameter(origins, "origins", at::kLong, {batch, per_sample, 2}, device);
  if (keep_channel) check_parameter(*keep_channel, "keep_channel", at::kLong, {batch, per_sample}, device);
  if (gray) {
    check_parameter(*gray, "gray", at::kBool, {batch, per_sample}, device);
    TORCH_CHECK_VALUE(channels == 3, "gray: grayscale needs 3-channel (RGB) images, got ", channels, " channels");
  }
  const PatchNorm norm = patch_norm(normalize);
  const at::ScalarType in_type = images.scalar_type(), out_type = out_dtype.value_or(in_type);
  const DType in_code = dtype_code(in_type, "images"), out_code = dtype_code(out_type, "out_dtype");

  GatherPatchesArgs args{};
  args.affine = make_affine(out_type, out_type, channels, mean, std);
  args.unit_scale = (float)value_range(in_type, out_type);
  args.eps = (float)eps;
  args.noise_std = (float)noise_std;
  args.noise_seed = (uint64_t)noise_seed;
  args.norm = norm;
  args.count = images.size(0);
  args.channels = channels;
  args.height = images.size(2);
  args.width = images.size(3);
  args.patches = batch * per_sample;
  args.patch_h = patch_h;
  args.patch_w = patch_w;
  at::Tensor out = at::empty({batch, per_sample, channels, patch_h, patch_w}, images.options().dtype(out_type));
  if (out.numel() == 0) return out;
  at::Tensor stats;  // scratch, only when some patch needs statistics
  if (norm != PatchNorm::None || keep_channel) {
    stats = at::empty({args.patches, patch_stats_stride(args)}, images.options().dtype(at::kFloat));
    args.stats = stats.data_ptr<float>();
  }
  args.images = images.data_ptr();
  args.output = out.data_ptr();
  args.src = src.data_ptr<int64_t>();
  args.origins = origins.data_ptr<int64_t>();
  args.keep = keep_channel ? keep_channel->data_ptr<int64_t>() : nullptr;
  args.gray = gray ? reinterpret_cast<const uint8_t*>(gray->data_ptr<bool>()) : nullptr;
  run_on_device(images, [&] { cpu::gather_patches(args, in_code, out_code); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::gather_patches(args, in_code, out_code);
#endif
                });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> sample_jigsaw(int64_t seed, const at::Tensor& index, int64_t height,
                                                             int64_t width, int64_t grid, int64_t cell, int64_t tile,
                                                             const at::Tensor& permutations) {
  check_index(index);
  TORCH_CHECK_VALUE(grid >= 1 && tile >= 1 && tile <= cell && grid * cell <= std::min(height, width),
                    "cell: expected 1 <= tile <= cell and grid * cell <= image size, got grid ", grid, ", cell ",
                    cell, ", tile ", tile, ", image ", height, "x", width);
  TORCH_CHECK_VALUE(permutations.dim() == 2 && permutations.size(0) >= 1 && permutations.size(1) == grid * grid,
                    "permutations: expected [P >= 1, ", grid * grid, "], got ", permutations.sizes());
  check_parameter(permutations, "permutations", at::kLong, permutations.sizes(), index.device());
  const int64_t n = index.numel(), tiles = grid * grid;
  at::Tensor src = at::empty({n, tiles}, index.options());
  at::Tensor origins = at::empty({n, tiles, 2}, index.options());
  at::Tensor perm_id = at::empty({n}, index.options());
  JigsawSampler sampler{index.data_ptr<int64_t>(), permutations.data_ptr<int64_t>(), src.data_ptr<int64_t>(),
                        origins.data_ptr<int64_t>(), perm_id.data_ptr<int64_t>(), (uint64_t)seed, height, width,
                        grid, cell, tile, permutations.size(0)};
  run_sampler(index, sampler, &cpu::sample_jigsaw, SSLFAST_CUDA_ENTRY(sample_jigsaw));
  return {src, origins, perm_id};
}


std::tuple<at::Tensor, at::Tensor, at::Tensor> sample_context(int64_t seed, const at::Tensor& index, int64_t height,
                                                              int64_t width, int64_t patch, int64_t gap,
                                                              int64_t jitter) {
  check_index(index);
  TORCH_CHECK_VALUE(patch >= 1 && gap >= 0 && jitter >= 0 && 3 * patch + 2 * (gap + jitter) <= std::min(height, width),
                    "patch: expected 3 * patch + 2 * (gap + jitter) <= image size, got patch ", patch, ", gap ", gap,
                    ", jitter ", jitter, ", image ", height, "x", width);
  const int64_t n = index.numel();
  at::Tensor src = at::empty({n, 2}, index.options());
  at::Tensor origins = at::empty({n, 2, 2}, index.options());
  at::Tensor label = at::empty({n}, index.options());
  ContextSampler sampler{index.data_ptr<int64_t>(), src.data_ptr<int64_t>(), origins.data_ptr<int64_t>(),
                         label.data_ptr<int64_t>(), (uint64_t)seed, height, width, patch, gap, jitter};
  run_sampler(index, sampler, &cpu::sample_context, SSLFAST_CUDA_ENTRY(sample_context));
  return {src, origins, label};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> sample_tuples(int64_t seed, const at::Tensor& index, int64_t frames,
                                                             int64_t height, int64_t width, at::IntArrayRef size,
                                                             double positive) {
  check_index(index);
  TORCH_CHECK_VALUE(frames >= 5, "frames: expected at least 5 frames per clip, got ", frames);
  TORCH_CHECK_VALUE(size.size() == 2 && size[0] >= 1 && size[1] >= 1 && size[0] <= height && size[1] <= width,
                    "size: expected 1 <= size <= frame size ", height, "x", width, ", got ", size);
  const int64_t n = index.numel();
  at::Tensor src = at::empty({n, 3}, index.options());
  at::Tensor origins = at::empty({n, 3, 2}, index.options());
  at::Tensor label = at::empty({n}, index.options());
  TupleSampler sampler{index.data_ptr<int64_t>(), src.data_ptr<int64_t>(), origins.data_ptr<int64_t>(),
                       label.data_ptr<int64_t>(), (uint64_t)seed, frames, height, width, size[0], size[1],
                       (float)positive};
  run_sampler(index, sampler, &cpu::sample_tuples, SSLFAST_CUDA_ENTRY(sample_tuples));
  return {src, origins, label};
}

std::tuple<at::Tensor, at::Tensor> sample_color_drop(int64_t seed, const at::Tensor& index, int64_t patches,
                                                     int64_t channels, double drop, double gray) {
  check_index(index);
  TORCH_CHECK_VALUE(patches >= 1 && channels >= 1, "patches: expected patches >= 1 and channels >= 1, got ",
                    patches, " and ", channels);
  const int64_t n = index.numel();
  at::Tensor keep = at::empty({n, patches}, index.options());
  at::Tensor is_gray = at::empty({n, patches}, index.options().dtype(at::kBool));
  ColorDropSampler sampler{index.data_ptr<int64_t>(), keep.data_ptr<int64_t>(),
                           reinterpret_cast<uint8_t*>(is_gray.data_ptr<bool>()), (uint64_t)seed, patches, channels,
                           (float)drop, (float)gray};
  run_sampler(index, sampler, &cpu::sample_color_drop, SSLFAST_CUDA_ENTRY(sample_color_drop));
  return {keep, is_gray};
}

// Host computation; the CPU tensors it returns are the same on every device.
std::tuple<at::Tensor, at::Tensor> permutation_set(int64_t n, int64_t tiles, c10::string_view method, int64_t seed) {
  const std::string_view rule_name(method.data(), method.size());
  TORCH_CHECK_VALUE(rule_name == "max_min" || rule_name == "max_avg",
                    "method: expected 'max_min' or 'max_avg', got '", rule_name, "'");
  TORCH_CHECK_VALUE(tiles >= 2 && tiles <= kMaxPermutationTiles, "tiles: expected 2 <= tiles <= ",
                    kMaxPermutationTiles, ", got ", tiles);
  int64_t candidates = 1;
  for (int64_t t = 2; t <= tiles; ++t) candidates *= t;
  TORCH_CHECK_VALUE(n >= 2 && n <= candidates, "n: expected 2 <= n <= tiles! = ", candidates, ", got ", n);
  const PermutationRule rule = rule_name == "max_min" ? PermutationRule::MaxMin : PermutationRule::MaxAvg;
  at::Tensor perms = at::empty({n, tiles}, at::dtype(at::kLong));
  const PermutationSetStats stats = cpu::permutation_set((int)tiles, n, rule, (uint64_t)seed, perms.data_ptr<int64_t>());
  at::Tensor distances = at::tensor({(double)stats.min_distance, stats.mean_distance}, at::dtype(at::kDouble));
  return {perms, distances};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("gather_patches(Tensor images, Tensor src, Tensor origins, int[2] size, str? normalize=None, "
        "Tensor? keep_channel=None, Tensor? gray=None, int noise_seed=0, float noise_std=0.01, float eps=1e-05, "
        "ScalarType? out_dtype=None, float[]? mean=None, float[]? std=None) -> Tensor");
  m.def("sample_jigsaw(int seed, Tensor index, int height, int width, int grid, int cell, int tile, "
        "Tensor permutations) -> (Tensor, Tensor, Tensor)");
  m.def("sample_context(int seed, Tensor index, int height, int width, int patch, int gap, int jitter) "
        "-> (Tensor, Tensor, Tensor)");
  m.def("sample_tuples(int seed, Tensor index, int frames, int height, int width, int[2] size, float positive) "
        "-> (Tensor, Tensor, Tensor)");
  m.def("sample_color_drop(int seed, Tensor index, int patches, int channels, float drop, float gray) "
        "-> (Tensor, Tensor)");
  m.def("permutation_set(int n, int tiles, str method, int seed) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("gather_patches", &gather_patches);
  m.impl("sample_jigsaw", &sample_jigsaw);
  m.impl("sample_context", &sample_context);
  m.impl("sample_tuples", &sample_tuples);
  m.impl("sample_color_drop", &sample_color_drop);
}

// No tensor argument to dispatch on: one kernel for every backend.
TORCH_LIBRARY_IMPL(sslfast, CompositeExplicitAutograd, m) { m.impl("permutation_set", &permutation_set); }

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("gather_patches", &gather_patches);
  m.impl("sample_jigsaw", &sample_jigsaw);
  m.impl("sample_context", &sample_context);
  m.impl("sample_tuples", &sample_tuples);
  m.impl("sample_color_drop", &sample_color_drop);
}
#endif

}  // namespace sslfast
