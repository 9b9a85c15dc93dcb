"""Structure of the cluster deployment, ``docker-compose.yaml`` (CeleryExecutor, Postgres,
Redis, a CPU and a CUDA Celery worker), read with PyYAML; and ``docker compose config -q``
where the docker compose plugin is installed.

These tests do not use the Airflow fixtures of conftest.py (no Airflow import, no DB).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
ENV_EXAMPLE = REPO / "docker" / ".env.example"
INIT_SCRIPT = REPO / "docker" / "airflow-init.sh"

AIRFLOW_SERVICES = {
    "airflow-init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "airflow-worker-cpu",
    "airflow-worker-cuda",
}
LONG_RUNNING_COMMANDS = {
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "airflow-worker-cpu": ["airflow", "celery", "worker"],
    "airflow-worker-cuda": ["airflow", "celery", "worker"],
}
# A whole value that is one required-variable reference: ${NAME:?message}.
REQUIRED_REF = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")
# Any ${NAME...} reference inside a value.
ANY_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:?[?\-][^}]*)?\}")
SECRET_WORDS = ("PASSWORD", "SECRET", "FERNET")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (KEY: value)"
    return {str(k): str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return [str(part) for part in cmd] if isinstance(cmd, list) else str(cmd).split()


def _option(cmd: list[str], name: str) -> str:
    assert name in cmd, f"{name} missing from {cmd}"
    return cmd[cmd.index(name) + 1]


def _walk(node: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(dotted path, last key, value) of every mapping entry in the document."""
    out: list[tuple[str, str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((f"{path}.{key}", str(key), value))
            out.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_walk(value, f"{path}[{i}]"))
    return out


def test_every_service_is_present(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", *AIRFLOW_SERVICES}


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_COMMANDS))
def test_airflow_3_commands(services: dict[str, Any], name: str) -> None:
    cmd = _command(services[name])
    expected = LONG_RUNNING_COMMANDS[name]
    assert cmd[: len(expected)] == expected, f"{name}: {cmd}"


def test_celery_workers_queues(services: dict[str, Any]) -> None:
    assert _option(_command(services["airflow-worker-cpu"]), "--queues") == "default"
    assert _option(_command(services["airflow-worker-cuda"]), "--queues") == "cuda"


