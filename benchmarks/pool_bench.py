"""Game-pool merge throughput: sealed shards into SQLite and PostgreSQL.

Plays a few real square8_2p games (uniformly random, Mulberry32-seeded), makes distinct
records from them (same moves, other source nodes, hence other game ids), writes them as
sealed shards of ``--games-per-shard`` games and times ``GamePool.merge_shard`` over all of
them into a fresh database. Prints one line per figure (median of ``--runs`` runs):

    pool merge sqlite: <N> games/s                 (validate=False: verify + checksums + insert)
    pool merge sqlite (replay-validated): <N> games/s
    pool merge postgresql: <N> games/s
    pool merge postgresql (replay-validated): <N> games/s

Target: >= 5,000 games/s into SQLite without replay. PostgreSQL uses a throwaway database
on ``--pg`` (default the local server, trust auth), dropped afterwards; skipped if absent.

    python benchmarks/pool_bench.py [--games 20000] [--games-per-shard 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from ringrift_tasks.records.game_record import GameRecord, result_from_state
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import GameConfig, move_cap, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.store import open_store

BASE_GAMES = 60  # distinct real games; the rest are copies under other source names


def play_random_game(config: str, seed: int) -> GameRecord:
    """One uniformly random game recorded as self-play would record it."""
    s = new_game(config)
    rng = Mulberry32(seed)
    cap = move_cap(GameConfig.parse(config))
    moves = []
    while s.status == "active" and len(moves) < cap:
        legal = legal_moves(s)
        move = legal[rng.index(len(legal))] if legal else auto_move(s)
        moves.append(move.to_json(s.geo))
        apply_move(s, move, validate=False)
    players = GameConfig.parse(config).num_players
    return GameRecord(
        config=config,
        seed=seed,
        moves=tuple(moves),
        result=result_from_state(s),
        agents=("random",) * players,
        source="bench",
        created_at=time.time(),
    )


def make_shards(directory: Path, games: int, per_shard: int) -> list[Path]:
    base = [play_random_game("square8_2p", seed) for seed in range(1, BASE_GAMES + 1)]
    records = [
        dataclasses.replace(base[k % len(base)], source=f"bench-{k}", game_id="")
        for k in range(games)
    ]
    return [
        write_shard(directory, records[i : i + per_shard], node="bench").path
        for i in range(0, games, per_shard)
    ]


def merge_rate(url: str, shards: list[Path], validate: bool) -> float:
    """Games per second merging every shard into the (empty) store at ``url``."""
    with open_store(url) as store:
        t = time.perf_counter()
        added = sum(store.pool.merge_shard(p, validate=validate).added for p in shards)
        dt = time.perf_counter() - t
        assert added == store.pool.count(), "every game must be added exactly once"
    return added / dt


def median_rate(make_url, shards: list[Path], validate: bool, runs: int) -> float:  # noqa: ANN001
    rates = []
    for _ in range(runs):
        with make_url() as url:
            rates.append(merge_rate(url, shards, validate))
    return statistics.median(rates)


class _SqliteDb:
    def __init__(self, root: Path) -> None:
        self.path = root / f"pool-{uuid.uuid4().hex}.db"

    def __enter__(self) -> str:
        return f"sqlite:///{self.path}"

    def __exit__(self, *exc: object) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class _PgDb:
    def __init__(self, admin: str, host_url: str) -> None:
        self.admin, self.host_url = admin, host_url
        self.name = f"ringrift_bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str:
        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{self.name}"')
        return f"{self.host_url}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--games", type=int, default=20_000)
    ap.add_argument("--validated-games", type=int, default=1_000)
    ap.add_argument("--games-per-shard", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    args = ap.parse_args()

    print(
        f"# machine: {platform.machine()}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; "
        f"{args.games} games in shards of {args.games_per_shard}"
    )
    with tempfile.TemporaryDirectory(prefix="pool-bench-") as tmp:
        root = Path(tmp)
        shards = make_shards(root / "shards", args.games, args.games_per_shard)
        few = shards[: max(1, args.validated_games // args.games_per_shard)]
        try:
            psycopg.connect(args.pg, connect_timeout=3).close()
            have_pg = True
        except psycopg.OperationalError as exc:
            print(f"# postgresql skipped: {exc}".strip())
            have_pg = False
        backends = [("sqlite", lambda: _SqliteDb(root))]
        if have_pg:
            backends.append(("postgresql", lambda: _PgDb(args.pg, args.pg_url)))
        for name, make in backends:
            raw = median_rate(make, shards, validate=False, runs=args.runs)
            print(f"pool merge {name}: {raw:.0f} games/s", flush=True)
            checked = median_rate(make, few, validate=True, runs=1)
            print(f"pool merge {name} (replay-validated): {checked:.0f} games/s", flush=True)


if __name__ == "__main__":
    main()
