"""A real ``airflow standalone`` for tests and benchmarks: its environment pointed at temp
dirs and a free port, start and stop (the whole process group, then anything still naming the
temp AIRFLOW_HOME), health, login through the simple auth manager and a REST client.

Used by the standalone test, the UI page screenshot test and ``benchmarks/airflow_bench.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
PLUGINS = REPO / "plugins"
VENV_BIN = Path(sys.executable).parent

HEALTH_TIMEOUT_S = 150.0
RUN_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0
_LOOP_ENV_PREFIXES = ("RINGRIFT_", "RINGRIFT__")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def standalone_env(airflow_home: Path, loop_home: Path, port: int) -> dict[str, str]:
    """scripts/airflow_env.sh's environment, pointed at temp dirs and a free local port."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_LOOP_ENV_PREFIXES) and not k.startswith("AIRFLOW")
    }
    path = env.get("PATH", "")
    pythonpath = env.get("PYTHONPATH", "")
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            # Only the DAGs under test run: the rest of the loop stays paused.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            # Task processes reach the execution API of this instance, not a loop on :8080.
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "RINGRIFT_HOME": str(loop_home),
            "RINGRIFT__RESOURCES__CPU_CRITICAL_PCT": "100",
            "RINGRIFT__RESOURCES__LOAD_CRITICAL_FACTOR": "1000",
            "RINGRIFT__RESOURCES__MEMORY_CRITICAL_PCT": "100",
            "RINGRIFT__TOURNAMENT__GAMES": "2",
            "RINGRIFT__TOURNAMENT__BASELINES": "random,heuristic",
            "PATH": f"{VENV_BIN}:{path}" if path else str(VENV_BIN),
            "PYTHONPATH": f"{REPO}:{pythonpath}" if pythonpath else str(REPO),
        }
    )
    return env


def processes_naming(marker: str) -> dict[int, str]:
    """pid -> cmdline of every process (but this one) whose cmdline or environment names
    ``marker``."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline or marker.encode() in environ:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def poll(what: str, fn: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Standalone:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    airflow_home: Path
    base_url: str
    output: Path
    client: httpx.Client | None = None

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.output.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        return self.client.request(method, f"/api/v2{path}", **kwargs)


def stop_standalone(proc: subprocess.Popen[bytes], marker: str) -> list[str]:
    """SIGTERM the standalone's process group, wait, SIGKILL it, then kill whatever still
    names the temp AIRFLOW_HOME; returns what had to be killed that way."""
    pgid = proc.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass
    # Components of the group may still be shutting down after standalone itself exited.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_naming(marker):
        time.sleep(0.5)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)
    survivors = processes_naming(marker)
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_naming(marker):
        time.sleep(0.2)
    return [f"{pid}: {cmd}" for pid, cmd in survivors.items()]


def wait_healthy(server: Standalone) -> None:
    def healthy() -> bool | None:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"airflow standalone exited with {server.proc.returncode}:\n{server.tail()}"
            )
        try:
            resp = httpx.get(f"{server.base_url}/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return None
        if resp.status_code != 200:
            return None
        body = resp.json()
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        ok = all((body.get(p) or {}).get("status") == "healthy" for p in parts)
        return True if ok else None

    try:
        poll("the standalone API to report healthy", healthy, HEALTH_TIMEOUT_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.tail()}") from None


def login(server: Standalone) -> None:
    password_file = server.airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords = json.loads(password_file.read_text())
    resp = httpx.post(
        f"{server.base_url}/auth/token",
        json={"username": "admin", "password": passwords["admin"]},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    token = resp.json()["access_token"]
    server.client = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def wait_dag_parsed(server: Standalone, dag_id: str) -> None:
    def parsed() -> bool | None:
        return True if server.api("GET", f"/dags/{dag_id}").status_code == 200 else None

    poll(f"{dag_id} to be parsed", parsed, 90)


def unpause(server: Standalone, dag_id: str) -> None:
    resp = server.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    assert resp.status_code == 200, resp.text
    assert resp.json()["is_paused"] is False


def wait_run_done(server: Standalone, dag_id: str, run_id: str) -> str:
    def done() -> str | None:
        resp = server.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        assert resp.status_code == 200, resp.text
        state = resp.json()["state"]
        return state if state in ("success", "failed") else None

    try:
        return poll(f"{dag_id} run {run_id} to finish", done, RUN_TIMEOUT_S)
    except AssertionError as exc:
        states = task_states(server, dag_id, run_id)
        raise AssertionError(f"{exc}; task states {states}\n{server.tail()}") from None


def task_states(server: Standalone, dag_id: str, run_id: str) -> dict[str, str]:
    resp = server.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    assert resp.status_code == 200, resp.text
    return {ti["task_id"]: ti["state"] for ti in resp.json()["task_instances"]}


@contextmanager
def running_standalone(
    tmp_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Standalone]:
    """Set up (airflow_setup.sh) and start ``airflow standalone`` under ``tmp_path``; stop it
    and everything it started on exit, failing if a process is left behind."""
    airflow_home = tmp_path / "airflow"
    loop_home = tmp_path / "ringrift"
    airflow_home.mkdir()
    port = free_port()
    env = standalone_env(airflow_home, loop_home, port)
    env.update(extra_env or {})

    setup = subprocess.run(
        ["bash", str(REPO / "scripts" / "airflow_setup.sh")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert setup.returncode == 0, f"airflow_setup.sh failed:\n{setup.stdout}\n{setup.stderr}"

    with launched(
        [str(VENV_BIN / "airflow"), "standalone"],
        env,
        airflow_home,
        port,
        tmp_path / "standalone.log",
    ) as server:
        yield server


def _terminal_signals() -> None:
    """In the child before exec: SIGINT and SIGQUIT as a terminal session has them. A test
    run started in the background (``nohup ... &``) inherits them ignored, and a shell
    cannot even trap a signal ignored at its start: Ctrl-C would be lost on the way."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


@contextmanager
def launched(
    argv: list[str], env: dict[str, str], airflow_home: Path, port: int, output: Path
) -> Iterator[Standalone]:
    """Start ``argv`` (an ``airflow standalone``, directly or through a script) in its own
    session with its output in ``output``; on exit stop it and everything naming
    ``airflow_home``, failing if a process is left behind."""
    with output.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_terminal_signals,
        )
    server = Standalone(proc, env, airflow_home, f"http://127.0.0.1:{port}", output)
    try:
        yield server
    finally:
        if server.client is not None:
            server.client.close()
        killed = stop_standalone(proc, str(airflow_home))
        left = processes_naming(str(airflow_home))
        assert not left, f"processes left behind: {left}"
        if killed:
            print(f"killed after {argv[-1]}'s shutdown: {killed}")
