"""Real Airflow 3 for the DAG tests: a throwaway AIRFLOW_HOME with a SQLite metadata DB,
set up by the project's own setup script (migrate + pools), and the repo's dags/ and
plugins/.

Airflow reads its configuration when first imported, so the environment is set here, at
conftest import, before any test module imports ``airflow``; the library never imports
Airflow, so nothing earlier in the session has. The loop's data home (RINGRIFT_HOME) is a
fresh temp dir per test. The resource guard's CPU, load and memory limits are lifted: the test
machine is busy running the tests themselves, which is not what the sensors guard against.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
PLUGINS = REPO / "plugins"
VENV_BIN = Path(sys.executable).parent

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ringrift-airflow-test-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    # Set here, not left to the airflow.cfg that `airflow db migrate` generates: a test
    # module importing Airflow before that file exists would otherwise run with no secret.
    "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
}
os.environ.update(AIRFLOW_ENV)
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))

# RINGRIFT_* variables a developer's shell may carry would change what the DAGs do.
_LOOP_ENV_PREFIXES = ("RINGRIFT_", "RINGRIFT__")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


def airflow_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the venv's ``airflow`` with the test environment; raises with its output."""
    proc = subprocess.run(
        [str(VENV_BIN / "airflow"), *args],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def airflow_setup() -> Path:
    """``scripts/airflow_setup.sh`` against the temp AIRFLOW_HOME (its env values win over
    the script's defaults): migrates the metadata DB and imports the pools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LOOP_ENV_PREFIXES)}
    env.update(AIRFLOW_ENV)
    env["RINGRIFT_HOME"] = str(_AIRFLOW_HOME / "setup-home")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "airflow_setup.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"airflow_setup.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def dagbag(airflow_setup: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS))


@pytest.fixture
def loop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh RINGRIFT_HOME (SQLite store inside) for one test; CPU, load, memory unguarded."""
    for var in list(os.environ):
        if var.startswith(_LOOP_ENV_PREFIXES):
            monkeypatch.delenv(var)
    home = tmp_path / "ringrift"
    monkeypatch.setenv("RINGRIFT_HOME", str(home))
    monkeypatch.setenv("RINGRIFT__RESOURCES__CPU_CRITICAL_PCT", "100")
    monkeypatch.setenv("RINGRIFT__RESOURCES__LOAD_CRITICAL_FACTOR", "1000")
    monkeypatch.setenv("RINGRIFT__RESOURCES__MEMORY_CRITICAL_PCT", "100")
    yield home


def task_states(dag_run: Any) -> dict[str, list[str]]:
    """``task_id -> [state per map index]`` of a finished run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
            .all()
        )
        out: dict[str, list[str]] = {}
        for ti in tis:
            out.setdefault(ti.task_id, []).append(str(ti.state))
    return out


def xcom_value(dag_run: Any, task_id: str, map_index: int = -1) -> Any:
    """The return value a task of the run pushed (deserialised)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key == "return_value",
            )
            .one_or_none()
        )
        if row is None:
            return None
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def asset_events(dag_run: Any) -> list[tuple[str, dict[str, Any]]]:
    """(asset uri, extra) of every asset event the run emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(
                AssetEvent.source_dag_id == dag_run.dag_id,
                AssetEvent.source_run_id == dag_run.run_id,
            )
            .all()
        )
    return [(uri, dict(extra or {})) for uri, extra in rows]
