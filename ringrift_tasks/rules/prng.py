"""mulberry32: the reference's per-game PRNG (parity README §4), bit-exact."""

from __future__ import annotations


class Mulberry32:
    """Deterministic uniform floats in [0, 1) from a 32-bit seed."""

    __slots__ = ("_a",)

    def __init__(self, seed: int) -> None:
        self._a = seed & 0xFFFFFFFF

    def next(self) -> float:
        """The next float in [0, 1)."""
        a = (self._a + 0x6D2B79F5) & 0xFFFFFFFF
        self._a = a
        t = ((a ^ (a >> 15)) * (a | 1)) & 0xFFFFFFFF
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF) ^ t
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0

    def index(self, n: int) -> int:
        """A uniform index in ``range(n)`` drawn as the reference host draws it."""
        return int(self.next() * n)
