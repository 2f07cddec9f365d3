"""scikit-learn's 1,797 labelled 8x8 handwritten digits, upsampled."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class Digits(Dataset):
    """Items ``(uint8 [channels, size, size], label)``; the 8x8 images (values
    0..16) are scaled to 0..255 and upsampled bilinearly. The train/test split
    (70/30, stratified) is fixed by ``split_seed``."""

    classes = tuple(str(d) for d in range(10))

    def __init__(self, split: str = "train", size: int = 32, channels: int = 3, split_seed: int = 0):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        digits = load_digits()
        index = np.arange(len(digits.target))
        train, test = train_test_split(index, test_size=0.3, stratify=digits.target, random_state=split_seed)
        chosen = train if split == "train" else test
        small = torch.from_numpy(digits.images[chosen] * (255.0 / 16.0)).float().unsqueeze(1)
        big = torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
        self.images = big.round().clamp(0, 255).to(torch.uint8).expand(-1, channels, -1, -1).contiguous()
        self.labels = torch.from_numpy(digits.target[chosen]).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.images[index], int(self.labels[index])
