"""The temperature schedule and sampling at a temperature."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.selfplay.temperature import (
    DEFAULT_SCHEDULE,
    TemperatureSchedule,
    sample_index,
)


def test_schedule_is_initial_for_the_first_moves_then_final() -> None:
    sched = TemperatureSchedule(moves=30, initial=1.0, final=0.1)
    assert [sched.at(i) for i in (0, 1, 29)] == [1.0, 1.0, 1.0]
    assert [sched.at(i) for i in (30, 31, 500)] == [0.1, 0.1, 0.1]
    assert TemperatureSchedule(0, 1.0, 0.25).at(0) == 0.25


def test_schedule_defaults_match_the_loop_config() -> None:
    cfg = load_config(env={})
    assert TemperatureSchedule.from_settings(cfg.selfplay) == DEFAULT_SCHEDULE
    override = load_config(env={"RINGRIFT__SELFPLAY__TEMPERATURE_MOVES": "12"})
    assert TemperatureSchedule.from_settings(override.selfplay).at(12) == 0.1


def test_schedule_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="initial=-1"):
        TemperatureSchedule(30, -1.0, 0.1)


def test_temperature_one_samples_the_policy_as_is() -> None:
    rng = random.Random(0)
    counts = Counter(sample_index([0.2, 0.0, 0.8], 1.0, rng) for _ in range(20000))
    assert counts[1] == 0
    assert counts[2] / 20000 == pytest.approx(0.8, abs=0.02)


def test_low_temperature_sharpens_and_high_temperature_flattens() -> None:
    rng = random.Random(1)
    sharp = Counter(sample_index([0.4, 0.6], 0.25, rng) for _ in range(20000))
    # 0.6^4 / (0.4^4 + 0.6^4) = 0.835
    assert sharp[1] / 20000 == pytest.approx(0.835, abs=0.02)
    flat = Counter(sample_index([0.2, 0.8], 100.0, rng) for _ in range(20000))
    assert flat[0] / 20000 == pytest.approx(0.5, abs=0.03)


def test_near_zero_temperature_plays_the_most_likely_move() -> None:
    rng = random.Random(2)
    assert {sample_index([0.1, 0.7, 0.2], 0.0, rng) for _ in range(50)} == {1}
    # Tied maxima are broken by the rng, both ways.
    assert {sample_index([0.5, 0.5], 1e-6, rng) for _ in range(50)} == {0, 1}


def test_a_policy_without_mass_is_an_error() -> None:
    with pytest.raises(ValueError, match="no positive probability"):
        sample_index([0.0, 0.0], 1.0, random.Random(0))
