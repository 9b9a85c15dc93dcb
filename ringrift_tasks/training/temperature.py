"""Temperature schedules: how much self-play explores at each move of a game.

A ``TemperatureScheduler`` maps the step of a game (0-based, bookkeeping steps included)
to a sampling temperature: a move is drawn from the policy raised to ``1/T``
(``selfplay.temperature.sample_index``). Early moves explore (T around 1), later moves
play strong (T near 0). ``create_scheduler(kind, **params)`` builds one by name, the form
a config file or a command line carries:

==========  ==========================================================================
kind        temperature at step ``t``
==========  ==========================================================================
constant    ``value``
linear      ``initial`` decaying linearly to ``final`` over ``steps`` moves, then ``final``
step        ``initial`` for ``t < moves``, then ``final`` (the loop's default:
            1.0 for the first 30 moves, then 0.1)
cosine      ``final + (initial - final) * (1 + cos(pi * t / steps)) / 2`` for
            ``t < steps``, then ``final``
==========  ==========================================================================

Schedulers are frozen dataclasses: pure, hashable, picklable (they travel to worker
processes), and equal when their parameters are equal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


class TemperatureConfigError(ValueError):
    """A schedule kind that does not exist, or a parameter outside its range."""


@dataclass(frozen=True, slots=True)
class TemperatureScheduler:
    """Base of every schedule: ``at(step)`` gives the temperature of the move at ``step``."""

    kind: ClassVar[str] = ""

    def at(self, step: int) -> float:
        """The temperature (>= 0) for the move at ``step`` (0-based)."""
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        return self.at(step)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., **params}``: the form ``create_scheduler(**d)`` reads back."""
        return {"kind": self.kind, **asdict(self)}

    def _check(self, **values: float) -> None:
        bad = {k: v for k, v in values.items() if not (isinstance(v, int | float) and v >= 0)}
        if bad:
            got = ", ".join(f"{k}={v!r}" for k, v in bad.items())
            raise TemperatureConfigError(
                f"{self.kind} temperature schedule: expected numbers >= 0, got {got}"
            )


@dataclass(frozen=True, slots=True)
class ConstantTemperature(TemperatureScheduler):
    """The same temperature at every step."""

    kind: ClassVar[str] = "constant"
    value: float = 1.0

    def __post_init__(self) -> None:
        self._check(value=self.value)

    def at(self, step: int) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class LinearDecayTemperature(TemperatureScheduler):
    """``initial`` at step 0, ``final`` from step ``steps`` on, a straight line between."""

    kind: ClassVar[str] = "linear"
    initial: float = 1.0
    final: float = 0.1
    steps: int = 30

    def __post_init__(self) -> None:
        self._check(initial=self.initial, final=self.final, steps=self.steps)

    def at(self, step: int) -> float:
        if self.steps == 0 or step >= self.steps:
            return self.final
        frac = max(step, 0) / self.steps
        return self.initial + (self.final - self.initial) * frac


@dataclass(frozen=True, slots=True)
class StepTemperature(TemperatureScheduler):
    """``initial`` for steps ``0 .. moves-1``, then ``final``."""

    kind: ClassVar[str] = "step"
    initial: float = 1.0
    final: float = 0.1
    moves: int = 30

    def __post_init__(self) -> None:
        self._check(initial=self.initial, final=self.final, moves=self.moves)

    def at(self, step: int) -> float:
        return self.initial if step < self.moves else self.final


@dataclass(frozen=True, slots=True)
class CosineTemperature(TemperatureScheduler):
    """Half a cosine from ``initial`` (step 0) down to ``final`` (step ``steps`` and after)."""

    kind: ClassVar[str] = "cosine"
    initial: float = 1.0
    final: float = 0.1
    steps: int = 30

    def __post_init__(self) -> None:
        self._check(initial=self.initial, final=self.final, steps=self.steps)

    def at(self, step: int) -> float:
        if self.steps == 0 or step >= self.steps:
            return self.final
        frac = max(step, 0) / self.steps
        return self.final + (self.initial - self.final) * (1.0 + math.cos(math.pi * frac)) / 2.0


SCHEDULERS: dict[str, type[TemperatureScheduler]] = {
    cls.kind: cls
    for cls in (ConstantTemperature, LinearDecayTemperature, StepTemperature, CosineTemperature)
}


def create_scheduler(kind: str, **params: Any) -> TemperatureScheduler:
    """The schedule ``kind`` (constant, linear, step, cosine) with ``params``.

    Raises ``TemperatureConfigError`` naming an unknown kind, an unknown parameter, or a
    negative value, e.g. ``create_scheduler("step", initial=1.0, final=0.1, moves=30)``.
    """
    cls = SCHEDULERS.get(kind)
    if cls is None:
        raise TemperatureConfigError(
            f"temperature schedule kind {kind!r}: expected one of {sorted(SCHEDULERS)}"
        )
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise TemperatureConfigError(
            f"{kind} temperature schedule: unknown parameter(s) {unknown}; "
            f"expected some of {sorted(known)}"
        )
    return cls(**params)


def scheduler_from_settings(selfplay: Any) -> StepTemperature:
    """The loop's schedule from the config's ``selfplay`` section: ``temperature`` for the
    first ``temperature_moves`` moves, then ``final_temperature``."""
    return StepTemperature(
        initial=float(selfplay.temperature),
        final=float(selfplay.final_temperature),
        moves=int(selfplay.temperature_moves),
    )
