"""The uniformly random agent: the Elo anchor (400) and the cheapest self-play source."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ringrift_tasks.ai.agent import Choice
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState


class RandomAgent:
    """Plays a uniformly random legal move. Reports no search statistics: a uniform
    policy would teach a network nothing and only bloat the records."""

    name = "random"

    def choose(self, state: GameState, legal: Sequence[Move], rng: random.Random) -> Choice:
        if not legal:
            raise ValueError("RandomAgent.choose: no legal moves (the game loop plays auto_move)")
        return Choice(legal[rng.randrange(len(legal))])
