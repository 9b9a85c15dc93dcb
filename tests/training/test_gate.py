"""The training gate: the pure decision over figures, and the measured verdict on a real
SQLite store, recorded in the decision log."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from ringrift_tasks.config import TrainingConfig, load_config
from ringrift_tasks.resources import Level, ResourceReport, ResourceStatus
from ringrift_tasks.store import open_store
from ringrift_tasks.training.gate import decide_training, training_gate
from ringrift_tasks.training.quality import assess_window
from tests.training.games import heuristic_games

T = TrainingConfig(min_new_games=4, min_interval_s=600, min_data_quality=0.5)
OK = ResourceReport((ResourceStatus("disk", Level.OK, 10.0, "disk ok"),))
FULL = ResourceReport((ResourceStatus("disk", Level.CRITICAL, 99.0, "disk 99% used"),))


@pytest.fixture(scope="module")
def six_games() -> list:
    return heuristic_games(6, seed0=100)


def test_passes_when_every_condition_holds(six_games: list) -> None:
    q = assess_window("square8_2p", six_games, min_quality=0.5)
    v = decide_training(
        "square8_2p",
        new_games=6,
        since_last_s=math.inf,
        training=T,
        quality=q,
        resources_ok=True,
    )
    assert v.passed and "never trained" in v.reason
    assert v.evidence["new_games"] == 6 and v.evidence["since_last_s"] is None


def test_names_every_failed_condition() -> None:
    v = decide_training(
        "square8_2p",
        new_games=3,
        since_last_s=100.0,
        training=T,
        quality=None,
        resources_ok=False,
        resources_reason="disk 99% used",
    )
    assert not v.passed
    assert v.reason == (
        "3 new games < 4 required; last training 100s ago < 600s interval; resources: disk 99% used"
    )


def test_refuses_poor_data_quality(six_games: list) -> None:
    q = assess_window("square8_2p", six_games, min_quality=0.99)
    v = decide_training(
        "square8_2p", new_games=6, since_last_s=1e6, training=T, quality=q, resources_ok=True
    )
    assert not v.passed and v.reason.startswith("data quality")


def _cfg(tmp_path: Path):
    return load_config(
        env={
            "RINGRIFT_HOME": str(tmp_path),
            "RINGRIFT__TRAINING__MIN_NEW_GAMES": "4",
            "RINGRIFT__TRAINING__MIN_INTERVAL_S": "600",
            "RINGRIFT__TRAINING__MIN_DATA_QUALITY": "0.5",
        }
    )


def test_gate_on_a_store_records_its_verdict_and_resets_after_passing(
    tmp_path: Path, six_games: list
) -> None:
    cfg = _cfg(tmp_path)
    with open_store(cfg.store_url) as store:
        empty = training_gate(cfg, store, "square8_2p", now=1000.0, resources=OK, run_id="r0")
        assert not empty.passed and empty.reason.startswith("0 new games < 4")
        store.pool.insert_records(six_games)  # merged now, by the clock
        now = time.time() + 1
        passed = training_gate(cfg, store, "square8_2p", now=now, resources=OK, run_id="r1")
        assert passed.passed, passed.reason
        latest = store.decisions.latest("square8_2p", "training")
        assert latest.passed and latest.run_id == "r1" and latest.reason == passed.reason
        # The passed verdict is the last training: no new games since, interval not over.
        again = training_gate(cfg, store, "square8_2p", now=now + 60, resources=OK)
        assert not again.passed
        assert "0 new games < 4" in again.reason and "60s ago < 600s" in again.reason


def test_critical_resources_block_and_skip_the_replay(tmp_path: Path, six_games: list) -> None:
    cfg = _cfg(tmp_path)
    with open_store(cfg.store_url) as store:
        store.pool.insert_records(six_games)
        v = training_gate(cfg, store, "square8_2p", resources=FULL)
    assert not v.passed and v.reason == "resources: disk 99% used"
    assert v.evidence["quality"] is None


def test_force_passes_and_says_what_it_overrode(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with open_store(cfg.store_url) as store:
        v = training_gate(cfg, store, "square8_2p", resources=OK, force=True)
    assert v.passed and v.reason.startswith("forced (would refuse: 0 new games < 4")


def test_unknown_config_is_rejected(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with open_store(cfg.store_url) as store, pytest.raises(ValueError, match="square9"):
        training_gate(cfg, store, "square9_2p", resources=OK)
