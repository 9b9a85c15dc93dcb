"""Promotion-gate statistics: a sequential probability ratio test with a Wilson fallback.

Pure functions over the candidate's game scores against the best, in the order the games
were scheduled (1 a win, 0 a loss, 1/2 a draw).

**SPRT.** H0: the candidate's Elo advantage is ``elo0`` (0: not better), H1: it is ``elo1``
(the configured margin, +20 by default). Under an Elo difference d the expected score is
``p(d) = 1 / (1 + 10^(-d/400))``. Each game adds to the log-likelihood ratio

    x * ln(p1 / p0) + (1 - x) * ln((1 - p1) / (1 - p0))

(Wald's Bernoulli SPRT; a draw counts as half a win and half a loss, which only lowers the
variance, so the error rates stay at or below the nominal ones). The test accepts H1 as
soon as the LLR reaches ``ln((1 - beta) / alpha)`` and H0 as soon as it falls to
``ln(beta / (1 - alpha))``; testing the boundary points covers the composite hypotheses
(H0: d <= 0, H1: d >= margin) because the LLR drifts further the further d lies beyond.

**Cap.** Wald's test may need thousands of games for a 20-Elo margin. When ``max_games``
are played without a decision, the gate decides on the Wilson score interval instead:
accept when the lower bound of the 95% interval on the candidate's score is at least
``wilson_lower_bound`` (0.55).

Only the prefix up to the deciding game counts: games that were already running when the
test decided (played in parallel) feed the Elo log but not the decision, so the decision is
the same whatever order the workers finished in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Z_95 = 1.959963984540054


class GateError(ValueError):
    """Gate settings or scores that make no sense; the message names the value."""


def expected_score(elo_diff: float) -> float:
    """Expected score of a player ``elo_diff`` Elo stronger than its opponent."""
    return 1.0 / (1.0 + 10.0 ** (-elo_diff / 400.0))


def elo_from_score(score: float) -> float:
    """The Elo difference whose expected score is ``score`` (+-inf at 1 and 0)."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (draws as half successes).

    ``(0, 1)`` for ``n == 0``.
    """
    if n < 0 or not 0.0 <= successes <= n:
        raise GateError(f"wilson_interval: need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Sprt:
    """Wald's SPRT of H0: Elo diff = ``elo0`` against H1: Elo diff = ``elo1`` (> elo0)."""

    elo0: float = 0.0
    elo1: float = 20.0
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not self.elo1 > self.elo0:
            raise GateError(f"SPRT: elo1={self.elo1} must exceed elo0={self.elo0}")
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not 0.0 < v < 0.5:
                raise GateError(f"SPRT: {name}={v} must be in (0, 0.5)")

    @property
    def lower(self) -> float:
        """LLR at or below which H0 is accepted."""
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def upper(self) -> float:
        """LLR at or above which H1 is accepted."""
        return math.log((1.0 - self.beta) / self.alpha)

    def increments(self) -> tuple[float, float]:
        """LLR added by a win and by a loss (a draw adds their mean)."""
        p0, p1 = expected_score(self.elo0), expected_score(self.elo1)
        return math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))

    def llr_path(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """The LLR after each game."""
        x = np.asarray(scores, dtype=float)
        win, loss = self.increments()
        return np.cumsum(x * win + (1.0 - x) * loss)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What the gate concluded from a run of scores.

    ``accepted``: True (promote), False (keep the best), None (no decision yet: play
    more). ``method``: ``sprt``, ``wilson`` (cap reached) or ``pending``. ``games``,
    ``wins``/``draws``/``losses`` and ``score`` cover the games the decision rests on;
    ``llr`` is the test statistic after them, ``llr_lower``/``llr_upper`` its bounds,
    ``wilson_low`` the lower bound of the score's 95% interval.
    """

    accepted: bool | None
    method: str
    games: int
    wins: int
    draws: int
    losses: int
    score: float
    llr: float
    llr_lower: float
    llr_upper: float
    wilson_low: float
    elo0: float
    elo1: float
    alpha: float
    beta: float
    max_games: int
    wilson_threshold: float

    @property
    def decided(self) -> bool:
        return self.accepted is not None

    @property
    def decision(self) -> str:
        """``promote``, ``reject`` or ``continue``."""
        return {True: "promote", False: "reject", None: "continue"}[self.accepted]

    def evidence(self) -> dict[str, Any]:
        """JSON-ready record of the decision (stored with the promotion)."""
        out = asdict(self)
        out["decision"] = self.decision
        return out


def decide(
    scores: Sequence[float] | np.ndarray,
    *,
    elo_margin: float = 20.0,
    alpha: float = 0.05,
    beta: float = 0.05,
    max_games: int = 400,
    wilson_lower_bound: float = 0.55,
) -> GateDecision:
    """Run the gate over ``scores`` (candidate's, in schedule order) and decide.

    Stops at the first game whose LLR crosses a bound; without a crossing, decides on the
    Wilson bound once ``max_games`` games are in, else returns a pending decision.
    """
    if max_games < 1:
        raise GateError(f"max_games={max_games}: expected >= 1")
    if not 0.0 < wilson_lower_bound < 1.0:
        raise GateError(f"wilson_lower_bound={wilson_lower_bound}: expected in (0, 1)")
    sprt = Sprt(0.0, elo_margin, alpha, beta)
    x = np.asarray(scores, dtype=float)[:max_games]
    if x.size and (np.any(x < 0.0) or np.any(x > 1.0)):
        raise GateError("decide: scores must lie in [0, 1]")
    path = sprt.llr_path(x)
    crossed = np.flatnonzero((path >= sprt.upper) | (path <= sprt.lower))
    if crossed.size:
        n = int(crossed[0]) + 1
        accepted: bool | None = bool(path[n - 1] >= sprt.upper)
        method = "sprt"
    else:
        n = int(x.size)
        accepted = None
        method = "pending"
    used = x[:n]
    total = float(used.sum())
    wilson_low = wilson_interval(total, n)[0]
    if accepted is None and n >= max_games:
        accepted = wilson_low >= wilson_lower_bound
        method = "wilson"
    wins = int(np.count_nonzero(used == 1.0))
    losses = int(np.count_nonzero(used == 0.0))
    return GateDecision(
        accepted=accepted,
        method=method,
        games=n,
        wins=wins,
        draws=n - wins - losses,
        losses=losses,
        score=total / n if n else 0.0,
        llr=float(path[n - 1]) if n else 0.0,
        llr_lower=sprt.lower,
        llr_upper=sprt.upper,
        wilson_low=wilson_low,
        elo0=0.0,
        elo1=elo_margin,
        alpha=alpha,
        beta=beta,
        max_games=max_games,
        wilson_threshold=wilson_lower_bound,
    )
