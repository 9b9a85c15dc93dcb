"""SSH data-sync benchmark: games/s merged from loopback sshd nodes, seal-to-merged latency.

Starts ``--nodes`` real sshd worker nodes on loopback (``tests/sync/sshd.py``), each with
``--games-per-node`` real square8_2p random-agent games (distinct seeds per node) sealed in
shards of ``--games-per-shard`` (self-play's default, 20). Games are generated once into
``var/bench-cache/sync_bench`` and reused. Two phases, each into a fresh coordinator store:

1. throughput: every shard is waiting on every node; one ``sync_games`` pass pulls,
   verifies, replay-validates and merges them all: ``games/s merged``.
2. latency: shards are sealed on the nodes at a steady rate over ``--intervals``
   schedule intervals while a pass starts every ``--interval`` seconds (the data sync
   DAG's schedule; a pass that overruns is followed at once by the next). For each shard,
   latency = merged (its manifest row reaching ``acked``) - sealed (its rename into the
   node's incoming folder). A shorter ``--interval`` runs faster with the same load per
   pass (the seal rate scales with it); the 60 s figure is then derived per shard as
   ``(pass start - sealed) * 60 / interval + (merged - pass start)``: the wait for the
   next pass scales with the interval, the work of the pass does not.

Prints one line per figure and writes ``benchmarks/results/sync_bench.json``::

    sync throughput: <N> games/s merged (<G> games, <S> shards, <T> s, validate=<bool>)
    sync latency p50 (60 s schedule): <N> s
    sync latency p95 (60 s schedule): <N> s   (target <= 75 s)

    PYTHONPATH=. python benchmarks/sync_bench.py [--nodes 4] [--games-per-node 2500]
        [--interval 60] [--intervals 10] [--no-validate]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ringrift_tasks.records.shard import list_sealed_shards
from ringrift_tasks.selfplay.worker import run_selfplay
from ringrift_tasks.store import open_store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.games import GamesSyncSettings, sync_games
from ringrift_tasks.sync.hosts import Inventory, Node
from ringrift_tasks.sync.transport import SshCredentials, SshSettings
from tests.sync.sshd import SshCluster

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "var" / "bench-cache" / "sync_bench"
RESULTS = REPO / "benchmarks" / "results" / "sync_bench.json"
SCHEDULE_S = 60.0
CONFIG = "square8_2p"


def node_shards(index: int, games: int, per_shard: int, workers: int) -> list[Path]:
    """Sealed shards of node ``index`` (generated once, then read from the cache)."""
    folder = CACHE / f"node{index}-{games}g-{per_shard}ps"
    done = folder / "complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        run_selfplay(
            CONFIG,
            games,
            workers,
            folder,
            "random",
            seed=9_000_000 + 1_000 * index,
            games_per_shard=per_shard,
            source=f"bench-node-{index}",
            start_method="fork",
        )
        done.write_text(f"{time.perf_counter() - t:.1f} s\n")
        print(f"generated {games} games for node {index} in {time.perf_counter() - t:.1f} s")
    return list_sealed_shards(folder)


def offer(shard: Path, incoming: Path) -> float:
    """Seal ``shard`` (and its sidecar) into ``incoming`` the way self-play does: the
    sidecar first, the shard renamed into place; returns the seal time (Unix s)."""
    incoming.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shard.with_suffix(".json"), incoming / shard.with_suffix(".json").name)
    tmp = incoming / f".{shard.name}.tmp"
    shutil.copy2(shard, tmp)
    os.replace(tmp, incoming / shard.name)
    return time.time()


def inventory(cluster: SshCluster) -> Inventory:
    return Inventory(
        nodes=tuple(
            Node(
                name=n.name,
                host="127.0.0.1",
                port=n.port,
                user=cluster.user(),
                data_dir=str(n.data_dir),
            )
            for n in cluster.nodes.values()
        )
    )


def settings(cluster: SshCluster, home: Path, validate: bool) -> GamesSyncSettings:
    return GamesSyncSettings(
        staging=home / "shards" / "downloading",
        merged=home / "shards" / "merged",
        quarantine=home / "shards" / "quarantine",
        ssh=SshSettings(known_hosts=cluster.known_hosts, connect_timeout_s=10.0),
        breaker=BreakerPolicy(failures=5, cooldown_s=5.0),
        validate=validate,
    )


def clear_nodes(cluster: SshCluster) -> None:
    for n in cluster.nodes.values():
        shutil.rmtree(n.data_dir / "shards", ignore_errors=True)


def throughput(
    cluster: SshCluster,
    creds: SshCredentials,
    shards: dict[str, list[Path]],
    root: Path,
    validate: bool,
) -> dict[str, float]:
    clear_nodes(cluster)
    for name, paths in shards.items():
        for p in paths:
            offer(p, cluster.nodes[name].incoming)
    home = root / "throughput"
    with open_store(f"sqlite:///{home / 'ringrift.db'}") as store:
        t = time.perf_counter()
        report = sync_games(store, inventory(cluster), settings(cluster, home, validate), creds)
        dt = time.perf_counter() - t
        assert report.failed_nodes == [] and report.quarantined == 0, report
        games = report.games_added
        assert games == store.pool.count(CONFIG)
    return {
        "games": games,
        "shards": report.shards_merged,
        "seconds": round(dt, 2),
        "games_per_s": round(games / dt, 1),
    }


def latency(
    cluster: SshCluster,
    creds: SshCredentials,
    shards: dict[str, list[Path]],
    root: Path,
    validate: bool,
    interval: float,
    intervals: int,
) -> dict[str, object]:
    clear_nodes(cluster)
    home = root / "latency"
    sealed: dict[tuple[str, str], float] = {}
    # Interleave the nodes' shards into one steady stream over `intervals` intervals.
    stream = [
        (name, paths[i])
        for i in range(max(len(p) for p in shards.values()))
        for name, paths in shards.items()
        if i < len(paths)
    ]
    period = interval * intervals / len(stream)
    start = time.time()
    stop = threading.Event()

    def sealer() -> None:
        for k, (name, path) in enumerate(stream):
            due = start + (k + 0.5) * period
            if stop.wait(max(0.0, due - time.time())):
                return
            sealed[(name, path.name)] = offer(path, cluster.nodes[name].incoming)

    thread = threading.Thread(target=sealer, daemon=True)
    passes: list[tuple[float, float]] = []
    inv = inventory(cluster)
    cfg = settings(cluster, home, validate)
    with open_store(f"sqlite:///{home / 'ringrift.db'}") as store:
        thread.start()
        k = 1
        try:
            while True:
                tick = start + k * interval
                time.sleep(max(0.0, tick - time.time()))
                t0 = time.time()
                report = sync_games(store, inv, cfg, creds)
                assert report.failed_nodes == [] and report.quarantined == 0, report
                passes.append((t0, time.time()))
                k = max(k + 1, int((time.time() - start) // interval) + 1)
                if not thread.is_alive() and store.manifest.state_counts().get("acked", 0) == len(
                    stream
                ):
                    break
        finally:
            stop.set()
            thread.join()
        entries = {(e.node, e.name): e for e in store.manifest.entries(states=["acked"])}
    games = sum(e.games or 0 for e in entries.values())
    raw, scaled = [], []
    for key, t_seal in sealed.items():
        acked = entries[key].updated_at
        t_pass = max(s for s, _ in passes if s <= acked)
        raw.append(acked - t_seal)
        scaled.append((t_pass - t_seal) * SCHEDULE_S / interval + (acked - t_pass))
    durations = [e - s for s, e in passes]
    return {
        "interval_s": interval,
        "intervals": intervals,
        "shards": len(sealed),
        "games": games,
        "games_per_pass": round(games / intervals),
        "passes": len(passes),
        "pass_s_median": round(statistics.median(durations), 2),
        "pass_s_max": round(max(durations), 2),
        "p50_s": round(percentile(raw, 50), 1),
        "p95_s": round(percentile(raw, 95), 1),
        "p50_60s_schedule_s": round(percentile(scaled, 50), 1),
        "p95_60s_schedule_s": round(percentile(scaled, 95), 1),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--games-per-node", type=int, default=2500)
    ap.add_argument("--games-per-shard", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="self-play processes (generation)")
    ap.add_argument("--interval", type=float, default=SCHEDULE_S, help="pass interval, s")
    ap.add_argument("--intervals", type=int, default=10, help="seal the games over N intervals")
    ap.add_argument(
        "--latency-shards-per-node",
        type=int,
        default=None,
        help="seal only the first N shards of each node in the latency phase (a lower "
        "seal rate per pass); default all",
    )
    ap.add_argument("--phase", choices=("both", "throughput", "latency"), default="both")
    ap.add_argument("--no-validate", dest="validate", action="store_false")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    shards = {
        f"node-{i}": node_shards(i, args.games_per_node, args.games_per_shard, args.workers)
        for i in range(args.nodes)
    }
    root = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    cluster = SshCluster(root / "ssh")
    try:
        for name in shards:
            cluster.add(name)
        creds = SshCredentials(key_filename=str(cluster.client_key), allow_agent=False)
        thr = lat = None
        if args.phase in ("both", "throughput"):
            thr = throughput(cluster, creds, shards, root, args.validate)
        if args.phase in ("both", "latency"):
            few = {n: p[: args.latency_shards_per_node] for n, p in shards.items()}
            lat = latency(cluster, creds, few, root, args.validate, args.interval, args.intervals)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "nodes": args.nodes,
        "games_per_node": args.games_per_node,
        "games_per_shard": args.games_per_shard,
        "validate": args.validate,
        "throughput": thr,
        "latency": lat,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if thr is not None:
        print(
            f"sync throughput: {thr['games_per_s']} games/s merged ({thr['games']} games, "
            f"{thr['shards']} shards, {thr['seconds']} s, validate={args.validate})"
        )
    if lat is not None:
        print(
            f"sync latency load: {lat['games']} games sealed over {args.intervals} intervals "
            f"({lat['games_per_pass']} games per pass)"
        )
        print(f"sync latency p50 (60 s schedule): {lat['p50_60s_schedule_s']} s")
        print(f"sync latency p95 (60 s schedule): {lat['p95_60s_schedule_s']} s   (target <= 75 s)")
        print(
            f"sync latency as run (interval {args.interval:g} s): p50 {lat['p50_s']} s, "
            f"p95 {lat['p95_s']} s; pass median {lat['pass_s_median']} s, "
            f"max {lat['pass_s_max']} s"
        )
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
