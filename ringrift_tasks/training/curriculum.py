"""Curriculum weights: train the configs that lag behind a little more.

Each config's weight comes from the Elo of its best model (in that config's own ladder,
where the random baseline anchors the scale):

    weight = clamp(1 + (median - elo) / scale, min_weight, max_weight)

with ``median`` the median of those Elos over the configs that have a rated best model
(``curriculum.scale`` = 200, ``min_weight`` = 0.7, ``max_weight`` = 1.5). A config 100
Elo below the median gets 1.5x the training, one 100 above 0.5 -> clamped to 0.7. A config
without a rated best model (nothing promoted yet, or no games in its ladder) gets 1.0.
The weight scales the steps (and the window) of that config's training runs
(``CurriculumTrainer.plan``). Each time a weight changes it is logged.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CurriculumConfig:
    """The weighting rule's constants (``cfg.curriculum``)."""

    scale: float = 200.0
    min_weight: float = 0.7
    max_weight: float = 1.5
    refresh_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (self.scale > 0 and 0 < self.min_weight <= self.max_weight and self.refresh_s >= 0):
            raise ValueError(
                f"CurriculumConfig: expected scale > 0, 0 < min_weight <= max_weight, "
                f"refresh_s >= 0; got scale={self.scale}, min_weight={self.min_weight}, "
                f"max_weight={self.max_weight}, refresh_s={self.refresh_s}"
            )

    @staticmethod
    def from_settings(curriculum: Any) -> CurriculumConfig:
        """From the loop config's ``curriculum`` section."""
        return CurriculumConfig(
            float(curriculum.scale),
            float(curriculum.min_weight),
            float(curriculum.max_weight),
            float(curriculum.refresh_s),
        )


def curriculum_weights(
    elos: Mapping[str, float | None], config: CurriculumConfig = CurriculumConfig()
) -> dict[str, float]:
    """The weight of every config of ``elos`` (None: no rated best model -> 1.0)."""
    rated = [e for e in elos.values() if e is not None]
    if not rated:
        return dict.fromkeys(elos, 1.0)
    median = statistics.median(rated)
    out = {}
    for name, elo in elos.items():
        if elo is None:
            out[name] = 1.0
        else:
            w = 1.0 + (median - elo) / config.scale
            out[name] = min(max(w, config.min_weight), config.max_weight)
    return out


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """What one config's next training run should do under the curriculum."""

    config: str
    weight: float
    steps: int
    window: int | None


@dataclass(slots=True)
class WeightChange:
    """One logged change of a config's weight."""

    at: float
    config: str
    old: float | None
    new: float
    elo: float | None


def _model_agent_name(model_id: str) -> str:
    from ringrift_tasks.evaluation.match import model_agent_name

    return model_agent_name(model_id)


@dataclass
class CurriculumTrainer:
    """Curriculum weights from the store's Elo service and registry, refreshed at most every
    ``config.refresh_s`` seconds; ``changes`` keeps every logged change.

    ``store``: a ``store.Store`` (``.elo.ratings(config)``, ``.registry.best(config)``);
    ``agent_name``: the Elo name of a model id (the tournaments' ``model:<12 hex>``).
    """

    store: Any
    configs: Sequence[str]
    config: CurriculumConfig = field(default_factory=CurriculumConfig)
    agent_name: Callable[[str], str] = _model_agent_name
    clock: Callable[[], float] = time.time
    weights: dict[str, float] = field(default_factory=dict)
    elos: dict[str, float | None] = field(default_factory=dict)
    changes: list[WeightChange] = field(default_factory=list)
    refreshed_at: float | None = None

    def best_elo(self, config: str) -> float | None:
        """The Elo of ``config``'s best model in its ladder, or None (none / not rated)."""
        best = self.store.registry.best(config)
        if best is None:
            return None
        name = self.agent_name(best.model_id)
        for rating in self.store.elo.ratings(config):
            if rating.agent == name:
                return float(rating.elo)
        return None

    def refresh(self, *, force: bool = False) -> dict[str, float]:
        """Recompute the weights (unless refreshed less than ``refresh_s`` ago), logging
        every change; returns the weights."""
        now = self.clock()
        if (
            not force
            and self.refreshed_at is not None
            and now - self.refreshed_at < self.config.refresh_s
        ):
            return dict(self.weights)
        self.elos = {c: self.best_elo(c) for c in self.configs}
        new = curriculum_weights(self.elos, self.config)
        for name, w in new.items():
            old = self.weights.get(name)
            if old is None or abs(old - w) > 1e-9:
                self.changes.append(WeightChange(now, name, old, w, self.elos[name]))
                elo = self.elos[name]
                log.info(
                    "curriculum weight %s: %s -> %.3f (best model elo %s)",
                    name,
                    "unset" if old is None else f"{old:.3f}",
                    w,
                    "unrated" if elo is None else f"{elo:.0f}",
                )
        self.weights = new
        self.refreshed_at = now
        return dict(new)

    def weight(self, config: str) -> float:
        """The current weight of ``config`` (refreshing when due)."""
        if config not in self.configs:
            raise ValueError(f"config {config!r} is not one of {list(self.configs)}")
        return self.refresh()[config]

    def plan(self, config: str, steps: int, window: int | None = None) -> TrainingPlan:
        """``steps`` (and ``window`` games) of a run of ``config`` scaled by its weight."""
        w = self.weight(config)
        return TrainingPlan(
            config,
            w,
            max(1, round(steps * w)),
            None if window is None else max(1, round(window * w)),
        )
