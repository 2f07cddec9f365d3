"""sslfast: fast, batched pretext transforms and self-supervised pretext tasks.

Importing the package loads the native extension, which registers every op
under ``torch.ops.sslfast``; use them through :mod:`sslfast.ops`.
"""
import torch  # noqa: F401  (the extension needs torch's symbols loaded first)

from . import _C
from . import ops, transforms  # noqa: F401

__version__ = "0.1.0"


def built_with_cuda() -> bool:
    """True when this build of the extension includes the CUDA backend."""
    return bool(_C.built_with_cuda())


__all__ = ["built_with_cuda", "ops", "transforms", "__version__"]
