"""Matches: who plays whom, in which seat, with which seed, and playing them in workers.

A *participant* is an Elo name plus the agent spec that plays it (``Participant("heuristic",
"heuristic")``, ``model_participant(model)``). A *group* is ``num_players`` distinct
participants of one config; a *round* of a group is one game. Round ``r`` seats the group
(sorted by name) rotated left by ``r``, so over every ``num_players`` rounds each
participant sits in each seat exactly once (``schedule_group`` rounds the game count up to
whole rotations for that reason).

Everything about a scheduled match is derived from ``(tournament id, group, round)``: the
match id ``<tournament>/<group digest>/<round>``, the seating and the game seed. A run
first asks the Elo log which of its match ids are already there and plays only the
others; each worker writes every finished game to the pool (kind ``evaluation``) and its
result to the Elo log at once. So a tournament killed at any moment keeps what it played,
and a rerun (or a backfill of the same tournament id) plays only what is missing and never
counts a game twice.

The pool write and the Elo write are two transactions, pool first: a kill between them
leaves a pooled game without its match, and the rerun plays the same game again (same
seed, same agents, same source: same ``game_id``, stored once) and logs the match.

Elo ranking of a game: a finished game ranks the seats as ``GameResult.ranking`` does
(winner first); a game stopped by the step cap (``move_cap``) is a draw of everyone.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing as mp
import queue as queue_mod
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.ai.agent import Agent, agent_from_spec, forget_last_game
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.rules.state import GameConfig
from ringrift_tasks.workers import exit_with_parent, limit_torch_threads

if TYPE_CHECKING:
    from ringrift_tasks.config import ResourceLimits
    from ringrift_tasks.store import ModelVersion, Store

Guard = Callable[[], str | None]
# Simulations of a registered model's search when the caller names none (the mcts_100
# baseline's budget, so a model and the baseline differ in judgement only).
DEFAULT_MODEL_SIMS = 100
MAX_TOURNAMENT_ID = 80  # the Elo log's match_id column holds 128 characters
_LATE_EVENT_S = 5.0


class MatchError(ValueError):
    """A schedule that cannot be played (bad group, unknown spec, bad id); names the value."""


@dataclass(frozen=True, slots=True)
class Participant:
    """An entrant: ``name`` is its Elo identity, ``spec`` the ``agent_from_spec`` string."""

    name: str
    spec: str

    @staticmethod
    def baseline(spec: str) -> Participant:
        """A baseline agent, rated under its own spec (``random``, ``mcts_100``...)."""
        return Participant(spec, spec)


def model_agent_name(model_id: str) -> str:
    """The Elo name of a registered model: ``model:`` and the first 12 hex of its id."""
    return f"model:{model_id[:12]}"


def model_participant(model: ModelVersion, *, sims: int = DEFAULT_MODEL_SIMS) -> Participant:
    """A registered model playing neural-guided MCTS with ``sims`` simulations per move.

    The spec is ``mcts:model=<path>,sims=<sims>`` (the path may contain neither ``,`` nor
    ``=``: the spec grammar splits on them).
    """
    if "," in model.path or "=" in model.path:
        raise MatchError(f"model {model.model_id[:12]}: path {model.path!r} has ',' or '='")
    return Participant(model_agent_name(model.model_id), f"mcts:model={model.path},sims={sims}")


@dataclass(frozen=True, slots=True)
class ScheduledMatch:
    """One game to play: ``seats`` are the participants in seat order (seat 1 first).
    ``opening_seed`` draws the random opening, shared by the rounds of one seat rotation."""

    match_id: str
    tournament_id: str
    config: str
    seats: tuple[Participant, ...]
    round: int
    seed: int
    opening_seed: int = 0


def group_key(names: Iterable[str]) -> str:
    """Order-free digest of a group's names (16 hex): the pairing part of a match id."""
    joined = "\x1f".join(sorted(names))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def match_seed(match_id: str) -> int:
    """The 32-bit game seed of a match, derived from its id alone."""
    return int.from_bytes(hashlib.sha256(f"ringrift-match:{match_id}".encode()).digest()[:4])


