"""Alembic migrations of the stores (run by ``ringrift_tasks.store.migrate``)."""
