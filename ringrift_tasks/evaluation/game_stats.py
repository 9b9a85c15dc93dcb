"""Game statistics (``ringrift stats``): lengths, victory reasons, seat win rates.

Pure summaries over ``GameRecord``s, grouped per config and per model generation (the
model id found in the agents' specs, e.g. ``mcts:model=/models/<sha256>.safetensors``),
plus a three-panel PNG per group. Seat win rates are over decided games (a ``move_cap``
game has no winner); ``first_seat_advantage`` is seat 1's rate minus the fair share
``1 / players``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ringrift_tasks.evaluation.trends import new_figure, save_figure
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.rules.state import GameConfig

if TYPE_CHECKING:
    from ringrift_tasks.store import Store

# Human names of the result's ``termination`` values (the stalemate ladder reports the
# reason that broke the tie, so it appears under these as well).
VICTORY_REASONS = {
    "ring_elimination": "elimination",
    "territory_control": "territory",
    "last_player_standing": "last player standing",
    "lps_rounds": "last player standing (rounds)",
    "tiebreaker_by_player_number": "stalemate tiebreak",
    "move_cap": "move cap (no winner)",
}
_MODEL_ID = re.compile(r"[0-9a-f]{64}")
NO_MODEL = "no model"


@dataclass
class GameStats:
    """Summary of a set of games of one config."""

    config: str
    games: int = 0
    lengths: list[int] = field(default_factory=list)
    terminations: Counter[str] = field(default_factory=Counter)
    seat_wins: list[int] = field(default_factory=list)  # index 0 = seat 1

    @property
    def players(self) -> int:
        return GameConfig.parse(self.config).num_players

    @property
    def decided(self) -> int:
        """Games with a winner."""
        return sum(self.seat_wins)

    @property
    def seat_win_rates(self) -> list[float]:
        d = self.decided
        return [w / d if d else 0.0 for w in self.seat_wins]

    @property
    def first_seat_advantage(self) -> float:
        return self.seat_win_rates[0] - 1.0 / self.players if self.decided else 0.0

    def length_summary(self) -> dict[str, float]:
        """min, mean, median, 90th percentile and max of the game length (moves)."""
        if not self.lengths:
            return {}
        s = sorted(self.lengths)
        p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
        return {
            "min": s[0],
            "mean": statistics.fmean(s),
            "median": statistics.median(s),
            "p90": p90,
            "max": s[-1],
        }

    def add(self, rec: GameRecord) -> None:
        if rec.config != self.config:
            raise ValueError(f"game {rec.game_id} is {rec.config}, not {self.config}")
        if not self.seat_wins:
            self.seat_wins = [0] * self.players
        self.games += 1
        self.lengths.append(rec.num_moves)
        self.terminations[rec.result.termination] += 1
        if rec.result.winner is not None:
            self.seat_wins[rec.result.winner - 1] += 1

    def to_json(self) -> dict[str, object]:
        return {
            "config": self.config,
            "games": self.games,
            "length": self.length_summary(),
            "terminations": dict(sorted(self.terminations.items())),
            "seat_wins": list(self.seat_wins),
            "seat_win_rates": self.seat_win_rates,
            "first_seat_advantage": self.first_seat_advantage,
        }


def model_generation(rec: GameRecord) -> str:
    """The (first) model id in the record's agent specs, or ``NO_MODEL``."""
    for agent in rec.agents:
        m = _MODEL_ID.search(agent)
        if m:
            return m.group(0)
    return NO_MODEL


def game_stats(records: Iterable[GameRecord]) -> dict[str, GameStats]:
    """Statistics per config."""
    out: dict[str, GameStats] = {}
    for rec in records:
        out.setdefault(rec.config, GameStats(rec.config)).add(rec)
    return dict(sorted(out.items()))


def stats_by_generation(records: Iterable[GameRecord]) -> dict[tuple[str, str], GameStats]:
    """Statistics per (config, model generation)."""
    out: dict[tuple[str, str], GameStats] = {}
    for rec in records:
        out.setdefault((rec.config, model_generation(rec)), GameStats(rec.config)).add(rec)
    return dict(sorted(out.items()))


def stats_from_pool(
    store: Store, config: str | None = None, *, kind: str | None = None, limit: int | None = None
) -> dict[str, GameStats]:
    """Statistics of the pool's games (of ``config`` / ``kind``; the ``limit`` newest)."""
    games = store.pool.iter_games(config, limit=limit)
    return game_stats(g for g in games if kind is None or g.kind == kind)


def plot_game_stats(stats: GameStats, path: Path, *, title: str | None = None) -> Path:
    """Three panels: length histogram, victory reasons, seat win rates; returns ``path``."""
    fig = new_figure(13.0, 4.0)
    ax_len, ax_why, ax_seat = fig.subplots(1, 3)
    ax_len.hist(stats.lengths, bins=min(30, max(1, len(set(stats.lengths)))), color="tab:blue")
    ax_len.set_xlabel("moves")
    ax_len.set_ylabel("games")
    ax_len.set_title("game length")
    reasons = sorted(stats.terminations)
    ax_why.barh(
        [VICTORY_REASONS.get(r, r) for r in reasons],
        [stats.terminations[r] for r in reasons],
        color="tab:green",
    )
    ax_why.set_xlabel("games")
    ax_why.set_title("victory reason")
    seats = [f"seat {i + 1}" for i in range(stats.players)]
    rates = stats.seat_win_rates or [0.0] * stats.players
    ax_seat.bar(seats, rates, color="tab:orange")
    ax_seat.axhline(1.0 / stats.players, color="grey", linewidth=0.8, linestyle="--")
    ax_seat.set_ylim(0.0, 1.0)
    ax_seat.set_title(f"seat win rate ({stats.decided} decided)")
    fig.suptitle(title or f"{stats.config}: {stats.games} games")
    return save_figure(fig, path)


def write_stats_artifacts(
    store: Store,
    out_dir: Path,
    config: str | None = None,
    *,
    kind: str | None = None,
    limit: int | None = None,
) -> dict[str, Path]:
    """One ``<config>_game_stats.png`` per config in the pool (or ``config``); returns the
    paths by config."""
    return {
        c: plot_game_stats(s, Path(out_dir) / f"{c}_game_stats.png")
        for c, s in stats_from_pool(store, config, kind=kind, limit=limit).items()
    }
