"""Backpressure on self-play: unmerged shards, shards waiting on the nodes, untrained games."""

from __future__ import annotations

from pathlib import Path

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.store import NodeHealth, open_store
from ringrift_tasks.sync.backlog import (
    backpressure_reason,
    decide_backpressure,
    unmerged_shards,
    waiting_on_nodes,
)
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


def test_node_backlog_holds_above_its_limit_only() -> None:
    nodes = {"a": 30, "b": 20, "c": 0}
    assert decide_backpressure(0, 10, {}, None, nodes=nodes, max_node_backlog=50) is None
    assert decide_backpressure(0, 10, {}, None, nodes={**nodes, "b": 21}, max_node_backlog=50) == (
        "51 shards waiting on the nodes > limit 50 (a 30, b 21)"
    )
    assert decide_backpressure(0, 10, {}, None, nodes={"a": 10**6}) is None  # no limit


def test_every_backlog_over_its_limit_is_named() -> None:
    reason = decide_backpressure(
        11, 10, {"a": 900}, 500, nodes={"n1": 3, "n2": 5}, max_node_backlog=7
    )
    assert reason == (
        "11 unmerged shards in incoming > limit 10; "
        "8 shards waiting on the nodes > limit 7 (n2 5, n1 3); "
        "untrained games above 500 in every config (a 900)"
    )


def test_measures_the_shards_waiting_on_the_inventory_nodes(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        "nodes:\n"
        + "".join(f"  - {{name: {n}, host: 127.0.0.1, data_dir: /srv/{n}}}\n" for n in ("n1", "n2"))
    )
    cfg = load_config(
        env={"RINGRIFT_HOME": str(tmp_path), "RINGRIFT__SYNC__HOSTS_FILE": str(hosts)}
    )
    with open_store(cfg.store_url) as store:
        assert waiting_on_nodes(cfg, store) == {"n1": 0, "n2": 0}
        store.manifest.save_health(NodeHealth("n1", backlog=3))  # unfinished in the manifest
        store.manifest.save_probe("n2", probed_at=1.0, remote_backlog=5, remote_health={})
        # A node no longer in the inventory holds nothing back.
        store.manifest.save_probe("gone", probed_at=1.0, remote_backlog=500, remote_health={})
        assert waiting_on_nodes(cfg, store) == {"n1": 3, "n2": 5}
        assert backpressure_reason(cfg, store, 10, max_node_backlog=8) is None
        assert backpressure_reason(cfg, store, 10, max_node_backlog=7) == (
            "8 shards waiting on the nodes > limit 7 (n2 5, n1 3)"
        )
        assert cfg.sync.max_node_backlog == 200
        assert backpressure_reason(cfg, store, 10) is None  # the config's limit
