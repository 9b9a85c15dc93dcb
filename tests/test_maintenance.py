"""Daily housekeeping chores on real files and a real SQLite store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ringrift_tasks.maintenance import clean_quarantine, optimize_store, parity_sample
from ringrift_tasks.store import open_store
from tests.training.games import heuristic_games


def test_quarantine_keeps_files_within_retention(tmp_path: Path) -> None:
    old, new = tmp_path / "a.shard", tmp_path / "b.shard"
    old.write_bytes(b"x" * 10)
    new.write_bytes(b"y")
    os.utime(old, (1000.0, 1000.0))
    os.utime(new, (5000.0, 5000.0))
    r = clean_quarantine(tmp_path, 2000.0, now=5500.0)
    assert r.removed == ["a.shard"] and r.kept == 1 and r.freed_bytes == 10
    assert not old.exists() and new.exists()
    assert clean_quarantine(tmp_path / "absent", 1.0).removed == []
    with pytest.raises(ValueError, match="retention_s"):
        clean_quarantine(tmp_path, -1)


def test_optimize_and_parity_sample_on_a_store(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        store.pool.insert_records(heuristic_games(3, seed0=11))
        assert optimize_store(store).startswith("VACUUM + ANALYZE")
        sample = parity_sample(store, ["square8_2p", "hex8_2p"], 2)
    assert sample.checked == {"square8_2p": 2, "hex8_2p": 0} and sample.failed == 0


@pytest.mark.postgres
def test_optimize_store_on_postgres() -> None:
    import uuid

    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/test"
    name = f"rr_maint_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with open_store(f"postgresql://postgres@127.0.0.1:5432/{name}") as store:
            assert optimize_store(store).startswith("VACUUM ANALYZE")
            assert store.pool.count() == 0  # the connection went back usable
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
