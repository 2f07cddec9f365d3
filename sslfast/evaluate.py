"""Transfer evaluation: what did the pretraining buy, with few labels?

Protocol (``linear`` by default): freeze the encoder, take its features of
``k`` labelled images per class of the training split, fit a multinomial
logistic regression on them (standardised features, L2), and report accuracy
on the whole test split. Which features: as in the papers' per-layer probes
(RotNet, split-brain), each stage's map average-pooled to a small grid; the
probe picks one stage or all stages together, pooled to 2x2 or 4x4, by
k-fold cross-validation on the labelled examples alone (the test split plays
no part in the choice), separately for every encoder and seed. ``knn`` classifies test features by
their cosine nearest neighbours among the labelled ones; ``finetune`` trains
encoder and a linear head together on the labelled images. Every protocol runs
the same way on a randomly initialised encoder of the same architecture, over
several seeds (each seed picks a different labelled subset and random init),
and the results are reported as mean ± std.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

PROTOCOLS = ("linear", "knn", "finetune")


def dataset_arrays(dataset: Dataset, chunk: int = 256) -> tuple:
    """Stack a labelled data set into uint8 images ``[N, C, H, W]`` and int64
    labels (in chunks through ``__getitems__`` where the data set has it)."""
    items = []
    for start in range(0, len(dataset), chunk):
        indices = list(range(start, min(start + chunk, len(dataset))))
        items += dataset.__getitems__(indices) if hasattr(dataset, "__getitems__") else [dataset[i] for i in indices]
    images, labels = zip(*[(item[0], item[1]) for item in items])
    return torch.stack([torch.as_tensor(x) for x in images]), torch.as_tensor(labels, dtype=torch.int64)


def few_labels(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, drawn by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in labels.unique().tolist():
        members = (labels == cls).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(f"labels_per_class: class {cls} has only {len(members)} training examples")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)


@torch.no_grad()
def extract_features(encoder: nn.Module, prepare: Callable, images: torch.Tensor, device: str = "cpu",
                     batch_size: int = 256) -> torch.Tensor:
    """Probe features ``[N, D]`` (:meth:`Encoder.probe_features`) of uint8
    images, encoder in eval mode."""
    encoder.eval().to(device)
    out = [encoder.probe_features(prepare(images[i:i + batch_size].to(device))).float().cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)


PROBE_GRIDS = (2, 4)


@torch.no_grad()
def stage_maps(encoder: nn.Module, prepare: Callable, images: torch.Tensor, device: str = "cpu",
               batch_size: int = 256) -> List[torch.Tensor]:
    """Every stage's map of uint8 ``images``, average-pooled to the finest
    probe grid: ``[N, C_stage, g, g]`` per stage, encoder in eval mode."""
    encoder.eval().to(device)
    grid = max(PROBE_GRIDS)
    chunks = [[nn.functional.adaptive_avg_pool2d(f, grid).float().cpu()
               for f in encoder.stages(prepare(images[i:i + batch_size].to(device)))]
              for i in range(0, len(images), batch_size)]
    return [torch.cat(maps) for maps in zip(*chunks)]


def probe_choices(num_stages: int) -> List[tuple]:
    """``(stages, grid)`` candidates: each stage alone and all together, at every probe grid."""
    sets = [(s,) for s in range(num_stages)] + ([tuple(range(num_stages))] if num_stages > 1 else [])
    return [(stages, grid) for stages in sets for grid in PROBE_GRIDS]


def pooled_features(maps: List[torch.Tensor], stages: tuple, grid: int) -> torch.Tensor:
    """``[N, D]``: the chosen stages' maps pooled to ``grid x grid`` and concatenated."""
    return torch.cat([torch.flatten(nn.functional.adaptive_avg_pool2d(maps[s], grid), 1) for s in stages], 1)


