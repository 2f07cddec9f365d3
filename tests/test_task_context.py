"""Context-prediction task: batches, countermeasures, training, show, quality."""
import pytest
import torch

from sslfast import ops
from sslfast.tasks import get_task

from task_helpers import fit_one_batch, photo_crops, show_writes_a_picture, train_losses


def rms_normalize(patch):
    centred = patch - patch.mean((-2, -1), keepdim=True)
    return centred / torch.sqrt(centred.square().mean() + 1e-5)


def test_make_batch_pairs_and_labels_are_the_sampled_places():
    images = photo_crops(6, 48)
    index = torch.arange(6)
    task = get_task("context", drop=0.0, downsample=0.0, pairs_per_image=1)
    pairs, labels = task.make_batch(images, index, seed=2)
    patch, gap, _ = ops.context_geometry(48)
    assert pairs.shape == (6, 2, 3, patch, patch)
    _, origins, want = ops.sample_context(2, index, 48)
    assert torch.equal(labels, want)
    for b in range(6):
        dy, dx = ops.patches.CONTEXT_OFFSETS[int(labels[b])]
        step = (origins[b, 1] - origins[b, 0]).tolist()
        jitter = ops.context_geometry(48)[2]
        assert abs(step[0] - dy * (patch + gap)) <= 2 * jitter and abs(step[1] - dx * (patch + gap)) <= 2 * jitter
        for i in range(2):
            y, x = origins[b, i].tolist()
            crop = images[b, :, y:y + patch, x:x + patch].float() / 255
            assert torch.allclose(pairs[b, i], rms_normalize(crop), atol=1e-4)


def test_several_pairs_per_image_are_samples_index_times_p_plus_j():
    images = photo_crops(3, 48)
    index = torch.tensor([5, 0, 2])
    pairs, labels = get_task("context", drop=0.0, downsample=0.0, pairs_per_image=4).make_batch(images, index, 7)
    assert pairs.shape[:2] == (12, 2)
    pair_index = torch.tensor([5 * 4 + j for j in range(4)] + [j for j in range(4)] + [2 * 4 + j for j in range(4)])
    _, origins, want = ops.sample_context(7, pair_index, 48)
    assert torch.equal(labels, want)
    patch = ops.context_geometry(48)[0]
    y, x = origins[9, 1].tolist()  # pair 1 of the third image: cut from image 2
    assert torch.allclose(pairs[9, 1], rms_normalize(images[2, :, y:y + patch, x:x + patch].float() / 255), atol=1e-4)


def test_colour_dropping_keeps_one_channel():
    images = photo_crops(16, 32)
    index = torch.arange(16)
    pairs, _ = get_task("context", drop=1.0, downsample=0.0, pairs_per_image=1).make_batch(images, index, seed=4)
    clean, _ = get_task("context", drop=0.0, downsample=0.0, pairs_per_image=1).make_batch(images, index, seed=4)
    keep, _ = ops.sample_color_drop(4, index, 2)
    # The kept channel is the clean channel up to the RMS over noisier channels.
    for b in range(16):
        for i in range(2):
            k = int(keep[b, i])
            corr = torch.corrcoef(torch.stack([pairs[b, i, k].flatten(), clean[b, i, k].flatten()]))[0, 1]
            assert corr > 0.999
            others = [c for c in range(3) if c != k]
            assert pairs[b, i, others].std() < pairs[b, i, k].std()


def test_downsampling_blurs_about_a_third():
    images = photo_crops(60, 64)
    index = torch.arange(60)
    sharp, _ = get_task("context", drop=0.0, downsample=0.0).make_batch(images, index, seed=6)
    some, _ = get_task("context", drop=0.0).make_batch(images, index, seed=6)
    changed = ~torch.isclose(some, sharp, atol=1e-5).flatten(2).all(2)
    assert 0.2 < changed.float().mean() < 0.47
    # blurred patches lose high frequencies
    diff = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    assert diff(some[changed]) < diff(sharp[changed])


def test_torch_batch_ops_agree_without_noise():
    images = photo_crops(8, 32)
    index = torch.arange(8)
    fused = get_task("context", drop=0.0).make_batch(images, index, seed=3)
    plain = get_task("context", drop=0.0, batch_ops="torch").make_batch(images, index, seed=3)
    assert torch.equal(fused[1], plain[1])
    assert torch.allclose(fused[0], plain[0], atol=0.05)


def test_a_few_steps_lower_the_loss(tmp_path):
    losses = fit_one_batch(get_task("context"), photo_crops(32, 32))
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3, losses
    # and the Trainer runs the task end to end
    assert len(train_losses(get_task("context"), photo_crops(32, 32), tmp_path, steps=3)) == 3


def test_show_and_quality(tmp_path):
    show_writes_a_picture("context", tmp_path)
    task = get_task("context")
    rows = task.quality(task.build_model(widths=(8, 16)), photo_crops(8, 32), torch.arange(8), seed=0)
    assert rows[0]["baseline"] == 0.125 and 0 <= rows[0]["model"] <= 1


def test_bad_options():
    with pytest.raises(ValueError, match="^drop"):
        get_task("context", drop=-0.1)
    with pytest.raises(ValueError, match="^downsample_to"):
        get_task("context", downsample_to=0)
    with pytest.raises(ValueError, match="^head_convs"):
        get_task("context", head_convs=-1)


def test_head_conv_stage_sits_between_encoder_and_pooling():
    """With ``head_convs=1`` the towers' features are the head's conv stage
    on the encoder's map, pooled; the encoder kept for transfer is unchanged."""
    torch.manual_seed(0)
    task = get_task("context", head_convs=1)
    model = task.build_model(widths=(8, 16)).eval()
    assert len(model.convs) == 6 and sum(p.numel() for p in task.encoder(model).parameters()) == sum(
        p.numel() for p in get_task("context").encoder(get_task("context").build_model(widths=(8, 16))).parameters())
    pairs, _ = task.make_batch(photo_crops(3, 32), torch.arange(3), 0)
    with torch.no_grad():
        maps = model.convs(model.encoder(pairs.flatten(0, 1)))
        expected = model.head(maps.mean((-2, -1)).view(len(pairs), -1))
        torch.testing.assert_close(model(pairs), expected)
