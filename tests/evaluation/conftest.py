"""Fixtures of the evaluation tests: a SQLite store in a temp file (PostgreSQL where a test
asks for ``pg_url``: a throwaway database, dropped after the session), a small loop config,
and registered model files."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.store import ModelVersion, Store, open_store

PG_ADMIN = os.environ.get(
    "RINGRIFT_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ringrift.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    with open_store(sqlite_url) as s:
        yield s


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this session (dropped at the end)."""
    import psycopg  # a pinned requirement: its absence is a broken install, not a skip

    name = f"ringrift_eval_test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def cfg(tmp_path: Path) -> RingriftConfig:
    """A loop config on ``tmp_path`` with cheap baselines (random, heuristic)."""
    return RingriftConfig(
        home=tmp_path / "home",
        tournament={"baselines": ["random", "heuristic"], "games": 4},
        shadow={"games_per_config": 4},
    )


ModelMaker = Callable[..., ModelVersion]


@pytest.fixture
def make_model(tmp_path: Path) -> ModelMaker:
    """Register a real (tiny, untrained) model saved under ``tmp_path/models``; each call
    makes a different network; ``created_at`` orders candidates."""
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    count = iter(range(1_000_000))

    def make(store: Store, config: str = "square8_2p", *, created_at: float | None = None):
        n = next(count)
        board = config.rsplit("_", 1)[0]
        net = build_model(default_model_config(board, blocks=1, channels=8), seed=n)
        card = ModelCard(config=config, model_config=net.config, metrics={"n": n})
        path, sha = save_model(net, card, folder)
        return store.registry.register(
            sha,
            config,
            path=str(path),
            bytes=path.stat().st_size,
            created_at=created_at or 1000.0 + n,
        )

    return make
