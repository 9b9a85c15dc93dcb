"""Pool sizes for the scheduler, from the config and the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.pools import POOL_NAMES, pool_sizes, pools_document


def test_sizes_follow_cpus_workers_and_gpus() -> None:
    assert pool_sizes(1, 2, 0) == {"selfplay": 1, "gpu": 1, "sync": 1, "tournament": 1}
    assert pool_sizes(2, 16, 4) == {"selfplay": 7, "gpu": 4, "sync": 1, "tournament": 4}
    with pytest.raises(ValueError, match="workers >= 1"):
        pool_sizes(0, 4, 0)


def test_document_is_what_airflow_pools_import_reads(tmp_path: Path) -> None:
    doc = pools_document(load_config(env={"RINGRIFT_HOME": str(tmp_path)}), 8, 1)
    assert set(doc) == set(POOL_NAMES)
    assert doc["selfplay"] == {
        "slots": 7,
        "description": doc["selfplay"]["description"],
        "include_deferred": False,
    }


def test_module_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "pools.json"
    subprocess.run(
        [sys.executable, "-m", "ringrift_tasks.pools", str(out)],
        check=True,
        env={"RINGRIFT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert set(json.loads(out.read_text())) == set(POOL_NAMES)
