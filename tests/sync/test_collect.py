"""Collecting local shards: good ones merged and moved, bad ones quarantined with a reason."""

from __future__ import annotations

import time
from pathlib import Path

from ringrift_tasks.records.game_record import GameRecord, result_from_state
from ringrift_tasks.records.shard import list_sealed_shards, write_shard
from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.store.db import open_store
from ringrift_tasks.sync.collect import collect_shards


def _game(config: str, seed: int) -> GameRecord:
    s = new_game(config)
    rng = Mulberry32(seed)
    moves = []
    while s.status == "active":
        legal = legal_moves(s)
        m = legal[rng.index(len(legal))] if legal else auto_move(s)
        moves.append(m.to_json(s.geo))
        apply_move(s, m, validate=False)
    return GameRecord(
        config, seed, tuple(moves), result_from_state(s), ("random", "random"), "test", time.time()
    )


def test_good_shards_merge_and_move_bad_ones_are_quarantined(tmp_path: Path) -> None:
    home = tmp_path
    incoming, merged, quarantine = home / "in", home / "merged", home / "quarantine"
    good = write_shard(incoming, [_game("square8_2p", 1), _game("square8_2p", 2)])
    bad = write_shard(incoming, [_game("hex8_2p", 3)])
    data = bytearray(bad.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.path.write_bytes(bytes(data))
    store = open_store(f"sqlite:///{home / 'ringrift.db'}")

    report = collect_shards(store, incoming, merged, quarantine)

    assert (report.shards_merged, report.shards_quarantined, report.games_added) == (1, 1, 2)
    assert report.added_per_config == {"square8_2p": 2}
    assert "checksum mismatch" in report.quarantined[bad.path.name]
    assert list_sealed_shards(incoming) == []
    assert (merged / good.path.name).exists() and (merged / f"{good.sha256}.json").exists()
    reason = (quarantine / bad.path.name).with_suffix(".reason").read_text()
    assert "checksum mismatch" in reason
    assert store.pool.count("square8_2p") == 2 and store.pool.count("hex8_2p") == 0


def test_collecting_the_same_shard_again_adds_nothing(tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    info = write_shard(incoming, [_game("square8_2p", 7)])
    copy = tmp_path / "copy.shard"
    copy.write_bytes(info.path.read_bytes())
    store = open_store(f"sqlite:///{tmp_path / 'ringrift.db'}")
    first = collect_shards(store, incoming, tmp_path / "merged", tmp_path / "q")
    # The node re-sends the same shard (e.g. after a lost acknowledgement).
    copy.rename(incoming / info.path.name)

    second = collect_shards(store, incoming, tmp_path / "merged", tmp_path / "q")

    assert first.games_added == 1 and second.games_added == 0
    assert second.shards_merged == 1 and store.pool.count() == 1
