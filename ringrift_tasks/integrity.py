"""Integrity of the stores: does what is stored still say what it claims?

``check_integrity(store)`` runs every check below and returns an ``IntegrityReport``; each
``CheckResult`` says how many things it looked at and lists the offending ids, one line
each. Nothing is changed. The checks:

* ``games``: every game in the pool (or a sample of it) decodes, its stored checksum is the
  checksum of its stored bytes, its id is the hash of its content, its columns agree with
  its result, and replaying its moves through the rules engine ends in its stored result
  (termination, winner and ranking).
* ``game_ids``: no game id twice in the pool, and the shard ledger adds up: the games each
  merged shard added are the games in the pool that name it (nothing lost, nothing twice).
* ``match_log``: every match of the Elo log that names a game finds it in the pool, of the
  same config, ranked as the game ended; no game is the record of two matches.
* ``elo_fit``: the batch fit of each config's log is its maximum: every agent's expected
  score under the fitted ratings equals its actual score (the fit's moment condition, up to
  the fit's tiny regulariser), the anchor sits at its pinned rating, and each agent's game
  count is its number of matches in the log.
* ``gate_evidence``: every promotion-gate verdict in the decision log is what the gate's
  test says about the gate's games now in the log (games, wins, draws, losses, decision).
* ``best_models``: exactly one best per config that has a best pointer: the pointer, the
  model's status and the last promotion agree, and the model file is there with the sha256
  that is its id.

The games check replays every game by default; ``sample`` replays that many, picked by
their checksum (a deterministic, content-spread choice).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ringrift_tasks.evaluation.elo import (
    DEFAULT_L2,
    ELO_PER_NATURAL_UNIT,
    EloFitError,
    fit_ratings,
    normalize_ranking,
    pairwise_results,
)
from ringrift_tasks.records.game_record import (
    GameRecord,
    RecordError,
    replay,
    result_from_state,
)
from ringrift_tasks.store.models import (
    BestModelRow,
    DecisionRow,
    GameRow,
    MatchRow,
    MergedShardRow,
    ModelRow,
    PromotionRow,
)

if TYPE_CHECKING:
    from ringrift_tasks.store import Store

_GAMES = GameRow.__table__
_SHARDS = MergedShardRow.__table__
_MATCHES = MatchRow.__table__
_MODELS = ModelRow.__table__
_BEST = BestModelRow.__table__
_PROMOTIONS = PromotionRow.__table__
_DECISIONS = DecisionRow.__table__

CHECKS = ("games", "game_ids", "match_log", "elo_fit", "gate_evidence", "best_models")
# An agent's expected score may differ from its actual score by this many games (plus the
# regulariser's pull) and the fit still counts as the log's maximum.
SCORE_TOLERANCE = 1e-6
ANCHOR_TOLERANCE_ELO = 1e-6


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: how many things it examined and what is wrong (one line per problem,
    naming the id). ``passed`` when ``problems`` is empty."""

    name: str
    checked: int
    problems: tuple[str, ...] = ()
    note: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class IntegrityReport:
    """Every check's result; ``passed`` only if all passed."""

    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (``KeyError`` if it did not run)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": [{**asdict(c), "passed": c.passed} for c in self.checks],
        }


# --------------------------------------------------------------------------- games


def _game_rows(store: Store, sample: int | None) -> Iterator[Any]:
    q = select(_GAMES)
    # Ordered by checksum: a sample is spread over sources and times, and repeatable.
    q = q.order_by(_GAMES.c.checksum) if sample is not None else q.order_by(_GAMES.c.game_id)
    if sample is not None:
        q = q.limit(sample)
    with store.read() as conn:
        yield from conn.execute(q)


