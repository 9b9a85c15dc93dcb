"""Airflow's own cost on the loop: per-task overhead and the 60 s sync DAG's start lateness.

Starts a real ``airflow standalone`` (LocalExecutor, SQLite metadata DB) in a temp dir
(``tests/airflow/standalone.py``), unpauses only ``ringrift_data_sync`` (every 60 s; its one
task, ``collect``, finds an empty incoming folder, so its own work is small), lets it run
``--minutes`` minutes, then reads the runs and task instances over the REST API and prints
one line per figure:

    sync start lateness: median <s> s, p95 <s> s, max <s> s (n=<runs>) (...)
    sync created lateness: ...                    (run queued_at - scheduled time)
    run scheduled->end: ...
    task scheduled->queued: ...
    task queued->start: ...                       (executor pick-up, task process start)
    task start->end (collect): ...
    collect pass (the task's work, fresh process): ...
    library import for it (fresh process): ...
    task overhead (start->end minus the collect pass): ...
    machine: <cores> cores, load <l> before / <l> after, Airflow <v>, Python <v>; ...

Definitions. A run's *scheduled time* is its ``run_after`` (for this interval schedule the
end of its data interval: the earliest moment it may run). *Start lateness* = the run's
``start_date`` - scheduled time. For the ``collect`` task instance: *queued->start* =
``start_date`` - ``queued_when`` (executor pick-up, supervisor and task process start);
*start->end* = ``end_date`` - ``start_date`` as Airflow records it. The task's own work is
measured by this script: a fresh Python process imports what the task imports and runs one
``collect_shards`` pass over the same empty folders and store (``--work-samples`` times);
*task overhead* = start->end - the median pass: the Airflow side of running a task (the
supervisor and task process, parsing the DAG file there, state and XCom calls to the API
server) plus importing the library, which is shown on its own line.
The first run after unpausing is excluded from lateness (its interval ended before the
unpause; ``catchup=False`` runs it at once, late by design).

Figures also go to ``benchmarks/results/airflow_bench.json`` with the machine (cores, load
average before and after, Airflow and Python versions). Nothing else is unpaused.

    PYTHONPATH=. .venv/bin/python benchmarks/airflow_bench.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: tests.airflow is importable
    sys.path.insert(0, str(REPO))

from ringrift_tasks.atomic import atomic_write_text  # noqa: E402
from tests.airflow.standalone import (  # noqa: E402
    Standalone,
    login,
    poll,
    running_standalone,
    unpause,
    wait_dag_parsed,
    wait_healthy,
)

DAG_ID = "ringrift_data_sync"
TASK_ID = "collect"
RESULTS = REPO / "benchmarks" / "results" / "airflow_bench.json"
FINISH_TIMEOUT_S = 300.0

# One collect pass in a fresh process, as the task body does it (imports included).
_WORK_SNIPPET = """
import time
t0 = time.perf_counter()
from ringrift_tasks.config import load_config
from ringrift_tasks.store.db import open_store
from ringrift_tasks.sync.collect import collect_shards
t1 = time.perf_counter()
cfg = load_config()
p = cfg.paths
with open_store(cfg.store_url) as store:
    collect_shards(store, p.shards_incoming, p.shards_merged, p.quarantine)
t2 = time.perf_counter()
print(f"{t1 - t0:.6f} {t2 - t1:.6f}")
"""


def parse_time(value: str | None) -> datetime | None:
    """An API timestamp (ISO 8601, 'Z' or offset) as an aware datetime; None stays None."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, median, p95, min, max (seconds) of ``values``; Nones where there are none."""
    if not values:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def line(label: str, stats: dict[str, Any], note: str = "") -> str:
    if not stats["n"]:
        return f"{label}: no samples"
    text = (
        f"{label}: median {stats['median']:.3f} s, p95 {stats['p95']:.3f} s, "
        f"max {stats['max']:.3f} s (n={stats['n']})"
    )
    return f"{text} {note}".rstrip()


def list_runs(server: Standalone) -> list[dict[str, Any]]:
    resp = server.api(
        "GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 1000, "order_by": "run_after"}
    )
    resp.raise_for_status()
    return list(resp.json()["dag_runs"])


def task_instance(server: Standalone, run_id: str) -> dict[str, Any] | None:
    resp = server.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
    resp.raise_for_status()
    return next((ti for ti in resp.json()["task_instances"] if ti["task_id"] == TASK_ID), None)


def _due(run: dict[str, Any], cutoff: datetime) -> bool:
    run_after = parse_time(run["run_after"])
    return run["run_type"] == "scheduled" and run_after is not None and run_after <= cutoff


def _finished(server: Standalone, cutoff: datetime) -> bool | None:
    runs = [r for r in list_runs(server) if _due(r, cutoff)]
    return True if all(r["state"] in ("success", "failed") for r in runs) else None