def rounds_for(games: int, num_players: int) -> int:
    """``games`` rounded up to whole seat rotations (a multiple of ``num_players``, >= 1 one)."""
    if games < 1:
        raise MatchError(f"games={games}: expected >= 1")
    return math.ceil(games / num_players) * num_players


def schedule_group(
    tournament_id: str,
    config: str,
    group: Sequence[Participant],
    games: int,
    *,
    first_round: int = 0,
) -> list[ScheduledMatch]:
    """Rounds ``first_round .. first_round + rounds_for(games) - 1`` of one group.

    ``group`` must hold exactly the config's player count of distinct names. The ``k`` rounds
    of one seat rotation (``r // k`` alike) share an opening seed: each random opening is
    played from every seat, so an opening that favours a seat favours nobody.
    """
    cfg = GameConfig.parse(config)
    if not tournament_id or len(tournament_id) > MAX_TOURNAMENT_ID or "/" in tournament_id:
        raise MatchError(
            f"tournament id {tournament_id!r}: expected 1-{MAX_TOURNAMENT_ID} characters, no '/'"
        )
    names = [p.name for p in group]
    if len(group) != cfg.num_players or len(set(names)) != len(names):
        raise MatchError(
            f"{config}: a group needs {cfg.num_players} distinct participants, got {names}"
        )
    ordered = sorted(group, key=lambda p: p.name)
    key = group_key(names)
    k = cfg.num_players
    out = []
    for r in range(first_round, first_round + rounds_for(games, k)):
        shift = r % k
        seats = tuple(ordered[shift:] + ordered[:shift])
        match_id = f"{tournament_id}/{key}/{r}"
        seed = match_seed(match_id)
        opening = match_seed(f"{tournament_id}/{key}/opening/{r // k}")
        out.append(ScheduledMatch(match_id, tournament_id, cfg.name, seats, r, seed, opening))
    return out


def elo_ranking(record: GameRecord, names: Sequence[str]) -> list[list[str]]:
    """The Elo ranking (tiers best first) of a finished game whose seats are ``names``."""
    if record.result.termination == "move_cap":
        return [list(names)]
    return [[names[seat - 1]] for seat in record.result.ranking]


# --------------------------------------------------------------------------- playing


@dataclass(frozen=True, slots=True)
class MatchEvent:
    """What a worker reports: ``game`` (one match played and stored), ``skip`` (already in the
    log), ``pause``/``resume`` (the guard's ``reason``), ``done`` (``reason`` non-empty if it
    stopped early) or ``error``."""

    kind: str
    worker: int
    match_id: str = ""
    moves: int = 0
    termination: str = ""
    reason: str = ""


@dataclass
class MatchReport:
    """The outcome of ``run_matches``: match ids played now, skipped as already logged, and
    why workers stopped early or failed."""

    played: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    stopped: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def complete(self) -> bool:
        """Every scheduled match is in the log (played now or before)."""
        return not self.stopped and not self.failed

    def add(self, ev: MatchEvent) -> None:
        if ev.kind == "game":
            self.played.append(ev.match_id)
        elif ev.kind == "skip":
            self.already.append(ev.match_id)
        elif ev.kind == "done" and ev.reason:
            self.stopped[ev.worker] = ev.reason
        elif ev.kind == "error":
            self.failed[ev.worker] = ev.reason


@dataclass(frozen=True)
class MatchJob:
    """One worker's share (picklable: it crosses into a spawned process)."""

    store_url: str
    matches: tuple[ScheduledMatch, ...]
    source: str
    max_steps: int | None = None
    worker: int = 0
    guard: Guard | None = None
    pause_poll_s: float = 10.0
    pause_timeout_s: float = 600.0
    torch_threads: int = 1
    opening_plies: int = 0


