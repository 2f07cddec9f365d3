"""The real colour photographs bundled inside scikit-image and scikit-learn:
the offline default data (nothing is downloaded)."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict

import numpy as np

# Photographs only (no drawings such as colorwheel or logo).
PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "retina", "motorcycle_left", "motorcycle_right", "china", "flower")


@lru_cache(maxsize=1)
def load_photos() -> Dict[str, np.ndarray]:
    """Name -> uint8 ``[H, W, 3]`` RGB array, for every bundled photograph."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    photos = {name: getattr(skimage.data, name)() for name in PHOTO_NAMES[:7]}
    left, right, _disparity = skimage.data.stereo_motorcycle()
    photos["motorcycle_left"], photos["motorcycle_right"] = left, right
    photos["china"] = load_sample_image("china.jpg")
    photos["flower"] = load_sample_image("flower.jpg")
    return {name: np.ascontiguousarray(photos[name][..., :3], dtype=np.uint8) for name in PHOTO_NAMES}
