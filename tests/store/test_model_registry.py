"""The model registry: versions by content hash and exactly one best model per config."""

from __future__ import annotations

import hashlib
import threading

import pytest

from ringrift_tasks.store import ModelRegistry, PromotionOutcome, RegistryError, Store, open_store

CFG = "square8_2p"
T0 = 1_800_000_000.0


def _mid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _register(reg: ModelRegistry, name: str, parent: str | None = None, config: str = CFG) -> str:
    mid = _mid(name)
    reg.register(
        mid,
        config,
        path=f"/models/{name}.safetensors",
        bytes=1234,
        parent_id=None if parent is None else _mid(parent),
        data_window={"games": [0, 5000]},
        code_version="abc123",
        metrics={"loss": 1.5},
        created_at=T0,
    )
    return mid


def _promote(reg: ModelRegistry, mid: str, now: float, **kw: float) -> PromotionOutcome:
    return reg.promote(
        CFG,
        mid,
        {"elo_delta": 31.0},
        cooldown_s=kw.get("cooldown_s", 900),
        max_per_day=int(kw.get("max_per_day", 15)),
        now=now,
    )


def test_register_is_idempotent_and_reads_back(store: Store) -> None:
    reg = store.registry
    mid = _register(reg, "m0")
    assert _register(reg, "m0") == mid
    m = reg.get(mid)
    assert m is not None
    assert (m.status, m.config, m.path, m.bytes) == (
        "candidate",
        CFG,
        "/models/m0.safetensors",
        1234,
    )
    assert (m.data_window, m.metrics, m.code_version) == (
        {"games": [0, 5000]},
        {"loss": 1.5},
        "abc123",
    )
    assert [c.model_id for c in reg.candidates(CFG)] == [mid]
    assert reg.best(CFG) is None


def test_register_rejects_a_bad_id_an_unknown_parent_and_a_config_clash(store: Store) -> None:
    reg = store.registry
    with pytest.raises(RegistryError, match="sha256"):
        reg.register("nothex", CFG, path="p", bytes=1)
    with pytest.raises(RegistryError, match="parent_id"):
        _register(reg, "child", parent="ghost")
    _register(reg, "m0")
    with pytest.raises(RegistryError, match="already registered for square8_2p"):
        _register(reg, "m0", config="hex8_2p")


def test_promotion_moves_the_best_and_archives_the_old_one_with_evidence(store: Store) -> None:
    reg = store.registry
    a, b = _register(reg, "a"), _register(reg, "b", parent="a")
    first = _promote(reg, a, T0)
    assert (first.promoted, first.previous_best) == (True, None)
    second = _promote(reg, b, T0 + 1000)
    assert (second.promoted, second.previous_best) == (True, a)
    best = reg.best(CFG)
    assert best is not None and best.model_id == b and best.parent_id == a
    old = reg.get(a)
    assert old is not None
    assert (old.status, old.archived_at, old.evidence) == (
        "archived",
        T0 + 1000,
        {"elo_delta": 31.0},
    )
    assert [h["kind"] for h in reg.history(CFG)] == ["promote", "promote"]


def test_promotion_inside_the_cooldown_is_refused(store: Store) -> None:
    reg = store.registry
    a, b = _register(reg, "a"), _register(reg, "b")
    _promote(reg, a, T0)
    out = _promote(reg, b, T0 + 100)
    assert not out.promoted and out.reason.startswith("cooldown")
    assert reg.best(CFG).model_id == a  # type: ignore[union-attr]
    assert _promote(reg, b, T0 + 900).promoted


def test_the_daily_cap_counts_promotions_of_the_last_24_hours(store: Store) -> None:
    reg = store.registry
    ids = [_register(reg, f"m{i}") for i in range(5)]
    for i in range(3):
        assert _promote(reg, ids[i], T0 + i * 1000, max_per_day=3).promoted
    out = _promote(reg, ids[3], T0 + 3000, max_per_day=3)
    assert not out.promoted and out.reason.startswith("daily cap: 3")
    assert _promote(reg, ids[3], T0 + 86_400 + 1, max_per_day=3).promoted


def test_the_best_or_a_non_candidate_cannot_be_promoted_again(store: Store) -> None:
    reg = store.registry
    a, b = _register(reg, "a"), _register(reg, "b")
    _promote(reg, a, T0)
    assert _promote(reg, a, T0 + 5000).reason == "already best"
    _promote(reg, b, T0 + 5000)
    assert _promote(reg, a, T0 + 10_000).reason == "model is archived, not a candidate"


def test_promoting_an_unknown_or_foreign_model_is_an_error(store: Store) -> None:
    reg = store.registry
    other = _register(reg, "hexmodel", config="hex8_2p")
    with pytest.raises(RegistryError, match="no such model"):
        _promote(reg, _mid("ghost"), T0)
    with pytest.raises(RegistryError, match="belongs to hex8_2p"):
        _promote(reg, other, T0)


def test_rollback_restores_the_previous_best(store: Store) -> None:
    reg = store.registry
    a, b, c = _register(reg, "a"), _register(reg, "b"), _register(reg, "c")
    _promote(reg, a, T0)
    _promote(reg, b, T0 + 1000)
    _promote(reg, c, T0 + 2000)
    assert reg.rollback(CFG, "regressed in the hourly tournament", now=T0 + 2100).model_id == b
    assert reg.best(CFG).model_id == b  # type: ignore[union-attr]
    assert reg.get(c).evidence == {"rollback": "regressed in the hourly tournament"}  # type: ignore[union-attr]
    assert reg.rollback(CFG, "again", now=T0 + 2200).model_id == a
    with pytest.raises(RegistryError, match="no previous best"):
        reg.rollback(CFG, "once more")
    with pytest.raises(RegistryError, match="no best model"):
        reg.rollback("hex8_2p", "nothing there")


def _best_rows(store: Store, config: str) -> int:
    from sqlalchemy import text

    with store.read() as conn:
        return conn.execute(
            text("SELECT count(*) FROM models WHERE config = :c AND status = 'best'"), {"c": config}
        ).scalar_one()


@pytest.mark.parametrize("with_previous_best", [False, True])
def test_of_concurrent_promotions_exactly_one_wins(
    store_url: str, with_previous_best: bool
) -> None:
    n = 8
    with open_store(store_url) as setup:
        ids = [_register(setup.registry, f"race{i}") for i in range(n)]
        if with_previous_best:
            _promote(setup.registry, _register(setup.registry, "incumbent"), T0 - 10_000)
    barrier = threading.Barrier(n, timeout=60)
    outcomes: list[PromotionOutcome] = []
    errors: list[BaseException] = []

    def contender(mid: str) -> None:
        # Each contender has its own store (own engine and connections), like separate tasks.
        try:
            with open_store(store_url) as s:
                barrier.wait()
                outcomes.append(_promote(s.registry, mid, T0))
        except BaseException as exc:  # surfaced below with the others
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(mid,)) for mid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    winners = [o for o in outcomes if o.promoted]
    assert len(outcomes) == n and len(winners) == 1
    assert all(o.reason.startswith("cooldown") for o in outcomes if not o.promoted)
    with open_store(store_url) as s:
        assert s.registry.best(CFG).model_id == winners[0].candidate_id  # type: ignore[union-attr]
        assert _best_rows(s, CFG) == 1
