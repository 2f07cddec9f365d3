"""Built-in offline data sets (photos, digits, shapes), image folders,
get_dataset and ``sslfast show``."""
import os
import warnings

import cv2
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sslfast import cli, ops
from sslfast.data import Digits, ImageFolder, PhotoCrops, Shapes, get_dataset, load_photos
from sslfast.data.photos import STEREO_PAIR


# --------------------------------------------------------------------------- photos
def test_photos_are_real_colour_photographs():
    photos = load_photos()
    assert len(photos) == 11
    for name, photo in photos.items():
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
        assert photo[..., 0].std() > 5 and not np.array_equal(photo[..., 0], photo[..., 1]), name
        assert not photo.flags.writeable, name


def boxes(dataset, n):
    return [dataset.crop_box(i) for i in range(n)]


def test_photo_train_and_held_out_crops_never_overlap():
    train = boxes(PhotoCrops("train", 48, seed=3, scale=(0.5, 3.0)), 3000)
    test = boxes(PhotoCrops("test", 48, seed=3, scale=(0.5, 3.0)), 3000)
    assert {b.photo for b in train} == {b.photo for b in test} == set(load_photos())

    def as_array(bs, photo):
        return np.array([(b.top, b.left, b.top + b.height, b.left + b.width) for b in bs if b.photo in photo])

    for photo in load_photos():
        a, b = as_array(train, {photo}), as_array(test, {photo})
        overlap_rows = (a[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2])
        overlap_cols = (a[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < a[:, None, 3])
        assert not (overlap_rows & overlap_cols).any(), photo
    # The stereo views show the same scene shifted sideways: their train and
    # held-out crops must not share rows either.
    a, b = as_array(train, set(STEREO_PAIR)), as_array(test, set(STEREO_PAIR))
    assert not ((a[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2])).any()


def test_photo_crops_are_the_photo_pixels_and_deterministic():
    crops = PhotoCrops("train", 40, seed=1, scale=(1.0, 1.0))
    photos = load_photos()
    for i in (0, 5, 17):
        image, label = crops[i]
        box = crops.crop_box(i)
        want = photos[box.photo][box.top:box.top + 40, box.left:box.left + 40]
        assert label == -1 and image.shape == (3, 40, 40) and image.dtype == torch.uint8
        assert np.array_equal(image.permute(1, 2, 0).numpy(), want)
    again = PhotoCrops("train", 40, seed=1, scale=(1.0, 1.0))
    assert torch.equal(again[17][0], crops[17][0])
    other = PhotoCrops("train", 40, seed=2, scale=(1.0, 1.0))
    assert any(other.crop_box(i) != crops.crop_box(i) for i in range(5))
    zoomed = PhotoCrops("test", 40, seed=1, scale=(2.0, 3.0))
    box = zoomed.crop_box(0)
    assert 80 <= box.height <= 120 and zoomed[0][0].shape == (3, 40, 40)
    with pytest.raises(IndexError):
        crops[len(crops)]


# --------------------------------------------------------------------------- digits
def test_digits_split_is_stratified_disjoint_and_fixed_by_seed():
    train, test = Digits("train", 16, seed=0), Digits("test", 16, seed=0)
    target = load_digits().target
    assert len(train) + len(test) == len(target) == 1797
    assert set(train.indices.tolist()).isdisjoint(test.indices.tolist())
    assert torch.equal(train.labels, torch.from_numpy(target[train.indices.numpy()]))
    test_share = torch.bincount(test.labels, minlength=10) / torch.bincount(torch.from_numpy(target), minlength=10)
    assert ((test_share - 0.25).abs() < 0.02).all()
    assert torch.equal(Digits("test", 16, seed=0).indices, test.indices)
    assert not torch.equal(Digits("test", 16, seed=1).indices, test.indices)


def test_digits_are_bilinear_upsamplings():
    digits = Digits("train", 24, seed=0)
    image, label = digits[7]
    source = load_digits().images[int(digits.indices[7])]
    want = cv2.resize((source / 16).astype(np.float32), (24, 24), interpolation=cv2.INTER_LINEAR) * 255
    assert image.shape == (3, 24, 24) and label == int(load_digits().target[int(digits.indices[7])])
    assert np.abs(image[0].numpy().astype(np.float32) - want).max() <= 1.0
    assert torch.equal(image[0], image[2])
    assert Digits("test", 24, channels=1)[0][0].shape == (1, 24, 24)


# --------------------------------------------------------------------------- shapes
def test_shapes_same_index_gives_the_same_image_twice():
    shapes = Shapes("train", 32, seed=4)
    first, label = shapes[11]
    again, label_again = Shapes("train", 32, seed=4)[11]
    assert torch.equal(first, again) and label == label_again
    batched = shapes.__getitems__([3, 11, 2])
    assert torch.equal(batched[1][0], first) and batched[1][1] == label
    loader = torch.utils.data.DataLoader(shapes, batch_size=4)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images[3], shapes[3][0]) and labels[3] == shapes[3][1]
    assert not torch.equal(Shapes("test", 32, seed=4)[11][0], first)


