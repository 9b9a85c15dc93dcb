"""Gate statistics: the SPRT decides correctly, within its error rates, and stops early;
the Wilson bound decides at the cap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ringrift_tasks.evaluation.gate import (
    GateError,
    Sprt,
    decide,
    elo_from_score,
    expected_score,
    wilson_interval,
)


def simulate(
    true_elo: float, runs: int, margin: float, games: int, rng: np.random.Generator
) -> np.ndarray:
    """Per run: +1 accepted H1, -1 accepted H0, 0 undecided within ``games``.

    Games are won with the probability a ``true_elo`` advantage gives (no draws), and
    each run is decided by ``decide`` itself."""
    p = expected_score(true_elo)
    out = np.zeros(runs, dtype=int)
    for i in range(runs):
        scores = (rng.random(games) < p).astype(float)
        d = decide(scores, elo_margin=margin, max_games=games + 1)
        out[i] = {True: 1, False: -1, None: 0}[d.accepted]
    return out


def test_elo_and_expected_score_are_inverse() -> None:
    assert expected_score(0.0) == 0.5
    assert expected_score(400.0) == pytest.approx(10 / 11)
    for d in (-300.0, -20.0, 0.0, 20.0, 250.0):
        assert elo_from_score(expected_score(d)) == pytest.approx(d)


def test_wilson_interval_matches_the_textbook_value() -> None:
    lo, hi = wilson_interval(60, 100)
    assert (lo, hi) == pytest.approx((0.5020, 0.6906), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(GateError, match="successes"):
        wilson_interval(5, 4)


def test_sprt_bounds_follow_alpha_and_beta() -> None:
    s = Sprt(0.0, 20.0, 0.05, 0.05)
    assert s.upper == pytest.approx(math.log(19.0))
    assert s.lower == pytest.approx(-math.log(19.0))
    with pytest.raises(GateError, match="elo1"):
        Sprt(0.0, 0.0)


def test_when_h0_is_true_the_gate_wrongly_promotes_at_most_alpha_of_the_time() -> None:
    rng = np.random.default_rng(1)
    outcome = simulate(0.0, 400, margin=20.0, games=40_000, rng=rng)
    assert (outcome == 0).mean() < 0.01  # Wald's test ends with probability one
    assert (outcome == 1).mean() <= 0.05 + 0.02  # alpha plus sampling slack (3 sigma)


def test_when_h1_is_true_the_gate_wrongly_rejects_at_most_beta_of_the_time() -> None:
    rng = np.random.default_rng(2)
    outcome = simulate(20.0, 400, margin=20.0, games=40_000, rng=rng)
    assert (outcome == 0).mean() < 0.01
    assert (outcome == -1).mean() <= 0.05 + 0.02


def test_far_beyond_the_hypotheses_the_gate_is_almost_never_wrong() -> None:
    rng = np.random.default_rng(3)
    assert (simulate(-60.0, 200, 20.0, 20_000, rng) == 1).mean() < 0.01
    assert (simulate(80.0, 200, 20.0, 20_000, rng) == -1).mean() < 0.01


def test_the_gate_stops_at_the_first_game_that_decides() -> None:
    scores = [1.0] * 200
    d = decide(scores, elo_margin=100.0)
    win, _ = Sprt(0.0, 100.0).increments()
    assert d.accepted is True and d.method == "sprt"
    assert d.games == math.ceil(math.log(19.0) / win)
    assert d.wins == d.games and d.llr >= d.llr_upper
    # Games played after the decision do not change it.
    assert decide(scores + [0.0] * 50, elo_margin=100.0) == d


def test_a_losing_candidate_is_rejected_by_the_test() -> None:
    d = decide([0.0, 0.5] * 200, elo_margin=20.0, max_games=400)
    assert d.accepted is False and d.method == "sprt"
    assert d.draws > 0 and d.llr <= d.llr_lower


def test_without_a_decision_the_gate_asks_for_more_games() -> None:
    d = decide([1.0, 0.0] * 5, elo_margin=20.0, max_games=400)
    assert d.accepted is None and d.method == "pending" and d.games == 10
    assert d.decision == "continue"


def test_at_the_cap_the_wilson_bound_decides() -> None:
    # 66% over 100 games: the SPRT (20-Elo margin) has not decided, Wilson's bound > 0.55.
    strong = [1.0] * 66 + [0.0] * 34
    rng = np.random.default_rng(0)
    rng.shuffle(strong)
    d = decide(strong, elo_margin=20.0, max_games=100, alpha=0.001, beta=0.001)
    assert d.method == "wilson" and d.accepted is True
    assert d.wilson_low == pytest.approx(wilson_interval(66, 100)[0])
    weak = [1.0, 0.0] * 50
    d = decide(weak, elo_margin=20.0, max_games=100, alpha=0.001, beta=0.001)
    assert d.method == "wilson" and d.accepted is False


def test_the_evidence_names_the_decision_and_the_statistic() -> None:
    ev = decide([1.0] * 300, elo_margin=20.0).evidence()
    assert ev["decision"] == "promote" and ev["method"] == "sprt"
    assert {"games", "wins", "draws", "losses", "score", "llr", "wilson_low"} <= set(ev)
