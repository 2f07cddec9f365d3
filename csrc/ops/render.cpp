// Schemas and dispatch of the render family.
#include <cmath>
#include <numbers>
#include <tuple>

#include "tensor_utils.h"
#include "../kernels/render.h"

namespace sslfast {
namespace {

constexpr int64_t kMaxImageSide = 1 << 15;
constexpr int64_t kMaxSampledObjects = 64;

void check_scene_tensor(const at::Tensor& t, const char* name, int64_t dims, int64_t fields, const at::Tensor& like) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, name, ": expected float32, got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.dim() == dims && t.size(dims - 1) == fields && t.is_contiguous(), name,
                    ": expected a contiguous tensor of ", dims, " dimensions with ", fields,
                    " fields last, got ", t.sizes());
  TORCH_CHECK_VALUE(t.size(0) == like.size(0), name, ": expected ", like.size(0), " scenes, got ", t.size(0));
  TORCH_CHECK_VALUE(t.device() == like.device(), name, ": expected device ", like.device(), ", got ", t.device());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> render_scenes(
    const at::Tensor& objects, const at::Tensor& lights, const at::Tensor& camera, int64_t height, int64_t width,
    int64_t samples, std::optional<at::ScalarType> rgb_dtype, const std::optional<at::Tensor>& background,
    double crease_angle) {
  check_scene_tensor(objects, "objects", 3, render::kObjectFields, objects);
  check_scene_tensor(lights, "lights", 3, render::kLightFields, objects);
  check_scene_tensor(camera, "camera", 2, render::kCameraFields, objects);
  TORCH_CHECK_VALUE(height >= 1 && height <= kMaxImageSide && width >= 1 && width <= kMaxImageSide,
                    "height and width: expected 1..", kMaxImageSide, ", got ", height, " x ", width);
  TORCH_CHECK_VALUE(samples >= 1 && samples <= render::kMaxSamples, "samples: expected 1..", render::kMaxSamples,
                    ", got ", samples);
  const int64_t batch = objects.size(0);
  const at::ScalarType rgb_type = rgb_dtype.value_or(at::kFloat);
  render::RenderArgs args{};
  args.rgb_dtype = dtype_code(rgb_type, "rgb_dtype");
  if (background) {
    TORCH_CHECK_VALUE(background->dim() == 4 && background->size(0) == batch && background->size(1) == 3 &&
                          background->size(2) == height && background->size(3) == width &&
                          background->is_contiguous(),
                      "background: expected a contiguous [", batch, ", 3, ", height, ", ", width, "] tensor, got ",
                      background->sizes());
    TORCH_CHECK_VALUE(background->device() == objects.device(), "background: expected device ", objects.device());
    args.background_dtype = dtype_code(background->scalar_type(), "background");
    args.background_scale = background->scalar_type() == at::kByte ? 1.f / 255.f : 1.f;
    args.background = background->data_ptr();
  }
  const auto options = objects.options();
  at::Tensor rgb = at::empty({batch, 3, height, width}, options.dtype(rgb_type));
  at::Tensor depth = at::empty({batch, 1, height, width}, options);
  at::Tensor normals = at::empty({batch, 3, height, width}, options);
  at::Tensor edges = at::empty({batch, 1, height, width}, options);
  at::Tensor ids = at::empty({batch, 1, height, width}, options.dtype(at::kLong));
  if (batch == 0) return {rgb, depth, normals, edges, ids};
  // Scratch for pass 1: the object frames, then the light frames.
  const int64_t object_bytes = batch * objects.size(1) * (int64_t)sizeof(render::ObjectFrame);
  at::Tensor frames =
      at::empty({object_bytes + batch * lights.size(1) * (int64_t)sizeof(render::LightFrame)}, options.dtype(at::kByte));
  args.objects = objects.data_ptr<float>();
  args.lights = lights.data_ptr<float>();
  args.camera = camera.data_ptr<float>();
  args.frames = static_cast<render::ObjectFrame*>(frames.data_ptr());
  args.light_frames = reinterpret_cast<render::LightFrame*>(static_cast<uint8_t*>(frames.data_ptr()) + object_bytes);
  args.rgb = rgb.data_ptr();
  args.rgb_scale = rgb_type == at::kByte ? 255.f : 1.f;
  args.depth = depth.data_ptr<float>();
  args.normals = normals.data_ptr<float>();
  args.ids = ids.data_ptr<int64_t>();
  args.edges = edges.data_ptr<float>();
  args.batch = batch;
  args.n_objects = objects.size(1);
  args.n_lights = lights.size(1);
  args.height = height;
  args.width = width;
  args.samples = (int)samples;
  args.crease_cos = (float)std::cos(crease_angle * std::numbers::pi / 180.0);
  run_on_device(objects, [&] { cpu::render_scenes(args); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::render_scenes(args);
#endif
                });
  return {rgb, depth, normals, edges, ids};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> sample_scenes(int64_t seed, const at::Tensor& index,
                                                             int64_t min_objects, int64_t max_objects,
                                                             at::IntArrayRef kinds, double plane_probability,
                                                             bool central) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "index: expected int64, got ", index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1 && index.is_contiguous(), "index: expected a contiguous 1-D tensor");
  TORCH_CHECK_VALUE(0 <= min_objects && min_objects <= max_objects && max_objects <= kMaxSampledObjects,
                    "n_objects: expected 0 <= min <= max <= ", kMaxSampledObjects, ", got ", min_objects, ", ",
                    max_objects);
  TORCH_CHECK_VALUE(!kinds.empty() && (int64_t)kinds.size() <= render::kMaxSampledKinds,
                    "classes: expected 1..", render::kMaxSampledKinds, " primitive kinds, got ", kinds.size());
  TORCH_CHECK_VALUE(plane_probability >= 0.0 && plane_probability <= 1.0,
                    "ground_plane: expected a probability in [0, 1], got ", plane_probability);
  render::SceneSamplerArgs args{};
  for (size_t i = 0; i < kinds.size(); ++i) {
    TORCH_CHECK_VALUE(kinds[i] >= render::kSphere && kinds[i] <= render::kCone,
                      "classes: expected primitive kinds 1..4 (sphere, box, cylinder, cone), got ", kinds[i]);
    args.kinds[i] = (int)kinds[i];
  }
  const int64_t batch = index.size(0);
  const int slots = (int)max_objects + (plane_probability > 0.0 ? 1 : 0);
  const auto options = index.options().dtype(at::kFloat);
  at::Tensor objects = at::empty({batch, slots, render::kObjectFields}, options);
  at::Tensor lights = at::empty({batch, render::kSampledLights, render::kLightFields}, options);
  at::Tensor camera = at::empty({batch, render::kCameraFields}, options);
  if (batch == 0) return {objects, lights, camera};
  args.seed = (uint64_t)seed;
  args.index = index.data_ptr<int64_t>();
  args.objects = objects.data_ptr<float>();
  args.lights = lights.data_ptr<float>();
  args.camera = camera.data_ptr<float>();
  args.batch = batch;
  args.slots = slots;
  args.min_objects = (int)min_objects;
  args.max_objects = (int)max_objects;
  args.n_kinds = (int)kinds.size();
  args.plane_probability = (float)plane_probability;
  args.central = central;
  run_on_device(index, [&] { cpu::sample_scenes(args); },
                [&] {
#ifdef SSLFAST_WITH_CUDA
                  cuda::sample_scenes(args);
#endif
                });
  return {objects, lights, camera};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(sslfast, m) {
  m.def("render_scenes(Tensor objects, Tensor lights, Tensor camera, int height, int width, int samples=1, "
        "ScalarType? rgb_dtype=None, Tensor? background=None, float crease_angle=45.) "
        "-> (Tensor rgb, Tensor depth, Tensor normals, Tensor edges, Tensor ids)");
  m.def("sample_scenes(int seed, Tensor index, int min_objects, int max_objects, int[] kinds, "
        "float plane_probability, bool central) -> (Tensor objects, Tensor lights, Tensor camera)");
}

TORCH_LIBRARY_IMPL(sslfast, CPU, m) {
  m.impl("render_scenes", &render_scenes);
  m.impl("sample_scenes", &sample_scenes);
}

#ifdef SSLFAST_WITH_CUDA
TORCH_LIBRARY_IMPL(sslfast, CUDA, m) {
  m.impl("render_scenes", &render_scenes);
  m.impl("sample_scenes", &sample_scenes);
}
#endif

}  // namespace sslfast
