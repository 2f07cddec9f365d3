"""pytest setup of the benchmark suites (benchmarks/, not tests/).

``pytest`` alone never runs these: the configured testpaths are tests/ and
the modules are named bench_*.py, not test_*.py. Run them explicitly:

    pytest benchmarks/bench_rotate.py --benchmark-only
    pytest benchmarks --benchmark-only          # every bench_*.py here

Options: ``--bench-device cpu|cuda|all`` (default cpu; cuda ones skip without
a GPU), ``--bench-reuse-freed-memory`` (see common.reuse_freed_memory) and
``--bench-threads N`` (torch.set_num_threads).
Every test here carries the ``bench`` marker, so ``-m "not bench"`` drops
them from a run that names this folder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from .common import reuse_freed_memory

HERE = Path(__file__).parent


def pytest_addoption(parser):
    group = parser.getgroup("sslfast benchmarks")
    group.addoption("--bench-device", choices=("cpu", "cuda", "all"), default="cpu",
                    help="device(s) to benchmark on (default cpu)")
    group.addoption("--bench-reuse-freed-memory", action="store_true",
                    help="keep freed heap memory in the process so outputs do not page-fault every call")
    group.addoption("--bench-threads", type=int, default=None,
                    help="torch.set_num_threads for the run (default: torch's)")


def pytest_configure(config):
    config.addinivalue_line("markers", "bench: performance benchmark (benchmarks/, run explicitly)")
    if config.getoption("--bench-reuse-freed-memory", default=False):
        reuse_freed_memory()
    threads = config.getoption("--bench-threads", default=None)
    if threads:
        import torch

        torch.set_num_threads(threads)


def pytest_collect_file(file_path: Path, parent):
    # bench_*.py do not match python_files; collect them when this folder is
    # named (a file named on the command line is collected by pytest itself).
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_") and file_path.parent == HERE
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc):
    if "bench_device" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--bench-device")
        devices = ["cpu", "cuda"] if choice == "all" else [choice]
        metafunc.parametrize("bench_device", devices)
