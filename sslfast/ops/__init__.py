"""Typed Python wrappers over ``torch.ops.sslfast``.

This package is the only place that calls the native ops. Each wrapper checks
its arguments and raises :class:`ValueError` or :class:`TypeError` naming the
argument, what was expected and what was given; each op also has a fake
(meta) kernel so it traces under ``torch.compile``. One module per op family.

Conventions: images are ``[B, C, H, W]``, uint8 in [0, 255] or floating in
[0, 1] as in torchvision. Per-sample randomness comes from *sampler* ops that
hash ``(seed, index)``: a sample's parameters depend only on the seed and its
index, never on batch size, device or call order.
"""
from ._checks import SUPPORTED_DTYPES
from .color import (ABPriorAccumulator, ColorizationBatch, ab_decode, ab_encode, ab_gamut_bins, ab_prior,
                    colorization_batch, l_bin_centres, lab_to_rgb, quantize_l, rgb_to_lab)
from .kmeans import INIT_METHODS, KMeansResult, kmeans, kmeans_assign, kmeans_centroids, kmeans_init, kmeans_update
from .mask import apply_mask, sample_boxes, sample_masks
from .motion import frame_motion
from .patches import (PermutationStats, context_geometry, gather_patches, jigsaw_geometry, permutation_set,
                      sample_color_drop, sample_context, sample_jigsaw, sample_tuples)
from .render import (LIGHT_KINDS, PRIMITIVES, TEXTURES, Scenes, axis_angle, render_scenes, sample_scenes,
                     scene_camera, scene_light, scene_object)
from .resize import LUMA_WEIGHTS, grayscale, resize, sobel, sr_pair
from .rotate import rotate90, rotate90_all, sample_rotation

__all__ = ["SUPPORTED_DTYPES", "rotate90", "rotate90_all", "sample_rotation",
           "gather_patches", "permutation_set", "PermutationStats", "sample_jigsaw", "sample_context",
           "sample_tuples", "sample_color_drop", "jigsaw_geometry", "context_geometry",
           "Scenes", "PRIMITIVES", "TEXTURES", "LIGHT_KINDS", "scene_object", "scene_light", "scene_camera",
           "axis_angle", "render_scenes", "sample_scenes",
           "rgb_to_lab", "lab_to_rgb", "ab_gamut_bins", "ab_encode", "colorization_batch", "ColorizationBatch",
           "ab_prior", "ABPriorAccumulator", "ab_decode", "quantize_l", "l_bin_centres",
           "resize", "sr_pair", "grayscale", "sobel", "LUMA_WEIGHTS", "apply_mask", "sample_boxes", "sample_masks",
           "kmeans", "KMeansResult", "kmeans_assign", "kmeans_update", "kmeans_centroids", "kmeans_init", "INIT_METHODS",
           "frame_motion"]
