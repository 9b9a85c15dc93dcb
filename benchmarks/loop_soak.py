"""Unattended run of the whole loop on the embedded default, with a crash in the middle.

Starts ``airflow standalone`` (SQLite, LocalExecutor; ``tests/airflow/standalone.py``) on a
fresh AIRFLOW_HOME and RINGRIFT_HOME under ``<out>/work`` with square8_2p enabled, unpauses
every DAG of ``dags/`` and lets them run on their own schedules for ``--minutes``. The only
thing the soak itself schedules is the full Elo tournament, triggered every
``--tournament-every`` minutes (its DAG's own schedule is hourly), so that the best model's
Elo can be followed. Config overrides for a 2-core machine come in as ``RINGRIFT__*``
environment variables (``SOAK_OVERRIDES``, all listed in the report).

At ``--kill-at-minute`` it SIGKILLs a running task (the task's supervisor process and
everything under it) and the scheduler, then starts a new ``airflow scheduler`` with the
same environment. ``airflow standalone`` neither notices nor restarts a dead component (its
threads only stream output), so the soak starts the new scheduler itself, in its own
session, and stops it at the end.

After ``--minutes`` it pauses every DAG, waits up to ``--drain-minutes`` for running DAG
runs to finish, stops everything (failing if a process is left), runs the integrity check
(``ringrift_tasks.integrity``) and writes ``report.md``, ``report.json`` and
``elo_over_time.png`` into ``--out``.

    PYTHONPATH=. .venv/bin/python benchmarks/loop_soak.py --minutes 120 --kill-at-minute 60 \\
        --out /tmp/soak
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.airflow.standalone import (  # noqa: E402
    VENV_BIN,
    Standalone,
    free_port,
    login,
    processes_naming,
    running_standalone,
    unpause,
    wait_dag_parsed,
    wait_healthy,
)

CONFIG = "square8_2p"
BASELINES = ("random", "heuristic", "mcts_100")
DAG_IDS = tuple(sorted(p.stem for p in (REPO / "dags").glob("ringrift_*.py")))
SENSOR_TASKS = ("wait_for_resources", "backpressure")
SAMPLE_EVERY_S = 10.0

# What the soak changes from config/ringrift.yaml and Airflow's defaults, and why.
SOAK_OVERRIDES: dict[str, str] = {
    # One self-play round (every 10 min) is enough new data to train.
    "RINGRIFT__TRAINING__MIN_NEW_GAMES": "80",
    # Rounds come every 10 minutes: a 10-minute interval would miss every other one (the
    # gate is asked when games arrive, a round a few seconds early is refused).
    "RINGRIFT__TRAINING__MIN_INTERVAL_S": "300",
    # The tower benchmarks/strength.py trains in minutes on a CPU (the board default, 6x64,
    # takes hours per training on 2 cores).
    "RINGRIFT__TRAINING__MODEL_SIZE": "2x32",
    # benchmarks/strength.py's recipe per generation (500 steps of 64, from the parent): on
    # a few hundred games 1000 x 256 would mostly overfit, and cost 4x the CPU.
    "RINGRIFT__TRAINING__STEPS": "500",
    "RINGRIFT__TRAINING__BATCH_SIZE": "64",
    # Self-play: 100 games a round; once a best exists it plays them itself (the default
    # selfplay.agent: best) with 16 simulations, as the strength benchmark does.
    "RINGRIFT__SELFPLAY__GAMES_PER_ROUND": "100",
    "RINGRIFT__SELFPLAY__MODEL_SIMS": "16",
    # Models play tournaments and gates with 16 simulations too (100 would make one gate
    # take half an hour on 2 cores).
    "RINGRIFT__TOURNAMENT__MODEL_SIMS": "16",
    # The fixed ladder of the issue: random pinned at 400, heuristic, mcts_100 (no mcts_500,
    # too slow for 2 cores); few games so a tournament takes minutes, not an hour.
    "RINGRIFT__TOURNAMENT__BASELINES": ",".join(BASELINES),
    "RINGRIFT__TOURNAMENT__GAMES": "8",
    "RINGRIFT__SHADOW__GAMES_PER_CONFIG": "6",
    # A gate of up to 200 games (minutes at 16 simulations); at the cap the candidate must
    # score with a 95% lower bound of 0.52 (clearly better than the best, by a smaller
    # margin than the 0.55 of a long-running loop); promotions may follow sooner.
    "RINGRIFT__PROMOTION__MAX_GAMES": "200",
    "RINGRIFT__PROMOTION__WILSON_LOWER_BOUND": "0.52",
    "RINGRIFT__PROMOTION__COOLDOWN_S": "600",
    # The box is busy by design (this soak, other work): CPU and load never block a task.
    # Memory and disk keep real limits, so the guard can still intervene.
    "RINGRIFT__RESOURCES__CPU_CRITICAL_PCT": "100",
    "RINGRIFT__RESOURCES__LOAD_CRITICAL_FACTOR": "1000",
    "RINGRIFT__RESOURCES__MEMORY_CRITICAL_PCT": "92",
    # DAGs are created paused and the soak unpauses every one once the API server answers:
    # unpaused at creation, the scheduler starts tasks before the API server (60 s to start
    # on a loaded 2-core box) can take their calls, and they fail at once.
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    # A killed task is noticed (and retried) after 90 s without heartbeat, not 300 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "90",
}


def log(msg: str) -> None:
    print(f"soak {time.strftime('%H:%M:%S')} {msg}", flush=True)


# --------------------------------------------------------------------------- sampling


@dataclass
class Samples:
    """Memory of the loop's process tree and disk of its homes, every ``SAMPLE_EVERY_S``."""

    t: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    disk_mb: list[float] = field(default_factory=list)


