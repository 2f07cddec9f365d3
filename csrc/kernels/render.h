// Ray casting of analytic primitives (the `render` family): synthetic images
// with free labels (depth, normals, contours, instance ids) for the
// synthetic-imagery pretext task, and the random scenes of the `shapes` data
// set. Shared by the CPU and CUDA backends.
//
// A scene lives in three float32 tensors whose layout is below (and in
// sslfast/ops/render.py): objects [B, N, kObjectFields], lights
// [B, L, kLightFields], camera [B, kCameraFields]. Everything is in camera
// coordinates (OpenCV convention: x right, y down, z forward, the camera at
// the origin); depth is the z coordinate of the hit point.
//
// Each primitive is a unit shape (inside the cube [-1, 1]^3) scaled per axis,
// rotated, then moved. A render call runs three passes:
//   1. prepare_scene: per scene, each object's camera -> unit-shape map and a
//      conservative pixel rectangle that holds its image (culls most ray
//      tests), and each light's unit direction;
//   2. render_pixel: per pixel, the nearest hit of the centre ray gives depth,
//      normal and id; colour is the centre ray's, or the mean of s x s
//      sub-pixel rays when supersampling;
//   3. edge_pixel: per pixel, contours from the id and normal maps.
#pragma once

#include <cmath>

#include "common.h"

