"""Batch Elo: a maximum-likelihood Bradley-Terry fit over a whole match log.

Pure math (numpy), no I/O. A match is a ranking of agents in tiers, best first; tied agents
share a tier: ``(("a",), ("b", "c"), ("d",))`` means a first, b and c tied second, d last.
Each match is decomposed into pairwise results: every agent beats every agent of every
lower tier, and agents of one tier draw (half a win each). A match of n agents gives each
pair a weight of 1/(n - 1), so every match counts as one game's worth of results for each
of its players whatever the player count (the pairs of one game are not independent).

The fit maximises  sum_ij W_ij log sigma(t_i - t_j) - (l2 / 2) sum_i t_i^2  by Newton's
method (t in natural log-odds units; Elo = t * 400 / ln 10). The tiny L2 term keeps an
unbeaten or winless agent finite and makes the Hessian invertible; it changes ratings of
agents with a normal record by far less than their confidence interval. Ratings are
anchored afterwards: ``anchor`` agent at ``anchor_elo`` when it is present, otherwise the
mean at ``mean_elo``. 95% intervals come from the inverse of the observed information
(the negative Hessian at the optimum), for each rating relative to the anchor.

The matches are put in a canonical order before anything is summed, so the result is
bit-for-bit the same for any order of the match log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

ELO_PER_NATURAL_UNIT = 400.0 / math.log(10.0)
Z_95 = 1.959963984540054
DEFAULT_L2 = 1e-2

Ranking = tuple[tuple[str, ...], ...]


class EloFitError(ValueError):
    """A match log the fit cannot use; the message names the match or the reason."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One agent's fitted rating: Elo and its 95% interval, and how many matches it played."""

    agent: str
    elo: float
    ci_low: float
    ci_high: float
    games: int


def normalize_ranking(ranking: Sequence[str | Sequence[str]]) -> Ranking:
    """Tiers best first, each a sorted tuple; a plain string is a tier of one.

    ``EloFitError`` if an agent appears twice or there are fewer than two agents.
    """
    tiers: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for tier in ranking:
        members = (tier,) if isinstance(tier, str) else tuple(tier)
        if not members:
            raise EloFitError(f"ranking {list(ranking)!r}: empty tier")
        for agent in members:
            if not isinstance(agent, str) or not agent:
                raise EloFitError(f"ranking {list(ranking)!r}: agent {agent!r} is not a name")
            if agent in seen:
                raise EloFitError(f"ranking {list(ranking)!r}: agent {agent!r} appears twice")
            seen.add(agent)
        tiers.append(tuple(sorted(members)))
    if len(seen) < 2:
        raise EloFitError(f"ranking {list(ranking)!r}: a match needs at least two agents")
    return tuple(tiers)


def pairwise_results(ranking: Ranking) -> list[tuple[str, str, float]]:
    """``(winner, loser, weight)`` triples of one match; a draw gives both directions 1/2."""
    n = sum(len(t) for t in ranking)
    w = 1.0 / (n - 1)
    out: list[tuple[str, str, float]] = []
    for k, tier in enumerate(ranking):
        for i, a in enumerate(tier):
            for b in tier[i + 1 :]:
                out.append((a, b, 0.5 * w))
                out.append((b, a, 0.5 * w))
            for lower in ranking[k + 1 :]:
                for b in lower:
                    out.append((a, b, w))
    return out


def _newton(wins: np.ndarray, l2: float, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """Maximise the penalised Bradley-Terry log-likelihood; returns theta (natural units)."""
    n = wins.shape[0]
    games = wins + wins.T
    theta = np.zeros(n)

    def objective(t: np.ndarray) -> float:
        d = t[:, None] - t[None, :]
        # log sigma(d) = -log(1 + e^-d), computed stably.
        return float(-(wins * np.logaddexp(0.0, -d)).sum() - 0.5 * l2 * (t @ t))

    f = objective(theta)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))  # P(i beats j)
        grad = (wins * (1.0 - p)).sum(axis=1) - (wins.T * p).sum(axis=1) - l2 * theta
        info = games * p * p.T  # N_ij p_ij p_ji
        hess_neg = np.diag(info.sum(axis=1) + l2) - info  # observed information
        step = np.linalg.solve(hess_neg, grad)
        # Damped Newton: halve until the objective does not decrease (it is concave, so a
        # full step is taken near the optimum).
        scale = 1.0
        while True:
            cand = theta + scale * step
            fc = objective(cand)
            if fc >= f - 1e-15 * abs(f) or scale < 1e-10:
                break
            scale *= 0.5
        theta, f = cand, fc
        if np.max(np.abs(scale * step)) < tol:
            break
    return theta


def fit_ratings(
    matches: Iterable[Sequence[str | Sequence[str]]],
    *,
    anchor: str = "random",
    anchor_elo: float = 400.0,
    mean_elo: float = 1500.0,
    l2: float = DEFAULT_L2,
) -> list[Rating]:
    """Fit Elo ratings to ``matches`` (each a ranking, see the module docstring).

    Returns one ``Rating`` per agent, best first (ties by name). The anchor's interval is
    zero-width: it is the reference every other interval is relative to. Without the
    anchor, intervals are relative to the mean of all agents.
    """
    if l2 <= 0:
        raise EloFitError(f"l2={l2!r}: the regulariser must be > 0")
    log = sorted(normalize_ranking(m) for m in matches)
    if not log:
        return []
    agents = sorted({a for m in log for tier in m for a in tier})
    index = {a: i for i, a in enumerate(agents)}
    n = len(agents)
    wins = np.zeros((n, n))
    played = np.zeros(n, dtype=np.int64)
    for m in log:
        for tier in m:
            for a in tier:
                played[index[a]] += 1
        for winner, loser, w in pairwise_results(m):
            wins[index[winner], index[loser]] += w

    theta = _newton(wins, l2)
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    info = (wins + wins.T) * p * p.T
    cov = np.linalg.inv(np.diag(info.sum(axis=1) + l2) - info)

    # Contrast c_i: the anchored rating of agent i is c_i . theta (+ constant).
    if anchor in index:
        ref = np.zeros(n)
        ref[index[anchor]] = 1.0
        offset = anchor_elo
    else:
        ref = np.full(n, 1.0 / n)
        offset = mean_elo
    out = []
    for a in agents:
        c = -ref.copy()
        c[index[a]] += 1.0
        elo = offset + ELO_PER_NATURAL_UNIT * float(c @ theta)
        var = max(float(c @ cov @ c), 0.0)
        half = Z_95 * ELO_PER_NATURAL_UNIT * math.sqrt(var)
        out.append(Rating(a, elo, elo - half, elo + half, int(played[index[a]])))
    out.sort(key=lambda r: (-r.elo, r.agent))
    return out
