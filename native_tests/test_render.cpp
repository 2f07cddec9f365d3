// csrc/kernels/render.h without torch, under AddressSanitizer/UBSan: the
// intersections against closed forms, culling rectangles against brute force,
// whole renders of hand-made scenes through the three passes, the noise hash
// against counter_hash, invalid rows, and the scene sampler's ranges.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "kernels/common.h"
#include "kernels/render.h"

using namespace sslfast;
using namespace sslfast::render;

namespace {

std::vector<float> object_row(int kind, Vec3 position, Vec3 scale, const float q[4] = nullptr) {
  std::vector<float> row(kObjectFields, 0.f);
  row[kKind] = (float)kind;
  row[kPosition] = position.x;
  row[kPosition + 1] = position.y;
  row[kPosition + 2] = position.z;
  const float identity[4] = {1.f, 0.f, 0.f, 0.f};
  for (int i = 0; i < 4; ++i) row[kRotation + i] = q ? q[i] : identity[i];
  row[kScale] = scale.x;
  row[kScale + 1] = scale.y;
  row[kScale + 2] = scale.z;
  for (int i = 0; i < 3; ++i) row[kColor + i] = 0.6f;
  row[kTexture] = (float)kChecker;
  row[kFrequency] = 2.f;
  row[kSpecular] = 0.3f;
  return row;
}

// One scene rendered through the three passes, with exact-size buffers so
// AddressSanitizer sees any stray access.
struct Render {
  int64_t height, width;
  std::vector<float> objects, lights, camera;
  std::vector<ObjectFrame> frames;
  std::vector<LightFrame> light_frames;
  std::vector<float> rgb, depth, normals, edges;
  std::vector<int64_t> ids;
  RenderArgs args{};

  Render(const std::vector<std::vector<float>>& rows, int64_t h, int64_t w, int samples = 1)
      : height(h), width(w), camera{1.f, 0.2f, 0.1f, 0.2f, 0.3f} {
    for (const auto& r : rows) objects.insert(objects.end(), r.begin(), r.end());
    lights = {(float)kDirectional, 0.3f, -1.f, -0.5f, 0.8f, 0.8f, 0.8f,
              (float)kPoint, 1.f, -2.f, 1.f, 0.4f, 0.4f, 0.4f};
    const int64_t n = (int64_t)rows.size(), pixels = h * w;
    frames.resize((size_t)n);
    light_frames.resize(2);
    rgb.resize((size_t)(3 * pixels));
    depth.resize((size_t)pixels);
    normals.resize((size_t)(3 * pixels));
    edges.resize((size_t)pixels);
    ids.resize((size_t)pixels);
    args.objects = objects.data();
    args.lights = lights.data();
    args.camera = camera.data();
    args.frames = frames.data();
    args.light_frames = light_frames.data();
    args.rgb = rgb.data();
    args.rgb_dtype = DType::Float32;
    args.rgb_scale = 1.f;
    args.depth = depth.data();
    args.normals = normals.data();
    args.ids = ids.data();
    args.edges = edges.data();
    args.batch = 1;
    args.n_objects = n;
    args.n_lights = 2;
    args.height = h;
    args.width = w;
    args.samples = samples;
    args.crease_cos = std::cos(45.f * 3.14159265f / 180.f);
    prepare_scene(args, 0);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) render_pixel(args, 0, y, x);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) edge_pixel(args, 0, y, x);
  }

  int64_t at(int64_t y, int64_t x) const { return y * width + x; }
  Vec3 normal(int64_t y, int64_t x) const {
    const int64_t p = at(y, x), plane = height * width;
    return {normals[(size_t)p], normals[(size_t)(p + plane)], normals[(size_t)(p + 2 * plane)]};
  }
};

