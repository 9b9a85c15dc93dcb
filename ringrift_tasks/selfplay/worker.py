"""Self-play workers: processes that play games and hand them over as sealed shards.

``run_selfplay`` starts one process per worker. Game ``i`` of a run (``0 <= i < games``)
is played with the seed ``game_seed(seed, i)``. The games are cut into chunks (of
``parallel_games`` consecutive indices where they are played together, see below, else of
one), dealt to the workers in turn (``assign_games``), so a run's games depend on its seed,
game count and chunk size only, never on how many workers played them: a retried task
replays the same games whatever its worker count.

Where every seat plays the same search agent (the best model in the loop's self-play), a
worker plays a whole chunk at once (``batched_play.play_games_batched``): the chunk's
searches share each network call, which is what keeps a GPU busy and, on a CPU, plays about
3x the games per second. It is the same search as playing the games one by one with one
agent object on every seat (as workers do: seats of one spec share the agent, reset before
each game); only a network's floating-point results may differ in the last bits between
batch sizes. Other agents (the heuristic, mixed seats) play one game at a time.

A worker buffers finished games and writes them as one sealed shard
(``records.shard.write_shard``: temporary name, fsync, content-hash rename) every
``games_per_shard`` games and at the end. Killing a worker at any moment loses at most its
unsealed games; it never leaves a half shard under a sealed name. Each worker process gives
torch ``torch_threads`` threads (``workers.limit_torch_threads``).

Between games a worker asks its ``guard`` (``() -> reason | None``) whether it should
pause. On a reason it first seals what it has, then re-asks every ``pause_poll_s`` seconds
and gives up (stops early, reporting the reason) after ``pause_timeout_s``. ``ResourcePause``
is the guard built on ``resources.ResourceGuard``.

Workers report ``SelfPlayEvent``s through a queue; ``run_selfplay`` passes each one to its
``progress`` callback (in the calling process) and returns a ``SelfPlayReport``.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue as queue_mod
import socket
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.ai.agent import Agent, agent_from_spec, forget_last_game
from ringrift_tasks.ai.search_agent import SearchAgent
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.rules.state import GameConfig
from ringrift_tasks.selfplay.batched_play import play_games_batched
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.selfplay.temperature import DEFAULT_SCHEDULE, TemperatureSchedule
from ringrift_tasks.workers import exit_with_parent, limit_torch_threads

if TYPE_CHECKING:
    from ringrift_tasks.config import ResourceLimits, RingriftConfig

Guard = Callable[[], str | None]
# A worker that exited cleanly has sent its last event before exiting; allow this long for
# it to arrive before calling the worker lost.
_LATE_EVENT_S = 5.0


class SelfPlayError(RuntimeError):
    """One or more workers failed; ``report`` holds what the others (and they) finished."""

    def __init__(self, message: str, report: SelfPlayReport) -> None:
        super().__init__(message)
        self.report = report


def assign_games(games: int, workers: int, parallel_games: int = 1) -> list[tuple[int, ...]]:
    """The game indices of each of (at most) ``workers`` workers: chunks of
    ``parallel_games`` consecutive indices dealt round-robin, no worker left empty. With
    ``parallel_games=1`` worker ``w`` plays ``w, w + workers, ...``."""
    if games < 0 or workers < 1 or parallel_games < 1:
        raise ValueError(
            f"assign_games: expected games >= 0, workers >= 1, parallel_games >= 1; got "
            f"games={games}, workers={workers}, parallel_games={parallel_games}"
        )
    chunks = [range(i, min(i + parallel_games, games)) for i in range(0, games, parallel_games)]
    used = max(1, min(workers, len(chunks)))
    return [tuple(i for chunk in chunks[w::used] for i in chunk) for w in range(used)]


def plays_in_batches(agents: Sequence[Agent], parallel_games: int) -> bool:
    """Whether games with these seat ``agents`` are played ``parallel_games`` at a time:
    one search agent on every seat, and more than one game at once."""
    return (
        parallel_games > 1
        and all(a is agents[0] for a in agents)
        and isinstance(agents[0], SearchAgent)
    )


def game_seed(base_seed: int, index: int) -> int:
    """The 32-bit seed of game ``index`` of a run seeded ``base_seed``."""
    digest = hashlib.sha256(f"ringrift-selfplay:{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class SelfPlayEvent:
    """What a worker reports.

    ``kind``: ``game`` (one game finished: ``moves``, ``termination``), ``shard`` (a shard
    was sealed: ``shard`` path, ``games`` in it), ``pause`` / ``resume`` (the guard's
    ``reason``), ``done`` (the worker finished: ``games`` played, ``reason`` non-empty if it
    stopped early) or ``error`` (the worker failed: ``reason``).
    """

    kind: str
    worker: int
    games: int = 0
    moves: int = 0
    termination: str = ""
    shard: str = ""
    reason: str = ""


@dataclass
class SelfPlayReport:
    """The outcome of a run: games and moves played, the sealed shards, stop reasons."""

    games: int = 0
    moves: int = 0
    shards: list[Path] = field(default_factory=list)
    terminations: Counter[str] = field(default_factory=Counter)
    stopped: dict[int, str] = field(default_factory=dict)  # worker -> why it stopped early
    failed: dict[int, str] = field(default_factory=dict)  # worker -> why it failed
    elapsed_s: float = 0.0

    def add(self, ev: SelfPlayEvent) -> None:
        if ev.kind == "game":
            self.games += 1
            self.moves += ev.moves
            self.terminations[ev.termination] += 1
        elif ev.kind == "shard":
            self.shards.append(Path(ev.shard))
        elif ev.kind == "done" and ev.reason:
            self.stopped[ev.worker] = ev.reason
        elif ev.kind == "error":
            self.failed[ev.worker] = ev.reason


@dataclass(frozen=True)
class SelfPlayJob:
    """Everything one worker needs (picklable: it crosses into a spawned process).

    ``game_indices``: the run's game numbers this worker plays (seeds via ``game_seed``).
    ``agent_specs``: one ``agent_from_spec`` string per seat. ``parallel_games``: how many
    of them to play at once when every seat is the same search agent.
    """

    config: str
    agent_specs: tuple[str, ...]
    out_dir: Path
    base_seed: int
    game_indices: Sequence[int]
    games_per_shard: int
    source: str
    worker: int = 0
    temperature: TemperatureSchedule | None = DEFAULT_SCHEDULE
    max_steps: int | None = None
    guard: Guard | None = None
    pause_poll_s: float = 10.0
    pause_timeout_s: float = 600.0
    parallel_games: int = 1
    torch_threads: int = 1


class SelfPlayWorker:
    """Plays a ``SelfPlayJob``'s games in this process and seals them into shards."""

    def __init__(self, job: SelfPlayJob) -> None:
        cfg = GameConfig.parse(job.config)
        if len(job.agent_specs) != cfg.num_players:
            raise ValueError(
                f"self-play {job.config}: {len(job.agent_specs)} agent specs for "
                f"{cfg.num_players} seats"
            )
        if job.games_per_shard < 1:
            raise ValueError(f"games_per_shard must be >= 1, got {job.games_per_shard}")
        self.job = job
        by_spec = {spec: agent_from_spec(spec) for spec in job.agent_specs}
        self.agents: list[Agent] = [by_spec[spec] for spec in job.agent_specs]

    @property
    def batched(self) -> bool:
        """Whether the games are played ``parallel_games`` at a time (every seat the same
        search agent, more than one game at once)."""
        return plays_in_batches(self.agents, self.job.parallel_games)

    def run(self, emit: Callable[[SelfPlayEvent], None] = lambda ev: None) -> int:
        """Play every game of the job; returns the number played. Emits events as it goes."""
        job = self.job
        pending: list[GameRecord] = []
        played = 0
        stopped = ""
        step = job.parallel_games if self.batched else 1
        indices = list(job.game_indices)
        for at in range(0, len(indices), step):
            if job.guard is not None:
                stopped = self._wait_for_guard(pending, emit)
                if stopped:
                    break
            for record in self._play(indices[at : at + step]):
                pending.append(record)
                played += 1
                emit(
                    SelfPlayEvent(
                        "game",
                        job.worker,
                        games=1,
                        moves=record.num_moves,
                        termination=record.result.termination,
                    )
                )
                if len(pending) >= job.games_per_shard:
                    self._seal(pending, emit)
        self._seal(pending, emit)
        emit(SelfPlayEvent("done", job.worker, games=played, reason=stopped))
        return played

    def _play(self, indices: Sequence[int]) -> list[GameRecord]:
        job = self.job
        seeds = [game_seed(job.base_seed, i) for i in indices]
        if len(seeds) > 1:
            agent = self.agents[0]
            assert isinstance(agent, SearchAgent)
            return play_games_batched(
                [(job.config, seed) for seed in seeds],
                agent.evaluator,
                agent.config,
                agent_name=agent.name,
                source=job.source,
                kind="selfplay",
                max_steps=job.max_steps,
                temperature=job.temperature,
                reuse_tree=agent.reuse_tree,
            )
        forget_last_game(self.agents)
        return [
            play_game(
                job.config,
                self.agents,
                seeds[0],
                source=job.source,
                kind="selfplay",
                max_steps=job.max_steps,
                temperature=job.temperature,
            )
        ]

    def _seal(self, pending: list[GameRecord], emit: Callable[[SelfPlayEvent], None]) -> None:
        if not pending:
            return
        info = write_shard(self.job.out_dir, pending, node=self.job.source)
        emit(SelfPlayEvent("shard", self.job.worker, games=info.games, shard=str(info.path)))
        pending.clear()

    def _wait_for_guard(
        self, pending: list[GameRecord], emit: Callable[[SelfPlayEvent], None]
    ) -> str:
        """Block while the guard says pause; returns the reason if we must stop, else ''."""
        job = self.job
        assert job.guard is not None
        reason = job.guard()
        if not reason:
            return ""
        # Seal finished work first: a pause may end in the task being killed.
        self._seal(pending, emit)
        emit(SelfPlayEvent("pause", job.worker, reason=reason))
        deadline = time.monotonic() + job.pause_timeout_s
        while reason:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"paused for {job.pause_timeout_s:g}s and gave up: {reason}"
            time.sleep(min(job.pause_poll_s, remaining))
            reason = job.guard()
        emit(SelfPlayEvent("resume", job.worker))
        return ""


