"""Counter-based randomness: every random number of a clip is a pure function of (seed, index, name).

SynthAV never draws from a shared random stream. A clip's scene parameters are hashes of
``(split seed, clip index, draw name, element counter)`` computed with integer ops on any device,
so clip ``i`` is the same bit for bit whether it is generated alone or inside a batch of 500,
and changing one split's size never moves another split's clips. Bulk noise (audio samples,
pixel noise) comes from one ``torch.Generator`` per clip, seeded by the same hash.

The mixer is MurmurHash3's 32-bit finaliser (``fmix32``) evaluated in int64 with masking, so it
never relies on integer overflow behaviour.
"""
from __future__ import annotations

import math
import zlib

import torch

_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2**32`` for ``0 <= x < 2**32`` without int64 overflow (split ``c`` in 16-bit halves)."""
    hi, lo = c >> 16, c & 0xFFFF
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _MASK


def fmix32(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3 finaliser on int64 tensors holding 32-bit values."""
    h = h ^ (h >> 16)
    h = _mul32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _mul32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def name_key(name: str) -> int:
    """A stable 32-bit key for a string (``zlib.crc32``; unlike ``hash`` it does not change per run)."""
    return zlib.crc32(name.encode("utf-8")) & _MASK


class ClipRandom:
    """Random draws of a batch of clips, keyed by ``(seed, index)``; every draw is named.

    ``uniform("size", 3)`` returns a ``(B, 3)`` float tensor in (0, 1) whose row ``b`` depends only
    on ``(seed, indices[b], "size", 3)``. Draw names must be unique per quantity.
    """

    def __init__(self, seed: int, indices: torch.Tensor):
        self.indices = indices.to(torch.int64)
        self.device = self.indices.device
        seed_key = fmix32(torch.tensor(seed & _MASK, dtype=torch.int64))
        self.key = fmix32((fmix32(self.indices & _MASK) ^ seed_key) & _MASK)  # (B,)

    def _bits(self, name: str, count: int) -> torch.Tensor:
        stream = fmix32(torch.tensor(name_key(name), dtype=torch.int64, device=self.device))
        counter = torch.arange(count, dtype=torch.int64, device=self.device)
        element = fmix32((stream + _mul32(counter, _GOLDEN)) & _MASK)  # (count,)
        return fmix32(self.key[:, None] ^ element[None, :])  # (B, count)

    def uniform(self, name: str, *shape: int) -> torch.Tensor:
        """Uniform floats in the open interval (0, 1), shape ``(B, *shape)``."""
        count = math.prod(shape) if shape else 1
        bits = self._bits(name, count) >> 8  # 24 random bits: exact in float32
        u = (bits.to(torch.float32) + 0.5) * (1.0 / 16777216.0)
        return u.reshape(len(self.indices), *shape)

    def randint(self, name: str, high, *shape: int) -> torch.Tensor:
        """Integers in ``[0, high)``; ``high`` may be a tensor broadcastable to ``(B, *shape)``."""
        u = self.uniform(name, *shape)
        high_t = torch.as_tensor(high, device=self.device)
        return torch.minimum((u * high_t).long(), high_t.long() - 1)

    def bernoulli(self, name: str, p: float, *shape: int) -> torch.Tensor:
        return self.uniform(name, *shape) < p

    def permutation(self, name: str, n: int) -> torch.Tensor:
        """A random permutation of ``range(n)`` per clip, shape ``(B, n)``."""
        return torch.argsort(self.uniform(name, n), dim=1)

    def seeds(self, name: str) -> list[int]:
        """One 63-bit integer seed per clip, for a per-clip ``torch.Generator``."""
        bits = self._bits(name, 2).cpu()
        return [int(a) << 31 ^ int(b) for a, b in bits.tolist()]


def per_clip_normal(seeds: list[int], size: int, device=None) -> torch.Tensor:
    """``(len(seeds), size)`` standard normals, row ``b`` drawn from a generator seeded with ``seeds[b]``.

    Generated on the CPU (cheap, and the same numbers on every device), then moved to ``device``.
    """
    out = torch.empty(len(seeds), size)
    gen = torch.Generator()
    for row, seed in enumerate(seeds):
        gen.manual_seed(seed)
        out[row] = torch.randn(size, generator=gen)
    return out.to(device) if device is not None else out
