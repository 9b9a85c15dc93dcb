"""Backpressure on self-play: unmerged shards and untrained games."""

from __future__ import annotations

from pathlib import Path

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.store import open_store
from ringrift_tasks.sync.backlog import backpressure_reason, decide_backpressure, unmerged_shards
from tests.training.games import heuristic_games


def test_decision_holds_above_the_shard_limit_only() -> None:
    assert decide_backpressure(3, 3, {}, None) is None
    assert decide_backpressure(4, 3, {}, None) == "4 unmerged shards in incoming > limit 3"


def test_untrained_backlog_holds_only_when_every_config_is_backed_up() -> None:
    assert decide_backpressure(0, 10, {"a": 900, "b": 10}, 500) is None
    assert decide_backpressure(0, 10, {"a": 900, "b": 600}, 500) == (
        "untrained games above 500 in every config (a 900, b 600)"
    )


def test_measures_the_incoming_folder(tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path)})
    assert unmerged_shards(cfg.paths.shards_incoming) == 0
    games = heuristic_games(2, seed0=7)
    write_shard(cfg.paths.shards_incoming, games[:1], node="t")
    write_shard(cfg.paths.shards_incoming, games[1:], node="t")
    assert backpressure_reason(cfg, None, 1) == "2 unmerged shards in incoming > limit 1"
    with open_store(cfg.store_url) as store:
        store.pool.insert_records(games)
        assert backpressure_reason(cfg, store, 5, max_pending=1) == (
            "untrained games above 1 in every config (square8_2p 2)"
        )
