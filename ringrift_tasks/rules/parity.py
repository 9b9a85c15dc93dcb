"""Replaying reference traces step by step and reporting any divergence (README §6).

``run_parity`` is what ``ringrift parity`` calls. For every game it rebuilds the start
position, and for every step checks phase and player, the offered move list (count and
sha256), the PRNG's move choice, and the state digest after the move; at the end the
result (winner, termination, final digest). A game counts only if all its steps and its
result match; a move counts when every check of its step matches.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringrift_tasks.rules.moves import MoveFormatError, canonical_json, move_from_json
from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import new_game
from ringrift_tasks.rules.traces import iter_trace_games
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.rules.view import engine_hash, full_digest, state_view


@dataclass(slots=True)
class Divergence:
    """The first mismatch of one game."""

    config: str
    game_index: int
    seed: int
    step: int
    what: str
    move: str
    detail: str

    def describe(self) -> str:
        return (
            f"DIVERGENCE {self.config} game {self.game_index} (seed {self.seed}) step {self.step}: "
            f"{self.what}\n  move: {self.move}\n  {self.detail}"
        )


@dataclass(slots=True)
class ConfigTally:
    games: int = 0
    games_ok: int = 0
    moves: int = 0
    moves_ok: int = 0


@dataclass
class ParityReport:
    """Counts per config and the divergences found (first one per failing game)."""

    per_config: dict[str, ConfigTally] = field(default_factory=dict)
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def games(self) -> int:
        return sum(t.games for t in self.per_config.values())

    @property
    def games_ok(self) -> int:
        return sum(t.games_ok for t in self.per_config.values())

    @property
    def moves(self) -> int:
        return sum(t.moves for t in self.per_config.values())

    @property
    def moves_ok(self) -> int:
        return sum(t.moves_ok for t in self.per_config.values())

    @property
    def ok(self) -> bool:
        return self.games > 0 and self.games_ok == self.games and self.moves_ok == self.moves

    def merge(self, other: ParityReport) -> None:
        for cfg, t in other.per_config.items():
            mine = self.per_config.setdefault(cfg, ConfigTally())
            mine.games += t.games
            mine.games_ok += t.games_ok
            mine.moves += t.moves
            mine.moves_ok += t.moves_ok
        self.divergences.extend(other.divergences)

    def summary_line(self) -> str:
        return f"parity: {self.games_ok}/{self.games} games, {self.moves_ok}/{self.moves} moves"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _view_diff(ours: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k in sorted(set(ours) | set(theirs)):
        a, b = ours.get(k, "<absent>"), theirs.get(k, "<absent>")
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += _view_diff(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: ours={canonical_json(a)[:200]} ref={canonical_json(b)[:200]}")
    return out


def replay_game(
    game: dict[str, Any], *, check_choice: bool = True
) -> tuple[int, Divergence | None]:
    """Replay one trace game. Returns (moves matched, first divergence or None)."""
    config = game["config"]
    idx = int(game.get("game_index", -1))
    seed = int(game["seed"])
    steps = game["steps"]

    def div(step: int, what: str, move: str = "-", detail: str = "") -> Divergence:
        return Divergence(config, idx, seed, step, what, move, detail)

    s = new_game(config)
    geo = s.geo
    if full_digest(s) != game["initial_digest"]:
        d = "; ".join(_view_diff(state_view(s), game.get("initial_state", {}))[:8])
        return 0, div(-1, "initial digest differs", detail=d)
    rng = Mulberry32(seed)
    last_snapshot: dict[str, Any] | None = game.get("initial_state")
    for k, step in enumerate(steps):
        mjson = step["move"]
        mtext = canonical_json(mjson)
        if s.status != "active":
            return k, div(k, f"our game is already over ({s.status}, winner {s.winner})", mtext)
        if s.phase != step["phase"] or s.current_player != step["player"]:
            return k, div(
                k,
                "phase/player differ",
                mtext,
                f"ours={s.phase}/p{s.current_player} ref={step['phase']}/p{step['player']}",
            )
        offered = legal_moves(s)
        keys = [m.key(geo) for m in offered]
        sha = _sha("[" + ",".join(keys) + "]")
        if len(keys) != step["n_legal"] or sha != step["legal_sha"]:
            detail = f"ours n={len(keys)} ref n={step['n_legal']}"
            if "legal" in step:
                ref = {canonical_json(m) for m in step["legal"]}
                mine = set(keys)
                extra = sorted(mine - ref)[:5]
                missing = sorted(ref - mine)[:5]
                detail += f"\n  extra (ours only): {extra}\n  missing (ref only): {missing}"
            return k, div(k, "legal move list differs", mtext, detail)
        try:
            move = move_from_json(mjson, geo)
        except MoveFormatError as exc:
            return k, div(k, "recorded move does not parse", mtext, str(exc))
        if offered:
            if check_choice:
                pick = rng.index(len(offered))
                if keys[pick] != move.key(geo):
                    return k, div(k, "PRNG choice differs", mtext, f"ours picks {keys[pick]}")
            elif move.key(geo) not in set(keys):
                return k, div(k, "recorded move is not offered", mtext)
        else:
            auto = auto_move(s)
            if not step.get("auto") or auto.key(geo) != move.key(geo):
                return k, div(k, "bookkeeping move differs", mtext, f"ours {auto.key(geo)}")
        try:
            apply_move(s, move, validate=False)
        except Exception as exc:  # noqa: BLE001 - report any engine failure as a divergence
            return k, div(k, f"engine raised {type(exc).__name__}", mtext, str(exc))
        dig = full_digest(s)
        if dig != step["digest"]:
            detail = (
                f"ours {dig[:16]} ref {step['digest'][:16]}; engine_hash ours "
                f"{engine_hash(s)} ref {step.get('engine_hash')}"
            )
            snap = step.get("snapshot")
            if snap is not None:
                detail += "\n  " + "\n  ".join(_view_diff(state_view(s), snap)[:12])
            elif last_snapshot is not None:
                detail += " (no snapshot at this step)"
            return k, div(k, "state digest differs after move", mtext, detail)
        if "snapshot" in step:
            last_snapshot = step["snapshot"]
    result = game["result"]
    term = result.get("termination")
    n = len(steps)
    if term in ("move_cap", "engine_error"):
        if s.status != "active":
            return n, div(n, f"ref game stays active ({term}) but ours ended ({s.status})")
    else:
        if s.status != "completed":
            return n, div(n, f"ref game ended ({term}) but ours is {s.status} in {s.phase}")
        if s.winner != result.get("winner"):
            return n, div(n, "winner differs", detail=f"ours {s.winner} ref {result.get('winner')}")
    if full_digest(s) != result.get("final_digest", full_digest(s)):
        return n, div(n, "final digest differs")
    return n, None


def _replay_file(path: str, check_choice: bool, limit: int | None = None) -> ParityReport:
    report = ParityReport()
    for game in iter_trace_games(Path(path)):
        if limit is not None and len(report.divergences) >= limit:
            break
        tally = report.per_config.setdefault(game["config"], ConfigTally())
        matched, d = replay_game(game, check_choice=check_choice)
        tally.games += 1
        tally.moves += len(game["steps"])
        tally.moves_ok += matched
        if d is None:
            tally.games_ok += 1
        else:
            report.divergences.append(d)
    return report


def run_parity(
    paths: Iterable[Path],
    *,
    echo: Callable[[str], None] = print,
    max_failures_shown: int = 20,
    stop_after_failures: int | None = None,
    check_choice: bool = True,
    workers: int | None = None,
) -> ParityReport:
    """Replay every game of every trace file; echo per-config counts and divergences.

    The last echoed line is ``parity: G/G games, M/M moves``. A step counts as matched
    when all its checks pass; after a game's first divergence its remaining steps count
    as unmatched. ``stop_after_failures`` stops early once that many games diverged.
    """
    files = [str(p) for p in paths]
    report = ParityReport()
    workers = workers or min(len(files), os.cpu_count() or 1)
    if workers > 1 and len(files) > 1 and stop_after_failures is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_replay_file, files, [check_choice] * len(files)))
    else:
        parts = []
        failures = 0
        for f in files:
            left = None if stop_after_failures is None else stop_after_failures - failures
            parts.append(_replay_file(f, check_choice, left))
            failures += len(parts[-1].divergences)
            if stop_after_failures is not None and failures >= stop_after_failures:
                echo(f"stopped after {failures} diverging games (--stop-after)")
                break
    for part in parts:
        report.merge(part)
    for cfg in sorted(report.per_config):
        t = report.per_config[cfg]
        echo(f"{cfg}: games {t.games_ok}/{t.games}, moves {t.moves_ok}/{t.moves}")
    for d in report.divergences[:max_failures_shown]:
        echo(d.describe())
    if len(report.divergences) > max_failures_shown:
        echo(f"... {len(report.divergences) - max_failures_shown} more diverging games not shown")
    echo(report.summary_line())
    return report
