"""Tournament speed: evaluation games per hour through the real match runner.

Prints one line per figure:

    tournament <config> <agent> vs <agent>: <N> games/hour (<W> workers, <N> games, <N> moves/game)

Each figure plays ``--games`` games of one pairing (seats rotated) with ``run_matches`` in
``--workers`` spawned processes on a throw-away SQLite store: process start-up, agent
construction and the pool and Elo writes are included, as in a real tournament. Games run
to the end (the reference step cap).

    python benchmarks/tournament_bench.py [--games 8] [--workers 4] [--mcts-games 4]
        [--configs square8_2p,hex8_2p]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

from ringrift_tasks.evaluation.match import Participant, run_matches, schedule_group
from ringrift_tasks.store import open_store


def bench(config: str, spec: str, games: int, workers: int) -> str:
    group = [Participant(f"{spec}-a", spec), Participant(f"{spec}-b", spec)]
    matches = schedule_group("bench", config, group, games)
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
            report = run_matches(store, matches, workers=workers, source="bench")
            moves = sum(g.num_moves for g in store.pool.iter_games(config))
    n = len(report.played)
    rate = 3600.0 * n / report.elapsed_s if report.elapsed_s else 0.0
    return (
        f"tournament {config} {spec} vs {spec}: {rate:.0f} games/hour "
        f"({workers} workers, {n} games, {moves / max(n, 1):.0f} moves/game)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=8, help="heuristic games per config")
    ap.add_argument("--mcts-games", type=int, default=4, help="mcts_100 games per config")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--configs", default="square8_2p,hex8_2p")
    args = ap.parse_args()
    print(f"# machine: {platform.machine()}, python {platform.python_version()}, "
          f"{os.cpu_count()} cpus", flush=True)  # fmt: skip
    for config in args.configs.split(","):
        print(bench(config, "heuristic", args.games, args.workers), flush=True)
        print(bench(config, "mcts_100", args.mcts_games, args.workers), flush=True)


if __name__ == "__main__":
    main()
