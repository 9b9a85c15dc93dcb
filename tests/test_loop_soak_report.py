"""The soak's verdict on "the best model gets stronger": judged on the generation ladder
(each model that became best, rated in the final fit of the whole match log)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loop_soak", REPO / "benchmarks/loop_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loop_soak"] = module
    spec.loader.exec_module(module)
    return module


def promotion(model: str, at_min: float, kind: str = "promote") -> dict[str, Any]:
    return {"kind": kind, "model_id": model, "previous_id": None, "at_min": at_min}


def rating(agent: str, elo: float, games: int = 20) -> dict[str, Any]:
    return {"agent": agent, "elo": elo, "ci": [elo - 100, elo + 100], "games": games}


def report_of(soak: ModuleType, promotions: list, ratings: list, best: list) -> dict[str, Any]:
    return {
        "ladder": soak.generation_ladder(promotions, ratings),
        "elo": {"best": best},
        "final_ratings": ratings,
        "task_failures": [],
        "integrity": {"passed": True},
        "left_processes": [],
    }


def test_the_ladder_rates_every_best_model_in_the_final_fit(soak: ModuleType) -> None:
    ladder = soak.generation_ladder(
        [promotion("aaa", 5.0), promotion("bbb", 40.0), promotion("ccc", 90.0)],
        [rating("model:aaa", 900.0), rating("model:bbb", 1100.0), rating("heuristic", 760.0)],
    )
    assert [(g["model"], g["at_min"], g["elo"]) for g in ladder] == [
        ("model:aaa", 5.0, 900.0),
        ("model:bbb", 40.0, 1100.0),
        ("model:ccc", 90.0, None),  # promoted, never rated yet
    ]
    assert ladder[2]["games"] == 0


def test_a_later_generation_rated_higher_is_a_rise(soak: ModuleType) -> None:
    ratings = [rating("model:aaa", 900.0), rating("model:bbb", 1100.0), rating("heuristic", 760)]
    # The per-tournament snapshots fell (the first rested on few games): not the criterion.
    best = [{"elo": 1700.0}, {"elo": 1100.0}]
    verdict = soak.acceptance(
        report_of(soak, [promotion("aaa", 5), promotion("bbb", 40)], ratings, best)
    )
    assert verdict["best_elo_rises"]["ok"]
    assert verdict["best_elo_rises"]["generations"] == 2
    assert verdict["best_elo_rises"]["per_tournament_first_last"] == [1700, 1100]
    assert verdict["best_ends_above_heuristic"] == {"ok": True, "best": 1100.0, "heuristic": 760}


def test_one_generation_or_a_weaker_successor_is_no_rise(soak: ModuleType) -> None:
    ratings = [rating("model:aaa", 900.0), rating("model:bbb", 850.0), rating("heuristic", 880)]
    only_one = soak.acceptance(report_of(soak, [promotion("aaa", 5)], ratings, []))
    assert not only_one["best_elo_rises"]["ok"]
    assert only_one["best_ends_above_heuristic"]["ok"]  # 900 > 880
    weaker = soak.acceptance(
        report_of(soak, [promotion("aaa", 5), promotion("bbb", 40)], ratings, [])
    )
    assert not weaker["best_elo_rises"]["ok"]
    assert not weaker["best_ends_above_heuristic"]["ok"]  # 850 < 880