class MatchWorker:
    """Plays a ``MatchJob`` in this process, storing each game and match as it finishes."""

    def __init__(self, job: MatchJob, store: Store | None = None) -> None:
        self.job = job
        self._own_store = store is None
        if store is None:
            from ringrift_tasks.store import open_store

            store = open_store(job.store_url)
        self.store = store
        self._agents: dict[str, Agent] = {}

    def _agent(self, spec: str) -> Agent:
        agent = self._agents.get(spec)
        if agent is None:
            agent = self._agents[spec] = agent_from_spec(spec)
        # A fresh game must not depend on the last one (a kept search tree would make the
        # game a function of the play order, not of its seed alone).
        forget_last_game([agent])
        return agent

    def play(self, m: ScheduledMatch) -> GameRecord:
        """Play one match and store it (pool, then Elo log); returns its record."""
        from ringrift_tasks.selfplay.play import play_game

        names = [p.name for p in m.seats]
        # Two seats of one spec share the agent object: safe, it is reset per game only
        # and search agents rebuild when the position is not in their kept tree.
        agents = [self._agent(p.spec) for p in m.seats]
        record = play_game(
            m.config,
            agents,
            m.seed,
            source=self.job.source,
            kind="evaluation",
            max_steps=self.job.max_steps,
            opening_plies=self.job.opening_plies,
            opening_seed=m.opening_seed,
        )
        self.store.pool.insert_records([record])
        self.store.elo.record_match(
            m.match_id,
            m.config,
            names,
            elo_ranking(record, names),
            played_at=record.created_at,
            source=m.tournament_id,
            game_id=record.game_id,
        )
        return record

    def run(self, emit: Callable[[MatchEvent], None] = lambda ev: None) -> int:
        """Play every match of the job not yet logged; returns how many were played."""
        job = self.job
        played = 0
        stopped = ""
        try:
            for m in job.matches:
                if job.guard is not None:
                    stopped = self._wait_for_guard(emit)
                    if stopped:
                        break
                record = self.play(m)
                played += 1
                emit(
                    MatchEvent(
                        "game",
                        job.worker,
                        match_id=m.match_id,
                        moves=record.num_moves,
                        termination=record.result.termination,
                    )
                )
        finally:
            if self._own_store:
                self.store.close()
        emit(MatchEvent("done", job.worker, reason=stopped))
        return played

    def _wait_for_guard(self, emit: Callable[[MatchEvent], None]) -> str:
        job = self.job
        assert job.guard is not None
        reason = job.guard()
        if not reason:
            return ""
        emit(MatchEvent("pause", job.worker, reason=reason))
        deadline = time.monotonic() + job.pause_timeout_s
        while reason:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"paused for {job.pause_timeout_s:g}s and gave up: {reason}"
            time.sleep(min(job.pause_poll_s, remaining))
            reason = job.guard()
        emit(MatchEvent("resume", job.worker))
        return ""


def _worker_main(job: MatchJob, events: Any) -> None:
    """Process entry point: run the job, report a failure as an ``error`` event."""
    exit_with_parent()
    limit_torch_threads(job.torch_threads)
    try:
        MatchWorker(job).run(events.put)
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        events.put(MatchEvent("error", job.worker, reason=detail))
        traceback.print_exc()
        raise SystemExit(1) from None


@dataclass(frozen=True)
class ResourceWait:
    """The workers' guard: returns the ``ResourceGuard``'s reason while disk or memory is
    critical. CPU and load are not checked: the tournament itself keeps them busy."""

    limits: ResourceLimits | None = None
    path: Path | None = None

    def __call__(self) -> str | None:
        from ringrift_tasks.resources import DISK, MEMORY, ResourceGuard

        guard = ResourceGuard(self.limits, self.path, checks=(DISK, MEMORY))
        return None if guard.check() else guard.reason


def round_of(match_id: str) -> int:
    """The round number at the end of a match id made by ``schedule_group``."""
    return int(match_id.rsplit("/", 1)[1])


def logged_match_ids(store: Store, config: str, prefix: str = "") -> set[str]:
    """Match ids of ``config`` already in the Elo log (those starting with ``prefix``)."""
    return {m.match_id for m in store.elo.matches(config) if m.match_id.startswith(prefix)}


def store_url_of(store: Store) -> str:
    """The full URL of ``store`` (password included: worker processes open it again)."""
    return store.engine.url.render_as_string(hide_password=False)


