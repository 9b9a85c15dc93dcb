"""The decision log keeps every gate verdict and answers "what was decided last"."""

from __future__ import annotations

from ringrift_tasks.store.db import Store


def test_latest_decision_per_gate_is_the_newest(store: Store) -> None:
    log = store.decisions
    log.record("square8_2p", "training", False, "only 12 new games (< 300)", at=100.0)
    log.record("square8_2p", "training", True, "312 new games", evidence={"new": 312}, at=200.0)
    log.record("square8_2p", "promotion", False, "SPRT accepted H0", at=150.0)

    latest = log.latest("square8_2p", "training")
    assert latest is not None
    assert latest.passed and latest.reason == "312 new games" and latest.evidence == {"new": 312}
    any_gate = log.latest("square8_2p")
    assert any_gate is not None and any_gate.at == 200.0
    assert log.latest("hex8_2p") is None


def test_history_lists_newest_first_and_filters_by_gate(store: Store) -> None:
    log = store.decisions
    for i in range(3):
        log.record("hex8_2p", "promotion", i == 2, f"try {i}", at=float(i))
    log.record("hex8_2p", "training", True, "ok", at=10.0)

    reasons = [d.reason for d in log.history("hex8_2p", "promotion")]
    assert reasons == ["try 2", "try 1", "try 0"]
    assert len(log.history("hex8_2p")) == 4
