"""A node's health over real SSH: its own ``ringrift status --json``, else SFTP alone."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ringrift_tasks.store import Store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.remote_health import node_backlog, probe_nodes
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
