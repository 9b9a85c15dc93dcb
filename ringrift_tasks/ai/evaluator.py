"""The seam between search and whatever judges positions (a network or a heuristic).

Search knows nothing about how a position is judged; an ``Evaluator`` knows nothing about
search. It takes a batch of positions with their legal moves (canonical order, non-empty)
and returns, for each, prior probabilities over those moves and a value per seat. Batching
is the evaluator's business: a neural evaluator runs one forward pass per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState


class Evaluation(NamedTuple):
    """One judged position.

    ``priors``: float32 array, one entry per legal move (same order), non-negative, sum 1.
    ``values``: float32 array of length ``num_players``: the expected outcome for each seat
    (seat 1 first) in [-1, 1] from that seat's own point of view (1 = certain win).
    """

    priors: np.ndarray
    values: np.ndarray


@runtime_checkable
class Evaluator(Protocol):
    """Judges batches of positions; ``name`` identifies it in records (e.g. a model id)."""

    name: str

    def evaluate(
        self, states: Sequence[GameState], legal: Sequence[Sequence[Move]]
    ) -> list[Evaluation]:
        """Evaluate ``states[i]`` with legal moves ``legal[i]``; must not mutate the states."""
        ...
