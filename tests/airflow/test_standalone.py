"""A real ``airflow standalone`` (scheduler, DAG processor, triggerer, API server; LocalExecutor,
SQLite) in a throwaway AIRFLOW_HOME and RINGRIFT_HOME, driven over its REST API as CI would:
the API comes up healthy, a JWT comes from the simple auth manager's generated admin password,
a run of ``ringrift_cluster_health`` triggered over the API succeeds and its task log is read
back through the API, and ``airflow backfill create`` of ``ringrift_elo_tournament`` over two
past hours creates (and completes) the runs of those two logical hours. Everything the test
started is stopped by it: the standalone's process group, then any process still naming the
temp AIRFLOW_HOME (a LocalExecutor task process can outlive standalone's shutdown).

New DAGs start paused here, so only the DAGs under test run; the resource guard's CPU, load and
memory limits are lifted (as in conftest) so a loaded CI box does not hold the tasks.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.standalone import (
    REPO,
    VENV_BIN,
    Standalone,
    login,
    poll,
    running_standalone,
    task_states,
    unpause,
    wait_dag_parsed,
    wait_healthy,
    wait_run_done,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    with running_standalone(tmp_path) as server:
        yield server


def _backfill_create(
    server: Standalone, dag_id: str, start: datetime, end: datetime
) -> subprocess.CompletedProcess[str]:
    """``airflow backfill create`` from ``start`` to ``end``, retried on SQLite lock conflicts.

    The CLI writes to the SQLite DB the running scheduler also writes to; SQLite answers a
    write-lock upgrade conflict with "database is locked" at once, whatever the busy timeout,
    and Airflow then leaves the half-created backfill active. Such a backfill is cancelled
    over the API (its queued runs fail) and the create retried, re-running failed runs.
    """
    # Ordinary lock waits: up to 60 s rather than pysqlite's 5 s.
    env = {
        **server.env,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"sqlite:///{server.airflow_home / 'airflow.db'}?timeout=60"
        ),
    }
    args = [
        str(VENV_BIN / "airflow"),
        *("backfill", "create", "--dag-id", dag_id),
        *("--from-date", start.isoformat(), "--to-date", end.isoformat()),
    ]
    for _ in range(4):
        proc = subprocess.run(
            args, env=env, cwd=REPO, capture_output=True, text=True, timeout=180, check=False
        )
        if proc.returncode == 0 or "database is locked" not in proc.stderr + proc.stdout:
            return proc
        resp = server.api("GET", "/backfills", params={"dag_id": dag_id})
        assert resp.status_code == 200, resp.text
        for bf in resp.json()["backfills"]:
            if bf["completed_at"] is None:
                cancel = server.api("PUT", f"/backfills/{bf['id']}/cancel")
                assert cancel.status_code == 200, cancel.text
        args = [*args[:9], "--reprocess-behavior", "failed"]
        time.sleep(2)
    return proc


def test_standalone_serves_the_api_runs_a_triggered_dag_and_backfills_past_hours(
    standalone: Standalone,
) -> None:
    server = standalone
    wait_healthy(server)
    login(server)

    # A run triggered over the REST API, as CI would, and its task log read back.
    dag_id = "ringrift_cluster_health"
    wait_dag_parsed(server, dag_id)
    unpause(server, dag_id)
    resp = server.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    state = wait_run_done(server, dag_id, run_id)
    assert state == "success", (task_states(server, dag_id, run_id), server.tail())

    resp = server.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/local_node")
    assert resp.status_code == 200, resp.text
    try_number = resp.json()["try_number"]
    assert try_number >= 1
    resp = server.api(
        "GET",
        f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/local_node/logs/{try_number}",
        params={"full_content": "true"},
        headers={"Accept": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    log_text = json.dumps(resp.json())
    assert f"{socket.gethostname()}: " in log_text, log_text[-2000:]

    # `airflow backfill create` over two past hours: one run per logical hour.
    dag_id = "ringrift_elo_tournament"
    wait_dag_parsed(server, dag_id)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = hour - timedelta(hours=3), hour - timedelta(hours=2)
    backfill = _backfill_create(server, dag_id, start, end)
    assert backfill.returncode == 0, f"{backfill.stdout}\n{backfill.stderr}"
    # The scheduler starts no run, backfill included, of a paused DAG. Unpausing only now
    # keeps the scheduled run this creates from writing to SQLite while the CLI does (SQLite
    # answers a write-lock upgrade conflict with "database is locked" at once, whatever the
    # busy timeout).
    unpause(server, dag_id)

    def backfill_runs() -> list[dict[str, Any]] | None:
        resp = server.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 50})
        assert resp.status_code == 200, resp.text
        runs = [r for r in resp.json()["dag_runs"] if r["run_type"] == "backfill"]
        return runs if len(runs) >= 2 else None

    runs = poll("the backfill's dag runs", backfill_runs, 60)
    logical = sorted(datetime.fromisoformat(r["logical_date"]) for r in runs)
    assert logical == [start, end], (logical, backfill.stdout, backfill.stderr)
    for run in runs:
        state = wait_run_done(server, dag_id, run["dag_run_id"])
        assert state == "success", (
            task_states(server, dag_id, run["dag_run_id"]),
            server.tail(),
        )