def _game_problem(row: Any) -> str | None:
    """What is wrong with one stored game, or None."""
    try:
        rec = GameRecord.from_blobs(
            game_id=row.game_id,
            config=row.config,
            seed=row.seed,
            moves_blob=row.moves_z,
            targets_blob=row.targets_z,
            result_json=json.dumps(row.result),
            agents_json=json.dumps(row.agents),
            source=row.source,
            created_at=row.created_at,
            kind=row.kind,
            checksum=row.checksum,
        )
    except (RecordError, ValueError) as exc:
        return f"game {row.game_id}: {exc}"
    if rec.content_id() != rec.game_id:
        return f"game {row.game_id}: id does not match its content ({rec.content_id()})"
    res = rec.result
    if (row.winner, row.termination, row.num_moves) != (
        res.winner,
        res.termination,
        len(rec.moves),
    ):
        return (
            f"game {row.game_id}: columns winner={row.winner} termination={row.termination} "
            f"num_moves={row.num_moves} disagree with its result {res.to_json()} and "
            f"{len(rec.moves)} moves"
        )
    try:
        final = replay(rec)
    except RecordError as exc:
        return f"game {row.game_id}: does not replay: {exc}"
    # replay() checks that the game ended and who won; how it ended and the ranking are
    # stored too (the Elo log is built from the ranking), so they must be what the rules say.
    replayed = result_from_state(final)
    if res.termination != "move_cap" and replayed != res:
        return (
            f"game {row.game_id}: stored result {res.to_json()}, replay gives {replayed.to_json()}"
        )
    return None


def check_games(store: Store, *, sample: int | None = None) -> CheckResult:
    """Replay every game (or ``sample`` of them) and compare with what is stored."""
    if sample is not None and sample < 1:
        raise ValueError(f"sample={sample}: expected a positive number of games")
    total = store.pool.count()
    checked = 0
    problems = []
    for row in _game_rows(store, sample):
        checked += 1
        problem = _game_problem(row)
        if problem is not None:
            problems.append(problem)
    note = f"sample of {checked} of {total} games" if sample is not None else ""
    return CheckResult("games", checked, tuple(problems), note)


def check_game_ids(store: Store) -> CheckResult:
    """No duplicate game ids; every merged shard's added games are in the pool under it."""
    problems = []
    with store.read() as conn:
        dupes = conn.execute(
            select(_GAMES.c.game_id, func.count())
            .group_by(_GAMES.c.game_id)
            .having(func.count() > 1)
        ).all()
        problems += [f"game {gid}: stored {n} times" for gid, n in dupes]
        in_pool = dict(
            conn.execute(
                select(_GAMES.c.shard, func.count())
                .where(_GAMES.c.shard.is_not(None))
                .group_by(_GAMES.c.shard)
            ).all()
        )
        shards = conn.execute(
            select(_SHARDS.c.sha256, _SHARDS.c.games_total, _SHARDS.c.games_added)
        ).all()
        total = int(conn.execute(select(func.count()).select_from(_GAMES)).scalar_one())
    for sha, games_total, added in shards:
        have = int(in_pool.pop(sha, 0))
        if have != added:
            problems.append(
                f"shard {sha}: ledger says {added} games added (of {games_total}), "
                f"the pool holds {have} games from it"
            )
    for sha, n in sorted(in_pool.items()):
        problems.append(f"shard {sha}: {n} games in the pool name it, but it is not in the ledger")
    return CheckResult("game_ids", total, tuple(problems), f"{len(shards)} merged shards")


# --------------------------------------------------------------------------- Elo log


