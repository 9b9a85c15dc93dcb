"""Value calibration against hand-computed cases, temperature fitting, the diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ringrift_tasks.training.calibration import (
    CalibrationError,
    CalibrationTracker,
    ValueCalibrator,
    calibration_report,
)


def test_ece_mce_and_brier_match_a_hand_computed_case() -> None:
    # Bins: [0.0,0.1): 0.05 (lost)            -> forecast 0.05, rate 0.0, gap 0.05
    #       [0.1,0.2): 0.15 (won)             -> forecast 0.15, rate 1.0, gap 0.85
    #       [0.9,1.0]: 0.95 (won), 1.0 (lost) -> forecast 0.975, rate 0.5, gap 0.475
    p = np.array([0.05, 0.15, 0.95, 1.0])
    o = np.array([0, 1, 1, 0])
    rep = calibration_report(p, o)
    assert rep.ece == pytest.approx(0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.475)
    assert rep.mce == pytest.approx(0.85)
    assert rep.brier == pytest.approx((0.05**2 + 0.85**2 + 0.05**2 + 1.0) / 4)
    assert [b.count for b in rep.bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rep.bins[9].mean_forecast == pytest.approx(0.975)


def test_a_perfectly_calibrated_forecast_has_zero_error() -> None:
    # 10 positions at 0.3 of which 3 won, 10 at 0.8 of which 8 won.
    p = np.array([0.3] * 10 + [0.8] * 10)
    o = np.array([1] * 3 + [0] * 7 + [1] * 8 + [0] * 2)
    rep = calibration_report(p, o)
    assert rep.ece == pytest.approx(0.0, abs=1e-12)
    assert rep.mce == pytest.approx(0.0, abs=1e-12)
    assert rep.brier == pytest.approx((3 * 0.49 + 7 * 0.09 + 8 * 0.04 + 2 * 0.64) / 20)


def test_the_tracker_accumulates_batches_like_one_report() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(200)
    o = (rng.random(200) < p).astype(float)
    tracker = CalibrationTracker()
    tracker.add(p[:50], o[:50])
    tracker.add(p[50:], o[50:])
    assert len(tracker) == 200
    assert tracker.report() == calibration_report(p, o)


@pytest.mark.parametrize(
    ("p", "o", "message"),
    [
        ([], [], "no forecasts"),
        ([0.5], [1, 0], "1 forecasts but 2"),
        ([1.5], [1], "in \\[0, 1\\]"),
        ([0.5], [2], "0 or 1"),
    ],
)
def test_bad_inputs_are_refused(p: list[float], o: list[int], message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        calibration_report(np.array(p), np.array(o))


def _overconfident(n: int, t_true: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """2-player rank logits whose true distribution is softmax(logits / t_true)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1.5, size=n)
    logits = np.zeros((n, 4, 4))
    logits[:, 0, 0], logits[:, 0, 1] = base * t_true, 0.0
    logits[:, 1, 0], logits[:, 1, 1] = 0.0, base * t_true
    p_win = 1 / (1 + np.exp(-base))
    won = rng.random(n) < p_win
    ranks = np.full((n, 4), -1)
    ranks[:, 0] = np.where(won, 0, 1)
    ranks[:, 1] = np.where(won, 1, 0)
    return logits, ranks, np.full(n, 2)


def test_temperature_scaling_recovers_the_overconfidence_factor() -> None:
    logits, ranks, players = _overconfident(20_000, 1.6)
    fit = ValueCalibrator(logits, ranks, players).fit("nll")
    assert fit.temperature == pytest.approx(1.6, abs=0.08)
    assert fit.nll_after < fit.nll_before
    assert fit.after.ece < fit.before.ece
    by_brier = ValueCalibrator(logits, ranks, players).fit("brier")
    assert by_brier.temperature == pytest.approx(1.6, abs=0.1)


def test_the_fitted_temperature_stays_in_the_model_card_range() -> None:
    logits, ranks, players = _overconfident(5000, 4.0, seed=1)
    assert ValueCalibrator(logits, ranks, players).fit().temperature == pytest.approx(2.0)
    logits, ranks, players = _overconfident(5000, 0.2, seed=2)
    assert ValueCalibrator(logits, ranks, players).fit().temperature == pytest.approx(0.5)


def test_the_reliability_diagram_is_a_png(tmp_path: Path) -> None:
    tracker = CalibrationTracker()
    tracker.add(np.linspace(0, 1, 101), (np.arange(101) % 2).astype(float))
    path = tracker.reliability_diagram(tmp_path / "diag" / "calibration.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(path.parent.glob(".*tmp"))
