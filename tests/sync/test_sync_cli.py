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
