"""The README's first command, run as a new user runs it: ``bash scripts/loop.sh``.

The script runs from the checkout in a clean environment: no ``RINGRIFT_*`` or ``AIRFLOW*``
variables and no virtual environment on the PATH, only what a user would set by hand: the two
homes (temp dirs), the UI port (a free one, as on a machine where 8080 is taken) and the
resource guard's CPU, load and memory limits lifted (the test machine is busy with the tests
themselves). Nothing else is prepared: the script itself migrates the metadata DB, imports
the pools and starts ``airflow standalone``.

What the README promises the user sees is checked as the user would meet it: the banner
(UI address, admin password file, DAGs folder, loop data), the password printed and kept in
that file, the API healthy, the eight ringrift DAGs present and unpaused, the pools, the
RingRift page behind the login, and the loop working on its own: a scheduled
``ringrift_data_sync`` run (every 60 s) succeeds without anything being triggered. Then
Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) stops
everything: no process naming the temp AIRFLOW_HOME may outlive it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.airflow.standalone import (
    REPO,
    VENV_BIN,
    Standalone,
    free_port,
    launched,
    login,
    poll,
    processes_naming,
    wait_healthy,
)

pytestmark = pytest.mark.slow

RINGRIFT_DAGS = {
    "ringrift_cluster_health",
    "ringrift_data_sync",
    "ringrift_elo_tournament",
    "ringrift_maintenance",
    "ringrift_promotion",
    "ringrift_selfplay",
    "ringrift_shadow_tournament",
    "ringrift_training",
}
POOLS = {"selfplay", "gpu", "sync", "tournament"}
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
# Setup (db migrate, pools) before the banner, then the components' start.
SETUP_TIMEOUT_S = 300.0
# data_sync runs every 60 s; on a loaded machine its first run can queue behind self-play.
FIRST_SYNC_TIMEOUT_S = 420.0
# Ctrl-C: loop.sh gives running tasks 30 s (RINGRIFT_STOP_GRACE_S), then SIGTERM, then
# SIGKILL 10 s later; the rest is slack for a loaded machine.
STOP_BOUND_S = 30.0 + 10.0 + 30.0


def new_user_env(airflow_home: Path, loop_home: Path, port: int) -> dict[str, str]:
    """A shell with nothing of the project in it (no loop or Airflow variables, no venv on
    the PATH), plus what a user sets by hand: the homes, the port, the guard's limits."""
    venv_bin = str(VENV_BIN)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RINGRIFT_", "AIRFLOW")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin
    )
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "RINGRIFT_HOME": str(loop_home),
            "AIRFLOW__API__PORT": str(port),
            "RINGRIFT__RESOURCES__CPU_CRITICAL_PCT": "100",
            "RINGRIFT__RESOURCES__LOAD_CRITICAL_FACTOR": "1000",
            "RINGRIFT__RESOURCES__MEMORY_CRITICAL_PCT": "100",
        }
    )
    return env


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Standalone]:
    """``bash scripts/loop.sh`` in its own process group, output to ``loop.log``; whatever
    the test leaves running is stopped (and the test fails if anything is left)."""
    airflow_home = tmp_path / "airflow"
    loop_home = tmp_path / "ringrift"
    port = free_port()
    env = new_user_env(airflow_home, loop_home, port)
    with launched(
        ["bash", "scripts/loop.sh"], env, airflow_home, port, tmp_path / "loop.log"
    ) as server:
        yield server


def _banner(server: Standalone) -> str:
    def printed() -> str | None:
        if server.proc.poll() is not None:
            raise AssertionError(f"loop.sh exited with {server.proc.returncode}:\n{server.tail()}")
        text = server.output.read_text(errors="replace")
        return text if "loop:   loop data" in text else None

    try:
        return poll("loop.sh's banner", printed, SETUP_TIMEOUT_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.tail()}") from None


def _admin_password(server: Standalone) -> str:
    path = server.airflow_home / PASSWORD_FILE

    def written() -> str | None:
        if not path.is_file():
            return None
        password = json.loads(path.read_text()).get("admin")
        return password if isinstance(password, str) and password else None

    return poll(f"the admin password in {path}", written, 120)


def _successful_scheduled_sync(server: Standalone) -> dict[str, Any] | None:
    resp = server.api(
        "GET", "/dags/ringrift_data_sync/dagRuns", params={"state": "success", "limit": 10}
    )
    assert resp.status_code == 200, resp.text
    runs = [r for r in resp.json()["dag_runs"] if r["run_type"] == "scheduled"]
    return runs[0] if runs else None


