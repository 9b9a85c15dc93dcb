"""The cluster-health DAG against real sshd worker nodes, keys from an Airflow SSH
Connection: every node of the inventory is probed and logged on one line; a node that is
down is reported and counted by its breaker, and the run still succeeds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.store.db import open_store
from tests.airflow.conftest import task_states, xcom_value
from tests.sync.sshd import SshCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SshCluster]:
    c = SshCluster(tmp_path / "ssh")
    try:
        yield c
    finally:
        c.stop()


def test_every_node_is_probed_and_stored_and_a_down_node_does_not_fail_the_run(
    dagbag: Any,
    loop_home: Path,
    tmp_path: Path,
    cluster: SshCluster,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    up, down = cluster.add("node-up"), cluster.add("node-down")
    down.stop()
    up.incoming.mkdir(parents=True)
    (up.incoming / f"{'c' * 64}.shard").write_bytes(b"sealed elsewhere")
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        "nodes:\n"
        + "".join(
            f"  - {{name: {n.name}, host: 127.0.0.1, port: {n.port}, data_dir: {n.data_dir}}}\n"
            for n in (up, down)
        )
    )
    monkeypatch.setenv("RINGRIFT__SYNC__HOSTS_FILE", str(hosts))
    monkeypatch.setenv("RINGRIFT__SYNC__KNOWN_HOSTS", str(cluster.known_hosts))
    monkeypatch.setenv("RINGRIFT__SYNC__CONNECT_TIMEOUT_S", "5")
    monkeypatch.setenv(
        "AIRFLOW_CONN_RINGRIFT_SSH",
        json.dumps(
            {
                "conn_type": "ssh",
                "login": cluster.user(),
                "extra": {"private_key": cluster.client_key.read_text(), "allow_agent": "false"},
            }
        ),
    )

    run = dagbag.get_dag("ringrift_cluster_health").test()

    states = task_states(run)
    assert str(run.state) == "success", states
    assert states == {"local_node": ["success"], "worker_nodes": ["success"]}
    summary = xcom_value(run, "worker_nodes")
    assert summary["node-up"]["reachable"] is True and summary["node-up"]["remote_backlog"] == 1
    assert summary["node-down"]["reachable"] is False and summary["node-down"]["error"]
    cfg = load_config()
    with open_store(cfg.store_url) as store:
        stored_up = store.manifest.health("node-up")
        assert (stored_up.remote_backlog, stored_up.reachable) == (1, True)
        assert stored_up.remote_health is not None
        assert stored_up.remote_health["disk_used_pct"] is not None
        stored_down = store.manifest.health("node-down")
        assert (stored_down.reachable, stored_down.consecutive_failures) == (False, 1)
        assert stored_down.probed_at is None
    out = capfd.readouterr()
    log = out.out + out.err
    assert "node-up: reachable, disk " in log and "remote backlog 1 shard(s), breaker closed" in log
    assert "node-down: UNREACHABLE (" in log and "; never probed" in log


def test_no_nodes_is_logged_and_the_run_succeeds(
    dagbag: Any,
    loop_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("nodes: []\n")
    monkeypatch.setenv("RINGRIFT__SYNC__HOSTS_FILE", str(hosts))

    run = dagbag.get_dag("ringrift_cluster_health").test()

    assert task_states(run) == {"local_node": ["success"], "worker_nodes": ["success"]}
    assert xcom_value(run, "worker_nodes") == {}
    out = capfd.readouterr()
    assert (
        "no worker nodes in the inventory (sync.hosts_file): nothing to probe" in out.out + out.err
    )
