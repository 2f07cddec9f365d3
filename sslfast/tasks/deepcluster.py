"""Deep clustering (DeepCluster, Caron et al. 2018).

As each epoch begins (the Trainer's ``epoch_order`` hook): the pooled
features under the classifier (the encoder and the head's own conv stage,
see ``head_convs``) of the centre crop of every image of the data set (no
augmentation; the centred square of side ``cluster_crop``, resized back to
the image size), PCA to ``pca_dim``
dimensions with whitening, L2 normalisation, k-means into ``k`` clusters
(``sslfast.ops.kmeans``: chunked assignment, faiss's empty-cluster split,
statistics all-reduced under DDP); the cluster ids become the epoch's labels,
the classifier head is re-initialised (and its optimiser state dropped), and
the epoch's order samples uniformly over the non-empty clusters (as the
reference's ``UnifLabelSampler``). The NMI between consecutive epochs'
assignments is logged (``nmi`` column, 0 in the first epoch).

Input is Sobel-filtered grayscale (``ops.sobel``: the image normalised, gray,
then the two 3x3 Sobel responses), so the encoder takes 2 channels; a random
horizontal flip is the default augmentation (``crop`` adds random crops,
as the reference trains on random crops). Defaults for small data: ``k=50``
(~10x the 4 classes of ``shapes``), ``pca_dim=32`` (the recipe's 256 is for
4096-d AlexNet features; the small encoder has 128), ``cluster_crop=0.5``
(the reference clusters centre crops, 224 of 256 px; on ``shapes`` the
labelled object is central and whole images cluster by their background:
k-means of the random-init features has an NMI with the shape labels of
0.014 for whole images, 0.017 / 0.031 / 0.036 for centre crops of 0.75 /
0.6 / 0.5, first 3,000 training images).

Measured on ``shapes`` (``sslfast results``: linear probe at 32 px, 10
labels per class; an epoch is 156 steps of 64 of the 10,000 images): with
the whole image clustered (``cluster_crop=1``) no setting tried beat the
Sobel-input random init (seed 0: 30-33% against 37.4% for 150-300 steps,
crops 0.7, lr 0.01, re-clustering every 39 steps, k=200, two head stages;
30.6% at 900 steps). With the centre half clustered, 600 steps (4
clusterings, NMI between epochs 0.34 -> 0.47, all 50 clusters in use)
gave 40.8 ± 3.0% against 34.7 ± 2.6% for random init over 3 seeds (44.1 /
38.6 / 39.6 against 37.4 / 32.1 / 34.5; the probe chose stage 3 twice),
but 33.1% against 37.4% at 300 steps (seed 0), so ``make results``
pretrains it for 600 steps.
Random training crops (``crop=0.6``) on top cost 5 points at 300 steps.

Under DDP each rank embeds a contiguous shard of the images; PCA statistics,
k-means statistics and the labels are combined across ranks, so all ranks
train on the same labels. The labels are checkpointed (``state_dict``), so a
run resumed inside an epoch goes on with that epoch's labels and order.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import nn

from .. import ops
from ..models import ConvHead, global_pool
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask, accuracy, register_task
from .draws import uniform

FLIP_FIELD = 0x466c6970  # "Flip"
CROP_FIELD = 0x43726f70  # "Crop"
CACHE_BYTES = 1 << 30  # data sets up to this size stay in memory between epochs


def pca_whiten(features: torch.Tensor, dim: int, world: int = 1, eps: float = 1e-5) -> torch.Tensor:
    """``features`` ``[N, D]`` projected on their top ``dim`` principal axes,
    each divided by the square root of its variance (+ eps), then L2
    normalised per row. Under DDP (``world > 1``) the mean and covariance are
    those of every rank's rows together."""
    x = features.double()
    stats = torch.cat([x.sum(0), (x.T @ x).reshape(-1), x.new_tensor([x.shape[0]])])
    if world > 1:
        dist.all_reduce(stats)
    d = x.shape[1]
    count = stats[-1]
    mean = stats[:d] / count
    covariance = stats[d:-1].view(d, d) / count - torch.outer(mean, mean)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    top = min(dim, d)
    projection = vectors[:, -top:].flip(1) / torch.sqrt(values[-top:].flip(0).clamp(min=0) + eps)
    reduced = (x - mean) @ projection
    return nn.functional.normalize(reduced, dim=1).float()