void test_sphere_straight_ahead() {
  const float radius = 0.75f, distance = 4.f;
  Render r({object_row(kSphere, {0.f, 0.f, distance}, {radius, radius, radius})}, 31, 31);
  CHECK_MSG(std::fabs(r.depth[(size_t)r.at(15, 15)] - (distance - radius)) < 1e-5f, "centre depth %f",
            r.depth[(size_t)r.at(15, 15)]);
  const PixelCamera cam = pixel_camera(r.camera.data(), 31, 31);
  for (int64_t y = 0; y < 31; ++y) {
    for (int64_t x = 0; x < 31; ++x) {
      const Vec3 d = ray_direction(cam, (float)x + 0.5f, (float)y + 0.5f);
      // Closed form in double: distance of the centre from the ray's line.
      const double len2 = (double)d.x * d.x + (double)d.y * d.y + 1.0;
      const double along = distance / std::sqrt(len2), miss2 = (double)distance * distance - along * along;
      const bool analytic = miss2 < (double)radius * radius;
      if (std::fabs(std::sqrt(miss2) - radius) < 1e-4) continue;  // grazing
      CHECK_EQ(r.ids[(size_t)r.at(y, x)], analytic ? 1 : 0);
      if (!analytic) {
        CHECK_EQ(r.depth[(size_t)r.at(y, x)], 0.f);
        CHECK_EQ(r.edges[(size_t)r.at(y, x)], 0.f);
        continue;
      }
      const Vec3 n = r.normal(y, x);
      CHECK_MSG(std::fabs(dot(n, n) - 1.f) < 1e-5f, "unit normal at %lld %lld", (long long)y, (long long)x);
      const double t = along - std::sqrt((double)radius * radius - miss2);  // along the unit ray
      const double z = t / std::sqrt(len2);
      CHECK_MSG(std::fabs(r.depth[(size_t)r.at(y, x)] - z) < 1e-5, "depth %f vs %f", r.depth[(size_t)r.at(y, x)], z);
      const double nz = (z - distance) / radius;
      CHECK_MSG(std::fabs(n.z - nz) < 1e-3, "normal z %f vs %f", n.z, nz);
    }
  }
  // Pixels in the image's corners see the background colour.
  CHECK_EQ(r.rgb[0], 0.1f);
}

void test_box_face_on_and_edges() {
  Render r({object_row(kBox, {0.f, 0.f, 5.f}, {1.f, 0.6f, 0.5f})}, 24, 32);
  float face_depth = -1.f;
  int on_face = 0;
  for (int64_t p = 0; p < 24 * 32; ++p) {
    if (r.ids[(size_t)p] != 1) continue;
    if (face_depth < 0) face_depth = r.depth[(size_t)p];
    CHECK_EQ(r.depth[(size_t)p], face_depth);
    ++on_face;
  }
  CHECK(on_face > 50);
  CHECK(std::fabs(face_depth - 4.5f) < 1e-6f);
  // Contours: exactly the face pixels with a background 4-neighbour.
  for (int64_t y = 0; y < 24; ++y) {
    for (int64_t x = 0; x < 32; ++x) {
      const bool inside = r.ids[(size_t)r.at(y, x)] == 1;
      const bool border = inside && ((x > 0 && r.ids[(size_t)r.at(y, x - 1)] == 0) ||
                                     (x < 31 && r.ids[(size_t)r.at(y, x + 1)] == 0) ||
                                     (y > 0 && r.ids[(size_t)r.at(y - 1, x)] == 0) ||
                                     (y < 23 && r.ids[(size_t)r.at(y + 1, x)] == 0));
      CHECK_EQ(r.edges[(size_t)r.at(y, x)], border ? 1.f : 0.f);
    }
  }
}

void test_intersections_along_axes() {
  float t;
  int part;
  // Unit shapes seen from z = -5 straight along +z: front surfaces at z = -1.
  const Vec3 o{0.f, 0.f, -5.f}, d{0.f, 0.f, 1.f};
  CHECK(hit_sphere(o, d, kUnbounded, &t) && t == 4.f);
  CHECK(hit_box(o, d, kUnbounded, &t, &part) && t == 4.f && part == 4);
  CHECK(hit_cylinder(o, d, kUnbounded, &t, &part) && t == 4.f && part == 0);
  CHECK(!hit_sphere(o, d, 3.f, &t));  // nearer than t_max only
  // Along the cylinder's axis: the top cap; the cone's apex side is the side.
  CHECK(hit_cylinder({0.f, 5.f, 0.f}, {0.f, -1.f, 0.f}, kUnbounded, &t, &part) && t == 4.f && part == 1);
  CHECK(hit_cone({0.3f, -5.f, 0.f}, {0.f, 1.f, 0.f}, kUnbounded, &t, &part) && t == 4.f && part == 1);
  CHECK(hit_cone({0.f, 5.f, 0.25f}, {0.f, -1.f, 0.f}, kUnbounded, &t, &part) && part == 0);
  CHECK(std::fabs(t - 4.5f) < 1e-6f);  // radius 0.25 at y = 0.5
  CHECK(hit_plane({0.f, 2.f, 0.f}, {0.f, -0.5f, 1.f}, kUnbounded, &t) && t == 4.f);
  CHECK(!hit_plane({0.f, 2.f, 0.f}, {0.f, 0.5f, 1.f}, kUnbounded, &t));
  CHECK(!hit_box({3.f, 0.f, -5.f}, d, kUnbounded, &t, &part));  // parallel to and outside the x slab
  float t0, t1;
  CHECK(!solve_quadratic(1.f, 0.f, 1.f, -1.f, &t0, &t1));
  CHECK(solve_quadratic(0.f, 1.f, -4.f, 1.f, &t0, &t1) && t0 == 2.f && t1 == 2.f);  // linear
}

