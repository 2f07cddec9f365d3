"""Built-in data sets and the image folder."""
import cv2
import numpy as np
import pytest
import torch

from sslfast.data import Digits, ImageFolder, PhotoCrops, get_dataset, load_photos
from sslfast.data.photos import HELD_OUT_FRACTION


def test_photos_are_real_colour_photographs():
    photos = load_photos()
    assert len(photos) == 11
    for name, photo in photos.items():
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
        assert photo[..., 0].std() > 5 and not np.array_equal(photo[..., 0], photo[..., 1]), name


def test_photo_crops_are_deterministic_and_sized():
    crops = PhotoCrops("train", size=24, length=50)
    assert crops[7].shape == (3, 24, 24) and crops[7].dtype == torch.uint8
    assert torch.equal(crops[7], PhotoCrops("train", size=24, length=50)[7])
    assert not torch.equal(crops[7], PhotoCrops("train", size=24, length=50, seed=1)[7])


def test_held_out_crops_never_overlap_training_crops():
    photos = list(load_photos().values())
    train, test = PhotoCrops("train", 16, length=400), PhotoCrops("test", 16, length=400)
    for i in range(400):
        p, top, _, side = train.crop_box(i)
        assert top + side <= int(round(photos[p].shape[0] * (1 - HELD_OUT_FRACTION)))
        p, top, _, side = test.crop_box(i)
        assert top >= 0 and top + side <= photos[p].shape[0] - int(round(photos[p].shape[0] * (1 - HELD_OUT_FRACTION)))
    # the regions themselves are disjoint slices of each photo
    for train_region, test_region, photo in zip(train.regions, test.regions, photos):
        assert train_region.shape[0] + test_region.shape[0] == photo.shape[0]
        assert np.array_equal(test_region, photo[train_region.shape[0]:])


def test_digits_split_and_upsampling():
    from sklearn.datasets import load_digits

    train, test = Digits("train", size=16), Digits("test", size=16)
    assert len(train) + len(test) == 1797 and abs(len(test) - 0.3 * 1797) < 2
    assert train[0][0].shape == (3, 16, 16)
    assert sorted(set(train.labels.tolist())) == list(range(10))
    # every test image is one of sklearn's digits, upsampled: check one against OpenCV
    raw = load_digits()
    small = (raw.images * (255.0 / 16.0)).astype(np.float32)
    image, label = test[0]
    candidates = [cv2.resize(s, (16, 16), interpolation=cv2.INTER_LINEAR) for s in small[raw.target == label]]
    assert min(np.abs(c - image[0].numpy()).max() for c in candidates) <= 1.0
    train_set = {bytes(x.numpy()) for x in train.images[:, 0]}
    assert sum(bytes(x.numpy()) in train_set for x in test.images[:, 0]) < 5  # a few duplicates exist in sklearn


def test_image_folder_labels_and_skips_corrupt_files(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / cls / f"{i}.png"), rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    folder = ImageFolder(str(tmp_path), size=16)
    assert folder.classes == ["cat", "dog"] and len(folder) == 7
    with pytest.warns(UserWarning, match="unreadable"):
        items = [folder[i] for i in range(len(folder))]
    assert all(image.shape == (3, 16, 16) for image, _ in items)
    # broken.jpg (last, index 6) is replaced by the next readable file, wrapping to cat/0.png
    assert [label for _, label in items] == [0, 0, 0, 1, 1, 1, 0]
    assert torch.equal(items[6][0], items[0][0])
    assert len(folder.unreadable) == 1
    bgr = cv2.imread(str(tmp_path / "cat" / "0.png"))
    expected = cv2.cvtColor(cv2.resize(bgr, (24, 16), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)[:, 4:20]
    assert np.array_equal(items[0][0].permute(1, 2, 0).numpy(), expected)


def test_get_dataset_errors():
    with pytest.raises(ValueError, match="data"):
        get_dataset("no_such_data")
    with pytest.raises(ValueError, match="split"):
        get_dataset("digits", split="validation")
