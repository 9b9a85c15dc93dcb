"""Alembic environment of the stores, run programmatically by ``ringrift_tasks.store.migrate``.

The caller hands over an open connection (``config.attributes["connection"]``); there is no
alembic.ini. The whole upgrade is one transaction that starts by taking a database-wide
lock, so concurrent openers of a fresh database migrate it once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from ringrift_tasks.store.models import Base

# Any fixed 64-bit key: the advisory lock that serialises migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x52494E4752494654  # "RINGRIFT"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ringrift_tasks.store.migrate(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    context.run_migrations()