// Culling by pixel rectangles never drops a hit: frames without bounds give
// the same nearest hit for every pixel of random scenes.
void test_culling_is_conservative() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int scene = 0; scene < 40; ++scene) {
    std::vector<std::vector<float>> rows;
    for (int i = 0; i < 5; ++i) {
      const float q[4] = {u(rng), u(rng), u(rng), u(rng)};
      const float z = 2.f + 3.f * (u(rng) + 1.f);
      rows.push_back(object_row(1 + (int)(rng() % 4), {u(rng) * 0.5f * z, u(rng) * 0.5f * z, z},
                                {0.3f + 0.6f * (u(rng) + 1.f), 0.3f + 0.3f * (u(rng) + 1.f), 0.5f}, q));
    }
    rows.push_back(object_row(kSphere, {0.f, 0.f, 1.2f}, {1.f, 1.f, 1.f}));  // reaches the camera plane
    Render r(rows, 20, 28);
    std::vector<ObjectFrame> unbounded = r.frames;
    for (ObjectFrame& f : unbounded) {
      f.x_lo = f.y_lo = -kUnbounded;
      f.x_hi = f.y_hi = kUnbounded;
    }
    const PixelCamera cam = pixel_camera(r.camera.data(), 20, 28);
    for (int64_t y = 0; y < 20; ++y) {
      for (int64_t x = 0; x < 28; ++x) {
        const float sx = (float)x + 0.5f, sy = (float)y + 0.5f;
        const Vec3 d = ray_direction(cam, sx, sy);
        const Hit culled = cast_ray(r.frames.data(), 6, d, sx, sy), full = cast_ray(unbounded.data(), 6, d, sx, sy);
        CHECK_EQ(culled.slot, full.slot);
        CHECK_EQ(culled.t, full.t);
      }
    }
  }
}

void test_invalid_rows_are_empty() {
  const float zero_q[4] = {0.f, 0.f, 0.f, 0.f};
  const float nan = std::nanf("");
  std::vector<float> bad_kind = object_row(kSphere, {0.f, 0.f, 3.f}, {1.f, 1.f, 1.f});
  bad_kind[kKind] = 2.5f;
  std::vector<float> nan_scale = object_row(kBox, {0.f, 0.f, 3.f}, {nan, 1.f, 1.f});
  Render r({bad_kind, object_row(kBox, {0.f, 0.f, 3.f}, {1.f, 1.f, 1.f}, zero_q), nan_scale,
            object_row(kCone, {0.f, 0.f, 3.f}, {-1.f, 1.f, 1.f}), object_row(kSphere, {0.f, 0.f, -9.f}, {1.f, 1.f, 1.f})},
           8, 8);
  for (const ObjectFrame& f : r.frames) CHECK_EQ(f.kind, (int)kEmpty);
  for (int64_t p = 0; p < 64; ++p) CHECK_EQ(r.ids[(size_t)p], 0);
  CHECK_EQ(whole_in(nan, 0, 5, -1), -1);
  CHECK_EQ(whole_in(3.f, 0, 5, -1), 3);
  CHECK_EQ(whole_in(5.5f, 0, 9, -1), -1);
}

