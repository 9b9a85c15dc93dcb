"""Tournaments: the shadow tournament (an early look at a new candidate) and the full one.

Both are schedules of ``match.schedule_group`` games over *groups* (``num_players``
distinct participants of one config, every combination), played by ``match.run_matches``
and rated by refitting the Elo log. Their ids come from the logical time they stand for,
truncated to the minute (UTC):

* full: ``elo-<config>-<YYYY-MM-DDTHH:MM>``; a backfill of a past hour is the same
  tournament, and a rerun plays only the matches missing from the log.
* shadow: ``shadow-<config>-<candidate id[:12]>-<YYYY-MM-DDTHH:MM>``.

A group plays ``ceil(games / groups)`` games rounded up to whole seat rotations, so the
games actually scheduled are at least the ``games`` asked for.

Participants: the config's best model, recent candidates (full) or the newest candidate
(shadow), and ``tournament.baselines``. Models play ``mcts:model=<path>,sims=<model_sims>``
(``tournament.model_sims`` unless the caller's ``RunOptions`` say otherwise)
and are rated as ``model:<id[:12]>``; the tournament holds a lease on their files while it plays
(``distribution.model_lease``, in ``paths.models``). Before a shadow tournament, unless
``flags.skip_shadow_contracts`` is set, a sample of the candidate's games from the pool
(those it played, else the config's newest games: its training data) is replayed through
the rules; a parity failure rate above ``training.max_parity_failure_rate`` skips the
candidate's games, with the failures in the result.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ringrift_tasks.evaluation.distribution import model_lease
from ringrift_tasks.evaluation.match import (
    DEFAULT_MODEL_SIMS,
    MatchEvent,
    MatchReport,
    Participant,
    ResourceWait,
    ScheduledMatch,
    model_participant,
    run_matches,
    schedule_group,
)
from ringrift_tasks.records.game_record import RecordError, replay
from ringrift_tasks.rules.state import GameConfig

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store import Rating, Store

DEFAULT_PARITY_SAMPLE = 20
DEFAULT_RECENT_CANDIDATES = 2


def _minute(logical_time: datetime | float) -> datetime:
    if isinstance(logical_time, int | float):
        t = datetime.fromtimestamp(logical_time, UTC)
    else:
        t = logical_time if logical_time.tzinfo else logical_time.replace(tzinfo=UTC)
        t = t.astimezone(UTC)
    return t.replace(second=0, microsecond=0)


def full_tournament_id(config: str, logical_time: datetime | float) -> str:
    """``elo-<config>-<YYYY-MM-DDTHH:MM>`` (UTC; naive datetimes are taken as UTC)."""
    GameConfig.parse(config)
    return f"elo-{config}-{_minute(logical_time):%Y-%m-%dT%H:%M}"


def shadow_tournament_id(config: str, candidate_id: str, logical_time: datetime | float) -> str:
    """``shadow-<config>-<candidate[:12]>-<YYYY-MM-DDTHH:MM>``."""
    GameConfig.parse(config)
    return f"shadow-{config}-{candidate_id[:12]}-{_minute(logical_time):%Y-%m-%dT%H:%M}"


def groups_of(
    participants: Sequence[Participant], num_players: int, *, including: str | None = None
) -> list[tuple[Participant, ...]]:
    """Every group of ``num_players`` participants (by name order); with ``including``,
    only the groups that contain that name."""
    ordered = sorted(participants, key=lambda p: p.name)
    names = [p.name for p in ordered]
    if len(set(names)) != len(names):
        raise ValueError(f"participants repeat a name: {names}")
    out = list(itertools.combinations(ordered, num_players))
    if including is not None:
        out = [g for g in out if any(p.name == including for p in g)]
    return out


def schedule_round_robin(
    tournament_id: str,
    config: str,
    participants: Sequence[Participant],
    games: int,
    *,
    including: str | None = None,
) -> list[ScheduledMatch]:
    """At least ``games`` matches spread evenly over every group (see the module doc)."""
    cfg = GameConfig.parse(config)
    groups = groups_of(participants, cfg.num_players, including=including)
    if not groups:
        return []
    per_group = max(1, math.ceil(games / len(groups)))
    return [m for g in groups for m in schedule_group(tournament_id, cfg.name, g, per_group)]


@dataclass(frozen=True, slots=True)
class ParityCheck:
    """Replay of a sample of games: how many were checked and what failed (one line each)."""

    checked: int
    failures: tuple[str, ...]

    @property
    def failure_rate(self) -> float:
        return len(self.failures) / self.checked if self.checked else 0.0


def check_candidate_games(
    store: Store, config: str, candidate_id: str, sample: int = DEFAULT_PARITY_SAMPLE
) -> ParityCheck:
    """Replay up to ``sample`` games of the candidate (its id in an agent spec) through the
    rules, or the config's newest games when it has played none."""
    mine = []
    scanned = 0
    for rec in store.pool.iter_games(config, newest_first=True):
        scanned += 1
        if any(candidate_id in a for a in rec.agents):
            mine.append(rec)
            if len(mine) >= sample:
                break
        if scanned >= 50 * sample:  # bound the scan of a big pool
            break
    games = mine or list(store.pool.iter_games(config, newest_first=True, limit=sample))
    failures = []
    for rec in games:
        try:
            replay(rec)
        except RecordError as exc:
            failures.append(str(exc))
    return ParityCheck(len(games), tuple(failures))


