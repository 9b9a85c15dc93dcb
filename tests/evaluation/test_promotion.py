"""Promotion: the registry transaction enforces cooldown and daily cap, archives the old
best with the evidence, lets one of two racing gates promote, and rolls back."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.gate import decide
from ringrift_tasks.evaluation.promotion import (
    PromotionError,
    gate_id,
    gate_scores,
    promote,
    rollback,
    run_promotion_gate,
    score_of,
)
from ringrift_tasks.evaluation.tournament import RunOptions
from ringrift_tasks.store import Match, Store, open_store

from .conftest import ModelMaker

T0 = 1_800_000_000.0
EVIDENCE = decide([1.0] * 300, elo_margin=20.0).evidence()


def _promote(store: Store, model_id: str, now: float, **limits: Any):
    limits = {"cooldown_s": 900, "max_per_day": 15} | limits
    return promote(store, "square8_2p", model_id, EVIDENCE, now=now, **limits)


def test_promotion_archives_the_old_best_with_the_evidence(
    store: Store, make_model: ModelMaker
) -> None:
    a, b = make_model(store), make_model(store)
    assert _promote(store, a.model_id, T0).promoted
    out = _promote(store, b.model_id, T0 + 1000)
    assert out.promoted and out.previous_best == a.model_id
    assert store.registry.best("square8_2p").model_id == b.model_id
    old = store.registry.get(a.model_id)
    assert old.status == "archived"
    assert old.evidence["decision"] == "promote" and old.evidence["games"] == EVIDENCE["games"]
    assert {"llr", "score", "wilson_low"} <= set(old.evidence)


def test_the_cooldown_refuses_with_the_reason(store: Store, make_model: ModelMaker) -> None:
    a, b = make_model(store), make_model(store)
    assert _promote(store, a.model_id, T0).promoted
    out = _promote(store, b.model_id, T0 + 899)
    assert not out.promoted and out.reason.startswith("cooldown")
    assert store.registry.best("square8_2p").model_id == a.model_id
    assert _promote(store, b.model_id, T0 + 900).promoted


def test_the_daily_cap_refuses_with_the_reason(store: Store, make_model: ModelMaker) -> None:
    models = [make_model(store) for _ in range(4)]
    for i, m in enumerate(models[:3]):
        assert _promote(store, m.model_id, T0 + i, cooldown_s=0, max_per_day=3).promoted
    out = _promote(store, models[3].model_id, T0 + 10, cooldown_s=0, max_per_day=3)
    assert not out.promoted and out.reason.startswith("daily cap")
    assert _promote(store, models[3].model_id, T0 + 86_401, cooldown_s=0, max_per_day=3).promoted


RACE_CONFIGS = ("square8_2p", "hex8_2p", "square19_2p", "hexagonal_2p")


def _race(url: str, model_ids: list[str], barrier: Any, results: Any) -> None:
    """One gate process: for each config in turn, wait for the other gate, then promote."""
    with open_store(url) as store:
        for config, model_id in zip(RACE_CONFIGS, model_ids, strict=True):
            barrier.wait(timeout=60)
            out = promote(store, config, model_id, EVIDENCE, cooldown_s=900, max_per_day=15, now=T0)
            results.put((config, model_id, out.promoted, out.reason))


def _race_two_gates(url: str, make_model: ModelMaker) -> None:
    ctx = mp.get_context("spawn")
    with open_store(url) as store:
        gates = [[make_model(store, c).model_id for c in RACE_CONFIGS] for _ in range(2)]
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_race, args=(url, ids, barrier, results)) for ids in gates]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in range(2 * len(RACE_CONFIGS))]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        for config in RACE_CONFIGS:
            mine = [o for o in outcomes if o[0] == config]
            winners = [o for o in mine if o[2]]
            losers = [o for o in mine if not o[2]]
            assert len(winners) == 1 and len(losers) == 1, mine
            assert losers[0][3].startswith("cooldown"), mine
            assert store.registry.best(config).model_id == winners[0][1]
            assert len(store.registry.history(config)) == 1


def test_two_gates_racing_on_sqlite_promote_at_most_one(
    sqlite_url: str, make_model: ModelMaker
) -> None:
    _race_two_gates(sqlite_url, make_model)


@pytest.mark.postgres
def test_two_gates_racing_on_postgresql_promote_at_most_one(
    pg_url: str, make_model: ModelMaker
) -> None:
    _race_two_gates(pg_url, make_model)


def test_rollback_restores_the_previous_best_with_the_reason(
    store: Store, make_model: ModelMaker
) -> None:
    a, b = make_model(store), make_model(store)
    _promote(store, a.model_id, T0)
    _promote(store, b.model_id, T0 + 1000)
    restored = rollback(store, "square8_2p", "b loses to heuristic", now=T0 + 2000)
    assert restored.model_id == a.model_id
    assert store.registry.best("square8_2p").model_id == a.model_id
    assert store.registry.get(b.model_id).evidence == {"rollback": "b loses to heuristic"}
    assert store.registry.history("square8_2p")[-1]["kind"] == "rollback"
    with pytest.raises(PromotionError, match="reason"):
        rollback(store, "square8_2p", " ")


def test_the_first_candidate_of_a_config_is_promoted_without_a_gate(
    cfg: RingriftConfig, store: Store, make_model: ModelMaker
) -> None:
    a = make_model(store)
    res = run_promotion_gate(cfg, store, "square8_2p", a.model_id, now=T0)
    assert res.promoted and res.reason == "bootstrap"
    assert store.registry.history("square8_2p")[0]["evidence"]["method"] == "bootstrap"


def test_head_to_head_scores_are_read_in_round_order_up_to_a_hole(store: Store) -> None:
    gid = gate_id("square8_2p", "c" * 64, "b" * 64)
    results = {0: ["cand", "best"], 1: ["best", "cand"], 2: [["best", "cand"]], 4: ["cand", "best"]}
    for r, ranking in results.items():
        store.elo.record_match(f"{gid}/g/{r}", "square8_2p", ["cand", "best"], ranking)
    assert gate_scores(store, "square8_2p", gid, "cand", "best") == [1.0, 0.0, 0.5]
    m = Match.build("x", "square8_3p", ["a", "b", "c"], ["c", "a", "b"])
    assert score_of(m, "a", "b") == 1.0 and score_of(m, "b", "c") == 0.0


def _saved_model(folder: Path, seed: int) -> tuple[Path, str]:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    net = build_model(default_model_config("square8", blocks=1, channels=8), seed=seed)
    card = ModelCard(
        config="square8_2p",
        model_config=net.config,
        parent=None,
        data_window={},
        metrics={},
        calibration_temperature=1.0,
    )
    return save_model(net, card, folder)


def test_a_gate_plays_candidate_against_best_and_decides(
    cfg: RingriftConfig, store: Store, tmp_path: Path
) -> None:
    ids = []
    for seed in (1, 2):
        path, sha = _saved_model(tmp_path / "models", seed)
        store.registry.register(sha, "square8_2p", path=str(path), bytes=path.stat().st_size)
        ids.append(sha)
    cfg = cfg.model_copy(
        update={"promotion": cfg.promotion.model_copy(update={"max_games": 4, "cooldown_s": 0})}
    )
    assert run_promotion_gate(cfg, store, "square8_2p", ids[0], now=T0).promoted
    opts = RunOptions(max_steps=20, start_method=None, resource_guard=False, model_sims=2)
    res = run_promotion_gate(cfg, store, "square8_2p", ids[1], now=T0 + 1, options=opts)
    assert res.decision is not None and res.decision.decided
    assert res.decision.games <= 4 and res.decision.method in ("sprt", "wilson")
    assert store.elo.count("square8_2p") >= res.decision.games
    # A rerun of the same gate plays nothing new: the decision is already in the log.
    if not res.promoted:
        again = run_promotion_gate(cfg, store, "square8_2p", ids[1], now=T0 + 2, options=opts)
        assert all(not r.played for r in again.reports)
