"""The game pool: idempotent merges, rejected shards, the JSONL importer, queries."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from games import copies, play_random_game
from sqlalchemy import text

from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.store import ShardError, Store, open_store

PARITY = Path(__file__).resolve().parents[1] / "data" / "parity"


def _same_game(a: GameRecord, b: GameRecord) -> bool:
    return (a.game_id, a.config, a.seed, a.moves, a.result, a.agents, a.source, a.kind) == (
        b.game_id, b.config, b.seed, b.moves, b.result, b.agents, b.source, b.kind
    ) and a.targets == b.targets and a.created_at == b.created_at  # fmt: skip


def test_merge_adds_every_game_and_reads_them_back_unchanged(
    store: Store, real_games: list[GameRecord], mixed_games: list[GameRecord], tmp_path: Path
) -> None:
    games = real_games + mixed_games
    info = write_shard(tmp_path / "in", games, node="n1")
    result = store.pool.merge_shard(info.path)
    assert (result.added, result.duplicates, result.rejected) == (len(games), 0, 0)
    assert result.sha256 == info.sha256
    assert store.pool.count() == len(games)
    assert store.pool.count("square8_2p") == len(real_games) + 1
    stored = {g.game_id: g for g in store.pool.iter_games()}
    for g in games:
        assert _same_game(stored[g.game_id], g)
        assert stored[g.game_id].checksum() == g.checksum()
    assert store.pool.configs() == {"square8_2p": 13, "square8_3p": 1, "hex8_4p": 1}


def test_merging_the_same_shard_twice_adds_nothing(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    info = write_shard(tmp_path / "in", real_games)
    first = store.pool.merge_shard(info.path)
    second = store.pool.merge_shard(info.path)
    assert first.added == len(real_games)
    assert (second.added, second.duplicates, second.already_merged) == (0, len(real_games), True)
    assert store.pool.count() == len(real_games)
    assert store.pool.is_merged(info.sha256)


def test_a_shard_overlapping_the_pool_adds_only_new_games(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    a = write_shard(tmp_path / "a", real_games[:8])
    b = write_shard(tmp_path / "b", real_games[4:])
    store.pool.merge_shard(a.path)
    result = store.pool.merge_shard(b.path)
    assert (result.added, result.duplicates) == (4, 4)
    assert store.pool.count() == len(real_games)


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("flip", "checksum mismatch"),
        ("truncate", "checksum mismatch"),
        ("rename", "checksum mismatch"),
        ("not_sealed_name", "not a sealed shard name"),
    ],
)
def test_a_damaged_shard_is_rejected_with_the_reason_and_nothing_merged(
    store: Store, real_games: list[GameRecord], tmp_path: Path, damage: str, reason: str
) -> None:
    path = write_shard(tmp_path / "in", real_games).path
    if damage == "flip":
        _flip_byte(path, path.stat().st_size // 2)
    elif damage == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 3)
    elif damage == "rename":
        path = path.rename(path.with_name("0" * 64 + ".shard"))
    else:
        path = path.rename(path.with_name("incoming.shard"))
    with pytest.raises(ShardError, match=reason):
        store.pool.merge_shard(path)
    assert store.pool.count() == 0


def test_a_sealed_shard_with_an_illegal_game_is_rejected_whole_naming_game_and_step(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    bad = real_games[3]
    moves = list(bad.moves)
    moves[5], moves[6] = moves[6], moves[5]  # two placements by different players, swapped
    forged = dataclasses.replace(bad, moves=tuple(moves), game_id="")
    path = write_shard(tmp_path / "in", [*real_games[:3], forged, *real_games[4:]]).path
    with pytest.raises(ShardError, match=rf"game {forged.game_id} step 5"):
        store.pool.merge_shard(path)
    assert store.pool.count() == 0
    assert not store.pool.is_merged(path.name[:64])


def test_a_shard_row_whose_id_does_not_match_its_content_is_rejected(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    liar = dataclasses.replace(real_games[0], game_id="f" * 32)
    path = write_shard(tmp_path / "in", [liar, *real_games[1:]]).path
    with pytest.raises(ShardError, match="does not match its content"):
        store.pool.merge_shard(path)
    assert store.pool.count() == 0


def test_merge_without_validation_skips_the_replay_but_not_the_checks(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    path = write_shard(tmp_path / "in", real_games).path
    result = store.pool.merge_shard(path, validate=False)
    assert result.added == len(real_games)


def _write_lock_held(url: str) -> bool:
    """Whether another connection is inside a write transaction on ``url``'s database."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("///", 1)[1], timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            con.close()
    with open_store(url) as s, s.read() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rr-kill-test' "
                "AND backend_xid IS NOT NULL"
            )
        ).scalar_one()
    return n > 0


_CHILD = """
import sys
from pathlib import Path
from ringrift_tasks.store import open_store
store = open_store(sys.argv[1])
print("ready", flush=True)
store.pool.merge_shard(Path(sys.argv[2]), validate=False)
print("done", flush=True)
"""


