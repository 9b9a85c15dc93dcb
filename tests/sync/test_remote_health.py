"""A node's health over real SSH: its own ``ringrift status --json``, else SFTP alone."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.store import NodeHealth, Store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.hosts import Inventory
from ringrift_tasks.sync.remote_health import node_backlog, probe_cluster, probe_nodes
from ringrift_tasks.sync.transport import SshSettings
from tests.sync.conftest import Shard, credentials, inventory, offer
from tests.sync.sshd import SshCluster

RINGRIFT = Path(sys.executable).parent / "ringrift"


def probe(cluster: SshCluster, store: Store, command: str | None) -> object:
    outcomes = probe_nodes(
        store,
        inventory(cluster),
        credentials=credentials(cluster),
        ssh=SshSettings(known_hosts=cluster.known_hosts, connect_timeout_s=5.0),
        policy=BreakerPolicy(failures=2, cooldown_s=60.0),
        status_command=command,
    )
    return outcomes


def test_without_the_status_command_health_comes_from_sftp_alone(
    cluster: SshCluster, store: Store, shards: list[Shard]
) -> None:
    node = cluster.add("node-a")
    offer(node, *shards[:2])

    outcomes = probe(cluster, store, "ringrift-not-installed status --json")

    h = outcomes["node-a"].result  # type: ignore[index]
    assert h is not None
    assert h.via == "sftp"
    assert "not found on the node" in h.status_error
    assert h.backlog == 2 and node_backlog(outcomes) == {"node-a": 2}  # type: ignore[arg-type]
    vfs = os.statvfs(node.data_dir)
    assert h.disk_total_gb == round(vfs.f_frsize * vfs.f_blocks / 2**30, 2)
    assert 0.0 <= h.disk_free_gb <= h.disk_total_gb
    assert 0.0 < h.memory_used_pct < 100.0
    assert h.load_1m is not None and h.load_1m >= 0.0
    assert h.gpus is None  # unknown without the node's own report
    assert store.manifest.health("node-a").reachable is True


@pytest.mark.slow
def test_the_node_status_command_reports_its_resources(cluster: SshCluster, store: Store) -> None:
    cluster.add("node-a")

    outcomes = probe(cluster, store, f"{RINGRIFT} status --json")

    h = outcomes["node-a"].result  # type: ignore[index]
    assert h is not None
    assert (h.via, h.status_error) == ("status", None), h.status_error
    assert h.level in ("ok", "warning", "critical")
    assert h.disk_total_gb is not None and h.disk_total_gb > 0
    assert h.memory_used_pct is not None and h.gpus is not None
    assert h.backlog == 0 and h.best == {}


def test_an_unreachable_node_counts_against_its_breaker(cluster: SshCluster, store: Store) -> None:
    node = cluster.add("node-a")
    node.stop()

    outcomes = probe(cluster, store, None)

    assert outcomes["node-a"].error is not None  # type: ignore[index]
    health = store.manifest.health("node-a")
    assert (health.reachable, health.consecutive_failures) == (False, 1)


def test_a_probe_stores_what_it_read_and_a_node_that_goes_down_keeps_its_last_figures(
    cluster: SshCluster, store: Store, shards: list[Shard], tmp_path: Path
) -> None:
    up, down = cluster.add("node-up"), cluster.add("node-down")
    offer(up, *shards[:1])
    offer(down, *shards[1:4])
    cfg = load_config(
        env={
            "RINGRIFT_HOME": str(tmp_path / "home"),
            "RINGRIFT__SYNC__KNOWN_HOSTS": str(cluster.known_hosts),
            "RINGRIFT__SYNC__CONNECT_TIMEOUT_S": "5",
        }
    )

    first = probe_cluster(
        cfg, store, credentials(cluster), inventory=inventory(cluster), status_command=None
    )

    up_line, down_line = first.lines()
    assert up_line.startswith("node-up: reachable, disk ")
    assert " memory " in up_line and "GPU unknown" in up_line  # no status command: no GPUs
    assert up_line.endswith("remote backlog 1 shard(s), breaker closed")
    assert down_line.startswith("node-down: reachable, ")
    assert down_line.endswith("remote backlog 3 shard(s), breaker closed")
    was = store.manifest.health("node-down")
    assert (was.remote_backlog, was.reachable) == (3, True) and was.probed_at is not None
    assert was.remote_health == first.outcomes["node-down"].result.to_json()  # type: ignore[union-attr]
    assert was.remote_health["disk_used_pct"] is not None  # type: ignore[index]

    down.stop()
    second = probe_cluster(
        cfg, store, credentials(cluster), inventory=inventory(cluster), status_command=None
    )

    assert store.manifest.health("node-up").remote_backlog == 1
    now = store.manifest.health("node-down")
    assert (now.reachable, now.consecutive_failures) == (False, 1)
    assert now.last_error is not None
    # The figures stay those of the last probe that got through, with its time.
    assert (now.probed_at, now.remote_backlog, now.remote_health) == (
        was.probed_at,
        3,
        was.remote_health,
    )
    line = second.lines()[1]
    assert line.startswith("node-down: UNREACHABLE (")
    assert "breaker closed (1 failure(s) in a row); last probe at " in line
    assert line.endswith("remote backlog 3 shard(s)")
    summary = second.summary()
    assert summary["node-down"]["reachable"] is False and summary["node-down"]["error"]
    assert summary["node-up"]["remote_backlog"] == 1


def test_a_node_whose_breaker_is_open_is_reported_not_probed(
    cluster: SshCluster, store: Store, tmp_path: Path
) -> None:
    cluster.add("node-a")
    store.manifest.save_health(
        NodeHealth(
            "node-a", consecutive_failures=3, breaker_state="open", breaker_opened_at=time.time()
        )
    )
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path / "home")})

    report = probe_cluster(cfg, store, credentials(cluster), inventory=inventory(cluster))

    assert report.outcomes["node-a"].skipped
    assert report.lines()[0].startswith(
        "node-a: not probed, circuit breaker of node node-a is open"
    )
    assert report.lines()[0].endswith("; never probed")
    assert store.manifest.health("node-a").probed_at is None


def test_no_nodes_is_reported_as_such(store: Store, tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path / "home")})
    report = probe_cluster(cfg, store, inventory=Inventory())
    assert report.outcomes == {} and report.summary() == {}
    assert report.lines() == [
        "no worker nodes in the inventory (sync.hosts_file): nothing to probe"
    ]