namespace sslfast {
namespace render {

// ---------------------------------------------------------------------------
// Scene tensor layout.
// ---------------------------------------------------------------------------
// objects[b, i, :]
constexpr int kKind = 0;           // Primitive; 0 = empty slot
constexpr int kPosition = 1;       // 3: centre, camera coordinates
constexpr int kRotation = 4;       // 4: quaternion (w, x, y, z), local -> camera; normalised here
constexpr int kScale = 8;          // 3: half-extents along the local axes (> 0)
constexpr int kColor = 11;         // 3: albedo in [0, 1]
constexpr int kTextureColor = 14;  // 3: second albedo, mixed in by the texture
constexpr int kTexture = 17;       // Texture
constexpr int kFrequency = 18;     // texture cycles per unit of local (unit-shape) coordinate
constexpr int kTextureSeed = 19;   // integer in [0, 2^24): value-noise lattice seed
constexpr int kSpecular = 20;      // Phong highlight weight
constexpr int kObjectFields = 21;
// lights[b, l, :]
constexpr int kLightKind = 0;    // LightKind
constexpr int kLightVector = 1;  // 3: directional: direction towards the light; point: position
constexpr int kLightColor = 4;   // 3: intensity per channel
constexpr int kLightFields = 7;
// camera[b, :]
constexpr int kFocal = 0;       // focal length in units of the image width (pinhole, centred)
constexpr int kAmbient = 1;     // ambient light intensity
constexpr int kBackground = 2;  // 3: colour of rays that hit nothing
constexpr int kCameraFields = 5;

enum Primitive : int { kEmpty = 0, kSphere = 1, kBox = 2, kCylinder = 3, kCone = 4, kPlane = 5 };
enum Texture : int { kFlat = 0, kChecker = 1, kStripes = 2, kNoise = 3 };
enum LightKind : int { kLightOff = 0, kDirectional = 1, kPoint = 2 };

constexpr float kNear = 1e-4f;        // hits closer than this depth are ignored
constexpr float kUnbounded = 1e30f;   // "no bound" in pixel rectangles and ray intervals
constexpr float kTextureInset = 1e-2f;  // textures are sampled this far inside the surface
constexpr int kShininess = 32;        // Phong exponent (a power of two: squarings)
constexpr int kMaxSamples = 4;        // supersampling factor per axis
constexpr uint64_t kNoiseField = 0x4e6f6973ull;        // "Nois"
constexpr uint64_t kSceneField = 0x53636e65ull << 16;  // "Scne", room for per-slot streams

// ---------------------------------------------------------------------------
// Small vector algebra.
// ---------------------------------------------------------------------------
struct Vec3 {
  float x, y, z;
};

SSLFAST_HD Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
SSLFAST_HD Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
SSLFAST_HD Vec3 operator*(float s, Vec3 a) { return {s * a.x, s * a.y, s * a.z}; }
SSLFAST_HD Vec3 operator*(Vec3 a, Vec3 b) { return {a.x * b.x, a.y * b.y, a.z * b.z}; }
SSLFAST_HD float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
SSLFAST_HD Vec3 load_vec3(const float* p) { return {p[0], p[1], p[2]}; }
SSLFAST_HD Vec3 normalized(Vec3 a) {
  const float n = sqrtf(dot(a, a));
  return n > 0.f ? (1.f / n) * a : a;
}
// Finite (neither inf nor NaN) without <cmath> classification, which differs
// between host and device compilers.
SSLFAST_HD bool is_finite(float v) { return v - v == 0.f; }
SSLFAST_HD float clamp01(float v) { return v > 0.f ? (v < 1.f ? v : 1.f) : 0.f; }
// v as an int when it is a whole number in [lo, hi], else `otherwise` (NaN included).
SSLFAST_HD int whole_in(float v, int lo, int hi, int otherwise) {
  return (v >= (float)lo && v <= (float)hi && v == floorf(v)) ? (int)v : otherwise;
}

// Row-major 3x3 matrix.
struct Mat3 {
  float m[9];
};

SSLFAST_HD Vec3 mul(const float* m, Vec3 v) {
  return {m[0] * v.x + m[1] * v.y + m[2] * v.z, m[3] * v.x + m[4] * v.y + m[5] * v.z,
          m[6] * v.x + m[7] * v.y + m[8] * v.z};
}
SSLFAST_HD Vec3 mul_transposed(const float* m, Vec3 v) {
  return {m[0] * v.x + m[3] * v.y + m[6] * v.z, m[1] * v.x + m[4] * v.y + m[7] * v.z,
          m[2] * v.x + m[5] * v.y + m[8] * v.z};
}

// Rotation matrix of the unit quaternion (w, x, y, z).
SSLFAST_HD Mat3 quaternion_matrix(float w, float x, float y, float z) {
  return {{1.f - 2.f * (y * y + z * z), 2.f * (x * y - w * z), 2.f * (x * z + w * y),
           2.f * (x * y + w * z), 1.f - 2.f * (x * x + z * z), 2.f * (y * z - w * x),
           2.f * (x * z - w * y), 2.f * (y * z + w * x), 1.f - 2.f * (x * x + y * y)}};
}

// ---------------------------------------------------------------------------
// Pass 1: per-scene frames of the objects and lights.
// ---------------------------------------------------------------------------
struct ObjectFrame {
  int kind;            // Primitive; kEmpty for empty or invalid rows (never hit)
  float to_local[9];   // camera -> unit-shape coordinates: S^-1 R^T (row-major)
  float origin[3];     // the camera centre in unit-shape coordinates
  float x_lo, x_hi, y_lo, y_hi;  // pixel-coordinate rectangle holding the object's image
};

struct LightFrame {
  int kind;      // LightKind; kLightOff for invalid rows
  Vec3 vector;   // directional: unit direction towards the light; point: position
  Vec3 color;
};

SSLFAST_HD LightFrame prepare_light(const float* row) {
  LightFrame f{whole_in(row[kLightKind], kDirectional, kPoint, kLightOff), load_vec3(row + kLightVector),
               load_vec3(row + kLightColor)};
  if (f.kind == kDirectional) f.vector = normalized(f.vector);
  return f;
}

// The pinhole camera in pixel units: a ray through pixel coordinate (sx, sy)
// (pixel x covers [x, x + 1)) has direction ((sx - cx) / focal, (sy - cy) / focal, 1).
struct PixelCamera {
  float focal, cx, cy;
};

SSLFAST_HD PixelCamera pixel_camera(const float* camera, int64_t height, int64_t width) {
  return {camera[kFocal] * (float)width, 0.5f * (float)width, 0.5f * (float)height};
}

// Unit ray directions have z = 1, so the hit parameter t is the hit's depth.
SSLFAST_HD Vec3 ray_direction(const PixelCamera& cam, float sx, float sy) {
  return {(sx - cam.cx) / cam.focal, (sy - cam.cy) / cam.focal, 1.f};
}

// Tangents of the two lines through the origin that touch the circle of
// `radius` around (u, z) in one coordinate plane: the range of u/z over the
// circle. Needs z >= 1.05 radius, so both tangent points lie well in front.
SSLFAST_HD void tangent_range(float u, float z, float radius, float* lo, float* hi) {
  const float length = sqrtf(u * u + z * z);
  const float sin_b = radius / length, cos_b = sqrtf(1.f - sin_b * sin_b);
  const float sin_a = u / length, cos_a = z / length;
  *lo = (sin_a * cos_b - cos_a * sin_b) / (cos_a * cos_b + sin_a * sin_b);
  *hi = (sin_a * cos_b + cos_a * sin_b) / (cos_a * cos_b - sin_a * sin_b);
}


// Rows the Python layer rejects (bad kind, zero quaternion, non-positive or
// non-finite scale or position) become empty frames here, so direct calls
// stay memory-safe and never divide by zero.
SSLFAST_HD ObjectFrame prepare_object(const float* row, const PixelCamera& cam) {
  ObjectFrame f{};
  f.kind = whole_in(row[kKind], kSphere, kPlane, kEmpty);
  const Vec3 p = load_vec3(row + kPosition), s = load_vec3(row + kScale);
  const float qw = row[kRotation], qx = row[kRotation + 1], qy = row[kRotation + 2], qz = row[kRotation + 3];
  const float q2 = qw * qw + qx * qx + qy * qy + qz * qz;
  const bool usable = q2 > 0.f && is_finite(q2) && s.x > 0.f && s.y > 0.f && s.z > 0.f &&
                      is_finite(dot(s, s)) && is_finite(dot(p, p)) && cam.focal > 0.f && is_finite(cam.focal);
  if (f.kind == kEmpty || !usable) {
    f.kind = kEmpty;
    return f;
  }
  const float qn = 1.f / sqrtf(q2);
  const Mat3 r = quaternion_matrix(qw * qn, qx * qn, qy * qn, qz * qn);
  const float inv_scale[3] = {1.f / s.x, 1.f / s.y, 1.f / s.z};
  for (int row_i = 0; row_i < 3; ++row_i)
    for (int col = 0; col < 3; ++col) f.to_local[row_i * 3 + col] = r.m[col * 3 + row_i] * inv_scale[row_i];
  const Vec3 o = mul(f.to_local, (-1.f) * p);
  f.origin[0] = o.x;
  f.origin[1] = o.y;
  f.origin[2] = o.z;

  f.x_lo = f.y_lo = -kUnbounded;
  f.x_hi = f.y_hi = kUnbounded;
  if (f.kind == kPlane) return f;
  // Every unit shape lies in [-1, 1]^3, so a sphere of radius |s| bounds it
  // (max s for a sphere). Project that sphere; keep 1 pixel of slack.
  const float radius = f.kind == kSphere ? fmaxf(s.x, fmaxf(s.y, s.z)) : sqrtf(dot(s, s));
  if (p.z + radius <= kNear) {  // wholly behind the near plane
    f.kind = kEmpty;
    return f;
  }
  if (p.z < 1.05f * radius) return f;  // reaches the camera plane: no useful bound
  float lo, hi;
  tangent_range(p.x, p.z, radius, &lo, &hi);
  f.x_lo = lo * cam.focal + cam.cx - 1.f;
  f.x_hi = hi * cam.focal + cam.cx + 1.f;
  tangent_range(p.y, p.z, radius, &lo, &hi);
  f.y_lo = lo * cam.focal + cam.cy - 1.f;
  f.y_hi = hi * cam.focal + cam.cy + 1.f;
  return f;
}

// ---------------------------------------------------------------------------
// Ray / unit-shape intersections. A ray is o + t d in unit-shape coordinates
// (t is the camera depth, shared by both spaces). Each returns whether it hit
// at some t in (kNear, t_max), the nearest such t, and which part was hit.
// ---------------------------------------------------------------------------
SSLFAST_HD bool in_range(float t, float t_max) { return t > kNear && t < t_max; }

// Roots t0 <= t1 of a t^2 + 2 b t + c = 0 given disc = b^2 - a c, without
// cancellation (q / a and c / q). Returns false when there is no real root.
SSLFAST_HD bool solve_quadratic(float a, float b, float c, float disc, float* t0, float* t1) {
  if (a == 0.f) {  // linear
    if (b == 0.f) return false;
    *t0 = *t1 = -c / (2.f * b);
    return true;
  }
  if (disc < 0.f) return false;
  const float q = -(b + copysignf(sqrtf(disc), b));
  if (q == 0.f) {
    *t0 = *t1 = 0.f;
    return true;
  }
  const float r0 = q / a, r1 = c / q;
  *t0 = fminf(r0, r1);
  *t1 = fmaxf(r0, r1);
  return true;
}

// Unit sphere. The discriminant is a (1 - |o_perp|^2), o_perp the component
// of o across the ray: accurate even when the sphere is small and far away.
SSLFAST_HD bool hit_sphere(Vec3 o, Vec3 d, float t_max, float* t) {
  const float a = dot(d, d), b = dot(o, d), c = dot(o, o) - 1.f;
  const Vec3 perp = o - (b / a) * d;
  float t0, t1;
  if (!solve_quadratic(a, b, c, a * (1.f - dot(perp, perp)), &t0, &t1)) return false;
  *t = in_range(t0, t_max) ? t0 : t1;
  return in_range(*t, t_max);
}

// Box [-1, 1]^3 by slabs. part = 2 * axis + (face is the + side).
SSLFAST_HD bool hit_box(Vec3 o, Vec3 d, float t_max, float* t, int* part) {
  const float os[3] = {o.x, o.y, o.z}, ds[3] = {d.x, d.y, d.z};
  float t_near = -kUnbounded, t_far = kUnbounded;
  int near_part = 0, far_part = 0;
  for (int axis = 0; axis < 3; ++axis) {
    if (ds[axis] == 0.f) {
      if (fabsf(os[axis]) > 1.f) return false;
      continue;
    }
    const float inv = 1.f / ds[axis];
    const float t_minus = (-1.f - os[axis]) * inv, t_plus = (1.f - os[axis]) * inv;
    const bool plus_first = t_plus < t_minus;
    const float enter = plus_first ? t_plus : t_minus, leave = plus_first ? t_minus : t_plus;
    if (enter > t_near) {
      t_near = enter;
      near_part = 2 * axis + (plus_first ? 1 : 0);
    }
    if (leave < t_far) {
      t_far = leave;
      far_part = 2 * axis + (plus_first ? 0 : 1);
    }
  }
  if (t_near > t_far) return false;
  const bool entering = in_range(t_near, t_max);  // else the camera is inside
  *t = entering ? t_near : t_far;
  *part = entering ? near_part : far_part;
  return in_range(*t, t_max);
}

// Keeps (t, part) when t is a nearer valid hit than the best so far.
SSLFAST_HD void keep_nearer(float candidate, int candidate_part, float t_max, float* best, int* part) {
  if (in_range(candidate, t_max) && candidate < *best) {
    *best = candidate;
    *part = candidate_part;
  }
}

// A cap y = level (|level| = 1) of radius 1 around the y axis.
SSLFAST_HD float cap_hit(Vec3 o, Vec3 d, float level) {
  if (d.y == 0.f) return -1.f;
  const float t = (level - o.y) / d.y;
  const float x = o.x + t * d.x, z = o.z + t * d.z;
  return x * x + z * z <= 1.f ? t : -1.f;
}

// Cylinder x^2 + z^2 <= 1, |y| <= 1. part: 0 side, 1 top (y = +1), 2 bottom.
SSLFAST_HD bool hit_cylinder(Vec3 o, Vec3 d, float t_max, float* t, int* part) {
  float best = kUnbounded;
  const float a = d.x * d.x + d.z * d.z, b = o.x * d.x + o.z * d.z, c = o.x * o.x + o.z * o.z - 1.f;
  float t0, t1;
  if (a > 0.f) {
    const float px = o.x - (b / a) * d.x, pz = o.z - (b / a) * d.z;  // robust discriminant, as the sphere
    if (solve_quadratic(a, b, c, a * (1.f - px * px - pz * pz), &t0, &t1)) {
      if (fabsf(o.y + t0 * d.y) <= 1.f) keep_nearer(t0, 0, t_max, &best, part);
      if (fabsf(o.y + t1 * d.y) <= 1.f) keep_nearer(t1, 0, t_max, &best, part);
    }
  }
  keep_nearer(cap_hit(o, d, 1.f), 1, t_max, &best, part);
  keep_nearer(cap_hit(o, d, -1.f), 2, t_max, &best, part);
  *t = best;
  return best < kUnbounded;
}

// Cone with its apex at y = +1 and a base of radius 1 at y = -1:
// x^2 + z^2 = ((1 - y) / 2)^2. part: 0 side, 1 base.
SSLFAST_HD bool hit_cone(Vec3 o, Vec3 d, float t_max, float* t, int* part) {
  float best = kUnbounded;
  const float k = 1.f - o.y;
  const float a = d.x * d.x + d.z * d.z - 0.25f * d.y * d.y;
  const float b = o.x * d.x + o.z * d.z + 0.25f * k * d.y;
  const float c = o.x * o.x + o.z * o.z - 0.25f * k * k;
  float t0, t1;
  if (solve_quadratic(a, b, c, b * b - a * c, &t0, &t1)) {
    if (fabsf(o.y + t0 * d.y) <= 1.f) keep_nearer(t0, 0, t_max, &best, part);
    if (fabsf(o.y + t1 * d.y) <= 1.f) keep_nearer(t1, 0, t_max, &best, part);
  }
  keep_nearer(cap_hit(o, d, -1.f), 1, t_max, &best, part);
  *t = best;
  return best < kUnbounded;
}

// Plane y = 0 (two-sided).
SSLFAST_HD bool hit_plane(Vec3 o, Vec3 d, float t_max, float* t) {
  if (d.y == 0.f) return false;
  *t = -o.y / d.y;
  return in_range(*t, t_max);
}

SSLFAST_HD bool hit_object(int kind, Vec3 o, Vec3 d, float t_max, float* t, int* part) {
  *part = 0;
  switch (kind) {
    case kSphere: return hit_sphere(o, d, t_max, t);
    case kBox: return hit_box(o, d, t_max, t, part);
    case kCylinder: return hit_cylinder(o, d, t_max, t, part);
    case kCone: return hit_cone(o, d, t_max, t, part);
    case kPlane: return hit_plane(o, d, t_max, t);
    default: return false;
  }
}

// Outward normal (not unit length) of the unit shape at point p of `part`.
SSLFAST_HD Vec3 local_normal(int kind, int part, Vec3 p) {
  switch (kind) {
    case kSphere: return p;
    case kBox: {
      const float sign = (part & 1) ? 1.f : -1.f;
      const int axis = part >> 1;
      return {axis == 0 ? sign : 0.f, axis == 1 ? sign : 0.f, axis == 2 ? sign : 0.f};
    }
    case kCylinder:
      if (part == 0) return {p.x, 0.f, p.z};
      return {0.f, part == 1 ? 1.f : -1.f, 0.f};
    case kCone:
      if (part == 1) return {0.f, -1.f, 0.f};
      // Gradient of x^2 + z^2 - (1 - y)^2 / 4, halved; vanishes at the apex.
      if (p.x * p.x + p.z * p.z < 1e-12f) return {0.f, 1.f, 0.f};
      return {p.x, 0.25f * (1.f - p.y), p.z};
    default: return {0.f, 1.f, 0.f};  // plane
  }
}

// ---------------------------------------------------------------------------
// Pass 2: per-pixel rendering.
// ---------------------------------------------------------------------------
struct RenderArgs {
  const float* objects;     // [batch, n_objects, kObjectFields]
  const float* lights;      // [batch, n_lights, kLightFields]
  const float* camera;      // [batch, kCameraFields]
  const void* background;   // [batch, 3, height, width] image behind the scene, or null
  DType background_dtype;
  float background_scale;   // to [0, 1]: 1/255 for uint8
  ObjectFrame* frames;      // [batch, n_objects], written by pass 1
  LightFrame* light_frames; // [batch, n_lights], written by pass 1
  void* rgb;                // [batch, 3, height, width]
  DType rgb_dtype;
  float rgb_scale;          // from [0, 1]: 255 for uint8
  float* depth;             // [batch, 1, height, width]; 0 where nothing was hit
  float* normals;           // [batch, 3, height, width]; 0 where nothing was hit
  int64_t* ids;             // [batch, 1, height, width]; object slot + 1, 0 where nothing was hit
  float* edges;             // [batch, 1, height, width]; 1 on contours, else 0
  int64_t batch, n_objects, n_lights, height, width;
  int samples;              // supersampling per axis (colour only), 1..kMaxSamples
  float crease_cos;         // normals meeting at a smaller cosine form a contour
};

// Runtime-typed element access: one instantiation of the whole renderer
// serves every rgb and background dtype (the branch is uniform per call).
SSLFAST_HD float load_as_float(const void* p, DType type, int64_t i) {
  switch (type) {
    case DType::UInt8: return load_value(static_cast<const uint8_t*>(p) + i);
    case DType::Float16: return load_value(static_cast<const Half*>(p) + i);
    case DType::BFloat16: return load_value(static_cast<const BFloat16*>(p) + i);
    default: return load_value(static_cast<const float*>(p) + i);
  }
}

SSLFAST_HD void store_from_float(void* p, DType type, int64_t i, float v) {
  switch (type) {
    case DType::UInt8: store_value(static_cast<uint8_t*>(p) + i, v); return;
    case DType::Float16: store_value(static_cast<Half*>(p) + i, v); return;
    case DType::BFloat16: store_value(static_cast<BFloat16*>(p) + i, v); return;
    default: store_value(static_cast<float*>(p) + i, v); return;
  }
}

SSLFAST_HD void prepare_scene(const RenderArgs& a, int64_t b) {
  const PixelCamera cam = pixel_camera(a.camera + b * kCameraFields, a.height, a.width);
  for (int64_t i = b * a.n_objects; i < (b + 1) * a.n_objects; ++i)
    a.frames[i] = prepare_object(a.objects + i * kObjectFields, cam);
  for (int64_t l = b * a.n_lights; l < (b + 1) * a.n_lights; ++l)
    a.light_frames[l] = prepare_light(a.lights + l * kLightFields);
}

struct Hit {
  float t;   // depth; kUnbounded when nothing was hit
  int slot;  // object index, -1 when nothing was hit
  int part;
};

SSLFAST_HD Hit cast_ray(const ObjectFrame* frames, int64_t n_objects, Vec3 d, float sx, float sy) {
  Hit best{kUnbounded, -1, 0};
  for (int64_t i = 0; i < n_objects; ++i) {
    const ObjectFrame& f = frames[i];
    if (f.kind == kEmpty || sx < f.x_lo || sx > f.x_hi || sy < f.y_lo || sy > f.y_hi) continue;
    float t;
    int part;
    const Vec3 o{f.origin[0], f.origin[1], f.origin[2]};
    if (hit_object(f.kind, o, mul(f.to_local, d), best.t, &t, &part)) best = {t, (int)i, part};
  }
  return best;
}

// Lattice value in [0, 1) at integer point (ix, iy, iz): counter_hash(seed,
// key, kNoiseField) with the seed's mixing round, splitmix64(seed), hoisted
// out of the 16 lookups of a pixel.
SSLFAST_HD float lattice_value(uint64_t mixed_seed, int64_t ix, int64_t iy, int64_t iz) {
  const uint64_t mask = (1ull << 21) - 1;
  const uint64_t key = ((uint64_t)ix & mask) | (((uint64_t)iy & mask) << 21) | (((uint64_t)iz & mask) << 42);
  return hash_unit_float(splitmix64(splitmix64(mixed_seed ^ key) ^ kNoiseField));
}

SSLFAST_HD float smoothstep01(float t) { return t * t * (3.f - 2.f * t); }
SSLFAST_HD float lerp(float a, float b, float t) { return a + t * (b - a); }

// Trilinear value noise with smoothstep weights, in [0, 1).
SSLFAST_HD float value_noise(uint64_t mixed_seed, Vec3 p) {
  const float gx = floorf(p.x), gy = floorf(p.y), gz = floorf(p.z);
  const int64_t ix = (int64_t)gx, iy = (int64_t)gy, iz = (int64_t)gz;
  const float fx = smoothstep01(p.x - gx), fy = smoothstep01(p.y - gy), fz = smoothstep01(p.z - gz);
  float corners[2][2];
  for (int dz = 0; dz < 2; ++dz)
    for (int dy = 0; dy < 2; ++dy)
      corners[dz][dy] = lerp(lattice_value(mixed_seed, ix, iy + dy, iz + dz),
                             lattice_value(mixed_seed, ix + 1, iy + dy, iz + dz), fx);
  return lerp(lerp(corners[0][0], corners[0][1], fy), lerp(corners[1][0], corners[1][1], fy), fz);
}

SSLFAST_HD float parity(float v) { return v - 2.f * floorf(0.5f * v); }

// Weight in [0, 1] of the texture colour at unit-shape point p (already
// inset from the surface, so faces on lattice planes do not flicker).
SSLFAST_HD float texture_weight(const float* row, Vec3 p) {
  const float frequency = row[kFrequency];
  const float limit = 1e6f;  // keeps lattice coordinates exact and in integer range
  const Vec3 g{fmaxf(-limit, fminf(limit, p.x * frequency)), fmaxf(-limit, fminf(limit, p.y * frequency)),
               fmaxf(-limit, fminf(limit, p.z * frequency))};
  switch (whole_in(row[kTexture], kFlat, kNoise, kFlat)) {
    case kChecker: return parity(floorf(g.x) + floorf(g.y) + floorf(g.z));
    case kStripes: return parity(floorf(g.x));
    case kNoise: {
      const float seed_value = row[kTextureSeed];
      const uint64_t seed = (seed_value >= 0.f && seed_value < 16777216.f) ? (uint64_t)seed_value : 0;
      const uint64_t mixed = splitmix64(seed);
      // Two octaves: broad blotches with finer detail.
      return 0.65f * value_noise(mixed, g) + 0.35f * value_noise(mixed, 2.f * g);
    }
    default: return 0.f;
  }
}

// x^kShininess by repeated squaring.
SSLFAST_HD float highlight_power(float x) {
  for (int i = 1; i < kShininess; i *= 2) x *= x;
  return x;
}

// Lambert + Phong shading of a surface point with unit normal n facing the
// camera, seen along ray direction d. The highlight uses the mirror direction
// of each light, r = 2 (n.l) n - l, so r.v = 2 (n.l)(n.v) - l.v needs no
// per-light normalisation.
SSLFAST_HD Vec3 shade(const RenderArgs& a, int64_t b, const float* row, Vec3 albedo, Vec3 point, Vec3 n, Vec3 d) {
  const float ambient = a.camera[b * kCameraFields + kAmbient], specular = row[kSpecular];
  const Vec3 to_eye = normalized((-1.f) * d);
  const float n_dot_v = dot(n, to_eye);
  Vec3 diffuse{ambient, ambient, ambient}, highlight{0.f, 0.f, 0.f};
  const LightFrame* lights = a.light_frames + b * a.n_lights;
  for (int64_t l = 0; l < a.n_lights; ++l) {
    const LightFrame& light = lights[l];
    if (light.kind == kLightOff) continue;
    const Vec3 to_light = light.kind == kDirectional ? light.vector : normalized(light.vector - point);
    const float lambert = dot(n, to_light);
    if (lambert <= 0.f) continue;
    diffuse = diffuse + lambert * light.color;
    const float mirror = 2.f * lambert * n_dot_v - dot(to_light, to_eye);
    if (mirror > 0.f) highlight = highlight + (specular * highlight_power(mirror)) * light.color;
  }
  const Vec3 c = albedo * diffuse + highlight;
  return {clamp01(c.x), clamp01(c.y), clamp01(c.z)};
}

// What one ray sees.
struct Sample {
  Hit hit;
  Vec3 normal;  // camera coordinates, unit length, facing the camera; 0 on a miss
  Vec3 color;
};

// Traces the ray through pixel coordinate (sx, sy) of scene b; (x, y) is the
// pixel it belongs to (for the background image). Colour is computed only
// when asked.
SSLFAST_HD Sample trace(const RenderArgs& a, int64_t b, int64_t x, int64_t y, float sx, float sy, bool with_color) {
  const float* camera = a.camera + b * kCameraFields;
  const PixelCamera cam = pixel_camera(camera, a.height, a.width);
  const ObjectFrame* frames = a.frames + b * a.n_objects;
  const Vec3 d = ray_direction(cam, sx, sy);
  Sample s{cast_ray(frames, a.n_objects, d, sx, sy), {0.f, 0.f, 0.f}, {0.f, 0.f, 0.f}};
  if (s.hit.slot < 0) {
    if (!with_color) return s;
    if (a.background) {
      const int64_t plane = a.height * a.width, at = b * 3 * plane + y * a.width + x;
      s.color = {load_as_float(a.background, a.background_dtype, at) * a.background_scale,
                 load_as_float(a.background, a.background_dtype, at + plane) * a.background_scale,
                 load_as_float(a.background, a.background_dtype, at + 2 * plane) * a.background_scale};
    } else {
      s.color = load_vec3(camera + kBackground);
    }
    return s;
  }
  const ObjectFrame& f = frames[s.hit.slot];
  const Vec3 d_local = mul(f.to_local, d);
  const Vec3 p_local = Vec3{f.origin[0], f.origin[1], f.origin[2]} + s.hit.t * d_local;
  const Vec3 n_local = local_normal(f.kind, s.hit.part, p_local);
  // Normals map back by the inverse transpose of camera -> local: to_local^T.
  Vec3 n = normalized(mul_transposed(f.to_local, n_local));
  const bool flip = dot(n, d) > 0.f;  // back side (plane seen from below, camera inside)
  if (flip) n = (-1.f) * n;
  s.normal = n;
  if (!with_color) return s;
  const float* row = a.objects + (b * a.n_objects + s.hit.slot) * kObjectFields;
  const float w = texture_weight(row, p_local - kTextureInset * normalized(n_local));
  const Vec3 c0 = load_vec3(row + kColor), c1 = load_vec3(row + kTextureColor);
  s.color = shade(a, b, row, c0 + w * (c1 - c0), s.hit.t * d, n, d);
  return s;
}

// Pixel (x, y) of scene b: all five outputs.
SSLFAST_HD void render_pixel(const RenderArgs& a, int64_t b, int64_t y, int64_t x) {
  const int64_t plane = a.height * a.width, within = y * a.width + x, pixel = b * plane + within;
  const bool single = a.samples <= 1;
  const Sample centre = trace(a, b, x, y, (float)x + 0.5f, (float)y + 0.5f, single);
  Vec3 color = centre.color;
  if (!single) {
    color = {0.f, 0.f, 0.f};
    const float step = 1.f / (float)a.samples;
    for (int j = 0; j < a.samples; ++j)
      for (int i = 0; i < a.samples; ++i)
        color = color + trace(a, b, x, y, (float)x + ((float)i + 0.5f) * step, (float)y + ((float)j + 0.5f) * step,
                              true).color;
    color = (step * step) * color;
  }
  const bool hit = centre.hit.slot >= 0;
  const int64_t first_channel = b * 3 * plane + within;  // of the 3-channel outputs
  store_from_float(a.rgb, a.rgb_dtype, first_channel, color.x * a.rgb_scale);
  store_from_float(a.rgb, a.rgb_dtype, first_channel + plane, color.y * a.rgb_scale);
  store_from_float(a.rgb, a.rgb_dtype, first_channel + 2 * plane, color.z * a.rgb_scale);
  a.normals[first_channel] = centre.normal.x;
  a.normals[first_channel + plane] = centre.normal.y;
  a.normals[first_channel + 2 * plane] = centre.normal.z;
  a.depth[pixel] = hit ? centre.hit.t : 0.f;
  a.ids[pixel] = centre.hit.slot + 1;
}

// ---------------------------------------------------------------------------
// Pass 3: contours. Pixels p and q (4-neighbours) are separated by a contour
// when their ids differ or, on the same object, their normals meet at more
// than the crease angle. The contour is drawn on the nearer side (background
// counts as infinitely far; ties mark both), so it is one pixel wide and
// follows the occluding silhouette. Every primitive is convex and has its own
// id, so each depth discontinuity is also an id change.
// ---------------------------------------------------------------------------
SSLFAST_HD void edge_pixel(const RenderArgs& a, int64_t b, int64_t y, int64_t x) {
  const int64_t plane = a.height * a.width, within = y * a.width + x, pixel = b * plane + within;
  const int64_t id = a.ids[pixel];
  const float depth = id ? a.depth[pixel] : kUnbounded;
  const float* n = a.normals + b * 3 * plane + within;
  bool edge = false;
  const int64_t offsets[4] = {-1, 1, -a.width, a.width};
  const bool inside[4] = {x > 0, x + 1 < a.width, y > 0, y + 1 < a.height};
  for (int k = 0; k < 4 && !edge; ++k) {
    if (!inside[k]) continue;
    const int64_t q = pixel + offsets[k];
    const int64_t id_q = a.ids[q];
    const float* nq = n + offsets[k];
    const bool jump = id_q != id || (id != 0 && n[0] * nq[0] + n[plane] * nq[plane] + n[2 * plane] * nq[2 * plane] <
                                                    a.crease_cos);
    const float depth_q = id_q ? a.depth[q] : kUnbounded;
    edge = jump && depth <= depth_q;
  }
  a.edges[pixel] = edge ? 1.f : 0.f;
}

// ---------------------------------------------------------------------------
// Scene sampler: a random scene per (seed, index), for the shapes data set
// and the synthetic-imagery task.
// ---------------------------------------------------------------------------
constexpr int kMaxSampledKinds = 4;  // sphere, box, cylinder, cone
constexpr int kSampledLights = 3;

struct SceneSamplerArgs {
  uint64_t seed;
  const int64_t* index;  // [batch]
  float* objects;        // [batch, slots, kObjectFields]
  float* lights;         // [batch, kSampledLights, kLightFields]
  float* camera;         // [batch, kCameraFields]
  int64_t batch;
  int slots;             // max_objects, + 1 (the last) for the ground plane when plane_probability > 0
  int min_objects, max_objects;
  int kinds[kMaxSampledKinds];  // primitive kinds to draw from, uniformly
  int n_kinds;
  float plane_probability;
  bool central;  // object 0 sits large at the centre; the others smaller and behind it
};

// Uniform draws of one stream of (seed, index): draw k is a pure function of
// (seed, index, stream, k), so each slot's parameters are independent of how
// many draws other slots made.
struct Draws {
  uint64_t seed, index, stream;
  uint32_t next;
  SSLFAST_HD float uniform() { return hash_unit_float(counter_hash(seed, index, stream + next++)); }
  SSLFAST_HD float range(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  SSLFAST_HD uint32_t below(uint32_t n) { return hash_below(counter_hash(seed, index, stream + next++), n); }
};

SSLFAST_HD Draws draws_for(const SceneSamplerArgs& a, int64_t b, int stream) {
  return {a.seed, (uint64_t)a.index[b], kSceneField + ((uint64_t)stream << 8), 0};
}

SSLFAST_HD void store_vec3(float* p, Vec3 v) {
  p[0] = v.x;
  p[1] = v.y;
  p[2] = v.z;
}

// Albedo, texture and highlight of a row.
SSLFAST_HD void sample_surface(Draws& r, float* row, float frequency_lo, float frequency_hi) {
  store_vec3(row + kColor, {r.range(0.05f, 0.95f), r.range(0.05f, 0.95f), r.range(0.05f, 0.95f)});
  store_vec3(row + kTextureColor, {r.range(0.05f, 0.95f), r.range(0.05f, 0.95f), r.range(0.05f, 0.95f)});
  row[kTexture] = (float)r.below(4);
  row[kFrequency] = r.range(frequency_lo, frequency_hi);
  row[kTextureSeed] = (float)r.below(1u << 24);
  row[kSpecular] = r.range(0.f, 0.5f);
}

SSLFAST_HD void sample_scene(const SceneSamplerArgs& a, int64_t b) {
  const float kPi = 3.14159265358979f;
  float* camera = a.camera + b * kCameraFields;
  float* objects = a.objects + b * a.slots * kObjectFields;
  for (int i = 0; i < a.slots * kObjectFields; ++i) objects[i] = 0.f;

  Draws scene = draws_for(a, b, 0);
  const float focal = scene.range(0.9f, 1.3f);
  camera[kFocal] = focal;
  camera[kAmbient] = scene.range(0.15f, 0.3f);
  store_vec3(camera + kBackground, {scene.range(0.05f, 0.95f), scene.range(0.05f, 0.95f), scene.range(0.05f, 0.95f)});
  const int count = a.min_objects + (int)scene.below((uint32_t)(a.max_objects - a.min_objects + 1));
  const bool has_plane = scene.uniform() < a.plane_probability;

  // Ground plane below the camera, pitched down by `pitch`: world up is
  // (0, -cos pitch, -sin pitch) in camera coordinates, the camera `height` above.
  Draws ground = draws_for(a, b, a.slots);
  const float pitch = ground.range(0.05f, 0.3f);
  float height = ground.range(1.f, 2.f);
  const Vec3 up{0.f, -cosf(pitch), -sinf(pitch)};

  float central_depth = 0.f;
  for (int j = 0; j < count; ++j) {
    Draws r = draws_for(a, b, j + 1);
    float* row = objects + j * kObjectFields;
    const int kind = a.kinds[r.below((uint32_t)a.n_kinds)];
    row[kKind] = (float)kind;
    // Centre direction (tangent units; the image spans +-0.5 / focal) and
    // depth; `size` is the object's typical half-extent.
    float u, v, z, size;
    if (a.central && j == 0) {
      u = r.range(-0.03f, 0.03f) / focal;
      v = r.range(-0.03f, 0.03f) / focal;
      z = r.range(4.5f, 6.f);
      size = r.range(0.16f, 0.24f) * z / focal;  // about 30-50% of the image width across
      central_depth = z;
    } else {
      u = r.range(-0.35f, 0.35f) / focal;
      v = r.range(-0.35f, 0.35f) / focal;
      z = a.central ? r.range(central_depth + 1.5f, central_depth + 6.f) : r.range(3.f, 9.f);
      size = r.range(0.3f, 0.75f) * (a.central ? 0.7f : 1.f);
    }
    Vec3 scale{size, size, size};
    if (kind == kBox) {
      scale = {size * r.range(0.6f, 1.1f), size * r.range(0.6f, 1.1f), size * r.range(0.6f, 1.1f)};
    } else if (kind == kCylinder || kind == kCone) {
      const float radius = size * r.range(0.6f, 1.f);
      scale = {radius, size * r.range(0.7f, 1.2f), radius};
    }
    Vec3 p{u * z, v * z, z};
    // Keep the bounding sphere above the ground: lower the ground under the
    // central object (so it stays centred), lift the others.
    const float gap = sqrtf(dot(scale, scale)) - (dot(up, p) + height);
    if (has_plane && gap > 0.f) {
      if (a.central && j == 0) height += gap;
      else p = p + gap * up;
    }
    store_vec3(row + kPosition, p);
    // Uniform random rotation (Shoemake's subgroup algorithm).
    const float u1 = r.uniform(), u2 = 2.f * kPi * r.uniform(), u3 = 2.f * kPi * r.uniform();
    const float s1 = sqrtf(1.f - u1), s2 = sqrtf(u1);
    row[kRotation] = s1 * sinf(u2);
    row[kRotation + 1] = s1 * cosf(u2);
    row[kRotation + 2] = s2 * sinf(u3);
    row[kRotation + 3] = s2 * cosf(u3);
    store_vec3(row + kScale, scale);
    sample_surface(r, row, 1.f, 4.f);
  }

  if (has_plane) {
    float* row = objects + (a.slots - 1) * kObjectFields;
    row[kKind] = (float)kPlane;
    store_vec3(row + kPosition, (-height) * up);
    // Rotation about x by pi + pitch takes local +y to `up`.
    row[kRotation] = -sinf(0.5f * pitch);
    row[kRotation + 1] = cosf(0.5f * pitch);
    store_vec3(row + kScale, {1.f, 1.f, 1.f});
    sample_surface(ground, row, 0.4f, 1.2f);
  }

  // One to three directional lights from above and in front of the scene.
  Draws r = draws_for(a, b, a.slots + 1);
  const int n_lights = 1 + (int)r.below(kSampledLights);
  for (int l = 0; l < kSampledLights; ++l) {
    float* light = a.lights + (b * kSampledLights + l) * kLightFields;
    for (int i = 0; i < kLightFields; ++i) light[i] = 0.f;
    if (l >= n_lights) continue;
    light[kLightKind] = (float)kDirectional;
    store_vec3(light + kLightVector, normalized({r.range(-0.7f, 0.7f), r.range(-1.f, -0.25f), r.range(-1.f, 0.1f)}));
    const float intensity = r.range(0.55f, 0.9f) / sqrtf((float)n_lights);
    store_vec3(light + kLightColor, {intensity * r.range(0.85f, 1.f), intensity * r.range(0.85f, 1.f),
                                     intensity * r.range(0.85f, 1.f)});
  }
}

}  // namespace render

// Backend entry points, defined in csrc/cpu/render.cpp and csrc/cuda/render.cu.
// render_scenes runs the three passes; args.frames and args.light_frames must
// hold batch * n_objects and batch * n_lights entries.
namespace cpu {
void render_scenes(const render::RenderArgs& args);
void sample_scenes(const render::SceneSamplerArgs& args);
}  // namespace cpu
namespace cuda {
void render_scenes(const render::RenderArgs& args);
void sample_scenes(const render::SceneSamplerArgs& args);
}  // namespace cuda

}  // namespace sslfast
