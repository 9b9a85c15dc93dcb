"""The data-quality gate: is a training window worth training on?

``assess_window`` replays every game of the window through the rules and scores five
components, each a share in [0, 1]:

==============  =========================================================================
component       share of the window's games that ...
==============  =========================================================================
targets         carry a complete search target: every decision step (a step with legal
                moves) has a non-empty policy whose indices fit the legal list
legality        replay: every move is legal where it is played, and the recorded result
                (winner, or ``move_cap`` for a game still running) is what the rules give
seat_balance    1 - the total-variation distance between the winners' seats and the
                uniform distribution, divided by its maximum (1 - 1/players): 1 when every
                seat wins equally often, 0 when one seat wins everything (or nobody wins)
length          ended by the rules (not ``move_cap``) after at least ``min_moves`` steps
uniqueness      are not a move-for-move duplicate of an earlier game of the window
==============  =========================================================================

The score is the weighted mean (``DEFAULT_WEIGHTS``). ``check_quality`` refuses -- raises
``DataQualityError`` with the reason -- when the score is below ``min_quality``
(``training.min_data_quality``, 0.70) or when the share of games that fail the replay (the
parity failure rate) is above ``max_parity_failure_rate``
(``training.max_parity_failure_rate``, 0.10), whatever the score.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.rules.moves import MoveFormatError, canonical_json, move_from_json
from ringrift_tasks.rules.state import new_game
from ringrift_tasks.rules.turn import apply_move, legal_moves

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "targets": 0.25,
    "legality": 0.30,
    "seat_balance": 0.15,
    "length": 0.15,
    "uniqueness": 0.15,
}
MIN_MOVES = 10


class DataQualityError(RuntimeError):
    """The gate refused a window; ``report`` holds the figures, the message the reason.

    Not a ``ValueError``: the input was well-formed, the data is just not good enough
    (the CLI exits 1 for this, 2 for bad input)."""

    def __init__(self, report: QualityReport) -> None:
        super().__init__(report.reason)
        self.report = report


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The gate's verdict on one window."""

    config: str
    games: int
    score: float
    components: dict[str, float]
    parity_failures: int
    parity_failure_rate: float
    accepted: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "games": self.games,
            "score": round(self.score, 4),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "parity_failures": self.parity_failures,
            "parity_failure_rate": round(self.parity_failure_rate, 4),
            "accepted": self.accepted,
            "reason": self.reason,
            **self.details,
        }


@dataclass(frozen=True, slots=True)
class _GameCheck:
    replays: bool
    failure: str
    complete_targets: bool


def _check_game(rec: GameRecord) -> _GameCheck:
    """Replay ``rec``; whether it is legal and whether every decision has a usable target."""
    s = new_game(rec.config)
    geo = s.geo
    targets = rec.targets
    complete = targets is not None
    for step, mj in enumerate(rec.moves):
        if s.status != "active":
            return _GameCheck(False, f"step {step}: a move after the game ended", False)
        try:
            move = move_from_json(mj, geo)
        except MoveFormatError as exc:
            return _GameCheck(False, f"step {step}: {exc}", False)
        legal = legal_moves(s)
        if legal:
            key = move.key(geo)
            if not any(m.key(geo) == key for m in legal):
                return _GameCheck(False, f"step {step}: {mj.get('type')} is not legal", False)
            if complete:
                t = targets[step]  # type: ignore[index]
                complete = (
                    t is not None
                    and bool(t.policy)
                    and all(0 <= i < len(legal) and p >= 0 for i, p in t.policy)
                    and sum(p for _, p in t.policy) > 0
                )
        try:
            apply_move(s, move, validate=not legal)
        except ValueError as exc:
            return _GameCheck(False, f"step {step}: {exc}", False)
    res = rec.result
    if res.termination == "move_cap":
        if s.status != "active":
            return _GameCheck(False, "recorded move_cap but the game ended", complete)
    elif s.status != "completed" or s.winner != res.winner:
        return _GameCheck(
            False, f"recorded winner {res.winner}, the replay gives {s.winner}", complete
        )
    return _GameCheck(True, "", complete)


