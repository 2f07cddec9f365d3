"""The rotation task's batch: crop + mirror augmentation, then the rotations."""
import pytest
import torch
import torch.nn.functional as F

from sslfast.tasks import get_task
from sslfast.tasks.draws import CROP_FIELD, MIRROR_FIELD, random_crop_flip, uniform
from task_helpers import photo_crops


@pytest.mark.parametrize("pad", [0, 2, 4])
def test_random_crop_flip_matches_pad_slice_and_flip_per_image(pad):
    images = photo_crops(12, 16, seed=pad)
    index = torch.arange(100, 112)
    out = random_crop_flip(images, index, seed=7, pad=pad)
    offsets = (uniform(7, index, 2, CROP_FIELD) * (2 * pad + 1)).long()
    mirrored = uniform(7, index, 1, MIRROR_FIELD)[:, 0] < 0.5
    for i in range(len(images)):
        padded = F.pad(images[i:i + 1].float(), (pad,) * 4, mode="reflect")[0].to(torch.uint8)
        y, x = offsets[i].tolist()
        expected = padded[:, y:y + 16, x:x + 16]
        if mirrored[i]:
            expected = expected.flip(-1)
        assert torch.equal(out[i], expected)
    assert 0 < int(mirrored.sum()) < len(images)


def test_random_crop_flip_draws_depend_on_seed_and_index_only():
    images = photo_crops(8, 16)
    whole = random_crop_flip(images, torch.arange(8), seed=3)
    halves = torch.cat([random_crop_flip(images[:4], torch.arange(4), seed=3),
                        random_crop_flip(images[4:], torch.arange(4, 8), seed=3)])
    assert torch.equal(whole, halves)
    assert not torch.equal(whole, random_crop_flip(images, torch.arange(8), seed=4))


def test_random_crop_flip_rejects_negative_pad():
    with pytest.raises(ValueError, match="^pad"):
        random_crop_flip(photo_crops(2, 16), torch.arange(2), seed=0, pad=-2)


def test_all_rotations_of_the_same_augmented_image():
    images = photo_crops(6, 16)
    task = get_task("rotation", mean=(0.0,) * 3, std=(1.0,) * 3)
    inputs, labels = task.make_batch(images, torch.arange(6), seed=1)
    augmented = random_crop_flip(images, torch.arange(6), seed=1).float() / 255
    assert torch.equal(labels, torch.arange(4).repeat_interleave(6))
    for r in range(4):
        torch.testing.assert_close(inputs[6 * r:6 * (r + 1)], torch.rot90(augmented, r, dims=(-2, -1)))


def test_crop_pad_minus_one_turns_augmentation_off():
    images = photo_crops(4, 16)
    task = get_task("rotation", mode="one", crop_pad=-1, mean=(0.0,) * 3, std=(1.0,) * 3)
    inputs, labels = task.make_batch(images, torch.arange(4), seed=2)
    expected = torch.stack([torch.rot90(img, int(k), dims=(-2, -1)) for img, k in zip(images, labels)])
    torch.testing.assert_close(inputs, expected.float() / 255)
    with pytest.raises(ValueError, match="^crop_pad"):
        get_task("rotation", crop_pad=-3)

