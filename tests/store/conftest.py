"""Fixtures of the store tests: every store test runs on SQLite (a temp file) and on
PostgreSQL (a throwaway database on 127.0.0.1:5432, created for the session, dropped after)."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from games import play_random_game

from ringrift_tasks.records.game_record import GameRecord, SearchTarget
from ringrift_tasks.store import Store, open_store

PG_ADMIN = os.environ.get(
    "RINGRIFT_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
_TABLES = (
    "promotions, best_models, models, matches, merged_shards, games, sync_manifest, sync_nodes"
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session (dropped at the end)."""
    name = f"ringrift_test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for one test: a new SQLite file, or the session's PostgreSQL database
    with every table emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ringrift.db'}"
    url: str = request.getfixturevalue("pg_url")
    with open_store(url) as s, s.write() as conn:
        conn.exec_driver_sql(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


@pytest.fixture(scope="session")
def real_games() -> list[GameRecord]:
    """Twelve real random square8_2p games, played to the end by the rules engine."""
    return [play_random_game("square8_2p", seed) for seed in range(1, 13)]


@pytest.fixture(scope="session")
def mixed_games() -> list[GameRecord]:
    """Games of three configs (big boards stopped early) with search targets on one."""
    games = [play_random_game("square8_3p", 7), play_random_game("hex8_4p", 8, max_steps=120)]
    g = play_random_game("square8_2p", 99)
    targets = tuple(
        SearchTarget(((0, 0.75), (1, 0.25)), (0.1 * (i % 3), -0.1 * (i % 3)))
        for i in range(g.num_moves)
    )
    games.append(dataclasses.replace(g, targets=targets, kind="evaluation", game_id=""))
    return games
