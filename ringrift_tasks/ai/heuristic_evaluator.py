"""An ``Evaluator`` built on the heuristic agent's evaluation, so search runs without a network.

Values: the heuristic's relative score of each seat (its strength minus its opponents',
``heuristic.relative_scores``) squashed by ``tanh(score / value_scale)`` into [-1, 1];
``value_scale`` = 10 points (about ten rings' worth) is the heuristic agent's own scale.

Priors (``prior``):

* ``"uniform"`` (default): every legal move equally likely. Costs nothing, so all the
  time goes into simulations; at 100-500 simulations on the small boards this is the
  better trade (the heuristic value at the leaves does the judging).
* ``"one_ply"``: ``softmax(score / policy_scale)`` of the mover's score after each legal
  move, exactly the heuristic agent's policy. About ``#legal`` times the cost of one
  evaluation per expansion; worth it only with few simulations or many legal moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ringrift_tasks.ai.evaluator import Evaluation
from ringrift_tasks.ai.heuristic import (
    DEFAULT_WEIGHTS,
    HeuristicWeights,
    relative_scores,
    seat_strengths,
)
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.turn import apply_move

PRIOR_MODES = ("uniform", "one_ply")


class HeuristicEvaluator:
    """Judges positions with the hand-written evaluation (see the module doc)."""

    def __init__(
        self,
        *,
        value_scale: float = 10.0,
        prior: str = "uniform",
        policy_scale: float = 1.0,
        weights: HeuristicWeights = DEFAULT_WEIGHTS,
    ) -> None:
        if value_scale <= 0 or policy_scale <= 0:
            raise ValueError(
                f"HeuristicEvaluator: expected value_scale > 0 and policy_scale > 0, got "
                f"{value_scale}, {policy_scale}"
            )
        if prior not in PRIOR_MODES:
            raise ValueError(f"HeuristicEvaluator: prior {prior!r}, expected one of {PRIOR_MODES}")
        self.value_scale = float(value_scale)
        self.prior = prior
        self.policy_scale = float(policy_scale)
        self.weights = weights
        self.name = f"heuristic_eval:{prior}"

    def values(self, s: GameState) -> np.ndarray:
        """Per-seat values of ``s`` in [-1, 1] (seat 1 first)."""
        n = s.num_players
        rel = relative_scores(seat_strengths(s, self.weights), n)
        return np.array(
            [math.tanh(rel[p] / self.value_scale) for p in range(1, n + 1)], dtype=np.float32
        )

    def priors(self, s: GameState, legal: Sequence[Move]) -> np.ndarray:
        """Prior over ``legal`` according to ``self.prior``."""
        k = len(legal)
        if self.prior == "uniform" or k == 1:
            return np.full(k, 1.0 / k, dtype=np.float32)
        me, n = s.current_player, s.num_players
        scores = np.empty(k, dtype=np.float64)
        for i, m in enumerate(legal):
            child = s.copy()
            apply_move(child, m, validate=False)
            scores[i] = relative_scores(seat_strengths(child, self.weights), n)[me]
        z = (scores - scores.max()) / self.policy_scale
        e = np.exp(z)
        return (e / e.sum()).astype(np.float32)

    def evaluate(
        self, states: Sequence[GameState], legal: Sequence[Sequence[Move]]
    ) -> list[Evaluation]:
        if len(states) != len(legal):
            raise ValueError(
                f"HeuristicEvaluator.evaluate: {len(states)} states but {len(legal)} legal lists"
            )
        return [
            Evaluation(self.priors(s, moves), self.values(s))
            for s, moves in zip(states, legal, strict=True)
        ]
