"""Real runs of the DAGs with ``dag.test()`` on the temp metadata DB and a fresh loop home:
self-play writes a shard, the data sync merges it and emits the games Asset, the training
gate short-circuits on an empty pool with its reason, the Elo tournament of a logical hour
plays once (a second run of the same hour adds no match), and a coordinator-only node
skips local work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import list_sealed_shards
from ringrift_tasks.store.db import open_store
from tests.airflow.conftest import asset_events, task_states, xcom_value

pytestmark = pytest.mark.slow


def _run(dagbag: Any, dag_id: str, **kwargs: Any) -> Any:
    dag_run = dagbag.get_dag(dag_id).test(**kwargs)
    assert dag_run is not None
    return dag_run


def test_selfplay_shard_is_merged_by_data_sync_which_emits_the_games_asset(
    dagbag: Any, loop_home: Path
) -> None:
    played = _run(dagbag, "ringrift_selfplay", run_conf={"games": 3})
    states = task_states(played)
    assert str(played.state) == "success", states
    assert states["play"] == ["success"]
    assert states["play_neural"] == ["skipped"]  # no best model yet: nothing for the GPU
    # The concurrency controller picked the workers and said why, for the task log.
    play = xcom_value(played, "play", map_index=0)
    assert play["concurrency"].startswith("concurrency: cpu ")
    assert f"-> workers {play['workers']} (first round;" in play["concurrency"]
    cfg = load_config()
    assert (cfg.paths.state / "selfplay_concurrency_cpu.json").is_file()
    # Each worker seals its own shard: how many depends on how busy the machine was.
    shards = list_sealed_shards(cfg.paths.shards_incoming)
    assert len(shards) == min(play["workers"], 3) >= 1

    synced = _run(dagbag, "ringrift_data_sync")
    assert str(synced.state) == "success", task_states(synced)
    assert xcom_value(synced, "collect")["added_per_config"] == {"square8_2p": 3}
    assert list_sealed_shards(cfg.paths.shards_incoming) == []
    assert len(list_sealed_shards(cfg.paths.shards_merged)) == len(shards)
    with open_store(cfg.store_url) as store:
        assert store.pool.count("square8_2p") == 3
    assert asset_events(synced) == [("ringrift://games/square8_2p", {"games": 3})]

    # Nothing new arrived: the next sync run emits no event (training is not woken up).
    again = _run(dagbag, "ringrift_data_sync")
    assert str(again.state) == "success"
    assert asset_events(again) == []


def test_training_gate_short_circuits_with_its_reason_on_an_empty_pool(
    dagbag: Any, loop_home: Path
) -> None:
    run = _run(dagbag, "ringrift_training")
    states = task_states(run)
    assert states["training_gate"] == ["success"]
    for downstream in ("wait_for_resources", "train", "publish_candidates"):
        assert states[downstream] == ["skipped"], states
    assert asset_events(run) == []
    with open_store(load_config().store_url) as store:
        decision = store.decisions.latest("square8_2p", "training")
    assert decision is not None and not decision.passed
    assert "0 new games < 300 required" in decision.reason
    assert decision.run_id == run.run_id


def test_elo_tournament_of_a_logical_hour_plays_once(
    dagbag: Any, loop_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGRIFT__TOURNAMENT__BASELINES", "random,heuristic")
    hour = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    first = _run(dagbag, "ringrift_elo_tournament", logical_date=hour, run_conf={"games": 2})
    assert str(first.state) == "success", task_states(first)
    [summary] = xcom_value(first, "elo_tournament")
    assert summary["tournament_id"] == "elo-square8_2p-2026-03-01T07:00"
    assert summary["played"] >= 2
    cfg = load_config()
    with open_store(cfg.store_url) as store:
        matches = store.elo.count("square8_2p")
    assert matches == summary["played"]
    assert (cfg.paths.artifacts / "square8_2p_elo_trend.png").is_file()

    second = _run(dagbag, "ringrift_elo_tournament", logical_date=hour, run_conf={"games": 2})
    assert str(second.state) == "success", task_states(second)
    [again] = xcom_value(second, "elo_tournament")
    assert again["played"] == 0 and again["already"] == matches
    with open_store(cfg.store_url) as store:
        assert store.elo.count("square8_2p") == matches


def test_coordinator_only_node_skips_selfplay_with_the_reason(
    dagbag: Any, loop_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGRIFT_DISABLE_LOCAL_TASKS", "1")
    run = _run(dagbag, "ringrift_selfplay", run_conf={"games": 2})
    states = task_states(run)
    assert states["wait_for_resources"] == ["skipped"]
    assert all(s == ["skipped"] for s in states.values()), states
    assert not load_config().paths.shards_incoming.exists()