def test_airflow_init_migrates_imports_pools_and_sets_admin(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    cmd = _command(init)
    assert cmd == ["bash", "/opt/ringrift/docker/airflow-init.sh"]
    script = INIT_SCRIPT.read_text(encoding="utf-8")
    # The logic of scripts/airflow_setup.sh: migrate, pools from the loop config, import.
    for step in ("airflow db migrate", "python -m ringrift_tasks.pools", "airflow pools import"):
        assert step in script, f"airflow-init.sh lacks {step!r}"
    assert "AIRFLOW_ADMIN_PASSWORD" in script
    assert REQUIRED_REF.match(_env(init)["AIRFLOW_ADMIN_PASSWORD"])
    assert "COPY docker/airflow-init.sh" in DOCKERFILE.read_text(encoding="utf-8")
    depends = init["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_airflow_environment(services: dict[str, Any], name: str) -> None:
    env = _env(services[name])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"

    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert db.startswith("postgresql+psycopg://") and db.endswith("@postgres:5432/airflow")
    broker = env["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://") and broker.endswith("@redis:6379/0")
    backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql+psycopg://")
    assert backend.endswith("@postgres:5432/airflow")
    loop_db = env["RINGRIFT_DATABASE_URL"]
    assert loop_db.startswith("postgresql+psycopg://")
    assert loop_db.endswith("@postgres:5432/ringrift")
    # Credentials in the URLs come from the environment, never literals.
    for url in (db, broker, backend, loop_db):
        assert {m.group(1) for m in ANY_REF.finditer(url)} & {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
        creds = url.split("://", 1)[1].rsplit("@", 1)[0]
        assert ANY_REF.search(creds), f"credentials of {url} are not a ${{...}} reference"

    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        assert REQUIRED_REF.match(env[key]), f"{name}: {key} must be ${{VAR:?...}}"
    assert env["RINGRIFT_HOME"] == "/var/lib/ringrift"


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_same_dags_plugins_and_shared_home(
    compose: dict[str, Any], services: dict[str, Any], name: str
) -> None:
    service = services[name]
    env = _env(service)
    mounts = {}
    for volume in service["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    dags, plugins = env["AIRFLOW__CORE__DAGS_FOLDER"], env["AIRFLOW__CORE__PLUGINS_FOLDER"]
    assert mounts[dags] == "./dags" and mounts[plugins] == "./plugins"
    assert mounts[env["RINGRIFT_HOME"]] == "ringrift-home"
    assert "ringrift-home" in compose["volumes"]
    for target, source in mounts.items():
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{name} mounts {source}, absent from the repo"
        else:
            assert source in compose["volumes"], f"{name}: undeclared volume {source} ({target})"


def test_api_server_healthcheck(services: dict[str, Any]) -> None:
    test = " ".join(services["api-server"]["healthcheck"]["test"])
    assert "/api/v2/monitor/health" in test


def test_cuda_worker_reserves_nvidia_gpus_and_waits_for_api(services: dict[str, Any]) -> None:
    worker = services["airflow-worker-cuda"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    (device,) = devices
    assert device["driver"] == "nvidia"
    assert device["count"] == "all"
    assert device["capabilities"] == ["gpu"]
    assert worker["depends_on"]["api-server"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    # Its image carries a CUDA torch build: the Dockerfile's TORCH_INDEX_URL build arg.
    assert worker["build"]["dockerfile"] == "docker/Dockerfile"
    assert "TORCH_INDEX_URL" in worker["build"]["args"]
    assert worker["image"] != services["airflow-worker-cpu"]["image"]
    assert "deploy" not in services["airflow-worker-cpu"]


def test_postgres_creates_ringrift_database(services: dict[str, Any]) -> None:
    pg = services["postgres"]
    assert _env(pg)["POSTGRES_DB"] == "airflow"
    init_dir = next(
        str(v).split(":")[0] for v in pg["volumes"] if "/docker-entrypoint-initdb.d" in str(v)
    )
    sql = "".join(p.read_text() for p in sorted((REPO / init_dir).glob("*.sql")))
    assert "CREATE DATABASE ringrift" in sql


def test_no_secret_literals(compose: dict[str, Any]) -> None:
    """Every key naming a password, secret or Fernet key is a ${VAR:?...} reference, so
    compose fails loudly when the secret is missing. Keys ending in _FILE name where a file
    lives (the simple auth manager's passwords file, on a volume), not a secret value."""
    checked = 0
    for path, key, value in _walk(compose):
        if key.upper().endswith("_FILE"):
            assert str(value).startswith("/"), f"{path}: expected a container path"
            continue
        if any(word in key.upper() for word in SECRET_WORDS):
            checked += 1
            assert isinstance(value, str) and REQUIRED_REF.match(value), (
                f"{path} = {value!r}: secrets must be ${{VAR:?message}} references"
            )
    assert checked >= 6  # POSTGRES_PASSWORD, REDIS_PASSWORD, Fernet, API, JWT, admin
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY"):
        for match in re.finditer(r"\$\{" + name + r"([^}]*)\}", text):
            assert match.group(1).startswith(":?"), f"${{{name}{match.group(1)}}} has a default"


def test_env_example_lists_every_required_variable() -> None:
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    required = {m.group(1) for m in ANY_REF.finditer(text) if (m.group(2) or "").startswith(":?")}
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    declared = {line.split("=", 1)[0].strip() for line in example.splitlines() if "=" in line}
    assert required <= declared, f"missing from docker/.env.example: {required - declared}"
    for line in example.splitlines():
        if line and not line.startswith("#") and "=" in line:
            assert line.split("=", 1)[1] == "", f"docker/.env.example holds a value: {line}"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^ARG TORCH_INDEX_URL=", text, re.M)
    assert "torch==2.13.0" in text
    assert "requirements.txt" in text
    assert "pip install --no-deps ." in text
    for path in ("dags", "plugins", "config", "ringrift_tasks"):
        assert f"COPY {path} " in text
        assert (REPO / path).is_dir()
    assert "torch==2.13.0" in (REPO / "requirements.txt").read_text(encoding="utf-8")


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0


@pytest.mark.skipif(
    not _docker_compose_available(),
    reason="`docker compose version` fails here: the docker compose plugin is not installed",
)
def test_docker_compose_config(tmp_path: Path) -> None:
    """``docker compose config -q`` with dummy secrets; and without them it must fail."""
    env_file = tmp_path / "test.env"
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    names = [ln.split("=", 1)[0] for ln in example.splitlines() if ln and ln[0] != "#"]
    env_file.write_text("".join(f"{n}=dummy-{n.lower()}\n" for n in names if n))
    base = ["docker", "compose", "--project-directory", str(REPO), "-f", str(COMPOSE)]
    ok = subprocess.run(
        [*base, "--env-file", str(env_file), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    missing = subprocess.run(
        [*base, "--env-file", str(empty), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in names},
    )
    assert missing.returncode != 0, "compose accepted a missing secret"
    assert any(n in missing.stderr for n in names), missing.stderr