def test_shapes_labels_are_the_central_primitive_and_balanced():
    shapes = Shapes("train", 16, seed=0, length=4000, background="color", samples=1)
    out = shapes.render(range(4000))
    scenes = ops.sample_scenes(0, torch.arange(4000), n_objects=(1, 3), central=True, ground_plane=0.5)
    kinds = [ops.PRIMITIVES[k] for k in scenes.kinds[:, 0].tolist()]
    assert [shapes.classes[i] for i in out["labels"].tolist()] == kinds
    # The labelled object is id 1 and sits at the centre (its silhouette's
    # centroid within a fifth of the width; a cone's is off its middle).
    mask = (out["ids"][:, 0] == 1).double()
    area = mask.sum((1, 2))
    coords = torch.arange(16, dtype=torch.float64) + 0.5
    assert (area > 0).all()
    assert ((mask.sum(1) @ coords / area - 8).abs() < 3.2).all()
    assert ((mask.sum(2) @ coords / area - 8).abs() < 3.2).all()
    counts = torch.bincount(out["labels"], minlength=4).double()
    chi2 = ((counts - 1000) ** 2 / 1000).sum()
    assert chi2 < 16.3  # p = 0.001 for 3 degrees of freedom
    two = Shapes("test", 16, classes=("cone", "box"), length=300, background="color")
    labels = two.render(range(300))["labels"]
    assert set(labels.tolist()) == {0, 1}


def test_shapes_backgrounds_are_held_out_photo_crops():
    shapes = Shapes("test", 24, seed=2, distractors=(0, 0), ground_plane=0.0, samples=1)
    out = shapes.render([0, 1])
    crops = torch.stack([shapes.photos.crop(i) for i in (0, 1)])
    assert shapes.photos.split == "test"
    miss = (out["ids"] == 0).expand(-1, 3, -1, -1)
    torch.testing.assert_close(out["rgb"][miss], crops[miss].float() / 255)


