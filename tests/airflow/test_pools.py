"""The setup creates the four pools, sized from the config and the machine: a task naming
a missing pool would never be scheduled."""

from __future__ import annotations

import json
from pathlib import Path

from ringrift_tasks.pools import POOL_NAMES
from tests.airflow.conftest import airflow_cli


def test_setup_creates_every_pool_the_dags_use(airflow_setup: Path, dagbag: object) -> None:
    listed = json.loads(airflow_cli("pools", "list", "--output", "json").stdout)
    slots = {p["pool"]: int(p["slots"]) for p in listed}
    wanted = json.loads((airflow_setup / "pools.json").read_text())
    for name in POOL_NAMES:
        assert slots[name] == wanted[name]["slots"] >= 1
    used = {t.pool for d in dagbag.dags.values() for t in d.tasks}  # type: ignore[attr-defined]
    assert used <= set(slots)
