"""A real CeleryExecutor Airflow on this machine, for tests: PostgreSQL as the metadata DB,
Redis as the Celery broker, a scheduler, a DAG processor, an API server and one Celery worker
per queue, each its own process (and process group) writing to its own log file.

Everything is throwaway and unique to one cluster: a PostgreSQL database created for it (also
the Celery result backend) and dropped after; a Redis key prefix (Celery's
``global_keyprefix`` transport option, in a Redis DB kept for these tests) whose keys are
deleted after, so other users of the same Redis are never touched; a fresh AIRFLOW_HOME and
RINGRIFT_HOME. Stopping SIGTERMs every component's process group, SIGKILLs what is left after
a grace period, then kills any process still naming the temp AIRFLOW_HOME, and fails if one
survives.

The environment is the standalone tests' (:func:`tests.airflow.standalone.standalone_env`:
paused-at-creation DAGs, lifted CPU/load/memory limits, a private JWT secret) with the
CeleryExecutor settings of ``docker-compose.yaml`` on top. Each worker's hostname callable
(:mod:`tests.airflow.celery_node`) makes a TaskInstance's ``hostname`` the Celery node that ran
it, which is how a test tells the two workers of one machine apart.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from celery import Celery

from tests.airflow.standalone import (
    REPO,
    VENV_BIN,
    Standalone,
    free_port,
    poll,
    processes_naming,
    standalone_env,
)

PG_ADMIN = os.environ.get(
    "RINGRIFT_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_SERVER = os.environ.get("RINGRIFT_TEST_PG_SERVER", "postgres@127.0.0.1:5432")
# Redis DB 11 is this test's; the per-cluster key prefix keeps even that shared DB clean.
REDIS_URL = os.environ.get("RINGRIFT_TEST_CELERY_REDIS", "redis://127.0.0.1:6379/11")
NODE_NAME_CALLABLE = "tests.airflow.celery_node.celery_node_name"

# Two cores shared with other work: five Airflow processes take minutes to come up.
STARTUP_TIMEOUT_S = 300.0
STOP_GRACE_S = 30.0
SETUP_TIMEOUT_S = 300.0


@dataclass
class Component:
    """One running Airflow process (the leader of its own process group) and its log."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class CeleryCluster:
    """A running cluster. ``server`` is the API server as the REST helpers of
    :mod:`tests.airflow.standalone` take it; ``nodes`` maps a queue to the Celery node name
    of the worker consuming it."""

    server: Standalone
    env: dict[str, str]
    airflow_home: Path
    loop_home: Path
    nodes: dict[str, str]
    broker_url: str
    key_prefix: str
    components: dict[str, Component] = field(default_factory=dict)

    def worker(self, queue: str) -> Component:
        return self.components[f"worker-{queue}"]

    def tails(self, lines: int = 40) -> str:
        """The last lines of every component's log, for failure messages."""
        return "\n".join(
            f"----- {c.name} (exit {c.proc.poll()}) -----\n{c.tail(lines)}"
            for c in self.components.values()
        )


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (unique name) as an SQLAlchemy psycopg URL; dropped on exit,
    closing whatever connections are still open to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def broker_keys(broker_url: str, key_prefix: str) -> list[str]:
    """The Redis keys of the broker DB that carry ``key_prefix``."""
    client = redis.Redis.from_url(broker_url)
    try:
        return [k.decode() for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
    finally:
        client.close()


def delete_broker_keys(broker_url: str, key_prefix: str) -> None:
    client = redis.Redis.from_url(broker_url)
    try:
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def celery_env(
    airflow_home: Path, loop_home: Path, port: int, db_url: str, key_prefix: str
) -> dict[str, str]:
    """The standalone test environment switched to the CeleryExecutor on ``db_url``
    (metadata DB and result backend) and Redis (``REDIS_URL``, keys under ``key_prefix``)."""
    env = standalone_env(airflow_home, loop_home, port)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db_url}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": "default",
            # Workers reach this cluster's execution API, not whatever listens on :8080.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            # No DAG file changes while a test runs: parse each once, leaving the CPU to tasks.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        }
    )
    return env


