"""Migration 0004 (the last remote probe in ``sync_nodes``) on a store that has rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from ringrift_tasks.store import open_store
from ringrift_tasks.store.db import _alembic_config, make_engine

PG_ADMIN = os.environ.get(
    "RINGRIFT_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PROBE_COLUMNS = {"probed_at", "remote_backlog", "remote_health"}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (this test moves the schema down and up again)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ringrift.db'}"
        return
    name = f"ringrift_mig_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable ({PG_ADMIN}): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _to(url: str, revision: str, *, down: bool = False) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cfg = _alembic_config(conn)
            command.downgrade(cfg, revision) if down else command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()


def _columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("sync_nodes")}
    finally:
        engine.dispose()


def test_upgrade_adds_empty_probe_columns_and_downgrade_removes_them(fresh_url: str) -> None:
    _to(fresh_url, "0003")
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sync_nodes (node, reachable, consecutive_failures, breaker_state, "
                "backlog, quarantined) VALUES ('n1', true, 2, 'closed', 7, 1)"
            )
        )
    engine.dispose()
    assert not PROBE_COLUMNS & _columns(fresh_url)

    with open_store(fresh_url) as store:  # migrates to head
        h = store.manifest.health("n1")
        assert (h.consecutive_failures, h.backlog, h.quarantined) == (2, 7, 1)
        assert (h.probed_at, h.remote_backlog, h.remote_health) == (None, None, None)
        store.manifest.save_probe("n1", probed_at=5.0, remote_backlog=2, remote_health={"a": 1})

    _to(fresh_url, "0003", down=True)
    assert not PROBE_COLUMNS & _columns(fresh_url)
    engine = make_engine(fresh_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT backlog, breaker_state FROM sync_nodes")).one()
        assert tuple(row) == (7, "closed")
        # The breaker's check constraint survives the table rebuild SQLite needs.
        with pytest.raises(IntegrityError, match="ck_sync_nodes_breaker|CHECK"):
            conn.execute(text("UPDATE sync_nodes SET breaker_state = 'ajar'"))
    engine.dispose()
