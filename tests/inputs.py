"""Random test inputs shared by the op tests."""
import torch


def random_images(shape, dtype, generator):
    """uint8 levels 0..255, or floats uniform in [0, 1) stored in ``dtype``."""
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator).to(dtype)