class RunProcesses:
    """Every process of the run: descendants of the roots (the standalone, a restarted
    scheduler), processes whose cmdline or environment name the AIRFLOW_HOME, and any
    process seen before that is still alive (orphans of a killed parent). The tree is
    needed because Airflow retitles its workers (setproctitle), which can overwrite the
    environment that ``processes_naming`` reads."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.roots: list[int] = []
        self._seen: dict[int, float] = {}  # pid -> create_time
        self._lock = threading.Lock()

    def add_root(self, pid: int) -> None:
        with self._lock:
            self.roots.append(pid)

    def current(self) -> list[psutil.Process]:
        with self._lock:
            roots = list(self.roots)
            seen = dict(self._seen)
        found: dict[int, psutil.Process] = {}
        for pid in roots:
            try:
                root = psutil.Process(pid)
                for p in (root, *root.children(recursive=True)):
                    found[p.pid] = p
            except psutil.NoSuchProcess:
                continue
        for pid in processes_naming(self.marker):
            try:
                found.setdefault(pid, psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        for pid, created in seen.items():
            if pid in found:
                continue
            try:
                p = psutil.Process(pid)
                if p.create_time() == created:
                    found[pid] = p
            except psutil.NoSuchProcess:
                continue
        alive = []
        for pid, p in found.items():
            try:
                created = p.create_time()
                if p.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.NoSuchProcess:
                continue
            alive.append(p)
            with self._lock:
                self._seen[pid] = created
        return alive

    def table(self) -> list[dict[str, Any]]:
        """pid, ppid and cmdline of every live process of the run."""
        out = []
        for p in self.current():
            try:
                out.append(
                    {"pid": p.pid, "ppid": p.ppid(), "cmdline": " ".join(p.cmdline()).strip()}
                )
            except psutil.Error:
                continue
        return sorted(out, key=lambda r: r["pid"])

    def rss_mb(self) -> tuple[float, int]:
        """Total RSS (MiB) of the run's processes and their count."""
        total, n = 0, 0
        for p in self.current():
            try:
                total += p.memory_info().rss
                n += 1
            except psutil.Error:
                continue
        return total / 2**20, n


