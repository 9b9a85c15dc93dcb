"""The data sync DAG against real sshd worker nodes, keys from an Airflow SSH Connection:
one mapped task per node pulls its shards; a node whose circuit breaker is open shows as
skipped with the reason; the local collect runs after them whatever they did."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import read_shard
from ringrift_tasks.selfplay.worker import run_selfplay
from ringrift_tasks.store.db import open_store
from ringrift_tasks.store.manifest import NodeHealth
from tests.airflow.conftest import DAGS, asset_events, task_states, xcom_value
from tests.sync.sshd import SshCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SshCluster]:
    c = SshCluster(tmp_path / "ssh")
    try:
        yield c
    finally:
        c.stop()


def test_each_node_is_pulled_by_its_own_task_and_an_open_breaker_skips_with_the_reason(
    dagbag: Any,
    loop_home: Path,
    tmp_path: Path,
    cluster: SshCluster,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    a, b = cluster.add("node-a"), cluster.add("node-b")
    made = run_selfplay(
        "square8_2p", 2, 1, tmp_path / "sp", "random", 77, 2, source="node-a", start_method="fork"
    )
    a.incoming.mkdir(parents=True)
    for shard in made.shards:
        shutil.copy2(shard.with_suffix(".json"), a.incoming)
        shutil.copy2(shard, a.incoming)
    game_ids = {r.game_id for s in made.shards for r in read_shard(s)}
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        "nodes:\n"
        + "".join(
            f"  - {{name: {n.name}, host: 127.0.0.1, port: {n.port}, data_dir: {n.data_dir}}}\n"
            for n in (a, b)
        )
    )
    monkeypatch.setenv("RINGRIFT__SYNC__HOSTS_FILE", str(hosts))
    monkeypatch.setenv("RINGRIFT__SYNC__KNOWN_HOSTS", str(cluster.known_hosts))
    # The cluster key travels in the Connection (not in the environment the library reads).
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
    cfg = load_config()
    with open_store(cfg.store_url) as store:
        # node-b failed its last passes: its breaker opened a moment ago.
        store.manifest.save_health(
            NodeHealth(
                "node-b",
                reachable=False,
                last_error="TransportError: cannot connect",
                consecutive_failures=3,
                breaker_state="open",
                breaker_opened_at=time.time(),
            )
        )
    # Node names are DAG structure, read at parse time: parse with this inventory.
    bag = DagBag(str(DAGS / "ringrift_data_sync.py"))
    assert bag.import_errors == {}

    run = bag.get_dag("ringrift_data_sync").test()

    states = task_states(run)
    assert str(run.state) == "success", states
    assert states == {"pull_node": ["success", "skipped"], "collect": ["success"]}
    pulled = xcom_value(run, "pull_node", map_index=0)
    assert pulled["games"]["games_added"] == 2 and pulled["error"] is None
    assert asset_events(run) == [("ringrift://games/square8_2p", {"games": 2})]
    with open_store(cfg.store_url) as store:
        assert store.pool.count("square8_2p") == 2
        assert store.manifest.health("node-a").last_success is not None
    assert {p.name for p in a.acked.glob("*.shard")} == {s.name for s in made.shards}
    assert len(game_ids) == 2
    out = capfd.readouterr()
    assert "node-b: skipped: circuit breaker open; next trial in" in out.out + out.err
