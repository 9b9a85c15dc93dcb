"""The self-play temperature schedule: explore early, play strong later.

For the first ``moves`` steps of a game (bookkeeping steps included, counted from 0) the
temperature is ``initial``; from then on it is ``final`` (the loop's config:
``selfplay.temperature_moves`` = 30, ``selfplay.temperature`` = 1.0,
``selfplay.final_temperature`` = 0.1). At temperature ``T`` a move is sampled from the
agent's policy raised to ``1/T`` and renormalised: ``T = 1`` samples the policy as is,
``T -> 0`` plays its most likely move, ``T > 1`` flattens it. The heuristic agent's policy
is a softmax over its evaluations, so for it this is a softmax at ``T`` times its scale.
Agents without a policy (random) are unaffected.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ringrift_tasks.training.temperature import StepTemperature, scheduler_from_settings

# Below this temperature sampling is indistinguishable from argmax; avoid 1/T overflow.
MIN_TEMPERATURE = 1e-3


@dataclass(frozen=True, slots=True)
class TemperatureSchedule:
    """``initial`` for steps ``0 .. moves-1``, then ``final``.

    A thin, positional front for ``training.temperature.StepTemperature`` (which does the
    work and the validation); any ``TemperatureScheduler`` from
    ``training.temperature.create_scheduler`` can be passed where a schedule is expected,
    since the game loops only call ``at(step)``.
    """

    moves: int = 30
    initial: float = 1.0
    final: float = 0.1

    def __post_init__(self) -> None:
        self.scheduler  # noqa: B018 -- builds the step schedule, which validates the values

    @property
    def scheduler(self) -> StepTemperature:
        """The equivalent ``StepTemperature``."""
        return StepTemperature(initial=self.initial, final=self.final, moves=self.moves)

    @staticmethod
    def from_settings(selfplay: Any) -> TemperatureSchedule:
        """From the config's ``selfplay`` section (``temperature_moves``, ``temperature``,
        ``final_temperature``)."""
        step = scheduler_from_settings(selfplay)
        return TemperatureSchedule(step.moves, step.initial, step.final)

    def at(self, step: int) -> float:
        """The temperature for the move at ``step`` (0-based)."""
        return self.scheduler.at(step)


# The loop config's defaults (selfplay.temperature_moves / temperature / final_temperature).
DEFAULT_SCHEDULE = TemperatureSchedule()


def sample_index(policy: Sequence[float], temperature: float, rng: random.Random) -> int:
    """An index drawn from ``policy ** (1/temperature)`` (renormalised).

    A temperature below ``MIN_TEMPERATURE`` plays the most likely index, ties broken by
    ``rng``. Raises ``ValueError`` when the policy has no positive entry.
    """
    positive = [(i, p) for i, p in enumerate(policy) if p > 0]
    if not positive:
        raise ValueError(f"policy has no positive probability: {list(policy)[:8]}...")
    if temperature < MIN_TEMPERATURE:
        best = max(p for _, p in positive)
        return rng.choice([i for i, p in positive if p >= best * (1 - 1e-9)])
    # In log space: p ** (1/T) underflows for small T and small p.
    logs = [math.log(p) / temperature for _, p in positive]
    top = max(logs)
    weights = [math.exp(v - top) for v in logs]
    return positive[rng.choices(range(len(positive)), weights=weights)[0]][0]
