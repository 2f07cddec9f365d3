"""Independent oracles shared by the tests: written from the specification,
not from the kernels."""
MASK64 = (1 << 64) - 1


def splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def counter_hash(seed: int, index: int, field: int) -> int:
    """The documented counter-based hash: splitmix64 over seed, index, field."""
    return splitmix64(splitmix64(splitmix64(seed) ^ (index & MASK64)) ^ field)


def hash_below(h: int, n: int) -> int:
    return ((h >> 32) * n) >> 32
