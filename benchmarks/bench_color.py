"""pytest-benchmark suite of the colour family: sslfast.ops.rgb_to_lab against
kornia, scikit-image and an OpenCV loop, and sslfast.ops.colorization_batch
against the same pipeline in kornia + torch. The implementations live in
lab_impls.py and colorization_impls.py (shared with ``python -m
benchmarks.report --family rgb_to_lab`` / ``--family colorization``).

    .venv/bin/python -m pytest benchmarks/bench_color.py --benchmark-only

One benchmark group per job, batch shape and device; sslfast is first checked
against the job's definition and each peer against sslfast, outside the timing.
"""
from __future__ import annotations

import pytest

from . import colorization_impls, lab_impls
from .common import Unavailable, synchronized

pytestmark = [pytest.mark.bench]

CASES = [(module, shape, impl) for module in (lab_impls, colorization_impls)
         for shape in module.SHAPES for impl in module.IMPLS]


def _case_id(case) -> str:
    module, shape, impl = case
    return f"{module.FAMILY}-{'x'.join(map(str, shape))}-{impl.id}"


@pytest.fixture(scope="module")
def _cache():
    return {}


def _reference(cache, module, shape, device):
    """Inputs and sslfast's output, checked against the definition once."""
    key = (module.FAMILY, tuple(shape), device)
    if key not in cache:
        inputs = module.make_inputs(shape, device)
        reference = next(i for i in module.IMPLS if i.name == module.REFERENCE).build(inputs, device)()
        module.assert_equivalent(reference, module.definition(inputs), name=f"{module.REFERENCE} vs definition")
        cache[key] = (inputs, reference)
    return cache[key]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_color(benchmark, _cache, case, bench_device):
    module, shape, impl = case
    if bench_device == "cuda":
        import torch
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
    inputs, reference = _reference(_cache, module, shape, bench_device)
    try:
        fn = impl.build(inputs, bench_device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl.name != module.REFERENCE:
        module.assert_equivalent(fn(), reference, name=impl.name)
    benchmark.group = f"{module.group_name(shape)} {bench_device}"
    benchmark.extra_info.update(images=inputs.batch, note=impl.note)
    benchmark(synchronized(fn, bench_device))
