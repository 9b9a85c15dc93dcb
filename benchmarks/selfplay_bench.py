"""Self-play speed and the heuristic's strength, on square8_2p.

Prints one line per figure:

    selfplay square8_2p random: <N> games/hour/core (<N> moves/s, <N> games)
    selfplay square8_2p heuristic: <N> games/hour/core (<N> moves/s, <N> games)
    heuristic vs random square8_2p: <P>% wins (<W>/<N>, seats alternated, 95% CI <a>-<b>%)
    run_selfplay square8_2p random x<K> workers: <N> games/hour (<N> per worker, shards included)

The per-core figures play games in this one process exactly as a worker does (agents,
temperature schedule, record building), without shard writing; the last line runs the
real multi-process ``run_selfplay`` (spawn start-up and sealed shards included).
Targets: random >= 30,000 games/hour/core (issue 5); heuristic: reported.

    python benchmarks/selfplay_bench.py [--random-games 200] [--heuristic-games 40]
        [--versus-games 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from pathlib import Path

from ringrift_tasks.ai.agent import Agent
from ringrift_tasks.ai.heuristic import HeuristicAgent
from ringrift_tasks.ai.random_agent import RandomAgent
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.selfplay.temperature import DEFAULT_SCHEDULE
from ringrift_tasks.selfplay.worker import game_seed, run_selfplay

CONFIG = "square8_2p"


def per_core(agent: Agent, games: int) -> tuple[float, float]:
    """(games/hour, moves/s) of self-play with ``agent`` on both seats, in this process."""
    moves = 0
    t0 = time.perf_counter()
    for i in range(games):
        rec = play_game(
            CONFIG, [agent, agent], game_seed(1, i), source="bench", temperature=DEFAULT_SCHEDULE
        )
        moves += rec.num_moves
    dt = time.perf_counter() - t0
    return games / dt * 3600, moves / dt


def wilson(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a win rate."""
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def versus(games: int) -> tuple[int, int]:
    """Heuristic (greedy) vs random with seats alternated: (heuristic wins, games)."""
    heuristic, rand = HeuristicAgent(), RandomAgent()
    wins = 0
    for g in range(games):
        seats: list[Agent] = [heuristic, rand] if g % 2 == 0 else [rand, heuristic]
        rec = play_game(CONFIG, seats, game_seed(2, g), source="bench", kind="evaluation")
        wins += rec.result.winner == (1 if g % 2 == 0 else 2)
    return wins, games


def multi_process(games: int, workers: int) -> float:
    """games/hour of the real ``run_selfplay`` with random agents and ``workers`` workers."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = run_selfplay(CONFIG, games, workers, Path(tmp), "random", 3, 20, source="bench")
        dt = time.perf_counter() - t0
    return report.games / dt * 3600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--random-games", type=int, default=200)
    ap.add_argument("--heuristic-games", type=int, default=40)
    ap.add_argument("--versus-games", type=int, default=100)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    machine = f"{platform.machine()} {platform.processor() or ''}".strip()
    print(f"# machine: {machine}, python {platform.python_version()}, {os.cpu_count()} cpus")

    gph, mps = per_core(RandomAgent(), args.random_games)
    print(
        f"selfplay {CONFIG} random: {gph:,.0f} games/hour/core "
        f"({mps:,.0f} moves/s, {args.random_games} games)",
        flush=True,
    )
    gph, mps = per_core(HeuristicAgent(), args.heuristic_games)
    print(
        f"selfplay {CONFIG} heuristic: {gph:,.0f} games/hour/core "
        f"({mps:,.0f} moves/s, {args.heuristic_games} games)",
        flush=True,
    )
    wins, n = versus(args.versus_games)
    lo, hi = wilson(wins, n)
    print(
        f"heuristic vs random {CONFIG}: {100 * wins / n:.1f}% wins ({wins}/{n}, seats "
        f"alternated, 95% CI {100 * lo:.1f}-{100 * hi:.1f}%)",
        flush=True,
    )
    if args.workers > 0:
        games = max(args.random_games, 50 * args.workers)
        total = multi_process(games, args.workers)
        print(
            f"run_selfplay {CONFIG} random x{args.workers} workers: {total:,.0f} games/hour "
            f"({total / args.workers:,.0f} per worker, shards included, {games} games)",
            flush=True,
        )


if __name__ == "__main__":
    main()
