"""`ringrift sync --mode games` and `ringrift sync --status` against real sshd nodes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from ringrift_tasks.cli import app
from tests.sync.conftest import Shard, inventory, offer
from tests.sync.sshd import SshCluster

runner = CliRunner()


def _env(cluster: SshCluster, tmp_path: Path) -> dict[str, str]:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        yaml.safe_dump({"nodes": [n.model_dump(mode="json") for n in inventory(cluster).nodes]})
    )
    return {
        "RINGRIFT_HOME": str(tmp_path / "coordinator"),
        "RINGRIFT_CONFIG": "",
        "RINGRIFT__SYNC__HOSTS_FILE": str(hosts),
        "RINGRIFT__SYNC__KNOWN_HOSTS": str(cluster.known_hosts),
        "RINGRIFT__SYNC__BREAKER_FAILURES": "1",
        "RINGRIFT_SSH_KEY_FILE": str(cluster.client_key),
        "RINGRIFT_SSH_NO_AGENT": "1",
    }


def test_sync_games_once_pulls_every_node_and_status_reports_health(
    cluster: SshCluster, shards: list[Shard], tmp_path: Path
) -> None:
    up, down = cluster.add("node-up"), cluster.add("node-down")
    offer(up, *shards[:2])
    offer(down, shards[2])
    down.stop()
    env = _env(cluster, tmp_path)

    result = runner.invoke(app, ["sync", "--mode", "games", "--once"], env=env)
    assert result.exit_code == 1, result.output  # one node failed
    assert "node node-up: ok; 2 shards merged, 4 games added" in result.output
    assert "node node-down: FAILED" in result.output

    status = runner.invoke(app, ["sync", "--status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    health = json.loads(status.output)
    assert health["node-up"]["reachable"] is True and health["node-up"]["backlog"] == 0
    assert health["node-up"]["last_success"] is not None
    assert health["node-down"]["reachable"] is False
    assert health["node-down"]["breaker"] == "open"
    assert health["node-down"]["last_success"] is None

    table = runner.invoke(app, ["sync", "--status"], env=env)
    assert table.exit_code == 0 and "node-down" in table.output and "open" in table.output


def test_sync_with_an_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    env = {"RINGRIFT_HOME": str(tmp_path), "RINGRIFT_CONFIG": ""}
    result = runner.invoke(app, ["sync", "--mode", "everything", "--once"], env=env)
    assert result.exit_code == 2
    assert "--mode must be one of games, models, elo, full" in result.output


def test_sync_full_once_pulls_games_pushes_the_best_and_merges_node_matches(
    cluster: SshCluster, shards: list[Shard], tmp_path: Path
) -> None:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config
    from ringrift_tasks.store.db import open_store
    from ringrift_tasks.sync.elo import export_matches

    node = cluster.add("node-a")
    offer(node, shards[0])
    env = _env(cluster, tmp_path)
    home = Path(env["RINGRIFT_HOME"])
    # The coordinator's best model, and matches the node recorded in its own store.
    with open_store(f"sqlite:///{home / 'ringrift.db'}") as store:
        net = build_model(default_model_config("square8", blocks=1, channels=8), seed=3)
        path, sha = save_model(
            net, ModelCard(config="square8_2p", model_config=net.config), home / "models"
        )
        store.registry.register(sha, "square8_2p", path=str(path), bytes=path.stat().st_size)
        assert store.registry.promote(
            "square8_2p", sha, {"test": 1}, cooldown_s=0, max_per_day=10
        ).promoted
    with open_store(f"sqlite:///{tmp_path / 'node.db'}") as node_store:
        node_store.elo.record_match(
            "node-m1",
            "square8_2p",
            ["random", "heuristic"],
            ["heuristic", "random"],
            played_at=100.0,
        )
        export_matches(node_store, node.data_dir / "elo")

    result = runner.invoke(app, ["sync", "--mode", "full", "--once"], env=env)
    assert result.exit_code == 0, result.output
    [line] = [ln for ln in result.output.splitlines() if ln.startswith("node node-a: ")]
    summary = json.loads(line.removeprefix("node node-a: "))
    assert summary["error"] is None and summary["failures"] == []
    assert summary["games"]["games_added"] == len(shards[0].game_ids)
    assert summary["models"]["uploaded"] == {"square8_2p": sha}
    assert summary["elo"]["added"] == 1
    assert (node.data_dir / "models" / "square8_2p" / f"{sha}.safetensors").is_file()
    with open_store(f"sqlite:///{home / 'ringrift.db'}") as store:
        assert store.pool.count("square8_2p") == len(shards[0].game_ids)
        assert store.elo.count("square8_2p") == 1

    # The models and elo modes on their own: nothing new, nothing failed.
    again = runner.invoke(app, ["sync", "--mode", "models", "--once"], env=env)
    assert again.exit_code == 0, again.output
    assert "node node-a: uploaded none; 1 current" in again.output
    elo = runner.invoke(app, ["sync", "--mode", "elo", "--once"], env=env)
    assert elo.exit_code == 0, elo.output
    assert "0 matches added" in elo.output