def _ctrl_c(server: Standalone) -> None:
    """SIGINT to the foreground process group, as a terminal's Ctrl-C: one is enough, the
    loop is gone within a bounded time (loop.sh's grace for running tasks, then SIGTERM and
    SIGKILL), says so and exits 130; then no process naming the AIRFLOW_HOME may be left."""
    os.killpg(server.proc.pid, signal.SIGINT)
    try:
        code = server.proc.wait(timeout=STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"loop.sh still running {STOP_BOUND_S:.0f} s after Ctrl-C:\n{server.tail()}"
        ) from None
    output = server.output.read_text(errors="replace")
    assert "loop: stopping; running tasks get 30s to finish" in output, server.tail()
    assert "loop: stopped" in output, server.tail()
    assert code == 130, (code, server.tail())
    marker = str(server.airflow_home)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and processes_naming(marker):
        time.sleep(0.5)


def test_loop_sh_brings_up_the_loop_and_its_ui_and_ctrl_c_stops_it(loop: Standalone) -> None:
    server = loop
    port = server.env["AIRFLOW__API__PORT"]
    loop_home = server.env["RINGRIFT_HOME"]

    # The banner tells the user where everything is.
    banner = _banner(server)
    password_path = server.airflow_home / PASSWORD_FILE
    expected = {
        "UI": rf"http://localhost:{port}\s+\(user admin\)",
        "admin password": re.escape(str(password_path)),
        "DAGs": re.escape(str(REPO / "dags")),
        "loop data": re.escape(loop_home),
    }
    for label, value in expected.items():
        assert re.search(rf"^loop:\s+{label}\s+{value}\s*$", banner, re.M), (label, banner)

    # The password is printed at start and kept in the file the banner names.
    password = _admin_password(server)
    poll(
        "the admin password in the output",
        lambda: True if password in server.output.read_text(errors="replace") else None,
        30,
    )

    wait_healthy(server)
    login(server)

    # The eight DAGs, unpaused: the loop runs as soon as it is up.
    def all_dags() -> dict[str, bool] | None:
        resp = server.api("GET", "/dags", params={"tags": "ringrift", "limit": 100})
        assert resp.status_code == 200, resp.text
        found = {d["dag_id"]: d["is_paused"] for d in resp.json()["dags"]}
        return found if set(found) >= RINGRIFT_DAGS else None

    dags = poll("the eight ringrift DAGs to be parsed", all_dags, 120)
    assert set(dags) == RINGRIFT_DAGS
    assert not any(dags.values()), f"paused DAGs: {[d for d, p in dags.items() if p]}"

    resp = server.api("GET", "/pools", params={"limit": 100})
    assert resp.status_code == 200, resp.text
    pools = {p["name"] for p in resp.json()["pools"]}
    assert POOLS <= pools, pools

    # The RingRift page: behind the login, served to the logged-in user.
    page = f"{server.base_url}/ringrift/"
    assert httpx.get(page, timeout=30).status_code in (401, 403)
    assert server.client is not None
    resp = server.client.get(page)
    assert resp.status_code == 200, resp.text[:2000]
    assert resp.headers["content-type"].startswith("text/html")
    assert "RingRift" in resp.text and loop_home in resp.text

    # The loop works on its own: a scheduled data sync succeeds, nothing triggered by hand.
    try:
        run = poll(
            "a scheduled ringrift_data_sync run to succeed",
            lambda: _successful_scheduled_sync(server),
            FIRST_SYNC_TIMEOUT_S,
            every=5,
        )
    except AssertionError as exc:
        resp = server.api("GET", "/dags/ringrift_data_sync/dagRuns", params={"limit": 10})
        raise AssertionError(f"{exc}; runs {resp.text[:2000]}\n{server.tail()}") from None
    resp = server.api("GET", f"/dags/ringrift_data_sync/dagRuns/{run['dag_run_id']}/taskInstances")
    assert resp.status_code == 200, resp.text
    states = {ti["task_id"]: ti["state"] for ti in resp.json()["task_instances"]}
    assert states.get("collect") == "success", states

    # Ctrl-C stops the loop and everything it started.
    server.client.close()
    server.client = None
    _ctrl_c(server)
    left = processes_naming(str(server.airflow_home))
    assert not left, f"still running after Ctrl-C: {left}"
