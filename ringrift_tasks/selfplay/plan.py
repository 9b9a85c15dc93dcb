"""How a self-play round is shared out: games per config from the curriculum weights.

The reference loop's pipeline feedback: configs whose best model lags behind (a higher
curriculum weight, ``training.curriculum``) get proportionally more self-play games.
:func:`share_games` is the pure split; :func:`plan_selfplay` reads the weights from the
store and picks each config's agent: the heuristic, or the config's best model playing
neural-guided search when asked for and one exists (that agent wants the ``cuda`` queue).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ringrift_tasks.rules.state import GameConfig

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

HEURISTIC = "heuristic"
BEST = "best"
AGENT_CHOICES = (HEURISTIC, BEST)


def share_games(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` games over the configs in proportion to ``weights`` (largest
    remainder, ties by name): the shares sum to ``total`` exactly; while ``total`` is at
    least the number of configs every config gets at least one game."""
    if total < 0:
        raise ValueError(f"total games must be >= 0, got {total}")
    bad = {k: w for k, w in weights.items() if not (w > 0 and math.isfinite(w))}
    if bad:
        raise ValueError(f"curriculum weights must be finite and > 0, got {bad}")
    names = sorted(weights)
    if not names:
        return {}
    floor_each = 1 if total >= len(names) else 0
    rest = total - floor_each * len(names)
    wsum = sum(weights[n] for n in names)
    exact = {n: rest * weights[n] / wsum for n in names}
    out = {n: floor_each + int(exact[n]) for n in names}
    left = total - sum(out.values())
    by_remainder = sorted(names, key=lambda n: (-(exact[n] - int(exact[n])), n))
    for n in by_remainder[:left]:
        out[n] += 1
    return out


@dataclass(frozen=True, slots=True)
class SelfPlayAssignment:
    """One config's part of a round: its games, agent spec and curriculum weight.
    ``neural``: the agent evaluates a network (run it where the GPU is)."""

    config: str
    games: int
    agent_spec: str
    weight: float
    neural: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "config": self.config,
            "games": self.games,
            "agent_spec": self.agent_spec,
            "weight": self.weight,
            "neural": self.neural,
        }


def plan_selfplay(
    cfg: RingriftConfig,
    store: Store,
    total_games: int,
    *,
    agent: str = HEURISTIC,
    configs: Sequence[str] | None = None,
    model_sims: int = 64,
) -> list[SelfPlayAssignment]:
    """The round's assignments for ``configs`` (default ``cfg.configs``), configs with no
    game left out. ``agent``: ``heuristic``, or ``best`` (the config's best model where it
    has one, else the heuristic)."""
    from ringrift_tasks.training.curriculum import CurriculumConfig, CurriculumTrainer

    if agent not in AGENT_CHOICES:
        raise ValueError(f"agent {agent!r}: expected one of {AGENT_CHOICES}")
    names = list(configs or cfg.configs)
    for name in names:
        GameConfig.parse(name)
    trainer = CurriculumTrainer(store, names, CurriculumConfig.from_settings(cfg.curriculum))
    weights = trainer.refresh(force=True)
    out = []
    for name, games in share_games(weights, total_games).items():
        if games == 0:
            continue
        best = store.registry.best(name) if agent == BEST else None
        if best is not None and "," not in best.path and "=" not in best.path:
            spec, neural = f"mcts:model={best.path},sims={model_sims}", True
        else:
            spec, neural = HEURISTIC, False
        out.append(SelfPlayAssignment(name, games, spec, weights[name], neural))
    return out