@dataclass
class TournamentResult:
    """One tournament of one config: what was scheduled, what the run did, the ratings
    after it. ``skipped``: why nothing was played (no candidate, parity), else empty."""

    tournament_id: str
    config: str
    participants: tuple[str, ...] = ()
    scheduled: int = 0
    report: MatchReport = field(default_factory=MatchReport)
    ratings: list[Rating] = field(default_factory=list)
    parity: ParityCheck | None = None
    skipped: str = ""


@dataclass(frozen=True)
class RunOptions:
    """How to play: worker processes, step cap per game, start method, guard, progress."""

    workers: int = 1
    max_steps: int | None = None
    start_method: str | None = "spawn"
    resource_guard: bool = True
    source: str | None = None
    model_sims: int = DEFAULT_MODEL_SIMS
    progress: Callable[[MatchEvent], None] | None = None
    opening_plies: int = 0

    @classmethod
    def from_config(cls, cfg: RingriftConfig) -> RunOptions:
        """The loop's defaults: ``selfplay.workers`` workers, ``tournament.model_sims`` and
        ``tournament.opening_plies``."""
        return cls(
            workers=cfg.selfplay.workers,
            model_sims=cfg.tournament.model_sims,
            opening_plies=cfg.tournament.opening_plies,
        )


def _ratings(cfg: RingriftConfig, store: Store, config: str) -> list[Rating]:
    from ringrift_tasks.store import EloService

    return EloService(store, anchor_elo=cfg.tournament.random_anchor_elo).ratings(config)


def _play(
    cfg: RingriftConfig,
    store: Store,
    result: TournamentResult,
    matches: list[ScheduledMatch],
    opts: RunOptions,
    model_ids: Sequence[str],
) -> TournamentResult:
    """Play ``matches`` holding a lease on every model file in them (so pruning spares
    them), then refit the config's ratings."""
    result.scheduled = len(matches)
    with ExitStack() as leases:
        for model_id in model_ids:
            leases.enter_context(model_lease(cfg.paths.models, model_id, result.tournament_id))
        result.report = run_matches(
            store,
            matches,
            workers=opts.workers,
            max_steps=opts.max_steps,
            source=opts.source,
            guard=ResourceWait(cfg.resources, cfg.home) if opts.resource_guard else None,
            progress=opts.progress,
            start_method=opts.start_method,
            torch_threads=cfg.resources.worker_torch_threads,
            opening_plies=opts.opening_plies,
        )
    result.ratings = _ratings(cfg, store, result.config)
    return result


