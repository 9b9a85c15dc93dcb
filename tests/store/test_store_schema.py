"""Opening stores: migrations, connection settings, URLs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from ringrift_tasks.store import Store, StoreError, migrate, open_store
from ringrift_tasks.store.models import Base

# The newest revision in ringrift_tasks/store/migrations/versions/.
HEAD_REVISION = "0004"


def test_the_migrated_schema_matches_the_orm_models(store: Store) -> None:
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_again_changes_nothing(store_url: str) -> None:
    migrate(store_url)
    migrate(store_url)
    with open_store(store_url) as s, s.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD_REVISION
        ]


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'x' / 'ringrift.db'}") as s, s.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_foreign_keys_are_enforced(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with store.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO best_models (config, model_id, updated_at) VALUES ('x', 'nope', 0)"
                )
            )


def test_many_threads_opening_a_fresh_database_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_store(url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_bare_postgresql_url_gets_the_psycopg_driver(pg_url: str) -> None:
    bare = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with open_store(bare) as s:
        assert s.engine.url.drivername == "postgresql+psycopg"
        assert s.dialect == "postgresql"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_an_unsupported_or_malformed_url_is_named(url: str) -> None:
    with pytest.raises(StoreError, match="URL"):
        open_store(url)