def choose_probe_features(maps: List[torch.Tensor], labels: torch.Tensor, seed: int, folds: int = 5) -> tuple:
    """The ``(stages, grid)`` whose linear probe has the best stratified
    k-fold accuracy on the labelled examples (ties: the earlier candidate)."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(folds, int(torch.bincount(labels).min()))
    if folds < 2:
        return probe_choices(len(maps))[-1]
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(labels.numpy(), labels.numpy()))
    best, best_score = None, -1.0
    for stages, grid in probe_choices(len(maps)):
        x = pooled_features(maps, stages, grid)
        score = np.mean([linear_probe(x[fit], labels[fit], x[held], labels[held]) for fit, held in splits])
        if score > best_score:
            best, best_score = (stages, grid), score
    return best


def describe_probe_features(stages: tuple, grid: int) -> str:
    return f"stage {'+'.join(str(s + 1) for s in stages)}, {grid}x{grid}"


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
    """Accuracy of an L2-regularised logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(scaler.transform(train_x.numpy()), train_y.numpy())
    return float((clf.predict(scaler.transform(test_x.numpy())) == test_y.numpy()).mean())


def knn_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
              k: int = 10) -> float:
    """Accuracy of a cosine-similarity k-NN vote (weighted by similarity)."""
    a, b = nn.functional.normalize(train_x, dim=1), nn.functional.normalize(test_x, dim=1)
    similarity = b @ a.t()
    top, idx = similarity.topk(min(k, len(train_y)), dim=1)
    votes = torch.zeros(len(test_y), int(train_y.max()) + 1)
    votes.scatter_add_(1, train_y[idx], top.clamp_min(0) + 1e-6)
    return (votes.argmax(1) == test_y).float().mean().item()