def measure_work(env: dict[str, str], samples: int) -> tuple[list[float], list[float]]:
    """(import seconds, collect-pass seconds) of ``samples`` fresh processes."""
    imports, work = [], []
    for _ in range(samples):
        out = subprocess.run(
            [sys.executable, "-c", _WORK_SNIPPET],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        a, b = out.stdout.split()
        imports.append(float(a))
        work.append(float(b))
    return imports, work


def collect_figures(server: Standalone, unpaused_at: datetime, cutoff: datetime) -> dict[str, Any]:
    """The timings of every scheduled run due by ``cutoff`` and its collect task's."""
    start_late, created_late, run_total = [], [], []
    queued_to_start, scheduled_to_queued, start_to_end = [], [], []
    excluded, runs_seen = 0, 0
    states: dict[str, int] = {}
    raw: list[dict[str, Any]] = []
    for run in list_runs(server):
        if not _due(run, cutoff):
            continue
        runs_seen += 1
        states[run["state"]] = states.get(run["state"], 0) + 1
        if run["state"] != "success":
            continue
        scheduled = parse_time(run["run_after"])
        started = parse_time(run["start_date"])
        ti = task_instance(server, run["dag_run_id"]) or {}
        record = {
            "run_id": run["dag_run_id"],
            "run_after": run["run_after"],
            "data_interval_end": run["data_interval_end"],
            "queued_at": run["queued_at"],
            "start_date": run["start_date"],
            "end_date": run["end_date"],
            "ti_scheduled_when": ti.get("scheduled_when"),
            "ti_queued_when": ti.get("queued_when"),
            "ti_start_date": ti.get("start_date"),
            "ti_end_date": ti.get("end_date"),
            "ti_try_number": ti.get("try_number"),
        }
        raw.append(record)
        ti_start, ti_end = parse_time(ti.get("start_date")), parse_time(ti.get("end_date"))
        for dest, value in (
            (queued_to_start, seconds(ti_start, parse_time(ti.get("queued_when")))),
            (
                scheduled_to_queued,
                seconds(parse_time(ti.get("queued_when")), parse_time(ti.get("scheduled_when"))),
            ),
            (start_to_end, seconds(ti_end, ti_start)),
        ):
            if value is not None:
                dest.append(value)
        # The first run's interval ended before the unpause: late by design, not by Airflow.
        if scheduled is None or scheduled < unpaused_at:
            excluded += 1
            continue
        for dest, value in (
            (start_late, seconds(started, scheduled)),
            (created_late, seconds(parse_time(run["queued_at"]), scheduled)),
            (run_total, seconds(parse_time(run["end_date"]), scheduled)),
        ):
            if value is not None:
                dest.append(value)
    return {
        "runs_seen": runs_seen,
        "run_states": states,
        "runs_excluded_from_lateness": excluded,
        "start_lateness_s": summary(start_late),
        "created_lateness_s": summary(created_late),
        "run_scheduled_to_end_s": summary(run_total),
        "task_queued_to_start_s": summary(queued_to_start),
        "task_scheduled_to_queued_s": summary(scheduled_to_queued),
        "task_start_to_end_s": summary(start_to_end),
        "_start_to_end": start_to_end,
        "raw": raw,
    }


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    import airflow

    return {
        "cores": os.cpu_count(),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "airflow": airflow.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executor": "LocalExecutor",
        "metadata_db": "sqlite",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the DAG runs")
    parser.add_argument("--work-samples", type=int, default=5, help="fresh-process work passes")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.work_samples < 1:
        parser.error("--minutes must be > 0 and --work-samples >= 1")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ringrift-airflow-bench-") as tmp:
        with running_standalone(Path(tmp)) as server:
            wait_healthy(server)
            login(server)
            wait_dag_parsed(server, DAG_ID)
            unpaused_at = datetime.now(UTC)
            unpause(server, DAG_ID)
            print(f"unpaused {DAG_ID} at {unpaused_at:%H:%M:%S} UTC; running {args.minutes:g} min")
            time.sleep(args.minutes * 60)
            # Runs due by now count; the DAG stays unpaused until they finish (a paused DAG's
            # running run would never be scheduled to its end).
            cutoff = datetime.now(UTC)
            poll(
                "the counted runs to finish", lambda: _finished(server, cutoff), FINISH_TIMEOUT_S, 5
            )
            figures = collect_figures(server, unpaused_at, cutoff)
            env = dict(server.env)
        imports, work = measure_work(env, args.work_samples)

    start_to_end = figures.pop("_start_to_end")
    # The task's own work is the collect pass; importing the library in the fresh task
    # process is shown beside it (part of it happens anyway when the DAG file is parsed).
    overhead = [s - statistics.median(work) for s in start_to_end]
    figures["collect_import_s"] = summary(imports)
    figures["collect_pass_s"] = summary(work)
    figures["task_overhead_s"] = summary(overhead)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "dag_id": DAG_ID,
        "task_id": TASK_ID,
        "machine": machine(load_before),
        "figures": figures,
    }

    f = figures
    print(
        line(
            "sync start lateness",
            f["start_lateness_s"],
            f"(run start_date - run_after; first run after unpause excluded: "
            f"{f['runs_excluded_from_lateness']})",
        )
    )
    print(line("sync created lateness", f["created_lateness_s"], "(run queued_at - run_after)"))
    print(line("run scheduled->end", f["run_scheduled_to_end_s"]))
    print(line("task scheduled->queued", f["task_scheduled_to_queued_s"]))
    print(line("task queued->start", f["task_queued_to_start_s"]))
    print(line("task start->end (collect)", f["task_start_to_end_s"]))
    print(line("collect pass (the task's work, fresh process)", f["collect_pass_s"]))
    print(line("library import for it (fresh process)", f["collect_import_s"]))
    print(line("task overhead (start->end minus the collect pass)", f["task_overhead_s"]))
    m = result["machine"]
    print(
        f"machine: {m['cores']} cores, load {m['load_avg_before'][0]:.2f} before / "
        f"{m['load_avg_after'][0]:.2f} after, Airflow {m['airflow']}, Python {m['python']}; "
        f"scheduled runs {f['runs_seen']} {f['run_states']}"
    )
    atomic_write_text(args.out, json.dumps(result, indent=2, default=str) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
