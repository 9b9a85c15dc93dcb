"""Model bookkeeping: the best model's hash and checksum, leases, pruning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringrift_tasks.evaluation.distribution import (
    DistributionError,
    acquire_lease,
    active_leases,
    best_model,
    model_lease,
    prune_archived,
    rollback_target,
    write_best_manifest,
)
from ringrift_tasks.evaluation.promotion import promote
from ringrift_tasks.store import ModelVersion, Store

from .conftest import ModelMaker

T0 = 1_800_000_000.0
CONFIG = "square8_2p"


def _chain(store: Store, make_model: ModelMaker, n: int) -> list[ModelVersion]:
    """``n`` models promoted one after another (the last is best)."""
    models = [make_model(store) for _ in range(n)]
    for i, m in enumerate(models):
        out = promote(store, CONFIG, m.model_id, {"i": i}, cooldown_s=0, max_per_day=99, now=T0 + i)
        assert out.promoted
    return models


def test_best_answers_with_content_hash_and_checksum(
    store: Store, make_model: ModelMaker, tmp_path: Path
) -> None:
    assert best_model(store, CONFIG) is None
    (m,) = _chain(store, make_model, 1)
    b = best_model(store, CONFIG, verify=True)
    assert b.model_id == m.model_id and b.checksum == f"sha256:{m.model_id}"
    assert b.bytes == Path(m.path).stat().st_size
    manifest = json.loads(
        write_best_manifest(store, [CONFIG, "hex8_2p"], tmp_path / "b.json").read_text()
    )
    assert manifest["configs"][CONFIG]["model_id"] == m.model_id
    assert manifest["configs"]["hex8_2p"] is None


def test_a_best_file_that_does_not_match_its_id_fails_verification(
    store: Store, make_model: ModelMaker
) -> None:
    (m,) = _chain(store, make_model, 1)
    Path(m.path).write_bytes(b"tampered")
    with pytest.raises(DistributionError, match="registered as"):
        best_model(store, CONFIG, verify=True)


def test_pruning_keeps_n_archived_and_never_the_best_or_the_rollback_target(
    store: Store, make_model: ModelMaker, tmp_path: Path
) -> None:
    models = _chain(store, make_model, 6)  # 5 archived, the last is best
    best, previous = models[-1], models[-2]
    assert rollback_target(store, CONFIG) == previous.model_id
    report = prune_archived(store, CONFIG, keep=2, models_dir=tmp_path / "models")
    assert report.kept == [previous.model_id, models[-3].model_id]
    assert sorted(report.removed) == sorted(m.model_id for m in models[:3])
    for m in models[:3]:
        assert not Path(m.path).exists() and not Path(m.path).with_suffix(".json").exists()
    for m in models[3:]:
        assert Path(m.path).exists()
    assert best_model(store, CONFIG, verify=True).model_id == best.model_id
    # keep=0 still spares the best and the model a rollback would restore.
    report = prune_archived(store, CONFIG, keep=0, models_dir=tmp_path / "models")
    assert report.protected[previous.model_id] == "rollback target"
    assert Path(best.path).exists() and Path(previous.path).exists()


def test_pruning_spares_a_model_leased_by_a_running_job(
    store: Store, make_model: ModelMaker, tmp_path: Path
) -> None:
    models = _chain(store, make_model, 4)
    folder = tmp_path / "models"
    with model_lease(folder, models[0].model_id, "tournament elo-x"):
        report = prune_archived(store, CONFIG, keep=0, models_dir=folder)
        assert report.protected[models[0].model_id] == "leased by a running job"
        assert Path(models[0].path).exists()
    assert active_leases(folder) == {}
    report = prune_archived(store, CONFIG, keep=0, models_dir=folder)
    assert models[0].model_id in report.removed and not Path(models[0].path).exists()


def test_an_expired_lease_no_longer_pins_a_model(tmp_path: Path) -> None:
    lease = acquire_lease(tmp_path, "a" * 64, "selfplay/1", ttl_s=60, now=T0)
    assert "a" * 64 in active_leases(tmp_path, now=T0 + 59)
    assert active_leases(tmp_path, now=T0 + 61) == {}
    lease.renew(120, now=T0 + 61)
    assert active_leases(tmp_path, now=T0 + 100)["a" * 64][0].job == "selfplay/1"


def test_a_dry_run_removes_nothing(store: Store, make_model: ModelMaker, tmp_path: Path) -> None:
    models = _chain(store, make_model, 4)
    report = prune_archived(store, CONFIG, keep=0, models_dir=tmp_path / "models", dry_run=True)
    assert report.removed == [models[1].model_id, models[0].model_id]
    assert all(Path(m.path).exists() for m in models)
