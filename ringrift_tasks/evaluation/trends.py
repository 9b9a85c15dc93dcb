"""Elo over time, recomputed from the match log, and its plots.

The log is append-only and every match carries ``played_at``, so the rating of every agent
at any past time is the batch fit (``evaluation.elo.fit_ratings``) of the matches played up
to then: ``elo_trend`` refits at evenly spaced time slices. Nothing is stored; any node
with the log draws the same curves.

``best_generations`` follows the best pointer: generation n is the n-th model promoted for
a config, rated by the current fit. ``win_rates`` gives an agent's head-to-head score
against each opponent (e.g. the baselines). Plots are written as PNG files (matplotlib,
Agg, no display) atomically: temp file, then rename.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ringrift_tasks.evaluation.elo import Rating, fit_ratings
from ringrift_tasks.evaluation.match import model_agent_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ringrift_tasks.store import Match, Store

DEFAULT_STEP_S = 3600.0
MAX_SLICES = 200


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One agent's fitted rating using the matches played up to ``t`` (Unix seconds)."""

    t: float
    agent: str
    elo: float
    ci_low: float
    ci_high: float
    games: int


def time_slices(start: float, end: float, step_s: float = DEFAULT_STEP_S) -> list[float]:
    """Slice ends from ``start + step`` to ``end`` (``end`` always included); the step is
    widened so that there are at most ``MAX_SLICES``."""
    if step_s <= 0:
        raise ValueError(f"step_s={step_s}: expected > 0")
    if end < start:
        return []
    step = max(step_s, (end - start) / MAX_SLICES)
    n = max(1, math.ceil((end - start) / step))
    return [min(end, start + step * (i + 1)) for i in range(n)]


def elo_trend(
    matches: Sequence[Match],
    *,
    step_s: float = DEFAULT_STEP_S,
    times: Sequence[float] | None = None,
    anchor: str = "random",
    anchor_elo: float = 400.0,
) -> list[TrendPoint]:
    """Ratings of every agent at each of ``times`` (default: ``time_slices`` over the log)."""
    if not matches:
        return []
    ordered = sorted(matches, key=lambda m: (m.played_at, m.match_id))
    if times is None:
        times = time_slices(ordered[0].played_at, ordered[-1].played_at, step_s)
    out: list[TrendPoint] = []
    for t in times:
        upto = [m.ranking for m in ordered if m.played_at <= t]
        if not upto:
            continue
        for r in fit_ratings(upto, anchor=anchor, anchor_elo=anchor_elo):
            out.append(TrendPoint(t, r.agent, r.elo, r.ci_low, r.ci_high, r.games))
    return out


def elo_trend_for(
    store: Store, config: str, *, step_s: float = DEFAULT_STEP_S, anchor_elo: float = 400.0
) -> list[TrendPoint]:
    """``elo_trend`` of ``config``'s match log."""
    return elo_trend(store.elo.matches(config), step_s=step_s, anchor_elo=anchor_elo)


@dataclass(frozen=True, slots=True)
class GenerationElo:
    """The n-th model promoted for a config and its current rating (None if unrated)."""

    generation: int
    model_id: str
    promoted_at: float
    rating: Rating | None


def best_generations(
    store: Store, config: str, ratings: Sequence[Rating] | None = None
) -> list[GenerationElo]:
    """Every model that became best by promotion, in order, with its rating."""
    by_name = {r.agent: r for r in (store.elo.ratings(config) if ratings is None else ratings)}
    out = []
    for h in store.registry.history(config):
        if h["kind"] != "promote":
            continue
        mid = h["model_id"]
        out.append(GenerationElo(len(out) + 1, mid, h["at"], by_name.get(model_agent_name(mid))))
    return out


def win_rates(
    matches: Sequence[Match], agent: str, opponents: Sequence[str] | None = None
) -> dict[str, tuple[float, int]]:
    """``agent``'s mean score (1 above, 0 below, 1/2 level) against each opponent over the
    matches both played, with the game count; ``opponents`` default to everyone met."""
    totals: dict[str, list[float]] = {}
    for m in matches:
        tier = {a: k for k, t in enumerate(m.ranking) for a in t}
        if agent not in tier:
            continue
        for other, k in tier.items():
            if other == agent or (opponents is not None and other not in opponents):
                continue
            s = 0.5 if k == tier[agent] else (1.0 if tier[agent] < k else 0.0)
            acc = totals.setdefault(other, [0.0, 0])
            acc[0] += s
            acc[1] += 1
    return {o: (s / n, int(n)) for o, (s, n) in sorted(totals.items())}


