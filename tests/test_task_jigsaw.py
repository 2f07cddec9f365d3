"""Jigsaw task: batches, countermeasures, training, show, quality."""
import pytest
import torch
from torch import nn

from sslfast import ops
from sslfast.tasks import get_task

from task_helpers import fit_one_batch, photo_crops, show_writes_a_picture, train_losses


def test_make_batch_tiles_and_labels_are_the_sampled_puzzles():
    images = photo_crops(6, 32)
    index = torch.arange(10, 16)
    task = get_task("jigsaw", gray=0.0, jitter=0.0, n_perms=64)
    tiles, labels = task.make_batch(images, index, seed=5)
    cell, tile = ops.jigsaw_geometry(32)
    assert (cell, tile) == (10, 8)
    assert tiles.shape == (6, 9, 3, 8, 8) and tiles.dtype == torch.float32
    _, origins, perm = ops.sample_jigsaw(5, index, 32, n_perms=64)
    assert torch.equal(labels, perm)
    perms = ops.permutation_set(64, 9)
    for b in range(6):
        block = origins[b].min(0).values  # the grid's corner is within one jitter of the first cell
        for slot in range(9):
            y, x = origins[b, slot].tolist()
            # Slot j shows tile perms[label, j]: its origin lies in that cell.
            row, col = divmod(int(perms[labels[b], slot]), 3)
            assert (y - block[0].item()) // cell in (row, row - 1) and (x - block[1].item()) // cell in (col, col - 1)
            crop = images[b:b + 1, :, y:y + tile, x:x + tile].float() / 255
            want = nn.functional.instance_norm(crop, eps=1e-5)[0]
            assert torch.allclose(tiles[b, slot], want, atol=1e-4)


def test_gray_images_have_equal_channels_and_jitter_is_small():
    images = photo_crops(40, 32)
    index = torch.arange(40)
    tiles, _ = get_task("jigsaw", gray=1.0, jitter=0.0).make_batch(images, index, seed=1)
    assert torch.allclose(tiles[:, :, 0], tiles[:, :, 1], atol=1e-5)
    jittered, _ = get_task("jigsaw", gray=1.0, jitter=0.1).make_batch(images, index, seed=1)
    offset = (jittered - tiles).flatten(3)
    assert offset.std(-1).max() < 1e-5  # one constant per tile and channel
    assert 0.02 < offset[..., 0].abs().mean() < 0.1 and offset.abs().max() <= 0.1 + 1e-6
    some = get_task("jigsaw", gray=0.3, jitter=0.0).make_batch(images, index, seed=1)[0]
    gray_share = torch.isclose(some[:, 0, 0], some[:, 0, 1], atol=1e-5).flatten(1).all(1).float().mean()
    assert 0.1 < gray_share < 0.6


def test_torch_batch_ops_agree():
    images = photo_crops(8, 32)
    index = torch.arange(8)
    fused = get_task("jigsaw").make_batch(images, index, seed=3)
    plain = get_task("jigsaw", batch_ops="torch").make_batch(images, index, seed=3)
    assert torch.equal(fused[1], plain[1])
    assert torch.allclose(fused[0], plain[0], atol=1e-3)


@pytest.mark.parametrize("n_perms", [64, 100])
def test_model_outputs_one_logit_per_permutation(n_perms):
    task = get_task("jigsaw", n_perms=n_perms)
    model = task.build_model(widths=(8, 16))
    tiles, _ = task.make_batch(photo_crops(4, 32), torch.arange(4), seed=0)
    assert model(tiles).shape == (4, n_perms)
    assert task.encoder(model).in_channels == 3


def test_a_few_steps_lower_the_loss(tmp_path):
    losses = fit_one_batch(get_task("jigsaw", n_perms=64), photo_crops(32, 32))
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3, losses
    # and the Trainer runs the task end to end
    assert len(train_losses(get_task("jigsaw", n_perms=64), photo_crops(32, 32), tmp_path, steps=3)) == 3


def test_show_and_quality(tmp_path):
    show_writes_a_picture("jigsaw", tmp_path)
    task = get_task("jigsaw")
    rows = task.quality(task.build_model(widths=(8, 16)), photo_crops(8, 32), torch.arange(8), seed=0)
    assert rows[0]["baseline"] == 0.01 and 0 <= rows[0]["model"] <= 1


def test_bad_options():
    with pytest.raises(ValueError, match="^batch_ops"):
        get_task("jigsaw", batch_ops="numpy")
    with pytest.raises(ValueError, match="^n"):
        get_task("jigsaw", n_perms=1)
    with pytest.raises(ValueError, match="^gray"):
        get_task("jigsaw", gray=2.0)
