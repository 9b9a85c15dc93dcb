"""Sharing a self-play round over the configs by curriculum weight."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringrift_tasks.config import load_config
from ringrift_tasks.selfplay.plan import plan_selfplay, share_games
from ringrift_tasks.store import open_store


def test_shares_follow_the_weights() -> None:
    assert share_games({"a": 1.5, "b": 1.0, "c": 0.7}, 32) == {"a": 15, "b": 10, "c": 7}


def test_every_config_gets_a_game_while_there_are_enough() -> None:
    assert share_games({"a": 1.5, "b": 0.7, "c": 0.7}, 3) == {"a": 1, "b": 1, "c": 1}
    assert sum(share_games({"a": 1.5, "b": 0.7, "c": 0.7}, 2).values()) == 2


@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.floats(0.1, 5.0), min_size=1, max_size=12),
    st.integers(0, 10_000),
)
def test_shares_always_sum_to_the_total(weights: dict[str, float], total: int) -> None:
    shares = share_games(weights, total)
    assert sum(shares.values()) == total and set(shares) == set(weights)


def test_bad_weights_and_totals_are_rejected() -> None:
    with pytest.raises(ValueError, match="total games"):
        share_games({"a": 1.0}, -1)
    with pytest.raises(ValueError, match="'b': 0.0"):
        share_games({"a": 1.0, "b": 0.0}, 5)


def test_plan_without_models_uses_the_heuristic_with_equal_weights(tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path)})
    with open_store(cfg.store_url) as store:
        plan = plan_selfplay(cfg, store, 10, agent="best", configs=["square8_2p", "hex8_2p"])
    assert [(a.config, a.games, a.agent_spec, a.weight, a.neural) for a in plan] == [
        ("hex8_2p", 5, "heuristic", 1.0, False),
        ("square8_2p", 5, "heuristic", 1.0, False),
    ]
    with pytest.raises(ValueError, match="agent 'alpha'"):
        plan_selfplay(cfg, store, 10, agent="alpha")
