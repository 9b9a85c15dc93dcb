"""Gumbel AlphaZero at the root (Danihelka, Guez, Schrittwieser, Silver, ICLR 2022).

Sequential halving with Gumbel-top-k: sample ``g(a) ~ Gumbel(0, 1)``, consider the ``m``
moves with the largest ``g + logits``, and split the simulation budget over
``ceil(log2 m)`` phases, halving the considered set after each by
``g + logits + sigma(q)``. Implemented as in DeepMind's ``mctx``: a fixed table gives, for
the k-th simulation, the visit count an edge must have to be eligible, and the root picks
the eligible edge with the best score; halving falls out of that table.

``sigma(q) = (c_visit + max_b N(b)) * c_scale * q`` on completed Q values rescaled to
[0, 1] (min-max over the root's moves); unvisited moves are completed with the mixed value
``v_mix`` (the root's own value and the prior-weighted mean Q of the visited moves).
The policy target is the improved policy ``softmax(logits + sigma(completed q))``, and the
move played is the best eligible edge after the last phase. Below the root, PUCT.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from ringrift_tasks.ai.search.tree import Node

# Logit of a zero prior: finite, so the arithmetic stays NaN-free.
_MIN_LOG = math.log(1e-12)


def considered_visit_schedule(num_considered: int, simulations: int) -> list[int]:
    """For each simulation, the visit count an edge needs to be eligible (``mctx``'s
    ``get_table_of_considered_visits``)."""
    if num_considered <= 1:
        return list(range(simulations))
    log2max = math.ceil(math.log2(num_considered))
    sequence: list[int] = []
    visits = [0] * num_considered
    considered = num_considered
    while len(sequence) < simulations:
        extra = max(1, simulations // (log2max * considered))
        for _ in range(extra):
            sequence.extend(visits[:considered])
            for i in range(considered):
                visits[i] += 1
        considered = max(2, considered // 2)
    return sequence[:simulations]


def gumbel_noise(k: int, rng: random.Random) -> np.ndarray:
    """``k`` independent Gumbel(0, 1) draws from ``rng``."""
    # 1 - random() lies in (0, 1], so the inner log is finite; clamp the outer one.
    return np.array(
        [-math.log(max(-math.log(1.0 - rng.random()), 1e-300)) for _ in range(k)],
        dtype=np.float64,
    )


def prior_logits(priors: Sequence[float]) -> np.ndarray:
    return np.log(np.maximum(np.asarray(priors, dtype=np.float64), 1e-12)).clip(min=_MIN_LOG)


def completed_sigma(node: Node, c_visit: float, c_scale: float) -> np.ndarray:
    """``sigma(completed q)`` for every root edge, from the mover's point of view."""
    assert node.priors is not None and node.values is not None
    raw = float(node.values[node.to_play - 1])
    visits = np.asarray(node.child_n, dtype=np.float64)
    visited = visits > 0
    priors = np.asarray(node.priors, dtype=np.float64)
    q = np.zeros_like(visits)
    q[visited] = np.asarray(node.child_wm, dtype=np.float64)[visited] / visits[visited]
    total = float(visits.sum())
    if total > 0:
        mass = max(float(priors[visited].sum()), 1e-12)
        weighted = float((priors[visited] * q[visited]).sum()) / mass
        v_mix = (raw + total * weighted) / (1.0 + total)
    else:
        v_mix = raw
    completed = np.where(visited, q, v_mix)
    lo, hi = float(completed.min()), float(completed.max())
    rescaled = (completed - lo) / max(hi - lo, 1e-8)
    return (c_visit + float(visits.max(initial=0.0))) * c_scale * rescaled


def gumbel_select(
    node: Node,
    new_visits: np.ndarray,
    considered_visit: int,
    base_score: np.ndarray,
    c_visit: float,
    c_scale: float,
) -> int:
    """The root edge for a simulation: among edges with ``considered_visit`` visits in
    this search (pending ones included), the best ``g + logits + sigma(q)``.

    ``base_score`` is ``g + logits`` with ``-inf`` outside the top-m considered moves."""
    score = base_score + completed_sigma(node, c_visit, c_scale)
    eligible = (new_visits == considered_visit) & np.isfinite(base_score)
    if not eligible.any():  # only when leaves collided in a batch; keep the budget moving
        eligible = np.isfinite(base_score)
    return int(np.argmax(np.where(eligible, score, -np.inf)))


def gumbel_final(
    node: Node, new_visits: np.ndarray, base_score: np.ndarray, c_visit: float, c_scale: float
) -> int:
    """The move to play: the best score among the most visited considered edges."""
    considered = np.isfinite(base_score)
    top = float(new_visits[considered].max())
    score = base_score + completed_sigma(node, c_visit, c_scale)
    return int(np.argmax(np.where(considered & (new_visits == top), score, -np.inf)))


def improved_policy(node: Node, c_visit: float, c_scale: float) -> np.ndarray:
    """``softmax(logits + sigma(completed q))`` over the root's legal moves."""
    assert node.priors is not None
    z = prior_logits(node.priors) + completed_sigma(node, c_visit, c_scale)
    z -= z.max()
    e = np.exp(z)
    return e / e.sum()