def run_matches(
    store: Store,
    matches: Sequence[ScheduledMatch],
    *,
    workers: int = 1,
    max_steps: int | None = None,
    source: str | None = None,
    guard: Guard | None = None,
    progress: Callable[[MatchEvent], None] | None = None,
    start_method: str | None = "spawn",
    pause_poll_s: float = 10.0,
    pause_timeout_s: float = 600.0,
    torch_threads: int = 1,
    opening_plies: int = 0,
) -> MatchReport:
    """Play the ``matches`` not yet in the Elo log, in ``workers`` processes.

    ``store`` is read here (which matches are logged) and opened again by URL in each
    worker. Pending matches go to worker ``i % workers`` in schedule
    order. ``start_method`` "spawn" (default; a calling script needs the ``__main__``
    guard) or "fork"; ``None`` plays in this process (tests, one-off CLI runs).
    ``guard`` (picklable, e.g. ``ResourceWait``) is asked before every game; ``progress``
    runs here once per ``MatchEvent``. ``source`` names this node in the game records
    (default: the host name). A worker that fails or dies is reported in ``failed``; what
    every worker stored before stays stored. Each worker process gives torch
    ``torch_threads`` threads (``workers.limit_torch_threads``). Every game opens with
    ``opening_plies`` random moves (``play_game``; the match's ``opening_seed``).
    """
    ids = [m.match_id for m in matches]
    if len(set(ids)) != len(ids):
        raise MatchError("run_matches: the schedule repeats a match id")
    for spec in {p.spec for m in matches for p in m.seats}:
        try:
            agent_from_spec(spec)  # fail here, naming the spec, not in every worker
        except ValueError as exc:
            raise MatchError(str(exc)) from None
    done: set[str] = set()
    for config in {m.config for m in matches}:
        done |= logged_match_ids(store, config)
    report = MatchReport(already=[i for i in ids if i in done])
    pending = tuple(m for m in matches if m.match_id not in done)
    start = time.monotonic()
    node = source or socket.gethostname()
    store_url = store_url_of(store)
    if not pending:
        return report
    n = 1 if start_method is None else max(1, min(workers, len(pending)))
    jobs = [
        MatchJob(
            store_url,
            pending[w::n],
            node,
            max_steps,
            w,
            guard,
            pause_poll_s,
            pause_timeout_s,
            torch_threads,
            opening_plies,
        )
        for w in range(n)
    ]
    if start_method is None:

        def emit(ev: MatchEvent) -> None:
            report.add(ev)
            if progress is not None:
                progress(ev)

        MatchWorker(jobs[0], store).run(emit)
        report.elapsed_s = time.monotonic() - start
        return report

    ctx = mp.get_context(start_method)
    events = ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, args=(job, events), name=f"match-{job.worker}")
        for job in jobs
    ]
    finished: set[int] = set()
    dead_since: dict[int, float] = {}
    started: list[Any] = []
    try:
        for p in procs:
            p.start()
            started.append(p)
        while len(finished) < len(procs):
            try:
                ev = events.get(timeout=0.2)
            except queue_mod.Empty:
                _note_dead_workers(procs, finished, dead_since, report)
                continue
            report.add(ev)
            if ev.kind in ("done", "error"):
                finished.add(ev.worker)
            if progress is not None:
                progress(ev)
    finally:
        for w, p in enumerate(started):
            if p.is_alive() and w not in finished:
                p.terminate()
        for p in started:
            p.join()
        events.close()
    report.elapsed_s = time.monotonic() - start
    return report


def _note_dead_workers(
    procs: list[Any], finished: set[int], dead_since: dict[int, float], report: MatchReport
) -> None:
    """Mark workers that died without a final event as failed (killed, crashed)."""
    now = time.monotonic()
    for w, p in enumerate(procs):
        if w in finished or p.is_alive():
            continue
        first_seen = dead_since.setdefault(w, now)
        if p.exitcode != 0 or now - first_seen > _LATE_EVENT_S:
            report.failed[w] = f"exited with code {p.exitcode} before reporting its end"
            finished.add(w)
