"""The data-quality gate accepts good self-play and refuses bad windows with the reason."""

from __future__ import annotations

import dataclasses

import pytest

from ringrift_tasks.ai.agent import agent_from_spec
from ringrift_tasks.config import load_config
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.training.quality import DataQualityError, assess_window, check_quality


def test_heuristic_self_play_passes_the_gate(games: list[GameRecord]) -> None:
    report = assess_window("square8_2p", games)
    assert report.accepted, report.reason
    assert report.components["targets"] == 1.0
    assert report.components["legality"] == 1.0
    assert report.components["uniqueness"] == 1.0
    assert report.parity_failures == 0
    assert report.score >= 0.7


def test_games_without_search_targets_are_refused_naming_the_targets() -> None:
    rnd = agent_from_spec("random")
    window = [play_game("square8_2p", [rnd, rnd], i, source="t", max_steps=60) for i in range(6)]
    report = assess_window("square8_2p", window)
    assert not report.accepted
    assert report.components["targets"] == 0.0
    assert "data quality" in report.reason and "targets 0.00" in report.reason


def test_games_that_do_not_replay_refuse_on_the_parity_failure_rate(
    games: list[GameRecord],
) -> None:
    broken = []
    for g in games[:3]:
        moves = list(g.moves)
        moves[3] = moves[1]
        broken.append(dataclasses.replace(g, moves=tuple(moves), game_id=""))
    report = assess_window("square8_2p", broken + games[3:], max_parity_failure_rate=0.10)
    assert not report.accepted
    assert report.parity_failures == 3
    assert report.reason.startswith("parity failure rate 0.25 > max 0.10")
    assert "step 3" in report.reason


def test_duplicate_games_lower_the_uniqueness(games: list[GameRecord]) -> None:
    copies = [dataclasses.replace(g, source="elsewhere", game_id="") for g in games[:4]]
    report = assess_window("square8_2p", games[:4] + copies)
    assert report.components["uniqueness"] == pytest.approx(0.5)
    assert report.details["duplicates"] == 4


def test_a_one_sided_window_has_no_seat_balance(games: list[GameRecord]) -> None:
    ones = [g for g in games if g.result.winner == 1]
    assert ones
    assert assess_window("square8_2p", ones).components["seat_balance"] == 0.0


def test_an_empty_window_is_refused() -> None:
    report = assess_window("square8_2p", [])
    assert not report.accepted and "no games" in report.reason


def test_check_quality_uses_the_configured_threshold(games: list[GameRecord]) -> None:
    strict = load_config(env={"RINGRIFT__TRAINING__MIN_DATA_QUALITY": "0.999"})
    with pytest.raises(DataQualityError, match="< min 1.00") as err:
        check_quality("square8_2p", games, strict.training)
    assert err.value.report.score < 0.999
    assert check_quality("square8_2p", games, load_config(env={}).training).accepted