def uniform_cluster_order(labels: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``len(labels)`` indices drawn uniformly over the non-empty clusters:
    each gets ``N // clusters + 1`` draws (with replacement when it is
    smaller), then all are shuffled and cut to ``N``."""
    n = labels.shape[0]
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels, minlength=k)
    starts = torch.cumsum(counts, 0) - counts
    present = torch.nonzero(counts).view(-1)
    per_cluster = n // len(present) + 1
    picks = []
    for c in present.tolist():
        size, start = int(counts[c]), int(starts[c])
        members = order[start:start + size]
        if size >= per_cluster:
            picks.append(members[torch.randperm(size, generator=generator)[:per_cluster]])
        else:
            picks.append(members[torch.randint(size, (per_cluster,), generator=generator)])
    chosen = torch.cat(picks)
    return chosen[torch.randperm(len(chosen), generator=generator)[:n]]


def nmi(a: torch.Tensor, b: torch.Tensor) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(a.cpu().numpy(), b.cpu().numpy()))


class DeepClusterNet(nn.Module):
    """Encoder -> the head's own conv stages (if any) -> pooled features -> linear
    classifier over the clusters. The clustered features are those the
    classifier sees (the reference clusters the layer under its classifier);
    with ``head_convs`` > 0 that layer and the specialisation to the
    clusters stay above the encoder kept for transfer, as in rotation."""

    def __init__(self, encoder, k: int, head_convs: int = 1):
        super().__init__()
        self.encoder = encoder
        self.head = ConvHead(encoder.out_channels, k, convs=head_convs)
        self.reset_head()

    @property
    def classifier(self) -> nn.Linear:
        return self.head.classifier.layers[-1]

    def reset_head(self) -> None:
        """The reference's top-layer init of the classifier: N(0, 0.01)
        weights, zero bias."""
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled features the classifier sees (what k-means clusters)."""
        return global_pool(self.head.convs(self.encoder(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_task
class DeepClusterTask(PretextTask):
    """Options: ``k`` (clusters), ``pca_dim``, ``kmeans_iters`` (Lloyd
    iterations per epoch), ``init`` (k-means init: "random" as faiss, or
    "k-means++"), ``flip`` (random horizontal flips), ``crop`` (side of a
    random square crop, relative to the image, resized back before the
    Sobel filter; 1 = no crop), ``cluster_crop`` (side of the centred square
    whose features are clustered, resized back likewise; 1 = the whole
    image), ``head_convs`` (the head's own conv stages
    above the encoder, 1 by default: on shapes at 300 steps the encoder's
    last stage lost ~3 linear-probe points to random init when it carried the
    cluster classifier directly, ~0.7 with a stage of the head's own in
    between), ``feature_batch`` (images per forward pass when embedding the
    data set), ``batch_ops`` ("sslfast": fused crop and Sobel; "torch": the
    same with plain torch ops)."""

    name = "deepcluster"
    input_channels = 2
    train_defaults = {"optimizer": "sgd", "lr": 0.05, "weight_decay": 1e-5}

    def __init__(self, k: int = 50, pca_dim: int = 32, kmeans_iters: int = 20, init: str = "random",
                 flip: bool = True, crop: float = 1.0, cluster_crop: float = 0.5, head_convs: int = 1,
                 feature_batch: int = 256, mean=DEFAULT_MEAN, std=DEFAULT_STD, batch_ops: str = "sslfast"):
        if batch_ops not in ("sslfast", "torch"):
            raise ValueError(f"batch_ops: expected 'sslfast' or 'torch', got {batch_ops!r}")
        if k < 2:
            raise ValueError(f"k: expected at least 2 clusters, got {k}")
        if pca_dim < 1:
            raise ValueError(f"pca_dim: expected a positive dimension, got {pca_dim}")
        if init not in ops.INIT_METHODS:
            raise ValueError(f"init: expected one of {ops.INIT_METHODS}, got {init!r}")
        if not 0 < crop <= 1:
            raise ValueError(f"crop: expected a relative side in (0, 1], got {crop}")
        if not 0 < cluster_crop <= 1:
            raise ValueError(f"cluster_crop: expected a relative side in (0, 1], got {cluster_crop}")
        if head_convs < 0:
            raise ValueError(f"head_convs: expected 0 or more, got {head_convs}")
        super().__init__(k=k, pca_dim=pca_dim, kmeans_iters=kmeans_iters, init=init, flip=flip, crop=crop,
                         cluster_crop=cluster_crop, head_convs=head_convs, feature_batch=feature_batch,
                         mean=tuple(mean), std=tuple(std), batch_ops=batch_ops)
        self.k, self.pca_dim, self.kmeans_iters, self.init = k, pca_dim, kmeans_iters, init
        self.flip, self.feature_batch, self.mean, self.std = flip, feature_batch, tuple(mean), tuple(std)
        self.batch_ops, self.crop, self.cluster_crop, self.head_convs = batch_ops, crop, cluster_crop, head_convs
        self.labels: Optional[torch.Tensor] = None  # cluster id of every data-set image, this epoch
        self.labels_epoch: Optional[int] = None  # the epoch they were made for
        self.last_nmi = 0.0
        self.history: List[Dict[str, float]] = []
        self._cache: Optional[tuple] = None  # (data set, shard (start, stop), uint8 images)

    # -- input ---------------------------------------------------------------
    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised, gray, Sobel: ``[B, 2, H, W]`` float32."""
        if self.batch_ops == "torch":
            return self._torch_sobel(images)
        return ops.sobel(images, mean=self.mean, std=self.std, out_dtype=torch.float32)

    def _torch_sobel(self, images: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        x = (images.float() / 255 - mean) / std
        weights = torch.tensor(ops.LUMA_WEIGHTS, device=images.device).view(1, -1, 1, 1)
        gray = (x * weights).sum(1, keepdim=True)
        dx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device)
        kernels = torch.stack([dx, dx.T]).unsqueeze(1)
        return nn.functional.conv2d(gray, kernels, padding=1)

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(Sobel input [B, 2, H, W], this epoch's cluster ids [B])``; ids are
        -1 (ignored by the loss) before the first clustering."""
        inputs = self.prepare_input(self._random_crops(images, index, seed) if self.crop < 1 else images)
        if self.flip:
            flipped = uniform(seed, index, 1, FLIP_FIELD).view(-1, 1, 1, 1) < 0.5
            inputs = torch.where(flipped, inputs.flip(-1), inputs)
        if self.labels is None:
            targets = torch.full_like(index, -1)
        else:
            targets = self.labels.to(index.device)[index]
        return inputs, targets

    def _random_crops(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> torch.Tensor:
        """A square crop of side ``crop`` times the image's shorter side at a
        uniform place in each image, resized back to the image size (uint8):
        the reference trains on random crops and clusters centre crops, so
        the network must name an image's cluster from part of it."""
        h, w = images.shape[-2:]
        side = max(1, round(self.crop * min(h, w)))
        room = torch.tensor([h - side + 1, w - side + 1], device=index.device)
        origins = (uniform(seed, index, 2, CROP_FIELD) * room).long().view(-1, 1, 2)
        return self._crops(images, origins, side)

    def _centre_crops(self, images: torch.Tensor) -> torch.Tensor:
        """The centred square of side ``cluster_crop`` times the shorter side,
        resized back to the image size (uint8): what is clustered."""
        h, w = images.shape[-2:]
        side = max(1, round(self.cluster_crop * min(h, w)))
        origins = torch.tensor([(h - side) // 2, (w - side) // 2], device=images.device)
        return self._crops(images, origins.repeat(images.shape[0], 1, 1), side)

    def _crops(self, images: torch.Tensor, origins: torch.Tensor, side: int) -> torch.Tensor:
        """Squares of ``side`` at ``origins`` (``[B, 1, 2]`` y, x), one per
        image, resized back to the image size (uint8)."""
        h, w = images.shape[-2:]
        if self.batch_ops == "torch":
            crops = torch.stack([image[:, y:y + side, x:x + side] for image, (y, x) in
                                 zip(images, origins.view(-1, 2).tolist())]).float()
            resized = nn.functional.interpolate(crops, size=(h, w), mode="bilinear", antialias=True)
            return resized.round().clamp(0, 255).to(torch.uint8)
        src = torch.arange(images.shape[0], device=images.device).view(-1, 1)
        crops = ops.gather_patches(images, src, origins, side, out_dtype=torch.uint8)[:, 0]
        return ops.resize(crops, (h, w), filter="bilinear", out_dtype=torch.uint8)

    # -- clustering ----------------------------------------------------------
    def cluster(self, features: torch.Tensor, seed: int, distributed: bool = False) -> ops.KMeansResult:
        """PCA-whitened, L2-normalised ``features`` clustered into ``k``
        (this rank's rows under DDP)."""
        world = dist.get_world_size() if distributed and dist.is_initialized() else 1
        reduced = pca_whiten(features, self.pca_dim, world)
        return ops.kmeans(reduced, self.k, iters=self.kmeans_iters, seed=seed, init=self.init,
                          distributed=world > 1)

    def set_labels(self, labels: torch.Tensor) -> None:
        """Adopt new cluster ids (int64 ``[N]``); logs the NMI to the last ones."""
        labels = labels.cpu()
        self.last_nmi = nmi(self.labels, labels) if self.labels is not None else 0.0
        self.labels = labels

    def _load(self, dataset, indices: range) -> torch.Tensor:
        """uint8 images ``dataset[indices]``; kept for later epochs when they
        take at most ``CACHE_BYTES`` (decoding or rendering the data set anew
        every epoch costs more than the forward pass)."""
        # Keyed on the data set object itself (held, compared with `is`): an
        # id() key could match a new data set that took a freed one's address.
        if (self._cache is not None and self._cache[0] is dataset
                and self._cache[1] == (indices.start, indices.stop)):
            return self._cache[2]
        images = torch.stack([image for image, _ in dataset.__getitems__(list(indices))]) if len(indices) else None
        if images is not None and images.numel() * images.element_size() <= CACHE_BYTES:
            self._cache = (dataset, (indices.start, indices.stop), images)
        return images

    @torch.no_grad()
    def embed(self, model: nn.Module, dataset, indices: range, device: torch.device) -> torch.Tensor:
        """The clustered features (:meth:`DeepClusterNet.features`) of
        ``dataset[indices]`` (eval mode, no flip; their centre crops when
        ``cluster_crop`` < 1)."""
        model = getattr(model, "module", model)
        images = self._load(dataset, indices)
        if images is None:
            return torch.zeros(0, model.encoder.out_channels, device=device)
        was_training = model.training
        model.eval()
        out = []
        for i in range(0, len(images), self.feature_batch):
            chunk = images[i:i + self.feature_batch].to(device)
            if self.cluster_crop < 1:
                chunk = self._centre_crops(chunk)
            out.append(model.features(self.prepare_input(chunk)).float())
        model.train(was_training)
        return torch.cat(out)

    def epoch_order(self, trainer, epoch: int) -> torch.Tensor:
        """Re-cluster the data set, reset the head, and sample uniformly over
        the non-empty clusters."""
        from ..train import pretext_seed

        seed = pretext_seed(trainer.config.seed, epoch)
        if self.labels_epoch == epoch:
            # Resumed inside this epoch: its labels came with the checkpoint
            # and the head was reset when it began; only the order is redrawn.
            return uniform_cluster_order(self.labels, self.k, torch.Generator().manual_seed(seed))
        n, rank, world = len(trainer.dataset), trainer.rank, trainer.world
        shard = range(rank * n // world, (rank + 1) * n // world)
        features = self.embed(trainer.raw_model, trainer.dataset, shard, trainer.device)
        result = self.cluster(features, seed, distributed=world > 1)
        labels = _gather_shards(result.assignments, n, world)
        self.set_labels(labels)
        self.labels_epoch = epoch
        counts = torch.bincount(self.labels, minlength=self.k)
        self.history.append({"epoch": epoch, "nmi": self.last_nmi, "inertia": result.inertia,
                             "clusters": int((counts > 0).sum())})
        model = trainer.raw_model
        model.reset_head()
        for optimizer in trainer.optimizers.values():
            for p in model.classifier.parameters():
                optimizer.state.pop(p, None)
        return uniform_cluster_order(self.labels, self.k, torch.Generator().manual_seed(seed))

    def state_dict(self) -> Dict:
        """This epoch's labels (and the NMI log), so a resume inside an epoch
        trains on the labels it was trained on before the stop."""
        return {"labels": self.labels, "labels_epoch": self.labels_epoch, "last_nmi": self.last_nmi,
                "history": list(self.history)}

    def load_state_dict(self, state: Dict) -> None:
        self.labels, self.labels_epoch = state.get("labels"), state.get("labels_epoch")
        self.last_nmi, self.history = state.get("last_nmi", 0.0), list(state.get("history", []))

    # -- model ---------------------------------------------------------------
    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return DeepClusterNet(self.make_encoder(backbone, **backbone_options), self.k, self.head_convs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets, ignore_index=-1)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> Dict[str, float]:
        known = targets >= 0
        hit = accuracy(outputs[known], targets[known]) if known.any() else 0.0
        return {"accuracy": hit, "nmi": self.last_nmi}

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """The Sobel input (|d/dx| and |d/dy| as red and green) captioned with
        the cluster id, and the model's guess when a model is given."""
        inputs, targets = self.make_batch(images, index, seed)
        predictions = None
        if model is not None:
            with torch.no_grad():
                predictions = model.eval()(inputs).argmax(1)
        magnitude = inputs.abs().cpu()
        scale = magnitude.flatten(1).amax(1).clamp(min=1e-6).view(-1, 1, 1, 1)
        pictures = torch.cat([magnitude / scale, torch.zeros_like(magnitude[:, :1])], 1)
        captions = [f"cluster {int(t)}" + ("" if predictions is None else f" pred {int(predictions[i])}")
                    for i, t in enumerate(targets.tolist())]
        return pictures, captions

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        """NMI between the head's predictions and a fresh k-means of the
        held-out features (does the head still name the clusters the
        features form?), beside the same with the predictions shuffled. As
        in training, the head sees whole images and k-means the features of
        their centre crops (``cluster_crop``)."""
        inputs = self.prepare_input(images)
        clustered = self.prepare_input(self._centre_crops(images)) if self.cluster_crop < 1 else inputs
        with torch.no_grad():
            model = model.eval()
            predictions = model.classifier(model.features(inputs).float()).argmax(1)
            features = model.features(clustered).float()
        k = min(self.k, max(2, images.shape[0] // 4))
        clusters = ops.kmeans(pca_whiten(features, self.pca_dim), k, iters=self.kmeans_iters, seed=seed,
                              init=self.init).assignments
        shuffled = predictions[torch.randperm(len(predictions), generator=torch.Generator().manual_seed(seed))]
        return [{"metric": "NMI(head, k-means of features)", "model": nmi(predictions, clusters),
                 "baseline": nmi(shuffled, clusters), "baseline_name": "shuffled predictions", "better": "higher"}]


def _gather_shards(local: torch.Tensor, n: int, world: int) -> torch.Tensor:
    """The full ``[n]`` vector from every rank's contiguous shard."""
    if world == 1:
        return local
    width = (n + world - 1) // world + 1
    padded = torch.full((width,), -1, dtype=local.dtype, device=local.device)
    padded[:local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    sizes = [(r + 1) * n // world - r * n // world for r in range(world)]
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])