def dir_mb(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total / 2**20


class Sampler(threading.Thread):
    def __init__(self, procs: RunProcesses, home: Path) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.procs, self.home = procs, home
        self.samples = Samples()
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            rss, n = self.procs.rss_mb()
            s = self.samples
            s.t.append(time.time())
            s.rss_mb.append(round(rss, 1))
            s.processes.append(n)
            s.disk_mb.append(round(dir_mb(self.home), 1))
            self.stop_event.wait(SAMPLE_EVERY_S)


# --------------------------------------------------------------------------- processes


def find_scheduler(table: list[dict[str, Any]], standalone_pid: int) -> dict[str, Any] | None:
    """The ``airflow scheduler`` process (the standalone's child, or our restarted one)."""
    for p in table:
        if p["cmdline"].split()[-1:] == ["scheduler"] and p["ppid"] == standalone_pid:
            return p
    for p in table:
        if p["cmdline"].split()[-1:] == ["scheduler"]:
            return p
    return None


# A LocalExecutor worker is titled "airflow worker -- LocalExecutor: <ti id>" while it
# supervises a task (its task process, "airflow worker -- <ti id>", is its child).
_BUSY_WORKER = re.compile(r"LocalExecutor: ([0-9a-f-]{36})")
_DAG_PREFERENCE = ("training", "selfplay", "promotion", "elo_tournament", "shadow", "maintenance")


def find_task_worker(
    table: list[dict[str, Any]], running: dict[str, dict[str, Any]], *, heavy_only: bool
) -> dict[str, Any] | None:
    """A LocalExecutor worker busy with a running task instance (``running``: API task
    instances by id), heavier DAGs first; the sync only when ``heavy_only`` is False."""
    busy = []
    for p in table:
        m = _BUSY_WORKER.search(p["cmdline"])
        if m and m.group(1) in running:
            ti = running[m.group(1)]
            rank = next(
                (i for i, d in enumerate(_DAG_PREFERENCE) if d in ti["dag_id"]),
                len(_DAG_PREFERENCE),
            )
            busy.append((rank, p["pid"], {**p, "ti": _ti(ti)}))
    busy.sort(key=lambda b: (b[0], b[1]))
    if not busy or (heavy_only and busy[0][0] == len(_DAG_PREFERENCE)):
        return None
    return busy[0][2]


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants; returns the pids killed."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    killed = []
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
            killed.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return killed


def start_scheduler(server: Standalone, log_path: Path) -> subprocess.Popen[bytes]:
    """A new ``airflow scheduler`` with the standalone's environment, in its own session."""
    env = dict(server.env)
    # What `airflow standalone` adds to its components' environment (calculate_env).
    env["AIRFLOW__CORE__AUTH_MANAGER"] = (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [str(VENV_BIN / "airflow"), "scheduler"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM the group, wait, then SIGKILL it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- REST API


def api_list(server: Standalone, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list endpoint."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        resp = server.api("GET", path, params={**params, "limit": 100, "offset": offset})
        resp.raise_for_status()
        body = resp.json()
        items = body[key]
        out += items
        offset += len(items)
        if not items or offset >= body.get("total_entries", 0):
            return out


def dag_runs(server: Standalone) -> list[dict[str, Any]]:
    return api_list(server, "/dags/~/dagRuns", "dag_runs")


def task_instances(server: Standalone) -> list[dict[str, Any]]:
    return api_list(server, "/dags/~/dagRuns/~/taskInstances", "task_instances")


def running_task_instances(server: Standalone) -> list[dict[str, Any]]:
    return api_list(server, "/dags/~/dagRuns/~/taskInstances", "task_instances", state="running")


def set_paused(server: Standalone, dag_id: str, paused: bool) -> None:
    resp = server.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
    resp.raise_for_status()


def trigger(server: Standalone, dag_id: str, run_id: str) -> None:
    from datetime import UTC, datetime

    resp = server.api(
        "POST",
        f"/dags/{dag_id}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": datetime.now(UTC).isoformat(), "conf": {}},
    )
    resp.raise_for_status()


# --------------------------------------------------------------------------- the run


@dataclass
class KillRecord:
    at: float = 0.0
    minute: float = 0.0
    games_before: int = 0
    task: dict[str, Any] | None = None
    task_killed_pids: list[int] = field(default_factory=list)
    scheduler: dict[str, Any] | None = None
    scheduler_killed_pids: list[int] = field(default_factory=list)
    running_tis: list[dict[str, Any]] = field(default_factory=list)
    standalone_alive_after: bool = False
    orphans_after_kill: list[dict[str, Any]] = field(default_factory=list)
    restarted_scheduler_pid: int | None = None
    healthy_again_after_s: float | None = None
    processes_before: list[dict[str, Any]] = field(default_factory=list)
    killed_ti_outcomes: list[dict[str, Any]] = field(default_factory=list)
    games_at_end: int = 0


def pool_count(home: Path) -> int:
    db = home / "ringrift.db"
    if not db.exists():
        return 0
    from ringrift_tasks.store import open_store

    with open_store(f"sqlite:///{db}") as store:
        return store.pool.count()


def do_kill(
    server: Standalone, procs: RunProcesses, loop_home: Path, work: Path, t0: float
) -> tuple[KillRecord, subprocess.Popen[bytes]]:
    rec = KillRecord(at=time.time(), minute=(time.time() - t0) / 60)
    rec.games_before = pool_count(loop_home)
    # A task must be running to be killed: prefer a heavy one (self-play, training, a
    # tournament) for up to 2 min, else whatever runs (the sync, every minute).
    deadline = time.monotonic() + 120
    task = None
    table: list[dict[str, Any]] = []
    running: dict[str, dict[str, Any]] = {}
    while task is None and time.monotonic() < deadline + 120:
        # The process table first (cheap), the API only when a worker is busy: a sync task
        # lives a few seconds.
        table = procs.table()
        if any(_BUSY_WORKER.search(p["cmdline"]) for p in table):
            running = {ti["id"]: ti for ti in running_task_instances(server)}
            heavy_only = time.monotonic() < deadline
            task = find_task_worker(table, running, heavy_only=heavy_only)
        if task is None:
            time.sleep(0.5)
    rec.processes_before = table
    rec.running_tis = [_ti(ti) for ti in running.values()]
    if task is not None and task["ti"] not in rec.running_tis:
        rec.running_tis.append(task["ti"])
    if task is not None:
        rec.task = task
        rec.task_killed_pids = kill_tree(task["pid"])
        log(
            f"SIGKILL task worker {task['pid']} ({task['ti']}) and its task process: "
            f"{rec.task_killed_pids}"
        )
    else:
        log("no running task within 4 min; killing only the scheduler")
    sched = find_scheduler(procs.table(), server.proc.pid)
    if sched is None:
        raise RuntimeError(f"no scheduler process among {table}")
    rec.scheduler = sched
    os.kill(sched["pid"], signal.SIGKILL)
    rec.scheduler_killed_pids = [sched["pid"]]
    log(f"SIGKILL scheduler {sched['pid']}")
    time.sleep(10)
    rec.standalone_alive_after = server.proc.poll() is None
    rec.orphans_after_kill = [
        p
        for p in procs.table()
        if p["ppid"] not in {q["pid"] for q in rec.processes_before} and p["pid"] != server.proc.pid
    ]
    new = start_scheduler(server, work / "scheduler-restarted.log")
    procs.add_root(new.pid)
    rec.restarted_scheduler_pid = new.pid
    log(f"restarted scheduler as pid {new.pid}; standalone alive: {rec.standalone_alive_after}")
    started = time.monotonic()
    wait_new_scheduler(server, since=time.time())
    rec.healthy_again_after_s = round(time.monotonic() - started, 1)
    log(f"healthy again after {rec.healthy_again_after_s} s")
    return rec, new


def wait_new_scheduler(server: Standalone, since: float, timeout: float = 300.0) -> None:
    """Until the health endpoint shows a scheduler heartbeat after ``since`` (the dead
    scheduler's last heartbeat keeps the status "healthy" for a while after the kill)."""
    from datetime import datetime

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = server.api("GET", "/monitor/health").json()
            beat = (body.get("scheduler") or {}).get("latest_scheduler_heartbeat")
            if beat and datetime.fromisoformat(beat).timestamp() > since:
                return
        except (ValueError, httpx.HTTPError) as exc:
            log(f"health not readable yet: {exc}")
        time.sleep(2)
    raise RuntimeError(f"no heartbeat of the restarted scheduler within {timeout:.0f} s")


def drain(server: Standalone, minutes: float) -> list[dict[str, Any]]:
    """Pause every DAG, then wait for running/queued DAG runs; returns those still going."""
    for dag_id in DAG_IDS:
        set_paused(server, dag_id, True)
    deadline = time.monotonic() + minutes * 60
    while True:
        going = [r for r in dag_runs(server) if r["state"] in ("running", "queued")]
        if not going or time.monotonic() > deadline:
            return [{k: r.get(k) for k in ("dag_id", "dag_run_id", "state")} for r in going]
        time.sleep(10)


def sweep(procs: RunProcesses) -> list[dict[str, Any]]:
    """Stop what outlived the standalone's shutdown: task processes of the restarted
    scheduler run in their own process group (and their retitled environment hides them from
    ``processes_naming``). SIGTERM, 10 s, then SIGKILL; returns what was found."""
    found = procs.table()
    for p in found:
        try:
            os.kill(p["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and procs.table():
        time.sleep(0.5)
    for p in procs.table():
        kill_tree(p["pid"])
    time.sleep(1)
    return found


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    work = out / "work"
    if work.exists():
        raise SystemExit(f"{work} exists: choose a new --out (the soak starts from empty homes)")
    work.mkdir(parents=True)
    marker = str(work / "airflow")
    env = dict(SOAK_OVERRIDES)
    # The log servers' fixed default ports (8793, 8794) are taken by any other Airflow on
    # the machine; free ones keep task logs readable from the UI.
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    state: dict[str, Any] = {"overrides": env, "args": vars(args)}
    kill: KillRecord | None = None
    restarted: subprocess.Popen[bytes] | None = None
    triggered: list[str] = []
    procs = RunProcesses(marker)
    sampler = Sampler(procs, work)
    with running_standalone(work, env) as server:
        try:
            wait_healthy(server)
            login(server)
            for dag_id in DAG_IDS:
                wait_dag_parsed(server, dag_id)
                unpause(server, dag_id)
            procs.add_root(server.proc.pid)
            t0 = time.time()
            state["started_at"] = t0
            sampler.start()
            log(f"standalone up at {server.base_url}, {len(DAG_IDS)} DAGs unpaused")
            next_tournament = t0 + args.first_tournament_minute * 60
            end = t0 + args.minutes * 60
            while time.time() < end:
                now = time.time()
                if server.proc.poll() is not None:
                    raise RuntimeError(f"airflow standalone exited:\n{server.tail()}")
                if now >= next_tournament:
                    run_id = f"soak_tournament_{int(now)}"
                    trigger(server, "ringrift_elo_tournament", run_id)
                    triggered.append(run_id)
                    log(f"triggered {run_id}")
                    next_tournament += args.tournament_every * 60
                if kill is None and args.kill_at_minute is not None:
                    if now >= t0 + args.kill_at_minute * 60:
                        kill, restarted = do_kill(server, procs, work / "ringrift", work, t0)
                time.sleep(5)
            log(f"{args.minutes} min up; pausing every DAG and draining")
            state["still_running_at_stop"] = drain(server, args.drain_minutes)
            state["dag_runs"] = dag_runs(server)
            state["task_instances"] = task_instances(server)
            state["stopped_at"] = time.time()
        finally:
            sampler.stop_event.set()
            if restarted is not None:
                stop_process_group(restarted)
    sampler.join(timeout=30)
    state["killed_after_stop"] = sweep(procs)
    left = {p["pid"]: p["cmdline"] for p in procs.table()}
    state["left_processes"] = {**processes_naming(marker), **left}
    state["samples"] = sampler.samples
    state["kill"] = kill
    state["triggered_tournaments"] = triggered
    state["work"] = work
    return state


# --------------------------------------------------------------------------- the report


def sensor_interventions(airflow_home: Path) -> dict[str, Any]:
    """Reschedules of the resource and backpressure sensors (metadata DB, read after the
    stop) and the reasons they logged."""
    out: dict[str, Any] = {"reschedules": {}, "reasons": {}}
    db = airflow_home / "airflow.db"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT ti.dag_id, ti.task_id, COUNT(*) FROM task_reschedule tr "
                "JOIN task_instance ti ON ti.id = tr.ti_id GROUP BY ti.dag_id, ti.task_id"
            ).fetchall()
        finally:
            con.close()
        out["reschedules"] = {f"{d}.{t}": n for d, t, n in rows}
    except sqlite3.Error as exc:
        out["reschedules_error"] = str(exc)
    reasons: Counter[str] = Counter()
    for task in SENSOR_TASKS:
        for f in (airflow_home / "logs").rglob(f"task_id={task}/**/*.log"):
            for line in f.read_text(errors="replace").splitlines():
                m = re.search(r"(waiting for resources: |holding self-play: )([^\"]*)", line)
                if m:
                    # Strip figures so the same reason counts once (e.g. "memory 93.1%").
                    reasons[re.sub(r"[0-9.]+", "#", m.group(1) + m.group(2))[:160]] += 1
    out["reasons"] = dict(reasons.most_common(20))
    return out


def elo_timeline(store: Any, anchor_elo: float) -> dict[str, Any]:
    """Ratings after each tournament (the fit of the log up to its last game), the best
    model at that time and its rating."""
    from ringrift_tasks.evaluation.match import model_agent_name
    from ringrift_tasks.evaluation.trends import elo_trend

    matches = store.elo.matches(CONFIG)
    ends: dict[str, float] = {}
    for m in matches:
        ends[m.source] = max(ends.get(m.source, 0.0), m.played_at)
    times = sorted(set(ends.values()))
    points = elo_trend(matches, times=times, anchor_elo=anchor_elo)
    history = store.registry.history(CONFIG)
    series: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    best_series = []
    for t in times:
        at = {p.agent: p for p in points if p.t == t}
        for a, p in at.items():
            series[a].append((t, p.elo, p.ci_low, p.ci_high))
        best = None
        for h in history:
            if h["at"] <= t:
                best = h["model_id"]
        if best is not None and model_agent_name(best) in at:
            p = at[model_agent_name(best)]
            best_series.append(
                {"t": t, "model": model_agent_name(best), "elo": p.elo, "ci": [p.ci_low, p.ci_high]}
            )
    return {
        "tournaments": {s: e for s, e in sorted(ends.items(), key=lambda kv: kv[1])},
        "series": {a: v for a, v in series.items()},
        "best": best_series,
    }


def generation_ladder(
    promotions: list[dict[str, Any]], final_ratings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each model that became best, in order, with its rating in the final fit of the whole
    match log (the most games, so the fairest comparison between generations). A model
    that never played a rated game has ``elo`` None."""
    from ringrift_tasks.evaluation.match import model_agent_name

    rated = {r["agent"]: r for r in final_ratings}
    out = []
    for p in promotions:
        r = rated.get(model_agent_name(p["model_id"]))
        out.append(
            {
                "model": model_agent_name(p["model_id"]),
                "kind": p["kind"],
                "at_min": p["at_min"],
                "elo": r["elo"] if r else None,
                "ci": r["ci"] if r else None,
                "games": r["games"] if r else 0,
            }
        )
    return out


def plot_elo(
    timeline: dict[str, Any],
    ladder: list[dict[str, Any]],
    path: Path,
    t0: float,
    kill_at: float | None,
) -> None:
    from ringrift_tasks.evaluation.trends import new_figure, save_figure

    fig = new_figure()
    ax = fig.add_subplot()
    for agent, pts in sorted(timeline["series"].items()):
        if agent not in BASELINES:
            continue
        x = [(t - t0) / 60 for t, *_ in pts]
        ax.plot(x, [e for _, e, _, _ in pts], marker="o", markersize=3, label=agent)
    best = timeline["best"]
    if best:
        x = [(b["t"] - t0) / 60 for b in best]
        line = ax.plot(
            x, [b["elo"] for b in best], marker="s", linewidth=2, color="black", label="best model"
        )[0]
        ax.fill_between(
            x, [b["ci"][0] for b in best], [b["ci"][1] for b in best], alpha=0.15,
            color=line.get_color(),
        )  # fmt: skip
    steps = [g for g in ladder if g["elo"] is not None]
    if steps:
        end = max([(timeline["best"][-1]["t"] - t0) / 60] if timeline["best"] else [0.0])
        x = [g["at_min"] for g in steps] + [max(end, steps[-1]["at_min"])]
        y = [g["elo"] for g in steps] + [steps[-1]["elo"]]
        ax.step(x, y, where="post", linewidth=2, linestyle=":", color="tab:purple",
                label="best model, final fit")  # fmt: skip
    if kill_at is not None:
        ax.axvline((kill_at - t0) / 60, color="red", linestyle="--", linewidth=1, label="SIGKILL")
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("Elo (random = 400)")
    ax.set_title(f"{CONFIG}: best model vs fixed baselines, after each tournament")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    save_figure(fig, path)


def build_report(state: dict[str, Any], out: Path) -> dict[str, Any]:
    from sqlalchemy import select

    from ringrift_tasks.integrity import check_integrity
    from ringrift_tasks.store import open_store
    from ringrift_tasks.store.models import GameRow, ModelRow

    work: Path = state["work"]
    loop_home = work / "ringrift"
    airflow_home = work / "airflow"
    samples: Samples = state["samples"]
    kill: KillRecord | None = state["kill"]
    t0 = state["started_at"]
    anchor = 400.0
    report: dict[str, Any] = {
        "config": CONFIG,
        "command": " ".join(sys.argv),
        "minutes": state["args"]["minutes"],
        "started_at": t0,
        "stopped_at": state["stopped_at"],
        "overrides": state["overrides"],
        "soak_actions": {
            "elo_tournament_triggers": state["triggered_tournaments"],
            "tournament_every_min": state["args"]["tournament_every"],
        },
    }
    with open_store(f"sqlite:///{loop_home / 'ringrift.db'}") as store:
        with store.read() as conn:
            rows = conn.execute(select(GameRow.kind, GameRow.merged_at)).all()
            models = conn.execute(select(ModelRow).order_by(ModelRow.created_at)).all()
        report["games"] = {
            "total": len(rows),
            "by_kind": dict(Counter(k for k, _ in rows)),
            "selfplay_per_10_min": _histogram([m for k, m in rows if k == "selfplay"], t0, 600),
        }
        training = store.decisions.history(CONFIG, "training", limit=10_000)
        report["training_decisions"] = [
            {"at_min": round((d.at - t0) / 60, 1), "passed": d.passed, "reason": d.reason}
            for d in reversed(training)
        ]
        promo_decisions = store.decisions.history(CONFIG, "promotion", limit=10_000)
        report["promotion_decisions"] = [
            {"at_min": round((d.at - t0) / 60, 1), "passed": d.passed, "reason": d.reason,
             "evidence": d.evidence}
            for d in reversed(promo_decisions)
        ]  # fmt: skip
        report["candidates"] = [
            {
                "model_id": m.model_id,
                "created_min": round((m.created_at - t0) / 60, 1),
                "status": m.status,
                "parent": m.parent_id,
                "metrics": {k: v for k, v in (m.metrics or {}).items() if not isinstance(v, list)},
            }
            for m in models
        ]
        report["promotions"] = [
            {
                "kind": h["kind"],
                "model_id": h["model_id"],
                "previous_id": h["previous_id"],
                "at_min": round((h["at"] - t0) / 60, 1),
                "evidence": h["evidence"],
            }
            for h in store.registry.history(CONFIG)
        ]
        timeline = elo_timeline(store, anchor)
        report["elo"] = timeline
        report["final_ratings"] = [
            {"agent": r.agent, "elo": round(r.elo, 1), "ci": [round(r.ci_low), round(r.ci_high)],
             "games": r.games}
            for r in store.elo.ratings(CONFIG)
        ]  # fmt: skip
        report["ladder"] = generation_ladder(report["promotions"], report["final_ratings"])
        integrity = check_integrity(store, anchor_elo=anchor)
        report["integrity"] = integrity.to_json()
        games_at_end = store.pool.count()
    plot_elo(timeline, report["ladder"], out / "elo_over_time.png", t0, kill.at if kill else None)

    tis = state["task_instances"]
    report["dag_runs"] = {
        dag: dict(Counter(r["state"] for r in state["dag_runs"] if r["dag_id"] == dag))
        for dag in DAG_IDS
    }
    report["task_failures"] = [
        _ti(ti) for ti in tis if ti["state"] in ("failed", "upstream_failed")
    ]
    report["task_retries"] = [_ti(ti) for ti in tis if (ti.get("try_number") or 0) > 1]
    report["task_states"] = dict(Counter(str(ti["state"]) for ti in tis))
    report["sensors"] = sensor_interventions(airflow_home)
    report["resources"] = {
        "peak_rss_mb": max(samples.rss_mb, default=0.0),
        "peak_processes": max(samples.processes, default=0),
        "peak_disk_mb": max(samples.disk_mb, default=0.0),
        "final_disk_mb": samples.disk_mb[-1] if samples.disk_mb else 0.0,
        "samples": len(samples.t),
        "sample_every_s": SAMPLE_EVERY_S,
    }
    if kill is not None:
        killed = {
            (r["dag_id"], r["dag_run_id"], r["task_id"], r["map_index"]) for r in kill.running_tis
        }
        kill.killed_ti_outcomes = [
            _ti(ti)
            for ti in tis
            if (ti["dag_id"], ti["dag_run_id"], ti["task_id"], ti["map_index"]) in killed
        ]
        kill.games_at_end = games_at_end
        report["kill"] = {k: v for k, v in vars(kill).items() if k != "processes_before"}
        report["kill"]["processes_before"] = kill.processes_before
    report["still_running_at_stop"] = state["still_running_at_stop"]
    report["left_processes"] = state["left_processes"]
    report["killed_after_stop"] = state.get("killed_after_stop", [])
    report["acceptance"] = acceptance(report)
    return report


def _ti(ti: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ti.get(k)
        for k in ("dag_id", "dag_run_id", "task_id", "map_index", "state", "try_number")
    }


def _histogram(times: list[float], t0: float, bucket_s: float) -> list[int]:
    if not times:
        return []
    n = int((max(times) - t0) // bucket_s) + 1
    out = [0] * max(n, 1)
    for t in times:
        out[max(0, int((t - t0) // bucket_s))] += 1
    return out


def acceptance(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's criteria, each with the figures it rests on."""
    best = report["elo"]["best"]
    ratings = {r["agent"]: r["elo"] for r in report["final_ratings"]}
    ladder = [g for g in report["ladder"] if g["elo"] is not None]
    # The rise is judged on the final fit: every generation rated on all the games played,
    # not each tournament's snapshot (the first ones rest on a handful of games).
    rises = len(ladder) >= 2 and ladder[-1]["elo"] > ladder[0]["elo"]
    last = ladder[-1]["elo"] if ladder else None
    above = last is not None and "heuristic" in ratings and last > ratings["heuristic"]
    return {
        "best_elo_rises": {
            "ok": rises,
            "generations": len(report["ladder"]),
            "first": ladder[0] if ladder else None,
            "last": ladder[-1] if ladder else None,
            "per_tournament_first_last": [
                round(best[0]["elo"]) if best else None,
                round(best[-1]["elo"]) if best else None,
            ],
        },
        "best_ends_above_heuristic": {
            "ok": above,
            "best": last,
            "heuristic": ratings.get("heuristic"),
        },
        "no_task_left_failed": {
            "ok": not report["task_failures"],
            "failed": report["task_failures"],
        },
        "integrity": {"ok": report["integrity"]["passed"]},
        "no_process_left": {"ok": not report["left_processes"]},
    }


def write_markdown(report: dict[str, Any], path: Path) -> None:
    t0 = report["started_at"]
    lines = [
        f"# Loop soak: {CONFIG}, {report['minutes']} min",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Started {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t0))} UTC, stopped after "
        f"{(report['stopped_at'] - t0) / 60:.1f} min (drain included).",
        "",
        "## Acceptance",
        "",
    ]
    for name, a in report["acceptance"].items():
        detail = {k: v for k, v in a.items() if k != "ok"}
        lines.append(f"- {'PASS' if a['ok'] else 'FAIL'} {name}: {json.dumps(detail, default=str)}")
    lines += ["", "## Overrides (environment)", ""]
    lines += [f"- `{k}={v}`" for k, v in report["overrides"].items()]
    lines.append(
        f"- soak action: `ringrift_elo_tournament` triggered every "
        f"{report['soak_actions']['tournament_every_min']} min "
        f"({len(report['soak_actions']['elo_tournament_triggers'])} triggers); every other run "
        "came from the DAGs' own schedules and Asset events"
    )
    g = report["games"]
    lines += [
        "", "## Games", "",
        f"- total {g['total']}, by kind {g['by_kind']}",
        f"- self-play games merged per 10 min: {g['selfplay_per_10_min']}",
        "", "## Training runs and gate decisions", "",
    ]  # fmt: skip
    for d in report["training_decisions"]:
        lines.append(f"- {d['at_min']:6.1f} min {'TRAIN' if d['passed'] else 'no'}: {d['reason']}")
    lines += ["", "## Candidates", ""]
    for m in report["candidates"]:
        lines.append(
            f"- `{m['model_id'][:12]}` at {m['created_min']} min, {m['status']}, "
            f"parent {str(m['parent'])[:12]}, {json.dumps(m['metrics'], default=str)[:200]}"
        )
    lines += ["", "## Promotions and their evidence", ""]
    for p in report["promotions"]:
        lines.append(
            f"- {p['at_min']} min {p['kind']} `{p['model_id'][:12]}` (was "
            f"`{str(p['previous_id'])[:12]}`): {json.dumps(p['evidence'], default=str)}"
        )
    for d in report["promotion_decisions"]:
        if not d["passed"]:
            lines.append(f"- {d['at_min']} min gate refused: {d['reason']}")
    lines += [
        "", "## Elo over time", "",
        "![Elo over time](elo_over_time.png)", "",
        "Best model after each tournament (the fit of the match log up to that tournament's "
        "last game; random pinned at 400):", "",
    ]  # fmt: skip
    for b in report["elo"]["best"]:
        lines.append(f"- {(b['t'] - t0) / 60:6.1f} min {b['model']} {b['elo']:.0f}")
    lines += [
        "", "Every best model in order, rated in the final fit of the whole match log:", "",
    ]  # fmt: skip
    for g in report["ladder"]:
        rating = "not rated"
        if g["elo"] is not None:
            rating = f"{g['elo']:.0f} {g['ci']} ({g['games']} games)"
        lines.append(f"- {g['at_min']:6.1f} min {g['kind']} {g['model']}: {rating}")
    lines += ["", "Final ratings:", ""]
    for r in report["final_ratings"]:
        lines.append(
            f"- {r['agent']}: {r['elo']:.0f} [{r['ci'][0]}, {r['ci'][1]}] ({r['games']} games)"
        )
    lines += ["", "## Tasks", "", f"- task instance states: {report['task_states']}"]
    lines += [f"- DAG runs: {report['dag_runs']}"]
    lines.append(f"- failed: {len(report['task_failures'])}")
    lines += [f"  - {json.dumps(t)}" for t in report["task_failures"]]
    lines.append(f"- retried (try_number > 1): {len(report['task_retries'])}")
    lines += [f"  - {json.dumps(t)}" for t in report["task_retries"]]
    s = report["sensors"]
    lines += [
        "", "## Resource guard and backpressure", "",
        f"- sensor reschedules: {s['reschedules'] or 'none'}",
        f"- logged reasons: {s['reasons'] or 'none'}",
        "", "## Resources", "",
    ]  # fmt: skip
    r = report["resources"]
    lines += [
        f"- peak RSS of the loop's process tree: {r['peak_rss_mb']:.0f} MiB "
        f"({r['peak_processes']} processes at most)",
        f"- disk of AIRFLOW_HOME + RINGRIFT_HOME: peak {r['peak_disk_mb']:.1f} MiB, "
        f"final {r['final_disk_mb']:.1f} MiB ({r['samples']} samples, "
        f"every {r['sample_every_s']:.0f} s)",
    ]
    k = report.get("kill")
    if k:
        lines += [
            "", "## SIGKILL and restart", "",
            f"- at {k['minute']:.1f} min; pool had {k['games_before']} games",
            f"- task killed: {k['task']['cmdline'] if k['task'] else 'none running'} "
            f"(pids {k['task_killed_pids']})",
            f"- scheduler killed: pid {k['scheduler']['pid']} (`{k['scheduler']['cmdline']}`)",
            f"- `airflow standalone` still running afterwards: {k['standalone_alive_after']} "
            "(it does not restart a dead component); the soak started a new `airflow scheduler` "
            f"(pid {k['restarted_scheduler_pid']}) with the same environment; the API reported "
            f"healthy again after {k['healthy_again_after_s']} s",
            f"- processes orphaned by the kill: {len(k['orphans_after_kill'])}",
            f"- task instances running at the kill: {len(k['running_tis'])}; their final states: "
            + "; ".join(
                f"{t['dag_id']}.{t['task_id']}[{t['map_index']}] {t['state']} "
                f"(try {t['try_number']})"
                for t in k["killed_ti_outcomes"]
            ),
            f"- games at the end: {k['games_at_end']}; integrity check below (no duplicate, "
            "every game replays, the shard ledger adds up)",
        ]  # fmt: skip
    lines += ["", "## Integrity check", ""]
    for c in report["integrity"]["checks"]:
        note = f" ({c['note']})" if c["note"] else ""
        lines.append(
            f"- {c['name']}: {'ok' if c['passed'] else 'FAILED'}, {c['checked']} checked{note}"
        )
        lines += [f"  - {p}" for p in c["problems"][:20]]
    lines += [
        "", "## Shutdown", "",
        "- DAG runs still running when stopped (after the drain): "
        f"{report['still_running_at_stop'] or 'none'}",
        f"- processes still alive after the standalone stopped, then stopped by the soak: "
        f"{len(report['killed_after_stop'])} {report['killed_after_stop']}",
        f"- processes left after the stop: {report['left_processes'] or 'none'}",
        "",
    ]  # fmt: skip
    path.write_text("\n".join(lines))


def _unwind(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    # Started in the background (nohup ... &), the soak inherits SIGINT ignored, and SIGTERM
    # would end it on the spot: both must unwind through the finally blocks that stop
    # Airflow, or its components outlive the soak.
    signal.signal(signal.SIGINT, _unwind)
    signal.signal(signal.SIGTERM, _unwind)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, required=True, help="wall time of the loop")
    ap.add_argument("--kill-at-minute", type=float, default=None)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ringrift-soak"))
    ap.add_argument("--tournament-every", type=float, default=15.0, help="minutes")
    ap.add_argument("--first-tournament-minute", type=float, default=1.0)
    ap.add_argument("--drain-minutes", type=float, default=3.0)
    ap.add_argument(
        "--report-only", action="store_true", help="rebuild the report of a finished soak in --out"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "state.pickle"
    if args.report_only:
        state = pickle.loads(saved.read_bytes())
    else:
        state = run_soak(args)
        # Kept so that the report can be rebuilt (--report-only) without rerunning the soak.
        saved.write_bytes(pickle.dumps(state))
    report = build_report(state, args.out)
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    write_markdown(report, args.out / "report.md")
    for name, a in report["acceptance"].items():
        print(f"soak acceptance {name}: {'PASS' if a['ok'] else 'FAIL'}")
    print(f"soak report: {args.out / 'report.md'}")
    print(f"soak peak_rss_mb: {report['resources']['peak_rss_mb']:.0f}")
    print(f"soak games: {report['games']['total']}")


if __name__ == "__main__":
    main()