def baselines(cfg: RingriftConfig) -> list[Participant]:
    """The configured baseline agents as participants."""
    return [Participant.baseline(spec) for spec in cfg.tournament.baselines]


def run_shadow_tournament(
    cfg: RingriftConfig,
    store: Store,
    logical_time: datetime | float,
    *,
    configs: Sequence[str] | None = None,
    games_per_config: int | None = None,
    options: RunOptions | None = None,
    parity_sample: int = DEFAULT_PARITY_SAMPLE,
) -> list[TournamentResult]:
    """For each config (default ``cfg.configs``) with a candidate: the newest candidate
    against the best and the baselines, ``shadow.games_per_config`` games (at least).

    Configs without a candidate are returned with ``skipped="no candidate"``.
    """
    opts = options or RunOptions.from_config(cfg)
    games = games_per_config or cfg.shadow.games_per_config
    out = []
    for config in configs or cfg.configs:
        candidates = store.registry.candidates(config)
        if not candidates:
            out.append(TournamentResult(f"shadow-{config}", config, skipped="no candidate"))
            continue
        cand = candidates[0]
        tid = shadow_tournament_id(config, cand.model_id, logical_time)
        result = TournamentResult(tid, config)
        if not cfg.flags.skip_shadow_contracts:
            result.parity = check_candidate_games(store, config, cand.model_id, parity_sample)
            if result.parity.failure_rate > cfg.training.max_parity_failure_rate:
                result.skipped = (
                    f"parity: {len(result.parity.failures)} of {result.parity.checked} "
                    f"sampled games do not replay (max rate "
                    f"{cfg.training.max_parity_failure_rate:g})"
                )
                out.append(result)
                continue
        entrants = [model_participant(cand, sims=opts.model_sims), *baselines(cfg)]
        models = [cand.model_id]
        best = store.registry.best(config)
        if best is not None:
            entrants.append(model_participant(best, sims=opts.model_sims))
            models.append(best.model_id)
        result.participants = tuple(sorted(p.name for p in entrants))
        matches = schedule_round_robin(tid, config, entrants, games, including=entrants[0].name)
        out.append(_play(cfg, store, result, matches, opts, models))
    return out


def full_participants(
    store: Store, config: str, baseline: Sequence[Participant], *, recent: int, model_sims: int
) -> tuple[list[Participant], list[str]]:
    """The best model, the ``recent`` newest candidates and the baselines; and the ids of
    the models among them."""
    out = list(baseline)
    best = store.registry.best(config)
    models = [] if best is None else [best]
    models += store.registry.candidates(config)[:recent]
    out += [model_participant(m, sims=model_sims) for m in models]
    return out, [m.model_id for m in models]


def run_full_tournament(
    cfg: RingriftConfig,
    store: Store,
    logical_time: datetime | float,
    *,
    configs: Sequence[str] | None = None,
    games: int | None = None,
    recent_candidates: int = DEFAULT_RECENT_CANDIDATES,
    options: RunOptions | None = None,
) -> list[TournamentResult]:
    """Round robin of best, recent candidates and baselines for each config (default
    ``cfg.configs``; a subset makes a "diverse" tournament), ``tournament.games`` games per
    config (at least), id ``elo-<config>-<logical minute>``."""
    opts = options or RunOptions.from_config(cfg)
    n_games = games or cfg.tournament.games
    out = []
    for config in configs or cfg.configs:
        tid = full_tournament_id(config, logical_time)
        entrants, models = full_participants(
            store, config, baselines(cfg), recent=recent_candidates, model_sims=opts.model_sims
        )
        result = TournamentResult(tid, config, tuple(sorted(p.name for p in entrants)))
        matches = schedule_round_robin(tid, config, entrants, n_games)
        out.append(_play(cfg, store, result, matches, opts, models))
    return out
