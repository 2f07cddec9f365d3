"""Builds sslfast._C: the CPU backend always, the CUDA backend when nvcc and a
CUDA build of torch are both present (override with SSLFAST_CUDA=0 or 1)."""
import glob
import os
import shutil

from setuptools import find_packages, setup

# torch guesses /usr/local when nvcc is on PATH through a symlink there, and
# then cannot find libcudart; point it at the toolkit before importing it.
if "CUDA_HOME" not in os.environ and os.path.isdir("/usr/local/cuda"):
    os.environ["CUDA_HOME"] = "/usr/local/cuda"

import torch  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def want_cuda() -> bool:
    forced = os.environ.get("SSLFAST_CUDA")
    if forced is not None:
        return forced == "1"
    nvcc = os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc") if "CUDA_HOME" in os.environ else None
    return torch.version.cuda is not None and bool(
        (nvcc and os.path.exists(nvcc)) or shutil.which("nvcc"))


def extension():
    cpp = sorted(glob.glob("csrc/ops/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    # No contraction into FMA: GCC fuses a*b+c by default even under -std=c++20,
    # which would make results depend on which ISA copy of a loop runs
    # (csrc/cpu/vectorize.h) and differ from the scalar code of the same math.
    # -fopenmp: at::parallel_for is inline in torch's headers and runs serially
    # unless the extension itself is compiled with OpenMP (torch's libgomp,
    # already loaded, serves it).
    cxx = ["-O3", "-std=c++20", "-fvisibility=hidden", "-ffp-contract=off", "-fopenmp"]
    link = ["-fopenmp"]
    if not want_cuda():
        return CppExtension("sslfast._C", cpp, extra_compile_args={"cxx": cxx}, extra_link_args=link)
    if not torch.cuda.is_available() and "TORCH_CUDA_ARCH_LIST" not in os.environ:
        os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0;8.6;9.0+PTX"
    return CUDAExtension(
        "sslfast._C", cpp + sorted(glob.glob("csrc/cuda/*.cu")),
        define_macros=[("SSLFAST_WITH_CUDA", None)],
        extra_compile_args={"cxx": cxx, "nvcc": ["-O3", "-std=c++20", "--expt-relaxed-constexpr"]},
        extra_link_args=link,
    )


setup(
    packages=find_packages(include=["sslfast", "sslfast.*"]),
    ext_modules=[extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
