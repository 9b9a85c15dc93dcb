"""Fixtures of the training tests: real heuristic games of square8_2p, a SQLite store in a
temp file holding them, a loop config whose home is a temp dir, and a tiny network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ringrift_tasks.config import RingriftConfig, load_config
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.store import Store, open_store
from tests.training.games import heuristic_games


@pytest.fixture(scope="session")
def games() -> list[GameRecord]:
    return heuristic_games(12)


@pytest.fixture
def loop_cfg(tmp_path: Path) -> RingriftConfig:
    return load_config(env={"RINGRIFT_HOME": str(tmp_path / "home")})


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ringrift.db'}"


@pytest.fixture
def store(store_url: str, games: list[GameRecord]) -> Iterator[Store]:
    """A store whose pool holds the session's games."""
    with open_store(store_url) as s:
        s.pool.insert_records(games)
        yield s
