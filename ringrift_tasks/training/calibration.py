"""Value calibration: how far the value head's win probabilities are from the win rates.

The event measured is "the player to move wins" (final rank 0) and its forecast is the
rank head's probability of rank 0 for seat group 0, ``softmax(rank_logits[0, :n] / T)[0]``,
on positions of *held-out* games (never trained on). Over 10 equal-width bins of the
forecast ([0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]):

* ECE (expected calibration error) = sum over bins of (bin count / N) * |win rate - mean
  forecast|;
* MCE (maximum calibration error) = the largest |win rate - mean forecast| of a non-empty
  bin;
* Brier score = mean of (forecast - outcome)^2 over all positions.

Temperature scaling divides the rank logits by one scalar ``T`` in [0.5, 2] (the range
``model_file.CALIBRATION_RANGE`` accepts); ``ValueCalibrator.fit`` picks the ``T`` that
minimises the held-out negative log-likelihood of the true ranks (``objective="nll"``, the
default) or the Brier score (``"brier"``) by a grid over the range refined by golden
section. ``T > 1`` softens an over-confident head. The fitted ``T`` goes into the model
card as ``calibration_temperature``; ``CalibrationTracker.reliability_diagram`` draws the
bins as a PNG (matplotlib, Agg backend: no display needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ringrift_tasks.ai.model_file import CALIBRATION_RANGE

N_BINS = 10


class CalibrationError(ValueError):
    """Inputs that cannot be calibrated (empty, mismatched shapes, probabilities outside [0, 1])."""


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """One forecast bin ``[lo, hi)`` (the last one includes 1)."""

    lo: float
    hi: float
    count: int
    mean_forecast: float
    win_rate: float

    @property
    def gap(self) -> float:
        return abs(self.win_rate - self.mean_forecast)


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """ECE, MCE and Brier of ``count`` forecasts, with the bins they came from."""

    ece: float
    mce: float
    brier: float
    count: int
    bins: tuple[CalibrationBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "mce": self.mce,
            "brier": self.brier,
            "count": self.count,
            "bins": [
                {
                    "lo": b.lo,
                    "hi": b.hi,
                    "count": b.count,
                    "forecast": b.mean_forecast,
                    "win_rate": b.win_rate,
                }
                for b in self.bins
            ],
        }


def calibration_report(
    forecasts: np.ndarray, outcomes: np.ndarray, n_bins: int = N_BINS
) -> CalibrationReport:
    """ECE / MCE / Brier of ``forecasts`` (probabilities) against ``outcomes`` (0/1)."""
    p = np.asarray(forecasts, dtype=np.float64).reshape(-1)
    o = np.asarray(outcomes, dtype=np.float64).reshape(-1)
    if len(p) != len(o):
        raise CalibrationError(f"{len(p)} forecasts but {len(o)} outcomes")
    if len(p) == 0:
        raise CalibrationError("no forecasts to calibrate")
    if not ((p >= 0) & (p <= 1)).all():
        raise CalibrationError(f"forecasts must be in [0, 1], got e.g. {p[(p < 0) | (p > 1)][0]}")
    if not np.isin(o, (0.0, 1.0)).all():
        raise CalibrationError("outcomes must be 0 or 1")
    which = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    bins = []
    ece = 0.0
    mce = 0.0
    for b in range(n_bins):
        sel = which == b
        count = int(sel.sum())
        mean_f = float(p[sel].mean()) if count else 0.0
        rate = float(o[sel].mean()) if count else 0.0
        if count:
            gap = abs(rate - mean_f)
            ece += count / len(p) * gap
            mce = max(mce, gap)
        bins.append(CalibrationBin(b / n_bins, (b + 1) / n_bins, count, mean_f, rate))
    brier = float(np.mean((p - o) ** 2))
    return CalibrationReport(float(ece), float(mce), brier, len(p), tuple(bins))


class CalibrationTracker:
    """Accumulates (forecast, outcome) pairs, e.g. batch by batch over held-out games."""

    def __init__(self, n_bins: int = N_BINS) -> None:
        self.n_bins = n_bins
        self._p: list[np.ndarray] = []
        self._o: list[np.ndarray] = []

    def add(self, forecasts: np.ndarray, outcomes: np.ndarray) -> None:
        p = np.asarray(forecasts, dtype=np.float64).reshape(-1)
        o = np.asarray(outcomes, dtype=np.float64).reshape(-1)
        if len(p) != len(o):
            raise CalibrationError(f"{len(p)} forecasts but {len(o)} outcomes")
        self._p.append(p)
        self._o.append(o)

    def __len__(self) -> int:
        return sum(len(p) for p in self._p)

    def report(self) -> CalibrationReport:
        if not self._p:
            raise CalibrationError("no forecasts to calibrate")
        return calibration_report(np.concatenate(self._p), np.concatenate(self._o), self.n_bins)

    def reliability_diagram(self, path: Path, title: str = "value calibration") -> Path:
        """Save the reliability diagram (win rate per forecast bin vs the diagonal) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        rep = self.report()
        fig, (ax, ax_n) = plt.subplots(
            2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
        )
        width = 1.0 / self.n_bins
        centers = [b.lo + width / 2 for b in rep.bins]
        ax.bar(
            centers,
            [b.win_rate for b in rep.bins],
            width=width * 0.9,
            label="win rate",
            color="#4878a8",
            edgecolor="black",
        )
        ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
        filled = [b for b in rep.bins if b.count]
        ax.plot([b.mean_forecast for b in filled], [b.win_rate for b in filled], "o", color="#c44")
        ax.set_ylabel("observed win rate")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(
            f"{title}\nECE {rep.ece:.3f}  MCE {rep.mce:.3f}  Brier {rep.brier:.3f}  n={rep.count}"
        )
        ax.legend(loc="upper left")
        ax_n.bar(centers, [b.count for b in rep.bins], width=width * 0.9, color="#999")
        ax_n.set_xlabel("forecast probability that the player to move wins")
        ax_n.set_ylabel("positions")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        tmp.replace(path)
        return path


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A fitted temperature and the held-out figures before (T = 1) and after it."""

    temperature: float
    objective: str
    before: CalibrationReport
    after: CalibrationReport
    nll_before: float
    nll_after: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "objective": self.objective,
            "ece_before": self.before.ece,
            "ece_after": self.after.ece,
            "mce_before": self.before.mce,
            "mce_after": self.after.mce,
            "brier_before": self.before.brier,
            "brier_after": self.after.brier,
            "nll_before": self.nll_before,
            "nll_after": self.nll_after,
            "positions": self.after.count,
        }


class ValueCalibrator:
    """Temperature scaling of the rank head on held-out positions.

    ``rank_logits``: (N, MAX_SEATS, MAX_SEATS) raw logits; ``ranks``: (N, MAX_SEATS) true
    final rank per seat group (-1 for absent seats); ``num_players``: (N,).
    """

    def __init__(self, rank_logits: np.ndarray, ranks: np.ndarray, num_players: np.ndarray):
        self.logits = np.asarray(rank_logits, dtype=np.float64)
        self.ranks = np.asarray(ranks, dtype=np.int64)
        self.players = np.asarray(num_players, dtype=np.int64).reshape(-1)
        n = len(self.players)
        if n == 0:
            raise CalibrationError("no held-out positions to calibrate on")
        if self.logits.shape[0] != n or self.ranks.shape[0] != n or self.logits.ndim != 3:
            raise CalibrationError(
                f"shapes do not match: logits {self.logits.shape}, ranks {self.ranks.shape}, "
                f"num_players {self.players.shape}"
            )

    def _groups(self) -> list[tuple[int, np.ndarray]]:
        return [(int(n), np.flatnonzero(self.players == n)) for n in np.unique(self.players)]

    def win_forecasts(self, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(P(the player to move wins) at ``temperature``, whether it won) per position."""
        p = np.empty(len(self.players))
        for n, idx in self._groups():
            logp = _log_softmax(self.logits[idx, 0, :n] / temperature)
            p[idx] = np.exp(logp[:, 0])
        won = (self.ranks[:, 0] == 0).astype(np.float64)
        return np.clip(p, 0.0, 1.0), won

    def nll(self, temperature: float) -> float:
        """Mean negative log-likelihood of every present seat's true rank at ``temperature``."""
        total = 0.0
        count = 0
        for n, idx in self._groups():
            logp = _log_softmax(self.logits[idx, :n, :n] / temperature)  # (k, n, n)
            r = self.ranks[idx, :n]
            total -= float(np.take_along_axis(logp, r[..., None], axis=-1).sum())
            count += r.size
        return total / count

    def brier(self, temperature: float) -> float:
        p, won = self.win_forecasts(temperature)
        return float(np.mean((p - won) ** 2))

    def fit(self, objective: str = "nll") -> CalibrationResult:
        """The temperature in ``CALIBRATION_RANGE`` minimising ``objective`` (nll | brier)."""
        if objective not in ("nll", "brier"):
            raise CalibrationError(f"objective {objective!r}: expected 'nll' or 'brier'")
        loss = self.nll if objective == "nll" else self.brier
        lo, hi = CALIBRATION_RANGE
        grid = np.linspace(lo, hi, 61)
        values = [loss(float(t)) for t in grid]
        best = int(np.argmin(values))
        a = float(grid[max(best - 1, 0)])
        b = float(grid[min(best + 1, len(grid) - 1)])
        # Golden-section refinement inside the bracket around the best grid point.
        g = (math.sqrt(5) - 1) / 2
        c, d = b - g * (b - a), a + g * (b - a)
        fc, fd = loss(c), loss(d)
        for _ in range(30):
            if fc <= fd:
                b, d, fd = d, c, fc
                c = b - g * (b - a)
                fc = loss(c)
            else:
                a, c, fc = c, d, fd
                d = a + g * (b - a)
                fd = loss(d)
        t = (a + b) / 2
        if loss(t) > values[best]:
            t = float(grid[best])
        t = float(min(max(t, lo), hi))
        before = calibration_report(*self.win_forecasts(1.0))
        after = calibration_report(*self.win_forecasts(t))
        return CalibrationResult(t, objective, before, after, self.nll(1.0), self.nll(t))
