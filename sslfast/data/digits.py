"""scikit-learn's 1,797 labelled 8x8 handwritten digits, upsampled: a small
labelled data set that needs no download (few-label transfer evaluation)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

SPLITS = ("train", "test")


class Digits(Dataset):
    """The digits at ``size`` x ``size`` (bilinear upsampling of the 8x8 grey
    levels 0..16, scaled to uint8 0..255), with labels 0..9.

    The train/test split is stratified by class and fixed by ``seed``
    (``test_fraction`` of each class held out). Items are ``(uint8
    [channels, size, size] tensor, label)``; ``channels=3`` repeats the grey
    level so RGB backbones take it as is.
    """

    classes = tuple(str(d) for d in range(10))

    def __init__(self, split: str = "train", size: int = 32, *, seed: int = 0, test_fraction: float = 0.25,
                 channels: int = 3):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels: expected 1 or 3, got {channels}")
        digits = load_digits()
        train, test = train_test_split(np.arange(len(digits.target)), test_size=test_fraction,
                                       stratify=digits.target, random_state=seed)
        chosen = np.sort(train if split == "train" else test)
        grey = torch.from_numpy(digits.images[chosen]).float().div_(16).unsqueeze(1)  # [N, 1, 8, 8] in [0, 1]
        upsampled = torch.nn.functional.interpolate(grey, size=(size, size), mode="bilinear", align_corners=False)
        self.images = upsampled.mul_(255).round_().clamp_(0, 255).to(torch.uint8)
        self.labels = torch.from_numpy(digits.target[chosen]).long()
        self.indices = torch.from_numpy(chosen)  # positions in scikit-learn's array
        self.channels = channels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        image = self.images[index]
        return (image.expand(3, -1, -1).contiguous() if self.channels == 3 else image), int(self.labels[index])