# --------------------------------------------------------------------------- folders
def write_image(path, seed, size=(20, 30)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(path, image)
    return image


@pytest.fixture
def image_tree(tmp_path):
    root = tmp_path / "images"
    write_image(str(root / "cats" / "a.png"), 0)
    write_image(str(root / "cats" / "nested" / "deeper" / "b.png"), 1)
    write_image(str(root / "dogs" / "c.bmp"), 2)
    write_image(str(root / "dogs" / "d.png"), 3)
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / "dogs" / "garbage.jpg").write_bytes(np.random.default_rng(4).bytes(300))  # no decoder accepts it
    good = (root / "cats" / "a.png").read_bytes()
    (root / "cats" / "truncated.png").write_bytes(good[:len(good) // 2])  # header fine, body cut
    return root


def test_folder_labels_skips_corrupt_files_and_reports_them(image_tree):
    with pytest.warns(RuntimeWarning, match="garbage.jpg"):
        folder = ImageFolder(str(image_tree))
    assert folder.classes == ("cats", "dogs")
    names = [os.path.relpath(p, image_tree) for p, _ in folder.samples]
    assert names == ["cats/a.png", "cats/nested/deeper/b.png", "cats/truncated.png", "dogs/c.bmp", "dogs/d.png"]
    assert [label for _, label in folder.samples] == [0, 0, 0, 1, 1]
    assert [os.path.basename(p) for p, _ in folder.skipped] == ["garbage.jpg"]

    with pytest.warns(RuntimeWarning, match="truncated.png"):
        image, label = folder[2]  # the truncated file: the next readable one takes its place
    want = cv2.cvtColor(cv2.imread(str(image_tree / "dogs" / "c.bmp")), cv2.COLOR_BGR2RGB)
    assert label == 1 and np.array_equal(image.permute(1, 2, 0).numpy(), want)
    assert [os.path.basename(p) for p, _ in folder.skipped] == ["garbage.jpg", "truncated.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once, then quietly passed over
        assert torch.equal(folder[2][0], image)


def test_folder_never_crashes_a_dataloader_worker(image_tree):
    with pytest.warns(RuntimeWarning):
        folder = ImageFolder(str(image_tree), size=16)
    loader = torch.utils.data.DataLoader(folder, batch_size=2, num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(loader)
    images = torch.cat([images for images, _ in batches])
    assert images.shape == (5, 3, 16, 16)


def test_folder_resizes_and_centre_crops(tmp_path):
    image = write_image(str(tmp_path / "loose" / "wide.png"), 5, size=(20, 40))
    folder = ImageFolder(str(tmp_path / "loose"), size=10)
    got, label = folder[0]
    assert label == -1 and folder.classes is None
    want = cv2.resize(image, (20, 10), interpolation=cv2.INTER_AREA)[:, 5:15]
    assert np.array_equal(got.permute(1, 2, 0).numpy(), cv2.cvtColor(want, cv2.COLOR_BGR2RGB))


def test_folder_with_only_unreadable_files(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"definitely not a jpeg")
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="^root"):
        ImageFolder(str(tmp_path))
    good = tmp_path / "cut"
    write_image(str(good / "x.png"), 1)
    data = (good / "x.png").read_bytes()
    (good / "x.png").write_bytes(data[:len(data) // 2])
    folder = ImageFolder(str(good))
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="^root"):
        folder[0]


def test_folder_splits_and_get_dataset(tmp_path):
    for i in range(60):
        write_image(str(tmp_path / "flat" / f"{i:02d}.png"), i, size=(8, 8))
    train = get_dataset(str(tmp_path / "flat"), "train", size=8)
    test = get_dataset(str(tmp_path / "flat"), "test", size=8)
    train_files = {p for p, _ in train.samples}
    test_files = {p for p, _ in test.samples}
    assert train_files.isdisjoint(test_files) and len(train_files | test_files) == 60
    assert 3 <= len(test_files) <= 25
    write_image(str(tmp_path / "split" / "train" / "a" / "1.png"), 1)
    write_image(str(tmp_path / "split" / "test" / "b" / "2.png"), 2)
    held_out = get_dataset(str(tmp_path / "split"), "test", size=8)
    assert held_out.classes == ("b",) and len(held_out) == 1


def test_get_dataset_names():
    assert isinstance(get_dataset("photos", "test", 16), PhotoCrops)
    assert isinstance(get_dataset("digits", "train", 16), Digits)
    shapes = get_dataset("shapes", "test", 16, length=5)
    assert isinstance(shapes, Shapes) and len(shapes) == 5
    with pytest.raises(ValueError, match="^name_or_path"):
        get_dataset("imagenet")
    with pytest.raises(ValueError, match="^split"):
        get_dataset("digits", "validation")
    with pytest.raises(ValueError, match="^classes"):
        Shapes(classes=("sphere", "plane"))
    with pytest.raises(ValueError, match="^background"):
        Shapes(background="sky")


def test_show_writes_sample_and_label_map_grids(tmp_path, capsys):
    out = str(tmp_path / "shapes.png")
    assert cli.main(["show", "shapes", "--size", "32", "--count", "4", "--out", out]) == 0
    samples, maps = cv2.imread(out), cv2.imread(str(tmp_path / "shapes_maps.png"))
    assert samples is not None and maps is not None
    assert maps.shape[1] > 5 * 32 and maps.shape[0] > 4 * 32  # 5 maps side by side, one row per sample
    assert cli.main(["show", "digits", "--size", "16", "--count", "3", "--out", str(tmp_path / "d.png")]) == 0
    assert "digits" in capsys.readouterr().out