def finetune_probe(encoder: nn.Module, prepare: Callable, train_images: torch.Tensor, train_y: torch.Tensor,
                   test_images: torch.Tensor, test_y: torch.Tensor, device: str = "cpu", epochs: int = 30,
                   lr: float = 0.01, seed: int = 0) -> float:
    """Train encoder + linear head on the labelled images; test accuracy."""
    torch.manual_seed(seed)
    classes = int(train_y.max()) + 1
    head = nn.Linear(encoder.out_channels, classes).to(device)
    encoder.to(device).train()
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    batch = min(64, len(train_y))
    for _ in range(epochs):
        order = torch.randperm(len(train_y))
        for i in range(0, len(order), batch):
            sel = order[i:i + batch]
            loss = nn.functional.cross_entropy(head(encoder.pooled(prepare(train_images[sel].to(device)))),
                                               train_y[sel].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoder.eval()
    with torch.no_grad():
        logits = torch.cat([head(encoder.pooled(prepare(test_images[i:i + 256].to(device)))).cpu()
                            for i in range(0, len(test_images), 256)])
    return (logits.argmax(1) == test_y).float().mean().item()


def evaluate_encoders(make_encoders: Callable[[int], Dict[str, nn.Module]], prepare: Callable,
                      train: Dataset, test: Dataset, labels_per_class: int = 10, seeds: Sequence[int] = (0, 1, 2),
                      protocols: Sequence[str] = ("linear",), device: str = "cpu",
                      progress: bool = True,
                      chosen_features: Optional[Dict[str, List[str]]] = None) -> Dict[str, Dict[str, List[float]]]:
    """Accuracy per encoder and protocol over seeds.

    ``make_encoders(seed)`` returns named encoders to compare (e.g. the
    pretrained one and a random init built with that seed). Returns
    ``{encoder_name: {protocol: [accuracy per seed]}}``. If
    ``chosen_features`` is a dict, the linear probe's feature choice per
    encoder and seed is appended to it (``{encoder_name: [description]}``).
    """
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    train_images, train_labels = dataset_arrays(train)
    test_images, test_labels = dataset_arrays(test)
    results: Dict[str, Dict[str, List[float]]] = {}
    for seed in tqdm(list(seeds), desc="evaluate", disable=not progress):
        subset = few_labels(train_labels, labels_per_class, seed)
        x_images, y = train_images[subset], train_labels[subset]
        for name, encoder in make_encoders(seed).items():
            scores = results.setdefault(name, {})
            if "linear" in protocols:
                train_maps = stage_maps(encoder, prepare, x_images, device)
                test_maps = stage_maps(encoder, prepare, test_images, device)
                stages, grid = choose_probe_features(train_maps, y, seed)
                train_x = pooled_features(train_maps, stages, grid)
                test_x = pooled_features(test_maps, stages, grid)
                scores.setdefault("linear", []).append(linear_probe(train_x, y, test_x, test_labels))
                if chosen_features is not None:
                    chosen_features.setdefault(name, []).append(describe_probe_features(stages, grid))
            if "knn" in protocols:
                train_x = extract_features(encoder, prepare, x_images, device)
                test_x = extract_features(encoder, prepare, test_images, device)
                scores.setdefault("knn", []).append(knn_probe(train_x, y, test_x, test_labels))
            if "finetune" in protocols:
                scores.setdefault("finetune", []).append(
                    finetune_probe(encoder, prepare, x_images, y, test_images, test_labels, device, seed=seed))
    return results


def summarize(results: Dict[str, Dict[str, List[float]]]) -> List[Dict[str, object]]:
    """Rows of mean ± std (in accuracy points) per encoder and protocol."""
    rows = []
    for name, scores in results.items():
        for protocol, values in scores.items():
            arr = np.asarray(values) * 100
            rows.append({"encoder": name, "protocol": protocol, "mean": float(arr.mean()),
                         "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, "runs": len(arr),
                         "values": [float(v) for v in arr]})
    return rows


def markdown_table(rows: List[Dict[str, object]], title: Optional[str] = None) -> str:
    lines = [f"### {title}", ""] if title else []
    lines += ["| encoder | protocol | accuracy (%) | runs |", "|---|---|---|---|"]
    lines += [f"| {r['encoder']} | {r['protocol']} | {r['mean']:.1f} ± {r['std']:.1f} | {r['runs']} |" for r in rows]
    return "\n".join(lines)


def write_report(rows: List[Dict[str, object]], out_dir: str, name: str, title: str, meta: Dict) -> str:
    """Save rows as ``name.json`` and ``name.md``; returns the markdown."""
    os.makedirs(out_dir, exist_ok=True)
    text = markdown_table(rows, title)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(text + "\n")
    return text


def quality_report(task, model: nn.Module, dataset: Dataset, count: int = 256, seed: int = 0,
                   device: str = "cpu", batch_size: int = 64) -> List[Dict[str, object]]:
    """Run ``task.quality`` over the first ``count`` images of a held-out data
    set in batches; rows averaged over images, with ``holds`` saying whether
    the model beats the baseline in the metric's direction."""
    images, _ = dataset_arrays(dataset)
    images = images[:count]
    if len(images) == 0:
        raise ValueError("dataset: no images to check quality on")
    model = model.to(device).eval()
    totals: Dict[str, Dict[str, object]] = {}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        index = torch.arange(start, start + len(batch), device=device)
        for row in task.quality(model, batch, index, seed):
            total = totals.setdefault(row["metric"], {**row, "model": 0.0, "baseline": 0.0})
            total["model"] += float(row["model"]) * len(batch)
            total["baseline"] += float(row["baseline"]) * len(batch)
    rows = []
    for row in totals.values():
        row["model"] /= len(images)
        row["baseline"] /= len(images)
        row["holds"] = row["model"] > row["baseline"] if row["better"] == "higher" else row["model"] < row["baseline"]
        rows.append(row)
    return rows


def quality_markdown(rows: List[Dict[str, object]], title: Optional[str] = None) -> str:
    lines = [f"### {title}", ""] if title else []
    lines += ["| metric | model | baseline | better | holds |", "|---|---|---|---|---|"]
    lines += [f"| {r['metric']} | {r['model']:.4g} | {r['baseline']:.4g} ({r['baseline_name']}) | {r['better']} | "
              f"{'yes' if r['holds'] else 'NO'} |" for r in rows]
    return "\n".join(lines)
