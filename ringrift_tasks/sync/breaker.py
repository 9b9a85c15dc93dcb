"""Per-node circuit breaker: stop knocking on a node that keeps failing, retry it later.

``closed`` (normal) -> ``open`` after ``failures`` consecutive failed passes; an open breaker
refuses attempts until ``cooldown_s`` has passed, then lets one trial through (``half_open``);
a success closes it, a failure opens it again for another cooldown. Pure functions over a
small frozen value; the sync manifest repository persists it per node.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

BreakerStateName = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Open after ``failures`` consecutive failures; try again after ``cooldown_s`` seconds."""

    failures: int = 3
    cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ValueError(f"breaker failures must be >= 1, got {self.failures}")
        if self.cooldown_s < 0:
            raise ValueError(f"breaker cooldown_s must be >= 0, got {self.cooldown_s}")


@dataclass(frozen=True, slots=True)
class Breaker:
    """A node's breaker: its state, consecutive failures and when it last opened (Unix s)."""

    state: BreakerStateName = "closed"
    consecutive_failures: int = 0
    opened_at: float | None = None


def admit(b: Breaker, policy: BreakerPolicy, now: float) -> tuple[bool, Breaker]:
    """Whether a pass may try the node now, and the breaker after asking.

    An open breaker whose cooldown has run out becomes half-open and admits the trial.
    """
    if b.state == "open":
        if b.opened_at is not None and now - b.opened_at < policy.cooldown_s:
            return False, b
        return True, replace(b, state="half_open")
    return True, b


def on_success() -> Breaker:
    """A pass reached the node and finished: close, forget the failures."""
    return Breaker("closed", 0, None)


def on_failure(b: Breaker, policy: BreakerPolicy, now: float) -> Breaker:
    """A pass failed on the node: count it; a failed trial or the N-th failure opens."""
    n = b.consecutive_failures + 1
    if b.state == "half_open" or n >= policy.failures:
        return Breaker("open", n, now)
    return Breaker("closed", n, None)


def retry_in(b: Breaker, policy: BreakerPolicy, now: float) -> float:
    """Seconds until an open breaker admits a trial (0 when it admits now)."""
    if b.state != "open" or b.opened_at is None:
        return 0.0
    return max(0.0, b.opened_at + policy.cooldown_s - now)
