"""The pytest-benchmark body shared by the bench_<family>.py suites whose
jobs live in ``<job>_impls.py`` modules (the interface of report.py)."""
from __future__ import annotations

import pytest
import torch

from .common import Unavailable, assert_equivalent, synchronized


def reference_for(cache: dict, module, shape, device: str):
    """Inputs and the reference's output for (module, shape, device), the
    reference checked against the job's definition once."""
    key = (module.FAMILY, repr(shape), device)
    if key not in cache:
        inputs = module.make_inputs(shape, device)
        reference = next(i for i in module.IMPLS if i.name == module.REFERENCE).build(inputs, device)()
        assert_equivalent(reference, module.definition(inputs), name=f"{module.REFERENCE} vs definition",
                          atol=getattr(module, "ATOL", 1e-5))
        cache[key] = (inputs, reference)
    return cache[key]


def run_benchmark(benchmark, cache: dict, module, shape, impl, device: str) -> None:
    """Check ``impl`` against the reference, then time it."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    inputs, reference = reference_for(cache, module, shape, device)
    try:
        fn = impl.build(inputs, device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl.name != module.REFERENCE:
        assert_equivalent(fn(), reference, name=impl.name, atol=getattr(module, "ATOL", 1e-5))
    benchmark.group = f"{module.group_name(shape)} {device}"
    benchmark.extra_info.update(images=inputs.batch, note=impl.note)
    benchmark(synchronized(fn, device))


def cases(*modules):
    """pytest parameters (module, shape, impl) over every job of the modules."""
    return [pytest.param(m, shape, impl, id=f"{m.group_name(shape)}-{impl.id}".replace(" ", "_"))
            for m in modules for shape in m.SHAPES for impl in m.IMPLS]