void test_noise_is_the_documented_hash() {
  const uint64_t seed = 12345, mixed = splitmix64(seed);
  for (int64_t ix = -3; ix < 3; ++ix) {
    const uint64_t key = ((uint64_t)ix & ((1ull << 21) - 1)) | (5ull << 21) | (7ull << 42);
    CHECK_EQ(lattice_value(mixed, ix, 5, 7), hash_unit_float(counter_hash(seed, key, kNoiseField)));
  }
  // At lattice points the noise is the lattice value; in between it stays in range.
  CHECK_EQ(value_noise(mixed, {2.f, -1.f, 4.f}), lattice_value(mixed, 2, -1, 4));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(-50.f, 50.f);
  for (int i = 0; i < 2000; ++i) {
    const float v = value_noise(mixed, {u(rng), u(rng), u(rng)});
    CHECK(v >= 0.f && v < 1.f);
  }
}

void test_sampler_ranges() {
  const int64_t batch = 200;
  std::vector<int64_t> index((size_t)batch);
  for (int64_t i = 0; i < batch; ++i) index[(size_t)i] = 1000 + 3 * i;
  SceneSamplerArgs a{};
  a.seed = 99;
  a.index = index.data();
  a.batch = batch;
  a.min_objects = 1;
  a.max_objects = 3;
  a.slots = 4;
  a.kinds[0] = kBox;
  a.kinds[1] = kCone;
  a.n_kinds = 2;
  a.plane_probability = 0.5f;
  a.central = true;
  std::vector<float> objects((size_t)(batch * a.slots * kObjectFields)), lights((size_t)(batch * 3 * kLightFields)),
      camera((size_t)(batch * kCameraFields));
  a.objects = objects.data();
  a.lights = lights.data();
  a.camera = camera.data();
  for (int64_t b = 0; b < batch; ++b) sample_scene(a, b);
  int planes = 0;
  for (int64_t b = 0; b < batch; ++b) {
    int count = 0;
    for (int j = 0; j < a.max_objects; ++j) {
      const float* row = objects.data() + (b * a.slots + j) * kObjectFields;
      if (row[kKind] == 0.f) continue;
      ++count;
      CHECK(row[kKind] == (float)kBox || row[kKind] == (float)kCone);
      const float q2 = row[4] * row[4] + row[5] * row[5] + row[6] * row[6] + row[7] * row[7];
      CHECK_MSG(std::fabs(q2 - 1.f) < 1e-5f, "quaternion norm^2 %f", q2);
      CHECK(row[kScale] > 0.f && row[kScale + 1] > 0.f && row[kScale + 2] > 0.f);
      CHECK(row[kPosition + 2] > 0.f);
      CHECK(row[kTexture] >= 0.f && row[kTexture] <= 3.f && row[kTextureSeed] < 16777216.f);
    }
    CHECK(count >= 1 && count <= 3);
    const float plane_kind = objects[(size_t)((b * a.slots + 3) * kObjectFields)];
    CHECK(plane_kind == 0.f || plane_kind == (float)kPlane);
    planes += plane_kind == (float)kPlane;
    CHECK(camera[(size_t)(b * kCameraFields + kFocal)] >= 0.9f);
  }
  CHECK(planes > 60 && planes < 140);
  // Drawing a scene again, alone, gives the same floats.
  std::vector<float> again(objects.size());
  a.objects = again.data();
  sample_scene(a, 17);
  for (int i = 0; i < a.slots * kObjectFields; ++i)
    CHECK_EQ(again[(size_t)(17 * a.slots * kObjectFields + i)], objects[(size_t)(17 * a.slots * kObjectFields + i)]);
}

void test_dtype_access() {
  uint8_t bytes[2] = {0, 0};
  store_from_float(bytes, DType::UInt8, 1, 127.6f);
  CHECK_EQ(bytes[1], 128);
  CHECK_EQ(load_as_float(bytes, DType::UInt8, 1), 128.f);
  Half h[1];
  store_from_float(h, DType::Float16, 0, 0.5f);
  CHECK_EQ(load_as_float(h, DType::Float16, 0), 0.5f);
}

}  // namespace

int main() {
  test_sphere_straight_ahead();
  test_box_face_on_and_edges();
  test_intersections_along_axes();
  test_culling_is_conservative();
  test_invalid_rows_are_empty();
  test_noise_is_the_documented_hash();
  test_sampler_ranges();
  test_dtype_access();
  return sslfast_test::finish("test_render");
}