def _ranking_of_game(result: dict[str, Any], names: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    # The same rule as evaluation.match.elo_ranking, from the stored result: a capped game
    # is a draw of everyone, else the seats in the game's ranking.
    if result["termination"] == "move_cap":
        return normalize_ranking([list(names)])
    return normalize_ranking([[names[seat - 1]] for seat in result["ranking"]])


def check_match_log(store: Store) -> CheckResult:
    """Every match that names a game agrees with that game; one match per game."""
    problems = []
    with store.read() as conn:
        matches = conn.execute(select(_MATCHES).order_by(_MATCHES.c.match_id)).all()
        games = {
            r.game_id: r
            for r in conn.execute(
                select(_GAMES.c.game_id, _GAMES.c.config, _GAMES.c.result).where(
                    _GAMES.c.game_id.in_(
                        select(_MATCHES.c.game_id).where(_MATCHES.c.game_id.is_not(None))
                    )
                )
            )
        }
    uses = Counter(m.game_id for m in matches if m.game_id is not None)
    for m in matches:
        try:
            ranking = normalize_ranking(m.ranking)
        except EloFitError as exc:
            problems.append(f"match {m.match_id}: bad ranking ({exc})")
            continue
        if m.game_id is None:
            continue
        game = games.get(m.game_id)
        if game is None:
            problems.append(f"match {m.match_id}: its game {m.game_id} is not in the pool")
            continue
        if game.config != m.config:
            problems.append(
                f"match {m.match_id}: config {m.config}, its game {m.game_id} is {game.config}"
            )
            continue
        names = [p["agent"] for p in sorted(m.participants, key=lambda p: p["seat"])]
        try:
            expected = _ranking_of_game(game.result, names)
        except (EloFitError, IndexError, KeyError, TypeError) as exc:
            problems.append(f"match {m.match_id}: game {m.game_id} has no usable ranking ({exc})")
            continue
        if ranking != expected:
            problems.append(
                f"match {m.match_id}: logged ranking {[list(t) for t in ranking]}, "
                f"its game {m.game_id} ended {[list(t) for t in expected]}"
            )
    for gid, n in sorted(uses.items()):
        if n > 1:
            problems.append(f"game {gid}: recorded by {n} matches")
    return CheckResult("match_log", len(matches), tuple(problems))


def _fit_problems(
    config: str, rankings: list[Any], anchor: str, anchor_elo: float
) -> tuple[list[str], float]:
    """Problems of the fit of one config's log, and its largest score residual (games)."""
    ratings = fit_ratings(rankings, anchor=anchor, anchor_elo=anchor_elo)
    elo = {r.agent: r.elo for r in ratings}
    problems = []
    log = [normalize_ranking(r) for r in rankings]
    played = Counter(a for m in log for t in m for a in t)
    for r in ratings:
        if not math.isfinite(r.elo):
            problems.append(f"{config}: {r.agent} has rating {r.elo}")
        if r.games != played[r.agent]:
            problems.append(
                f"{config}: {r.agent} rated on {r.games} games, the log has {played[r.agent]}"
            )
    if anchor in elo and abs(elo[anchor] - anchor_elo) > ANCHOR_TOLERANCE_ELO:
        problems.append(f"{config}: anchor {anchor} at {elo[anchor]:.6f}, pinned at {anchor_elo}")
    # Optimality: with theta = (elo - mean elo) in natural units (the regulariser makes the
    # optimum's thetas sum to zero), each agent's score minus its expected score equals
    # l2 * theta.
    mean = sum(elo.values()) / len(elo) if elo else 0.0
    theta = {a: (e - mean) / ELO_PER_NATURAL_UNIT for a, e in elo.items()}
    residual: defaultdict[str, float] = defaultdict(float)
    for m in log:
        for winner, loser, w in pairwise_results(m):
            p = 1.0 / (1.0 + math.exp(-(theta[winner] - theta[loser])))
            residual[winner] += w * (1.0 - p)
            residual[loser] -= w * (1.0 - p)
    worst = 0.0
    for a, t in theta.items():
        r = abs(residual[a] - DEFAULT_L2 * t)
        worst = max(worst, r)
        if r > SCORE_TOLERANCE * max(1.0, played[a]):
            problems.append(
                f"{config}: {a}'s score differs from its expected score under the fit "
                f"by {r:.3g} games: the ratings are not the log's fit"
            )
    return problems, worst


def check_elo_fit(
    store: Store, *, anchor: str = "random", anchor_elo: float = 400.0
) -> CheckResult:
    """The fit of each config's log reproduces it (see the module doc); ``anchor`` is
    pinned at ``anchor_elo`` (the config's ``tournament.random_anchor_elo``)."""
    problems: list[str] = []
    with store.read() as conn:
        rows = conn.execute(select(_MATCHES.c.config, _MATCHES.c.ranking)).all()
    by_config: defaultdict[str, list[Any]] = defaultdict(list)
    for config, ranking in rows:
        by_config[config].append(ranking)
    worst = 0.0
    for config, rankings in sorted(by_config.items()):
        try:
            found, w = _fit_problems(config, rankings, anchor, anchor_elo)
        except EloFitError as exc:
            problems.append(f"{config}: the log cannot be fitted ({exc})")
            continue
        problems += found
        worst = max(worst, w)
    note = f"{len(by_config)} configs, largest score residual {worst:.2e} games"
    return CheckResult("elo_fit", len(rows), tuple(problems), note)


# --------------------------------------------------------------------------- gates


def check_gate_evidence(store: Store) -> CheckResult:
    """Each promotion-gate verdict equals the gate's test rerun over the gate's logged
    games (bootstrap promotions, which play no games, are counted and skipped)."""
    from ringrift_tasks.evaluation.gate import decide
    from ringrift_tasks.evaluation.match import model_agent_name
    from ringrift_tasks.evaluation.promotion import gate_scores

    problems = []
    with store.read() as conn:
        rows = conn.execute(
            select(_DECISIONS).where(_DECISIONS.c.gate == "promotion").order_by(_DECISIONS.c.id)
        ).all()
    checked = 0
    for d in rows:
        ev = d.evidence or {}
        gid = ev.get("gate_id")
        if not gid:
            continue
        checked += 1
        # gate-<config>-<candidate[:12]>-<best[:12]>
        prefix = f"gate-{d.config}-"
        ids = gid[len(prefix) :].split("-") if gid.startswith(prefix) else []
        if len(ids) != 2 or not str(ev.get("best", "")).startswith(ids[1]):
            problems.append(f"decision {d.id}: gate id {gid!r} does not name its best")
            continue
        cand, best = f"model:{ids[0]}", model_agent_name(ev["best"])
        try:
            scores = gate_scores(store, d.config, gid, cand, best)
            again = decide(
                scores,
                elo_margin=ev["elo1"] - ev["elo0"],
                alpha=ev["alpha"],
                beta=ev["beta"],
                max_games=ev["max_games"],
                wilson_lower_bound=ev["wilson_threshold"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"decision {d.id} ({gid}): evidence cannot be rechecked ({exc})")
            continue
        fields = ("games", "wins", "draws", "losses", "decision")
        now = {k: getattr(again, k) for k in fields}
        then = {k: ev.get(k) for k in fields}
        if now != then:
            problems.append(
                f"decision {d.id} ({gid}): evidence {then}, the logged games give {now}"
            )
    note = f"{len(rows) - checked} bootstrap or non-gate verdicts" if rows else ""
    return CheckResult("gate_evidence", checked, tuple(problems), note)


# --------------------------------------------------------------------------- registry


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_best_models(store: Store) -> CheckResult:
    """Exactly one best per config with a pointer; pointer, status and history agree; the
    best's file is present and hashes to its id."""
    problems = []
    with store.read() as conn:
        pointers = dict(conn.execute(select(_BEST.c.config, _BEST.c.model_id)).all())
        bests: defaultdict[str, list[Any]] = defaultdict(list)
        for r in conn.execute(select(_MODELS).where(_MODELS.c.status == "best")):
            bests[r.config].append(r)
        last_change = {
            r.config: r.model_id
            for r in conn.execute(select(_PROMOTIONS).order_by(_PROMOTIONS.c.id))
        }
    configs = sorted(set(pointers) | set(bests) | set(last_change))
    for config in configs:
        pointer = pointers.get(config)
        flagged = bests.get(config, [])
        if len(flagged) > 1:
            ids = ", ".join(sorted(r.model_id for r in flagged))
            problems.append(f"{config}: {len(flagged)} models have status best: {ids}")
        if pointer is None:
            if flagged:
                problems.append(
                    f"{config}: no best pointer, but model {flagged[0].model_id} is best"
                )
            if config in last_change:
                problems.append(
                    f"{config}: promoted {last_change[config]} but the best pointer is empty"
                )
            continue
        if pointer not in {r.model_id for r in flagged}:
            problems.append(f"{config}: best pointer {pointer} is not a model with status best")
        if last_change.get(config) != pointer:
            problems.append(
                f"{config}: best pointer {pointer}, last promotion/rollback made "
                f"{last_change.get(config)} best"
            )
        row = next((r for r in flagged if r.model_id == pointer), None)
        if row is None:
            continue
        path = Path(row.path)
        if not path.is_file():
            problems.append(f"{config}: best model {pointer} file {path} is missing")
            continue
        actual = _sha256(path)
        if actual != pointer:
            problems.append(f"{config}: best model file {path} has sha256 {actual}, id {pointer}")
        elif path.stat().st_size != row.bytes:
            problems.append(
                f"{config}: best model file {path} is {path.stat().st_size} bytes, "
                f"registered {row.bytes}"
            )
    return CheckResult("best_models", len(configs), tuple(problems))


# --------------------------------------------------------------------------- all


def check_integrity(
    store: Store, *, sample: int | None = None, anchor_elo: float = 400.0
) -> IntegrityReport:
    """Run every check (``CHECKS``) on ``store``; ``sample`` bounds the games replayed,
    ``anchor_elo`` is the random agent's pinned rating."""
    return IntegrityReport(
        [
            check_games(store, sample=sample),
            check_game_ids(store),
            check_match_log(store),
            check_elo_fit(store, anchor_elo=anchor_elo),
            check_gate_evidence(store),
            check_best_models(store),
        ]
    )
