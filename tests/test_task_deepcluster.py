"""DeepCluster task: Sobel batches, PCA-whitening, the per-epoch clustering
hook, uniform cluster sampling, NMI, training, show, quality."""
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

from sslfast import ops
from sslfast.tasks import get_task
from sslfast.tasks.deepcluster import pca_whiten, uniform_cluster_order
from sslfast.train import IndexedImages, TrainConfig, Trainer

from task_helpers import one_thread, photo_crops, show_writes_a_picture


def test_make_batch_is_sobel_and_labels_are_the_cluster_ids():
    images = photo_crops(8, 32)
    index = torch.tensor([3, 0, 7, 1, 2, 6, 5, 4])
    task = get_task("deepcluster", flip=False)
    inputs, targets = task.make_batch(images, index, seed=0)
    assert inputs.shape == (8, 2, 32, 32)
    assert (targets == -1).all()  # nothing clustered yet
    # Oracle: normalise, BT.601 gray, 3x3 Sobel with zero padding (written here).
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    gray = (((images.float() / 255 - mean) / std) * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    padded = nn.functional.pad(gray, (1, 1, 1, 1))
    dx = (padded[:, :-2, 2:] + 2 * padded[:, 1:-1, 2:] + padded[:, 2:, 2:]
          - padded[:, :-2, :-2] - 2 * padded[:, 1:-1, :-2] - padded[:, 2:, :-2])
    assert torch.allclose(inputs[:, 0], dx, atol=2e-3)
    labels = torch.randint(0, 5, (8,))
    task.set_labels(labels)
    assert torch.equal(task.make_batch(images, index, seed=0)[1], labels[index])


def test_flips_are_per_sample_and_seeded():
    images = photo_crops(32, 32)
    index = torch.arange(32)
    plain, _ = get_task("deepcluster", flip=False).make_batch(images, index, seed=1)
    flipped, _ = get_task("deepcluster").make_batch(images, index, seed=1)
    same = torch.isclose(flipped, plain).flatten(1).all(1)
    mirrored = torch.isclose(flipped, plain.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and 5 < mirrored.sum() < 27


def test_crops_are_resized_parts_of_each_image_seeded_per_sample():
    images = photo_crops(6, 32)
    index = torch.arange(6)
    task = get_task("deepcluster", flip=False, crop=0.75)
    inputs, _ = task.make_batch(images, index, seed=3)
    assert torch.equal(inputs, task.make_batch(images, index, seed=3)[0])
    # Oracle: every 24 px crop of the image, upsampled with torch's bilinear
    # (as uint8), then our checked Sobel; one of them must be the input.
    plain = get_task("deepcluster", flip=False)
    found = []
    for b in range(len(images)):
        crops = torch.stack([images[b, :, y:y + 24, x:x + 24] for y in range(9) for x in range(9)]).float()
        upsampled = nn.functional.interpolate(crops, size=(32, 32), mode="bilinear", align_corners=False)
        candidates = plain.prepare_input(upsampled.round().clamp(0, 255).to(torch.uint8))
        error = (candidates - inputs[b]).abs().flatten(1).amax(1)
        assert error.min() < 0.1, error.min()
        found.append(int(error.argmin()))
    assert len(set(found)) > 1  # the crops' places differ between samples


@pytest.mark.parametrize("batch_ops", ["sslfast", "torch"])
def test_cluster_crop_clusters_the_resized_centre_of_each_image(batch_ops):
    """The default (0.5) clusters each image's central half, resized back."""
    images = photo_crops(6, 32)
    task = get_task("deepcluster", batch_ops=batch_ops, feature_batch=4)
    assert task.cluster_crop == 0.5
    model = task.build_model(widths=(8, 16))
    features = task.embed(model, IndexedImages(images), range(6), torch.device("cpu"))
    # Oracle: the central 16 px square, upsampled with torch's bilinear (as
    # uint8), then the whole-image features of the same model.
    centre = images[:, :, 8:24, 8:24].float()
    upsampled = nn.functional.interpolate(centre, size=(32, 32), mode="bilinear", align_corners=False)
    def whole_image_features(pictures):
        whole = get_task("deepcluster", cluster_crop=1.0, batch_ops=batch_ops)
        return whole.embed(model, IndexedImages(pictures), range(6), torch.device("cpu"))

    expected = whole_image_features(upsampled.round().clamp(0, 255).to(torch.uint8))
    uncropped = whole_image_features(images)
    scale = expected.abs().max()
    assert (features - expected).abs().max() < 0.02 * scale  # uint8 rounding of the two resizes may differ
    assert (features - uncropped).abs().max() > 0.2 * scale


def test_image_cache_never_serves_another_data_set():
    """A new data set at a freed one's address (same id()) must not get the
    freed one's cached images."""
    task = get_task("deepcluster")
    for seed in range(20):
        images = photo_crops(4, 16, seed=seed)
        assert torch.equal(task._load(IndexedImages(images), range(4)), images)


def test_head_convs_keep_the_clustered_layer_above_the_encoder(tmp_path):
    images = photo_crops(64, 32)
    task, trainer, rows = tiny_run(tmp_path, images, steps=5, head_convs=1, cluster_crop=1.0)
    model = trainer.raw_model
    assert len(model.head.convs) > 0 and not any(m is model.head for m in model.encoder.modules())
    x = task.prepare_input(images[:4])
    model.eval()
    pooled_head = nn.functional.adaptive_avg_pool2d(model.head.convs(model.encoder(x)), 1).flatten(1)
    assert torch.allclose(task.embed(model, trainer.dataset, range(4), torch.device("cpu")), pooled_head, atol=1e-5)
    assert torch.allclose(model(x), model.classifier(pooled_head), atol=1e-5)
    assert len(task.history) == 2 and rows[-1]["loss"] > 0


def test_pca_whitening_matches_sklearn():
    x = torch.randn(300, 12) @ torch.randn(12, 12) + 3
    ours = pca_whiten(x, 5)
    theirs = PCA(5, whiten=True).fit_transform(x.double().numpy())
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    # Components have arbitrary signs: compare the Gram matrices.
    np.testing.assert_allclose((ours @ ours.T).numpy(), theirs @ theirs.T, atol=2e-3)
    assert torch.allclose(ours.norm(dim=1), torch.ones(300), atol=1e-5)


def test_uniform_cluster_order_balances_clusters():
    labels = torch.cat([torch.zeros(900, dtype=torch.int64), torch.ones(90, dtype=torch.int64),
                        torch.full((10,), 3)])
    order = uniform_cluster_order(labels, 5, torch.Generator().manual_seed(0))
    assert order.shape == (1000,)
    counts = torch.bincount(labels[order], minlength=5)
    assert counts[2] == 0 and counts[4] == 0  # empty clusters are never drawn
    assert counts[[0, 1, 3]].min() >= 300


def tiny_run(tmp_path, images, steps, until=None, resume=False, **options):
    task = get_task("deepcluster", k=6, pca_dim=8, kmeans_iters=10, **options)
    config = TrainConfig(steps=steps, batch_size=16, lr=0.05, warmup_steps=0, log_every=1, checkpoint_every=1000,
                         out_dir=str(tmp_path), progress=False, backbone_options={"widths": (8, 16)})
    trainer = Trainer(task, images, config, resume=resume)
    with one_thread():
        return task, trainer, trainer.fit(until=until)


def test_each_epoch_reclusters_resets_the_head_and_logs_nmi(tmp_path, monkeypatch):
    images = photo_crops(64, 32)
    resets = []
    original = ops.kmeans
    monkeypatch.setattr(ops, "kmeans", lambda *a, **k: resets.append(1) or original(*a, **k))
    task, trainer, rows = tiny_run(tmp_path, images, steps=9)  # 4 steps per epoch: epochs 0, 1, 2
    assert len(resets) == 3 and [h["epoch"] for h in task.history] == [0, 1, 2]
    assert task.labels.shape == (64,) and task.labels.max() < 6
    assert all(h["clusters"] >= 2 for h in task.history)
    assert rows[0]["nmi"] == 0.0 and 0 < rows[-1]["nmi"] <= 1
    # the logged NMI is that of the last two epochs' labels
    assert task.history[-1]["nmi"] == pytest.approx(rows[-1]["nmi"])
    head = trainer.raw_model.classifier
    assert head.bias.abs().max() < 0.2  # re-initialised at the start of epoch 2


def test_resume_inside_an_epoch_keeps_its_labels_and_gives_the_same_next_losses(tmp_path, monkeypatch):
    images = photo_crops(64, 32)
    _, whole, rows = tiny_run(tmp_path / "whole", images, steps=7)  # 4 steps per epoch: stop inside epoch 1
    task, first, _ = tiny_run(tmp_path / "split", images, steps=7, until=5)
    labels = task.labels.clone()
    calls = []
    original = ops.kmeans
    monkeypatch.setattr(ops, "kmeans", lambda *a, **k: calls.append(1) or original(*a, **k))
    resumed_task, resumed, resumed_rows = tiny_run(tmp_path / "split", images, steps=7, resume=True)
    assert not calls  # epoch 1's labels came from the checkpoint, not a new clustering
    assert torch.equal(resumed_task.labels, labels) and resumed_task.labels_epoch == 1
    assert [h["epoch"] for h in resumed_task.history] == [0, 1]
    assert [r["loss"] for r in resumed_rows[5:]] == [r["loss"] for r in rows[5:]]


def test_nmi_is_sklearns():
    task = get_task("deepcluster")
    a, b = torch.randint(0, 4, (100,)), torch.randint(0, 4, (100,))
    task.set_labels(a)
    task.set_labels(b)
    assert task.last_nmi == pytest.approx(normalized_mutual_info_score(a.numpy(), b.numpy()))


def test_a_few_steps_lower_the_loss_within_an_epoch(tmp_path):
    images = photo_crops(256, 32)
    # One epoch of 16 steps, on the easiest labels (no flips, whole-image clusters).
    _, _, rows = tiny_run(tmp_path, images, steps=16, flip=False, cluster_crop=1.0)
    losses = [r["loss"] for r in rows]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.05, losses


def test_torch_batch_ops_agree():
    images = photo_crops(4, 32)
    fused = get_task("deepcluster").prepare_input(images)
    plain = get_task("deepcluster", batch_ops="torch").prepare_input(images)
    assert torch.allclose(fused, plain, atol=2e-3)


def test_show_and_quality(tmp_path):
    show_writes_a_picture("deepcluster", tmp_path)
    task = get_task("deepcluster", k=4, pca_dim=4)
    rows = task.quality(task.build_model(widths=(8, 16)), photo_crops(32, 32), torch.arange(32), seed=0)
    assert 0 <= rows[0]["model"] <= 1 and 0 <= rows[0]["baseline"] <= 1


def test_quality_clusters_centre_crops_and_predicts_on_whole_images(monkeypatch):
    task = get_task("deepcluster", k=4, pca_dim=4, cluster_crop=0.5)
    model = task.build_model(widths=(8, 16)).eval()
    images = photo_crops(32, 32)
    clustered = []
    real_kmeans = ops.kmeans
    monkeypatch.setattr(ops, "kmeans", lambda x, *a, **kw: clustered.append(x) or real_kmeans(x, *a, **kw))
    task.quality(model, images, torch.arange(32), seed=0)
    # Oracle: the central 16 px square upsampled by torch's bilinear resize.
    centre = nn.functional.interpolate(images[:, :, 8:24, 8:24].float(), size=(32, 32), mode="bilinear",
                                       antialias=True).round().clamp(0, 255).to(torch.uint8)
    with torch.no_grad():
        want = pca_whiten(model.features(task.prepare_input(centre)).float(), 4)
        whole = pca_whiten(model.features(task.prepare_input(images)).float(), 4)
    assert torch.allclose(clustered[0], want, atol=0.05)
    assert not torch.allclose(clustered[0], whole, atol=0.05)


def test_bad_options():
    with pytest.raises(ValueError, match="^k"):
        get_task("deepcluster", k=1)
    with pytest.raises(ValueError, match="^init"):
        get_task("deepcluster", init="kmeans")
    with pytest.raises(ValueError, match="^crop"):
        get_task("deepcluster", crop=0)
    with pytest.raises(ValueError, match="^cluster_crop"):
        get_task("deepcluster", cluster_crop=1.5)
    with pytest.raises(ValueError, match="^head_convs"):
        get_task("deepcluster", head_convs=-1)
