"""PUCT selection with per-seat values, FPU reduction, and Dirichlet noise at the root.

Selection at a node uses the value of the player to move there, so the same code serves
2, 3 and 4 players: every seat maximises its own expected outcome (no "paranoid"
coalition is assumed); the backup carries the whole per-seat vector.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ringrift_tasks.ai.search.tree import Node


def puct_select(node: Node, priors: Sequence[float], c_puct: float, fpu_reduction: float) -> int:
    """The edge maximising ``Q + c_puct * P * sqrt(N) / (1 + n)`` for the player to move.

    Pending leaves below an edge count as visits that lost (virtual loss, -1 each), so
    several leaves gathered from one tree before an evaluation spread out. Unvisited edges
    get the first-play-urgency value: the node's mean value for the mover reduced by
    ``fpu_reduction * sqrt(prior mass already visited)`` (Leela Zero's FPU reduction), so
    search widens only when the visited moves look worse than the node itself. Ties go to
    the lowest index.
    """
    n: Sequence[float] = node.child_n
    w: Sequence[float] = node.child_wm
    vl = node.child_vl
    if any(vl):
        n = [a + b for a, b in zip(n, vl, strict=True)]
        w = [a - b for a, b in zip(w, vl, strict=True)]
    total = sum(n)
    explore = c_puct * math.sqrt(total if total > 1.0 else 1.0)
    parent_q = node.w[node.to_play - 1] / node.n if node.n else 0.0
    mass = sum(p for p, x in zip(priors, n, strict=True) if x > 0)
    fpu = parent_q - fpu_reduction * math.sqrt(mass)
    best, best_i = -math.inf, 0
    for i, (p, x, ws) in enumerate(zip(priors, n, w, strict=True)):
        score = (ws / x if x > 0 else fpu) + explore * p / (1.0 + x)
        if score > best:
            best, best_i = score, i
    return best_i


def dirichlet_noise(
    priors: Sequence[float], alpha_total: float, epsilon: float, rng: random.Random
) -> list[float]:
    """``(1 - epsilon) * priors + epsilon * Dir(alpha)`` with ``alpha = alpha_total / k``
    for ``k`` legal moves (KataGo's scaling: the noise's total concentration is the same
    on a 5-move and a 500-move position). Drawn from ``rng`` only."""
    k = len(priors)
    if k < 2 or epsilon <= 0:
        return list(priors)
    alpha = alpha_total / k
    g = [rng.gammavariate(alpha, 1.0) for _ in range(k)]
    total = sum(g)
    if total <= 0.0:  # every draw underflowed (tiny alpha): no noise rather than NaN
        return list(priors)
    return [(1.0 - epsilon) * p + epsilon * x / total for p, x in zip(priors, g, strict=True)]


def visit_policy(node: Node) -> list[float]:
    """Visit counts of the root's edges as a distribution (priors if nothing was visited)."""
    total = sum(node.child_n)
    if total <= 0:
        assert node.priors is not None
        return list(node.priors)
    return [x / total for x in node.child_n]


def most_visited(node: Node) -> int:
    """The most visited edge; ties go to the higher prior, then the lower index."""
    assert node.priors is not None
    edges = list(zip(node.child_n, node.priors, strict=True))
    return edges.index(max(edges))