# --------------------------------------------------------------------------- plots


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def new_figure(width: float = 9.0, height: float = 5.0) -> Figure:
    """An empty figure on the Agg canvas (``width`` x ``height`` inches)."""
    from matplotlib.figure import Figure  # Agg canvas; no pyplot, no display, no global state

    return Figure(figsize=(width, height), layout="constrained")


def plot_elo_trend(points: Sequence[TrendPoint], path: Path, *, title: str = "Elo") -> Path:
    """Elo over time per agent with its 95% interval as a band; returns ``path``."""
    from datetime import UTC, datetime

    fig = new_figure()
    ax = fig.add_subplot()
    agents = sorted({p.agent for p in points})
    for agent in agents:
        pts = [p for p in points if p.agent == agent]
        x = [datetime.fromtimestamp(p.t, UTC) for p in pts]
        line = ax.plot(x, [p.elo for p in pts], marker="o", markersize=3, label=agent)[0]
        ax.fill_between(
            x, [p.ci_low for p in pts], [p.ci_high for p in pts], alpha=0.15,
            color=line.get_color(),
        )  # fmt: skip
    ax.set_title(title)
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel("Elo")
    ax.grid(alpha=0.3)
    if agents:
        ax.legend(fontsize="small", loc="best")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return save_figure(fig, path)


def plot_win_rates(
    rates: dict[str, tuple[float, int]], path: Path, *, title: str = "win rate"
) -> Path:
    """Bar chart of scores against each opponent (labelled with the game count)."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    names = list(rates)
    bars = ax.bar(names, [rates[n][0] for n in names], color="tab:blue")
    ax.bar_label(bars, labels=[f"{rates[n][1]} g" for n in names], fontsize="small")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_generations(gens: Sequence[GenerationElo], path: Path, *, title: str) -> Path:
    """Best-model Elo per generation with its interval."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    rated = [g for g in gens if g.rating is not None]
    if rated:
        x = [g.generation for g in rated]
        y = [g.rating.elo for g in rated]  # type: ignore[union-attr]
        lo = [g.rating.elo - g.rating.ci_low for g in rated]  # type: ignore[union-attr]
        hi = [g.rating.ci_high - g.rating.elo for g in rated]  # type: ignore[union-attr]
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3)
    ax.set_xlabel("generation")
    ax.set_ylabel("Elo")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def write_trend_artifacts(
    store: Store,
    config: str,
    out_dir: Path,
    *,
    step_s: float = DEFAULT_STEP_S,
    anchor_elo: float = 400.0,
    baselines: Sequence[str] = ("random", "heuristic", "mcts_100", "mcts_500"),
) -> dict[str, Path]:
    """Write ``<config>_elo_trend.png``, ``<config>_generations.png`` and, when the config
    has a best, ``<config>_best_win_rates.png`` (best vs baselines) into ``out_dir``
    (``ringrift elo --trend CONFIG``). Returns the written paths by kind."""
    from ringrift_tasks.store import EloService

    matches = store.elo.matches(config)
    out_dir = Path(out_dir)
    points = elo_trend(matches, step_s=step_s, anchor_elo=anchor_elo)
    written = {
        "trend": plot_elo_trend(points, out_dir / f"{config}_elo_trend.png", title=f"{config} Elo")
    }
    ratings = EloService(store, anchor_elo=anchor_elo).ratings(config)
    gens = best_generations(store, config, ratings)
    written["generations"] = plot_generations(
        gens, out_dir / f"{config}_generations.png", title=f"{config} best model per generation"
    )
    best = store.registry.best(config)
    if best is not None:
        name = model_agent_name(best.model_id)
        written["win_rates"] = plot_win_rates(
            win_rates(matches, name, baselines),
            out_dir / f"{config}_best_win_rates.png",
            title=f"{config} best ({name}) vs baselines",
        )
    return written
