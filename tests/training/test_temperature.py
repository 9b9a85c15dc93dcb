"""Temperature schedulers: each kind's curve, the factory's errors, and self-play's
``TemperatureSchedule`` built on them."""

from __future__ import annotations

import math

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.selfplay.temperature import TemperatureSchedule
from ringrift_tasks.training.temperature import (
    StepTemperature,
    TemperatureConfigError,
    create_scheduler,
    scheduler_from_settings,
)


def test_constant_is_the_same_at_every_step() -> None:
    sched = create_scheduler("constant", value=0.7)
    assert {sched.at(t) for t in (0, 1, 50, 10_000)} == {0.7}


def test_linear_decays_in_a_straight_line_then_stays_final() -> None:
    sched = create_scheduler("linear", initial=1.0, final=0.2, steps=8)
    assert sched.at(0) == 1.0
    assert sched.at(4) == pytest.approx(0.6)
    assert sched.at(8) == sched.at(100) == 0.2


def test_step_is_initial_for_the_first_moves_then_final() -> None:
    sched = create_scheduler("step", initial=1.0, final=0.1, moves=30)
    assert [sched.at(t) for t in (0, 29, 30, 31)] == [1.0, 1.0, 0.1, 0.1]


def test_cosine_follows_half_a_cosine_between_initial_and_final() -> None:
    sched = create_scheduler("cosine", initial=1.0, final=0.0, steps=10)
    assert sched.at(0) == pytest.approx(1.0)
    assert sched.at(5) == pytest.approx(0.5)
    assert sched.at(2) == pytest.approx((1 + math.cos(math.pi * 0.2)) / 2)
    assert sched.at(10) == sched.at(99) == 0.0
    values = [sched.at(t) for t in range(11)]
    assert values == sorted(values, reverse=True)


def test_a_scheduler_round_trips_through_its_dict() -> None:
    sched = create_scheduler("cosine", initial=0.9, final=0.05, steps=40)
    assert create_scheduler(**sched.to_dict()) == sched


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("exponential", {}, "expected one of"),
        ("step", {"moves": 30, "decay": 2}, "unknown parameter"),
        ("linear", {"initial": -1.0}, "initial=-1.0"),
    ],
)
def test_bad_schedules_are_refused_with_the_bad_value(
    kind: str, params: dict[str, float], message: str
) -> None:
    with pytest.raises(TemperatureConfigError, match=message):
        create_scheduler(kind, **params)


def test_the_loop_default_is_a_step_schedule_from_the_selfplay_settings() -> None:
    cfg = load_config(env={"RINGRIFT__SELFPLAY__TEMPERATURE_MOVES": "12"})
    sched = scheduler_from_settings(cfg.selfplay)
    assert sched == StepTemperature(initial=1.0, final=0.1, moves=12)
    legacy = TemperatureSchedule.from_settings(cfg.selfplay)
    assert [legacy.at(t) for t in range(40)] == [sched.at(t) for t in range(40)]
    assert legacy.scheduler == sched
