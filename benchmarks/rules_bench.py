"""Rules engine speed: seeded uniformly random games, legal-move generation included.

Prints one line per config, ``<config>: <N> moves/s, <N> games/s`` (median of 3 runs), in
one process. ``--canonical`` sorts each offered list canonically before choosing, exactly
as the reference traces were made (slower; the engine order is what search uses).

    python benchmarks/rules_bench.py [--games-scale 1.0] [--canonical]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import GameConfig, move_cap, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves

# Games per run, chosen so one run takes a few seconds on a 2-core machine.
GAMES = {"square8_2p": 20, "hex8_2p": 20, "square19_2p": 3, "hexagonal_2p": 2}


def play_random_game(config: str, seed: int, canonical: bool) -> int:
    """Play one uniformly random game; returns the number of moves applied."""
    s = new_game(config)
    rng = Mulberry32(seed)
    cap = move_cap(GameConfig.parse(config))
    n = 0
    while s.status == "active" and n < cap:
        moves = legal_moves(s, canonical_order=canonical)
        move = moves[rng.index(len(moves))] if moves else auto_move(s)
        apply_move(s, move, validate=False)
        n += 1
    return n


def bench(config: str, games: int, canonical: bool) -> tuple[float, float]:
    """One run: (moves/s, games/s)."""
    t0 = time.perf_counter()
    moves = sum(play_random_game(config, 100000 + i, canonical) for i in range(games))
    dt = time.perf_counter() - t0
    return moves / dt, games / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--games-scale", type=float, default=1.0)
    ap.add_argument("--canonical", action="store_true")
    ap.add_argument("--configs", nargs="*", default=list(GAMES))
    args = ap.parse_args()
    machine = f"{platform.machine()} {platform.processor() or ''}".strip()
    print(f"# machine: {machine}, python {platform.python_version()}, {os.cpu_count()} cpus")
    for cfg in args.configs:
        games = max(1, int(GAMES[cfg] * args.games_scale))
        runs = [bench(cfg, games, args.canonical) for _ in range(3)]
        mps = statistics.median(r[0] for r in runs)
        gps = statistics.median(r[1] for r in runs)
        print(f"{cfg}: {mps:.0f} moves/s, {gps:.2f} games/s", flush=True)


if __name__ == "__main__":
    main()
