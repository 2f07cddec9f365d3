"""Data sets: user folders and the built-in offline data."""
from .photos import load_photos, PHOTO_NAMES

__all__ = ["load_photos", "PHOTO_NAMES"]
