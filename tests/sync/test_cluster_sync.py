"""``sync_cluster``: the modes run their steps in order over real sshd nodes; a node that
fails the games step is left out of the later steps (its breaker counts the pass once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.store import Store, open_store
from ringrift_tasks.sync.cluster import SyncModeError, sync_cluster
from ringrift_tasks.sync.elo import export_matches
from tests.sync.conftest import Shard, assert_pool_is_exactly, credentials, inventory, offer
from tests.sync.sshd import SshCluster

CONFIG = "square8_2p"


def loop_config(cluster: SshCluster, home: Path) -> RingriftConfig:
    return RingriftConfig(home=home, sync={"known_hosts": str(cluster.known_hosts)})


def test_full_mode_pulls_games_pushes_the_best_and_merges_matches(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard], tmp_path: Path
) -> None:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    node = cluster.add("node-a")
    offer(node, *shards[:2])
    net = build_model(default_model_config("square8", blocks=1, channels=8), seed=1)
    path, sha = save_model(net, ModelCard(config=CONFIG, model_config=net.config), tmp_path)
    store.registry.register(sha, CONFIG, path=str(path), bytes=path.stat().st_size)
    store.registry.promote(CONFIG, sha, {}, cooldown_s=0, max_per_day=10)
    with open_store(f"sqlite:///{tmp_path / 'node.db'}") as node_store:
        node_store.elo.record_match("m1", CONFIG, ["random", "heuristic"], ["heuristic", "random"])
        export_matches(node_store, node.data_dir / "elo")

    report = sync_cluster(
        loop_config(cluster, coordinator),
        store,
        "full",
        credentials(cluster),
        inventory=inventory(cluster),
    )

    assert report.node_error("node-a") is None and report.failures("node-a") == []
    assert report.added_per_config == {CONFIG: 4}
    assert_pool_is_exactly(store, *shards[:2])
    assert (node.data_dir / "models" / CONFIG / f"{sha}.safetensors").is_file()
    assert store.elo.count(CONFIG) == 1
    summary = report.summary()["nodes"]["node-a"]
    assert summary["models"]["uploaded"] == {CONFIG: sha}
    assert summary["elo"]["added"] == 1 and summary["games"]["games_added"] == 4


def test_a_node_down_in_the_games_step_is_left_out_of_the_later_ones(
    cluster: SshCluster, store: Store, coordinator: Path
) -> None:
    node = cluster.add("node-a")
    node.stop()

    report = sync_cluster(
        loop_config(cluster, coordinator),
        store,
        "full",
        credentials(cluster),
        inventory=inventory(cluster),
    )

    error = report.node_error("node-a")
    assert error is not None and error.startswith("games: ")
    assert report.models is None or "node-a" not in report.models.nodes
    assert store.manifest.health("node-a").consecutive_failures == 1


def test_an_unknown_mode_is_refused_with_the_known_ones(
    cluster: SshCluster, store: Store, coordinator: Path
) -> None:
    with pytest.raises(SyncModeError, match="one of games, models, elo, full; got 'all'"):
        sync_cluster(loop_config(cluster, coordinator), store, "all", credentials(cluster))