def _start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Component:
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "airflow"), *args],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Component(name, proc, log)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop_components(components: list[Component], marker: str) -> list[str]:
    """SIGTERM every component's process group, give them ``STOP_GRACE_S`` together (a Celery
    worker's warm shutdown finishes its running task), SIGKILL the groups, then kill any
    process still naming ``marker``; returns what had to be killed that last way."""
    for c in components:
        _signal_group(c.proc, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for c in components:
        try:
            c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for c in components:
        _signal_group(c.proc, signal.SIGKILL)
        if c.proc.poll() is None:
            c.proc.wait(timeout=10)
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


def ping_workers(broker_url: str, key_prefix: str, nodes: list[str]) -> set[str]:
    """The Celery node names among ``nodes`` that answer a broadcast ping."""
    app = Celery("ringrift-test-ping", broker=broker_url, set_as_current=False)
    app.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    try:
        replies = app.control.ping(destination=nodes, timeout=3.0) or []
    finally:
        app.close()
    return {name for reply in replies for name in reply}


def wait_cluster_healthy(cluster: CeleryCluster) -> None:
    """Until the API reports the metadata DB, scheduler and DAG processor healthy and every
    worker answers a Celery ping; fails at once if a component exits."""

    def healthy() -> bool | None:
        for c in cluster.components.values():
            if c.proc.poll() is not None:
                raise AssertionError(
                    f"{c.name} exited with {c.proc.returncode}:\n{cluster.tails()}"
                )
        try:
            resp = httpx.get(f"{cluster.server.base_url}/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return None
        if resp.status_code != 200:
            return None
        body = resp.json()
        parts = ("metadatabase", "scheduler", "dag_processor")
        if not all((body.get(p) or {}).get("status") == "healthy" for p in parts):
            return None
        wanted = set(cluster.nodes.values())
        return (
            True
            if ping_workers(cluster.broker_url, cluster.key_prefix, sorted(wanted)) == wanted
            else None
        )

    try:
        poll("the Celery cluster to report healthy", healthy, STARTUP_TIMEOUT_S, every=3.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.tails()}") from None


@contextmanager
def running_celery_cluster(
    tmp_path: Path,
    queues: dict[str, int],
    prepare: Callable[[dict[str, str]], None] | None = None,
) -> Iterator[CeleryCluster]:
    """Set up (``scripts/airflow_setup.sh``: migrate + pools) and start a CeleryExecutor
    cluster under ``tmp_path`` with one worker per queue (``queue -> concurrency``), called
    ``<queue>@<unique id>``; ``prepare(env)`` runs after the setup, before anything starts.
    Waits until it is healthy. On exit stops everything, drops the database, deletes the
    broker keys, and fails if a process, the database or a key is left behind."""
    airflow_home = tmp_path / "airflow"
    loop_home = tmp_path / "ringrift"
    log_dir = tmp_path / "logs"
    for d in (airflow_home, loop_home, log_dir):
        d.mkdir(parents=True)
    cluster_id = uuid.uuid4().hex[:10]
    key_prefix = f"ringrift-test-{cluster_id}:"
    port = free_port()

    with throwaway_database("ringrift_celery") as db_url:
        env = celery_env(airflow_home, loop_home, port, db_url, key_prefix)
        setup = subprocess.run(
            ["bash", str(REPO / "scripts" / "airflow_setup.sh")],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
            check=False,
        )
        assert setup.returncode == 0, f"airflow_setup.sh failed:\n{setup.stdout}\n{setup.stderr}"
        if prepare is not None:
            prepare(env)

        nodes = {queue: f"{queue}@ringrift-{cluster_id}" for queue in queues}
        components: dict[str, Component] = {}
        cluster: CeleryCluster | None = None
        try:
            components["api-server"] = _start(
                "api-server", ["api-server", "--port", str(port)], env, log_dir
            )
            components["scheduler"] = _start("scheduler", ["scheduler"], env, log_dir)
            components["dag-processor"] = _start("dag-processor", ["dag-processor"], env, log_dir)
            worker_env = {**env, "AIRFLOW__CORE__HOSTNAME_CALLABLE": NODE_NAME_CALLABLE}
            for queue, concurrency in queues.items():
                name = f"worker-{queue}"
                components[name] = _start(
                    name,
                    [
                        *("celery", "worker", "--queues", queue),
                        *("--concurrency", str(concurrency)),
                        *("--celery-hostname", nodes[queue]),
                        # Task logs are files in the shared AIRFLOW_HOME; no log server port.
                        "--skip-serve-logs",
                    ],
                    worker_env,
                    log_dir,
                )
            server = Standalone(
                components["api-server"].proc,
                env,
                airflow_home,
                f"http://127.0.0.1:{port}",
                components["api-server"].log,
            )
            cluster = CeleryCluster(
                server, env, airflow_home, loop_home, nodes, REDIS_URL, key_prefix, components
            )
            wait_cluster_healthy(cluster)
            yield cluster
        finally:
            if cluster is not None and cluster.server.client is not None:
                cluster.server.client.close()
            killed = stop_components(list(components.values()), str(airflow_home))
            left = processes_naming(str(airflow_home))
            delete_broker_keys(REDIS_URL, key_prefix)
            if killed:
                print(f"killed after the cluster's shutdown: {killed}")
    assert not left, f"processes left behind: {left}"
    assert not database_exists(db_url), f"metadata database {db_url} still exists"
    assert broker_keys(REDIS_URL, key_prefix) == [], "broker keys left behind"