def test_a_merge_killed_mid_transaction_and_retried_adds_each_game_once(
    store_url: str, real_games: list[GameRecord], tmp_path: Path
) -> None:
    short = [play_random_game("square8_2p", seed, max_steps=12) for seed in range(1, 41)]
    games = copies(short, 6000, tag="kill")
    shard = write_shard(tmp_path / "in", games).path
    child_url = store_url
    if store_url.startswith("postgresql"):
        child_url += "?application_name=rr-kill-test"
    with open_store(store_url) as store:
        store.pool.merge_shard(write_shard(tmp_path / "first", real_games).path)
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, child_url, str(shard)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 60
            while not _write_lock_held(store_url):
                assert proc.poll() is None, "the merge finished before it could be killed"
                assert time.monotonic() < deadline, "the merge never started its transaction"
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # Nothing of the killed transaction is visible.
        assert store.pool.count() == len(real_games)
        assert not store.pool.is_merged(shard.name[:64])

        retry = store.pool.merge_shard(shard, validate=False)
        assert (retry.added, retry.duplicates) == (len(games), 0)
        again = store.pool.merge_shard(shard, validate=False)
        assert again.added == 0
        assert store.pool.count() == len(real_games) + len(games)
        with store.read() as conn:
            distinct = conn.execute(text("SELECT count(DISTINCT game_id) FROM games")).scalar_one()
        assert distinct == len(real_games) + len(games)


def test_import_jsonl_loads_trace_games_once_through_the_rules(store: Store) -> None:
    path = PARITY / "square8_2p.jsonl.gz"
    first = store.pool.import_jsonl(path)
    assert (first.added, first.duplicates, first.rejected) == (10, 0, 0)
    second = store.pool.import_jsonl(path)
    assert (second.added, second.duplicates, second.rejected) == (0, 10, 0)
    games = list(store.pool.iter_games("square8_2p"))
    assert len(games) == 10
    assert {g.kind for g in games} == {"import"}
    assert {g.source for g in games} == {"import:square8_2p.jsonl.gz"}
    assert {g.agents for g in games} == {("trace", "trace")}
    with gzip.open(path, "rt") as fh:
        trace0 = json.loads(fh.readline())
    g0 = next(g for g in games if g.seed == trace0["seed"])
    assert g0.num_moves == len(trace0["steps"])
    assert g0.result.winner == trace0["result"]["winner"]
    assert list(g0.result.ranking) == trace0["result"]["ranking"]


def test_import_jsonl_rejects_a_game_that_does_not_replay_and_keeps_the_rest(
    store: Store, tmp_path: Path
) -> None:
    src = PARITY / "hex8_3p.jsonl.gz"
    with gzip.open(src, "rt") as fh:
        lines = [json.loads(line) for line in fh if line.strip()]
    lines[2]["steps"][4]["move"]["player"] = 3 if lines[2]["steps"][4]["move"]["player"] != 3 else 1
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("".join(json.dumps(g) + "\n" for g in lines))
    result = store.pool.import_jsonl(bad)
    assert (result.added, result.rejected) == (len(lines) - 1, 1)
    assert "game 2" in result.errors[0] and "step 4" in result.errors[0]
    assert store.pool.count("hex8_3p") == len(lines) - 1


def test_count_since_counts_games_merged_at_or_after_a_time(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    store.pool.merge_shard(write_shard(tmp_path / "a", real_games[:5]).path)
    t = time.time()
    time.sleep(0.01)
    store.pool.merge_shard(write_shard(tmp_path / "b", real_games[5:]).path)
    assert store.pool.count_since("square8_2p", t) == len(real_games) - 5
    assert store.pool.count_since("square8_2p", 0.0) == len(real_games)
    assert store.pool.count_since("hex8_2p", 0.0) == 0


def test_count_since_counts_training_data_only_unless_asked_for_every_kind(
    store: Store, mixed_games: list[GameRecord], tmp_path: Path
) -> None:
    # The square8_2p game of mixed_games is an evaluation game: a tournament must not wake
    # the trainer, so it is not a "new game" by default.
    store.pool.merge_shard(write_shard(tmp_path / "m", mixed_games).path)
    assert store.pool.count_since("square8_2p", 0.0) == 0
    assert store.pool.count_since("square8_2p", 0.0, kinds=None) == 1
    assert store.pool.count_since("square8_2p", 0.0, kinds=("evaluation",)) == 1
    assert store.pool.count_since("square8_3p", 0.0) == 1


def test_iter_games_and_latest_window_order_by_creation_time(
    store: Store, real_games: list[GameRecord], tmp_path: Path
) -> None:
    store.pool.merge_shard(write_shard(tmp_path / "a", real_games).path)
    by_time = sorted(real_games, key=lambda g: (g.created_at, g.game_id))
    newest = [g.game_id for g in store.pool.iter_games("square8_2p", limit=3)]
    assert newest == [g.game_id for g in reversed(by_time[-3:])]
    oldest = [g.game_id for g in store.pool.iter_games(newest_first=False, limit=2)]
    assert oldest == [g.game_id for g in by_time[:2]]
    window = store.pool.latest_window("square8_2p", 4)
    assert [g.game_id for g in window] == [g.game_id for g in by_time[-4:]]