def _seat_balance(games: Sequence[GameRecord], players: int) -> float:
    winners = Counter(g.result.winner for g in games if g.result.winner is not None)
    decided = sum(winners.values())
    if decided == 0:
        return 0.0
    tv = 0.5 * sum(
        abs(winners.get(seat, 0) / decided - 1 / players) for seat in range(1, players + 1)
    )
    return max(0.0, 1.0 - tv / (1 - 1 / players))


def assess_window(
    config: str,
    games: Sequence[GameRecord],
    *,
    min_quality: float = 0.70,
    max_parity_failure_rate: float = 0.10,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    min_moves: int = MIN_MOVES,
) -> QualityReport:
    """Score ``games`` (one config) and decide; see the module docstring."""
    if set(weights) != set(DEFAULT_WEIGHTS) or sum(weights.values()) <= 0:
        raise ValueError(f"weights must name exactly {sorted(DEFAULT_WEIGHTS)} with a positive sum")
    n = len(games)
    if n == 0:
        return QualityReport(
            config,
            0,
            0.0,
            dict.fromkeys(DEFAULT_WEIGHTS, 0.0),
            0,
            0.0,
            False,
            f"no games of {config} in the window",
        )
    others = [g.game_id for g in games if g.config != config]
    if others:
        raise ValueError(f"game {others[0]} is not a {config} game")
    checks = [_check_game(g) for g in games]
    failures = [(g.game_id, c.failure) for g, c in zip(games, checks, strict=True) if not c.replays]
    players = new_game(config).num_players
    seen: set[str] = set()
    duplicates = 0
    for g in games:
        h = hashlib.sha256(canonical_json(list(g.moves)).encode()).hexdigest()
        duplicates += h in seen
        seen.add(h)
    components = {
        "targets": sum(c.complete_targets and c.replays for c in checks) / n,
        "legality": sum(c.replays for c in checks) / n,
        "seat_balance": _seat_balance(games, players),
        "length": sum(
            g.result.termination != "move_cap" and g.num_moves >= min_moves for g in games
        )
        / n,
        "uniqueness": 1.0 - duplicates / n,
    }
    score = sum(weights[k] * v for k, v in components.items()) / sum(weights.values())
    rate = len(failures) / n
    details: dict[str, Any] = {"duplicates": duplicates}
    if failures:
        details["first_failure"] = f"game {failures[0][0]}: {failures[0][1]}"
    if rate > max_parity_failure_rate:
        reason = (
            f"parity failure rate {rate:.2f} > max {max_parity_failure_rate:.2f}: "
            f"{len(failures)} of {n} games do not replay (first: {details['first_failure']})"
        )
        accepted = False
    elif score < min_quality:
        weakest = sorted(components.items(), key=lambda kv: kv[1])[:2]
        reason = (
            f"data quality {score:.2f} < min {min_quality:.2f} over {n} games; weakest: "
            + ", ".join(f"{k} {v:.2f}" for k, v in weakest)
        )
        accepted = False
    else:
        reason = f"data quality {score:.2f} >= {min_quality:.2f} over {n} games"
        accepted = True
    return QualityReport(
        config, n, score, components, len(failures), rate, accepted, reason, details
    )


def check_quality(config: str, games: Sequence[GameRecord], training: Any) -> QualityReport:
    """``assess_window`` with the thresholds of ``training`` (``cfg.training``); raises
    ``DataQualityError`` when the gate refuses, returns the report otherwise."""
    report = assess_window(
        config,
        games,
        min_quality=float(training.min_data_quality),
        max_parity_failure_rate=float(training.max_parity_failure_rate),
    )
    if not report.accepted:
        raise DataQualityError(report)
    return report