def worker_main(job: SelfPlayJob, events: Any) -> None:
    """Process entry point: run the job, report failures as an ``error`` event."""
    exit_with_parent()
    limit_torch_threads(job.torch_threads)
    try:
        SelfPlayWorker(job).run(events.put)
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        events.put(SelfPlayEvent("error", job.worker, reason=detail))
        traceback.print_exc()
        raise SystemExit(1) from None


@dataclass(frozen=True)
class ResourcePause:
    """A guard on ``resources.ResourceGuard``: returns its reason when disk or memory is
    critical. CPU and load are not checked: self-play itself keeps them busy."""

    limits: ResourceLimits | None = None  # None: the loaded config's
    path: Path | None = None  # whose disk to check (the data home); None: the config's home

    def __call__(self) -> str | None:
        from ringrift_tasks.resources import DISK, MEMORY, ResourceGuard

        guard = ResourceGuard(self.limits, self.path, checks=(DISK, MEMORY))
        return None if guard.check() else guard.reason


def run_selfplay(
    config_name: str,
    games: int,
    workers: int,
    out_dir: Path,
    agent_spec: str | Sequence[str],
    seed: int,
    games_per_shard: int,
    guard: Guard | None = None,
    progress: Callable[[SelfPlayEvent], None] | None = None,
    *,
    temperature: TemperatureSchedule | None = DEFAULT_SCHEDULE,
    max_steps: int | None = None,
    source: str | None = None,
    start_method: str = "spawn",
    pause_poll_s: float = 10.0,
    pause_timeout_s: float = 600.0,
    parallel_games: int = 1,
    torch_threads: int = 1,
) -> SelfPlayReport:
    """Play ``games`` games of ``config_name`` in ``workers`` processes into ``out_dir``.

    ``agent_spec``: one spec for every seat (``"heuristic"``) or one per seat. ``guard``
    must be picklable (a module-level function or an object such as ``ResourcePause``):
    it runs inside the workers. ``progress`` runs here, once per ``SelfPlayEvent``.
    ``source`` names this node in the records (default: the host name). Workers start
    with ``start_method`` ("spawn": safe beside threads and CUDA; a script calling this
    needs the usual ``if __name__ == "__main__":`` guard; "fork" starts faster). Raises
    ``SelfPlayError`` (with the report) if a worker failed or died; the shards that any
    worker sealed before that stay valid. ``parallel_games`` and ``torch_threads``: see the
    module doc.
    """
    cfg = GameConfig.parse(config_name)
    if games < 0 or workers < 1 or games_per_shard < 1 or parallel_games < 1 or torch_threads < 1:
        raise ValueError(
            f"run_selfplay: expected games >= 0, workers >= 1, games_per_shard >= 1, "
            f"parallel_games >= 1, torch_threads >= 1; got games={games}, workers={workers}, "
            f"games_per_shard={games_per_shard}, parallel_games={parallel_games}, "
            f"torch_threads={torch_threads}"
        )
    specs = (agent_spec,) * cfg.num_players if isinstance(agent_spec, str) else tuple(agent_spec)
    # Fail here, with the spec named, not in every worker.
    by_spec = {spec: agent_from_spec(spec) for spec in specs}
    # Only games played together are dealt in chunks; one by one, chunks of 1 spread them.
    chunk = parallel_games if plays_in_batches([by_spec[s] for s in specs], parallel_games) else 1
    node = source or socket.gethostname()
    jobs = [
        SelfPlayJob(
            config=cfg.name,
            agent_specs=specs,
            out_dir=Path(out_dir),
            base_seed=seed,
            game_indices=indices,
            games_per_shard=games_per_shard,
            source=node,
            worker=w,
            temperature=temperature,
            max_steps=max_steps,
            guard=guard,
            pause_poll_s=pause_poll_s,
            pause_timeout_s=pause_timeout_s,
            parallel_games=parallel_games,
            torch_threads=torch_threads,
        )
        for w, indices in enumerate(assign_games(games, workers, chunk))
    ]
    report = SelfPlayReport()
    start = time.monotonic()
    ctx = mp.get_context(start_method)
    events = ctx.Queue()
    procs = [
        ctx.Process(target=worker_main, args=(job, events), name=f"selfplay-{job.worker}")
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
        # Normally all have ended; on an interrupt here, stop the rest (their sealed shards
        # stay valid, their unsealed games are lost).
        for p in started:
            if p.is_alive() and procs.index(p) not in finished:
                p.terminate()
        for p in started:
            p.join()
        events.close()
    report.elapsed_s = time.monotonic() - start
    if report.failed:
        detail = "; ".join(f"worker {w}: {why}" for w, why in sorted(report.failed.items()))
        raise SelfPlayError(f"self-play {cfg.name}: {detail}", report)
    return report


def _note_dead_workers(
    procs: list[Any], finished: set[int], dead_since: dict[int, float], report: SelfPlayReport
) -> None:
    """Mark workers that died without a final event as failed (killed, crashed)."""
    now = time.monotonic()
    for w, p in enumerate(procs):
        if w in finished or p.is_alive():
            continue
        # A clean exit's last event may still be in flight; a killed worker sends none.
        first_seen = dead_since.setdefault(w, now)
        if p.exitcode != 0 or now - first_seen > _LATE_EVENT_S:
            report.failed[w] = f"exited with code {p.exitcode} before reporting its end"
            finished.add(w)


def selfplay_from_config(
    cfg: RingriftConfig,
    config_name: str,
    games: int,
    agent_spec: str | Sequence[str] = "heuristic",
    seed: int | None = None,
    *,
    workers: int | None = None,
    progress: Callable[[SelfPlayEvent], None] | None = None,
    resource_guard: bool = True,
) -> SelfPlayReport:
    """``run_selfplay`` with the loop config's settings: workers, games per shard, parallel
    games and the temperature schedule from ``cfg.selfplay``, torch threads per worker from
    ``cfg.resources``, shards into ``cfg.paths.shards_incoming``,
    the ``ResourcePause`` guard on the data home (unless ``resource_guard=False``) and this
    host's name as source. ``seed`` defaults to the clock in nanoseconds (distinct runs,
    distinct games)."""
    sp = cfg.selfplay
    return run_selfplay(
        config_name,
        games,
        workers or sp.workers,
        cfg.paths.shards_incoming,
        agent_spec,
        time.time_ns() if seed is None else seed,
        sp.games_per_shard,
        ResourcePause(cfg.resources, cfg.home) if resource_guard else None,
        progress,
        temperature=TemperatureSchedule.from_settings(sp),
        parallel_games=sp.parallel_games,
        torch_threads=cfg.resources.worker_torch_threads,
    )
