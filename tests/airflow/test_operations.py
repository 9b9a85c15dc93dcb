"""The README's operations commands, run as an operator runs them, against the test Airflow
(real metadata DB, the repo's DAGs serialized into it) and a fresh loop home:

- trigger from CI: ``airflow dags trigger ringrift_training --conf '{"config": "hex8_2p"}'``
  creates the run with that conf; an unknown config is refused naming the param; the REST
  equivalent (token from ``POST /auth/token``, ``POST /api/v2/dags/.../dagRuns``) against
  Airflow's own API app, in process;
- read a gate decision: a real ``ringrift_training`` run, then ``ringrift decisions``;
- roll back a promotion: ``ringrift promote CONFIG --rollback --reason ...``;
- recover from a quarantined shard: a real ``ringrift_data_sync`` run quarantines a
  truncated shard, ``ringrift quarantine list|retry|drop`` recover, and a valid shard set
  aside for a transient reason is retried and merged by the next sync run.

The ``ringrift`` and ``airflow`` commands run as subprocesses of the venv's scripts.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import list_sealed_shards
from ringrift_tasks.store import open_store
from ringrift_tasks.sync.quarantine import quarantine_shard
from tests.airflow.conftest import (
    AIRFLOW_ENV,
    VENV_BIN,
    airflow_cli,
    asset_events,
    task_states,
    xcom_value,
)

pytestmark = pytest.mark.slow

HEX8_CONF = '{"config": "hex8_2p"}'
BAD_CONF = '{"config": "square9_2p"}'


def _run(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A venv script (``ringrift``, ``airflow``) with this test's environment, unchecked."""
    return subprocess.run(
        [str(VENV_BIN / argv[0]), *argv[1:]],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ringrift(*args: str) -> subprocess.CompletedProcess[str]:
    return _run("ringrift", *args)


@pytest.fixture(scope="session")
def serialized(airflow_setup: Path) -> Path:
    """The repo's DAGs written into the metadata DB, as the DAG processor does: a CLI or
    REST trigger refuses a DAG the DB does not know."""
    airflow_cli("dags", "reserialize", timeout=300)
    return airflow_setup


def _runs_with_conf(dag_id: str) -> dict[str, dict[str, Any]]:
    """run_id -> conf of every run of ``dag_id`` in the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            r.run_id: dict(r.conf or {})
            for r in session.query(DagRun).filter(DagRun.dag_id == dag_id).all()
        }


def test_cli_trigger_creates_the_run_with_its_conf_and_refuses_an_unknown_config(
    serialized: Path, loop_home: Path
) -> None:
    before = set(_runs_with_conf("ringrift_training"))

    good = _run("airflow", "dags", "trigger", "ringrift_training", "--conf", HEX8_CONF)
    bad = _run("airflow", "dags", "trigger", "ringrift_training", "--conf", BAD_CONF)

    assert good.returncode == 0, good.stderr
    out = airflow_cli("dags", "list-runs", "ringrift_training", "-o", "json").stdout
    # Airflow logs warnings to stdout too; the JSON list is its own line.
    listed = json.loads(next(line for line in out.splitlines() if line.startswith("[")))
    new = {r["run_id"] for r in listed} - before
    assert len(new) == 1, listed
    (run_id,) = new
    assert run_id.startswith("manual__")
    assert _runs_with_conf("ringrift_training")[run_id] == {"config": "hex8_2p"}
    assert bad.returncode != 0
    assert "Invalid input for param config: 'square9_2p' is not one of" in bad.stderr
    assert set(_runs_with_conf("ringrift_training")) == before | new  # nothing for the bad one


@pytest.fixture
def api(serialized: Path) -> Iterator[Any]:
    """Airflow's own API server app (in process) on the test metadata DB."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    try:
        with TestClient(create_app()) as client:
            yield client
    finally:
        purge_cached_app()


def test_rest_trigger_with_a_token_creates_the_run_and_refuses_an_unknown_config(
    api: Any, loop_home: Path
) -> None:
    passwords = AIRFLOW_ENV["AIRFLOW_HOME"] + "/simple_auth_manager_passwords.json.generated"
    password = json.loads(Path(passwords).read_text())["admin"]
    token = api.post("/auth/token", json={"username": "admin", "password": password})
    assert token.status_code == 201, token.text
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    url = "/api/v2/dags/ringrift_training/dagRuns"

    good = api.post(url, headers=auth, json={"logical_date": None, "conf": {"config": "hex8_2p"}})
    bad = api.post(url, headers=auth, json={"logical_date": None, "conf": {"config": "square9_2p"}})
    anonymous = api.post(url, json={"logical_date": None, "conf": {"config": "hex8_2p"}})

    assert good.status_code == 200, good.text
    body = good.json()
    assert (body["state"], body["conf"], body["triggered_by"]) == (
        "queued",
        {"config": "hex8_2p"},
        "rest_api",
    )
    assert _runs_with_conf("ringrift_training")[body["dag_run_id"]] == {"config": "hex8_2p"}
    assert bad.status_code == 400
    assert "Invalid input for param config: 'square9_2p'" in bad.json()["detail"]
    assert anonymous.status_code == 401


def test_a_training_gate_decision_is_read_with_ringrift_decisions(
    dagbag: Any, loop_home: Path
) -> None:
    run = dagbag.get_dag("ringrift_training").test()
    assert task_states(run)["training_gate"] == ["success"]

    shown = ringrift("decisions", "--config", "square8_2p", "--kind", "training")
    as_json = ringrift("decisions", "--config", "square8_2p", "--kind", "training", "--json")

    assert shown.returncode == 0, shown.stderr
    assert f"square8_2p  training  refused  run {run.run_id}: 0 new games < 300" in shown.stdout
    assert "  evidence: " in shown.stdout
    (decision,) = json.loads(as_json.stdout)
    assert decision["run_id"] == run.run_id and decision["passed"] is False
    assert decision["evidence"]["new_games"] == 0


def _register_and_promote(n: int) -> str:
    """A real (tiny, untrained) square8_2p model, registered and promoted; its id."""
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config
    from ringrift_tasks.evaluation.gate import decide
    from ringrift_tasks.evaluation.promotion import promote

    cfg = load_config()
    net = build_model(default_model_config("square8", blocks=1, channels=8), seed=n)
    path, sha = save_model(
        net, ModelCard(config="square8_2p", model_config=net.config), cfg.paths.models
    )
    with open_store(cfg.store_url) as store:
        store.registry.register(sha, "square8_2p", path=str(path), bytes=path.stat().st_size)
        evidence = decide([1.0] * 300, elo_margin=20.0).evidence()
        out = promote(store, "square8_2p", sha, evidence, cooldown_s=0, max_per_day=15)
    assert out.promoted, out.reason
    return sha


def test_rollback_restores_the_previous_best_with_the_reason(loop_home: Path) -> None:
    first = _register_and_promote(1)
    second = _register_and_promote(2)

    done = ringrift(
        "promote", "square8_2p", "--rollback", "--reason", "regressed in the hourly tournament"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"rollback square8_2p: best is now {first[:12]} (regressed in the hourly tournament)"
    )
    with open_store(load_config().store_url) as store:
        assert store.registry.best("square8_2p").model_id == first
        assert store.registry.get(second).evidence == {
            "rollback": "regressed in the hourly tournament"
        }


def _selfplay_shard(seed: int) -> Path:
    """Two random-agent games sealed by the real self-play command; the new shard."""
    incoming = load_config().paths.shards_incoming
    before = set(list_sealed_shards(incoming))
    played = ringrift(
        "selfplay", "-c", "square8_2p", "-n", "2", "-w", "1", "--agent", "random",
        "--seed", str(seed), "--no-guard",
    )  # fmt: skip
    assert played.returncode == 0, played.stderr
    (shard,) = set(list_sealed_shards(incoming)) - before
    return shard


def test_a_quarantined_shard_is_listed_retried_or_dropped_and_nothing_is_lost(
    dagbag: Any, loop_home: Path
) -> None:
    cfg = load_config()
    good, bad = _selfplay_shard(11), _selfplay_shard(12)
    bad.write_bytes(bad.read_bytes()[:2048])  # truncated on the worker's disk
    sync = dagbag.get_dag("ringrift_data_sync")

    first = sync.test()

    collected = xcom_value(first, "collect")
    assert (collected["shards_merged"], collected["shards_quarantined"]) == (1, 1)
    listed = ringrift("quarantine", "list")
    assert listed.returncode == 0, listed.stderr
    assert bad.name in listed.stdout and "checksum mismatch" in listed.stdout
    assert "quarantine: 1 shards" in listed.stdout

    # A corrupt shard is refused (exit 1) and stays; dropping it keeps its bytes.
    refused = ringrift("quarantine", "retry", bad.name)
    assert refused.returncode == 1
    assert "still fails verification" in refused.stderr and "checksum mismatch" in refused.stderr
    dropped = ringrift("quarantine", "drop", bad.name, "--reason", "truncated on the worker's disk")
    assert dropped.returncode == 0, dropped.stderr
    assert (cfg.paths.home / "shards" / "dropped" / bad.name).stat().st_size == 2048
    assert ringrift("quarantine", "list").stdout.strip() == "quarantine: empty"

    # A valid shard set aside for a passing reason goes back and the next run merges it.
    transient = _selfplay_shard(13)
    quarantine_shard(cfg.paths.quarantine, transient, "store unreachable: connection refused")
    retried = ringrift("quarantine", "retry", transient.name[:16])
    assert retried.returncode == 0, retried.stderr
    assert "verified, 2 games" in retried.stdout

    second = sync.test()

    assert str(second.state) == "success", task_states(second)
    assert xcom_value(second, "collect")["added_per_config"] == {"square8_2p": 2}
    assert asset_events(second) == [("ringrift://games/square8_2p", {"games": 2})]
    with open_store(cfg.store_url) as store:
        assert store.pool.count("square8_2p") == 4
        assert store.pool.is_merged(good.name[:64]) and store.pool.is_merged(transient.name[:64])
    assert ringrift("quarantine", "list", "--json").stdout.strip() == "[]"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    from tests.sync.sshd import SshCluster

    c = SshCluster(tmp_path / "ssh")
    try:
        yield c
    finally:
        c.stop()


def test_a_worker_node_added_with_hosts_yaml_keyscan_and_a_connection_is_pulled(
    dagbag: Any,
    loop_home: Path,
    tmp_path: Path,
    cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.airflow.conftest import DAGS

    node = cluster.add("gpu-1", trusted=False)  # its host key is not known yet
    shard = _selfplay_shard(21)
    node.incoming.mkdir(parents=True)
    for f in (shard.with_suffix(".json"), shard):
        f.rename(node.incoming / f.name)
    # 1. hosts.yaml entry; 2. the node's host key, checked against its own fingerprint.
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        "nodes:\n"
        f"  - name: gpu-1\n    host: 127.0.0.1\n    port: {node.port}\n"
        f"    data_dir: {node.data_dir}\n    queues: [selfplay, cuda]\n"
    )
    known_hosts = tmp_path / "known_hosts"
    scan = subprocess.run(
        ["ssh-keyscan", "-p", str(node.port), "-t", "ed25519", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert scan.stdout == node.known_hosts_line()  # what `ssh-keygen -lf` would show
    known_hosts.write_text(scan.stdout)
    monkeypatch.setenv("RINGRIFT__SYNC__HOSTS_FILE", str(hosts))
    monkeypatch.setenv("RINGRIFT__SYNC__KNOWN_HOSTS", str(known_hosts))
    # 3. the node's key in an Airflow SSH Connection (never in the YAML).
    extra = json.dumps({"key_file": str(cluster.client_key), "allow_agent": "false"})
    airflow_cli(
        "connections", "add", "ringrift_ssh_gpu-1", "--conn-type", "ssh",
        "--conn-login", cluster.user(), "--conn-extra", extra,
    )  # fmt: skip
    try:
        bag = DagBag(str(DAGS / "ringrift_data_sync.py"))  # node names are DAG structure
        assert bag.import_errors == {}

        run = bag.get_dag("ringrift_data_sync").test()
    finally:
        airflow_cli("connections", "delete", "ringrift_ssh_gpu-1")

    assert task_states(run) == {"pull_node": ["success"], "collect": ["success"]}
    assert xcom_value(run, "pull_node", map_index=0)["games"]["games_added"] == 2
    assert (node.acked / shard.name).is_file()
    status = ringrift("sync", "--status", "--json")
    assert status.returncode == 0, status.stderr
    gpu1 = json.loads(status.stdout)["gpu-1"]
    assert (gpu1["reachable"], gpu1["last_error"], gpu1["backlog"]) == (True, None, 0)
