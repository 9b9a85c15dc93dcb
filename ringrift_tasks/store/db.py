"""Opening a store: the engine, its transactions and the schema migrations.

SQLite (the default, one file under ``RINGRIFT_HOME``) runs in WAL mode with foreign keys
and a busy timeout; PostgreSQL is chosen by URL and driven by psycopg 3. ``open_store``
brings the schema up to date (idempotent, safe when several processes open at once) and
returns a ``Store`` whose repositories are ``pool``, ``elo`` and ``registry``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from ringrift_tasks.store.decisions import DecisionLog
    from ringrift_tasks.store.elo import EloService
    from ringrift_tasks.store.manifest import SyncManifest
    from ringrift_tasks.store.pool import GamePool
    from ringrift_tasks.store.registry import ModelRegistry

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Alembic's ``context`` is a module-level proxy: two threads migrating at once would share
# it. Threads of one process take turns here; processes are serialised by the database.
_MIGRATE_LOCK = threading.Lock()
# Execution option read by the SQLite "begin" hook: DEFERRED (reads) or IMMEDIATE (writes).
_SQLITE_BEGIN = "ringrift_sqlite_begin"


class StoreError(RuntimeError):
    """A store that cannot be opened or used; the message names the URL or the row."""


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; a bare ``postgresql://`` gets the psycopg 3 driver."""
    try:
        u = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise StoreError(f"bad database URL {url!r}: {exc}") from None
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database URL {u.render_as_string(hide_password=True)!r}: "
            "expected sqlite:///<file> or postgresql://..."
        )
    return u


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` with the store's connection settings applied."""
    u = normalize_url(url)
    if u.get_backend_name() == "postgresql":
        return create_engine(u, pool_pre_ping=True)

    if u.database and u.database != ":memory:":
        from pathlib import Path

        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u)

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that SQLAlchemy's
        # BEGIN below is the only one (the module's legacy mode emits none for SELECT
        # and cannot do BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL-safe
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    location = resources.files("ringrift_tasks.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(url_or_engine: str | URL | Engine) -> None:
    """Bring the schema at ``url_or_engine`` to the newest revision (a no-op when current).

    The upgrade runs in one transaction that first takes a database-wide lock (an advisory
    lock on PostgreSQL, the write lock on SQLite), so processes opening the same fresh
    database at once migrate it exactly once.
    """
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        with _MIGRATE_LOCK, engine.connect() as conn:
            conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            command.upgrade(_alembic_config(conn), "head")
            conn.commit()
    finally:
        if engine is not url_or_engine:
            engine.dispose()


class Store:
    """One database: its engine, transactions and the three repositories on it.

    Build it with ``open_store(url)``; ``close()`` releases its connections.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name  # "sqlite" | "postgresql"
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return self._sessions()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (rolled back at the end)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed on success and rolled back on any exception.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so
        concurrent writers queue on the busy timeout instead of failing on a lock upgrade.
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                yield conn

    @cached_property
    def pool(self) -> GamePool:
        from ringrift_tasks.store.pool import GamePool

        return GamePool(self)

    @cached_property
    def elo(self) -> EloService:
        from ringrift_tasks.store.elo import EloService

        return EloService(self)

    @cached_property
    def registry(self) -> ModelRegistry:
        from ringrift_tasks.store.registry import ModelRegistry

        return ModelRegistry(self)

    @cached_property
    def decisions(self) -> DecisionLog:
        from ringrift_tasks.store.decisions import DecisionLog

        return DecisionLog(self)

    @cached_property
    def manifest(self) -> SyncManifest:
        from ringrift_tasks.store.manifest import SyncManifest

        return SyncManifest(self)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def open_store(url: str | URL) -> Store:
    """Open the store at ``url`` (``sqlite:///path`` or ``postgresql://...``), migrating it."""
    engine = make_engine(url)
    try:
        migrate(engine)
    except Exception:
        engine.dispose()
        raise
    return Store(engine)
