"""Self-play workers: real processes writing sealed shards into a real directory."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.records.game_record import GameRecord, replay
from ringrift_tasks.records.shard import list_sealed_shards, read_shard, verify_shard
from ringrift_tasks.rules import ALL_CONFIGS
from ringrift_tasks.selfplay.worker import (
    ResourcePause,
    SelfPlayError,
    SelfPlayEvent,
    SelfPlayJob,
    SelfPlayWorker,
    assign_games,
    game_seed,
    run_selfplay,
    selfplay_from_config,
    worker_main,
)


def sealed_records(directory: Path) -> list[GameRecord]:
    return [rec for path in list_sealed_shards(directory) for rec in read_shard(path)]


# Guards run inside the worker processes, so they are module-level and picklable.
class PauseFirstCalls:
    """Says "pause" on its first ``n`` calls (per worker: each holds its own copy)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return "disk 99% used (test)" if self.calls <= self.n else None


def always_pause() -> str | None:
    return "memory 95% used (test)"


def broken_guard() -> str | None:
    raise RuntimeError("guard exploded (test)")


def test_two_workers_write_sealed_shards_whose_games_replay(tmp_path: Path) -> None:
    events: list[SelfPlayEvent] = []
    report = run_selfplay(
        "square8_2p", 7, 2, tmp_path, "heuristic", 123, 2, progress=events.append, source="n1"
    )
    shards = list_sealed_shards(tmp_path)
    assert sorted(shards) == sorted(report.shards)
    # 7 games over 2 workers (4 + 3) in shards of 2: 2+2 and 2+1.
    assert len(shards) == 4
    for path in shards:
        verify_shard(path)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["games"] in (1, 2) and sidecar["configs"] == ["square8_2p"]
    records = sealed_records(tmp_path)
    assert len(records) == 7 == report.games
    assert sorted(r.seed for r in records) == sorted(game_seed(123, i) for i in range(7))
    for rec in records:
        replay(rec)
        assert rec.kind == "selfplay" and rec.source == "n1"
        assert rec.agents == ("heuristic", "heuristic")
        assert rec.targets is not None
    assert report.moves == sum(r.num_moves for r in records)
    assert sum(1 for e in events if e.kind == "game") == 7
    assert sorted(e.worker for e in events if e.kind == "done") == [0, 1]
    assert not report.failed and not report.stopped


def test_the_games_depend_on_the_seed_not_on_the_worker_count(tmp_path: Path) -> None:
    one = run_selfplay("hex8_2p", 4, 1, tmp_path / "a", "random", 9, 10, source="n")
    two = run_selfplay("hex8_2p", 4, 2, tmp_path / "b", "random", 9, 10, source="n")
    assert one.games == two.games == 4
    ids_a = {r.game_id for r in sealed_records(tmp_path / "a")}
    ids_b = {r.game_id for r in sealed_records(tmp_path / "b")}
    assert ids_a == ids_b and len(ids_a) == 4


def test_games_are_dealt_in_chunks_whatever_the_worker_count() -> None:
    assert assign_games(7, 2) == [(0, 2, 4, 6), (1, 3, 5)]
    assert assign_games(10, 2, 3) == [(0, 1, 2, 6, 7, 8), (3, 4, 5, 9)]
    # More workers than chunks: no idle worker is started.
    assert assign_games(5, 4, 4) == [(0, 1, 2, 3), (4,)]
    assert assign_games(0, 3, 2) == [()]
    for games, workers, parallel in [(17, 3, 4), (16, 2, 16), (9, 5, 1)]:
        dealt = assign_games(games, workers, parallel)
        assert sorted(i for w in dealt for i in w) == list(range(games))
        # A chunk never straddles two workers, so a game's batch is fixed by (games, parallel).
        for w in dealt:
            chunks = {i // parallel for i in w}
            assert all(
                all(i in w for i in range(c * parallel, min(games, (c + 1) * parallel)))
                for c in chunks
            )
    with pytest.raises(ValueError, match="parallel_games=0"):
        assign_games(4, 1, 0)


def test_only_one_search_agent_on_every_seat_plays_games_together(tmp_path: Path) -> None:
    def worker(specs: tuple[str, ...], parallel: int) -> SelfPlayWorker:
        return SelfPlayWorker(
            SelfPlayJob(
                "square8_2p", specs, tmp_path, 1, range(4), 10, "n", parallel_games=parallel
            )
        )

    assert worker(("mcts:sims=4",) * 2, 4).batched
    assert not worker(("mcts:sims=4",) * 2, 1).batched
    assert not worker(("heuristic",) * 2, 4).batched
    assert not worker(("mcts:sims=4", "mcts:sims=8"), 4).batched
    # One by one, games are spread one at a time: 3 heuristic games keep 3 workers busy.
    three = run_selfplay("square8_2p", 3, 3, tmp_path / "h", "heuristic", 1, 10, parallel_games=16)
    assert len(list_sealed_shards(tmp_path / "h")) == 3 and three.games == 3
    # Seats of one spec share one agent object (one search tree per game, as batched).
    w = worker(("mcts:sims=4",) * 2, 1)
    assert w.agents[0] is w.agents[1]


def test_batched_search_self_play_plays_the_games_of_one_by_one(tmp_path: Path) -> None:
    # The heuristic evaluator is deterministic, so the games must match; the search looks no
    # further than the game cap in both ways of playing.
    spec = "mcts:sims=6,max_steps=50"
    kw = {"max_steps": 50, "source": "n"}
    run_selfplay("square8_2p", 5, 1, tmp_path / "one", spec, 4, 10, parallel_games=1, **kw)
    run_selfplay("square8_2p", 5, 2, tmp_path / "batch", spec, 4, 10, parallel_games=3, **kw)
    one = {r.game_id: r for r in sealed_records(tmp_path / "one")}
    batch = {r.game_id: r for r in sealed_records(tmp_path / "batch")}
    assert len(one) == 5 and one.keys() == batch.keys()
    for gid, rec in one.items():
        assert rec.targets == batch[gid].targets


def test_neural_self_play_in_batches_is_the_same_for_any_worker_count(tmp_path: Path) -> None:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    net = build_model(default_model_config("square8", blocks=1, channels=8), seed=3)
    path, _ = save_model(net, ModelCard(config="square8_2p", model_config=net.config), tmp_path)
    spec = f"mcts:model={path},sims=4"
    kw = {"max_steps": 40, "source": "n", "parallel_games": 3}
    one = run_selfplay("square8_2p", 7, 1, tmp_path / "a", spec, 8, 10, **kw)
    three = run_selfplay("square8_2p", 7, 3, tmp_path / "b", spec, 8, 10, **kw)
    assert one.games == three.games == 7
    recs_a = sealed_records(tmp_path / "a")
    ids_a = {r.game_id for r in recs_a}
    ids_b = {r.game_id for r in sealed_records(tmp_path / "b")}
    assert ids_a == ids_b and len(ids_a) == 7
    # 7 games in chunks of 3 over 3 workers: 3 + 3 + 1, each worker's own shard.
    assert len(list_sealed_shards(tmp_path / "b")) == 3
    for rec in recs_a:
        assert rec.agents == (f"mcts:model={path},sims=4",) * 2
        assert rec.targets is not None
        replay(rec)


def test_per_seat_agent_specs_and_move_caps(tmp_path: Path) -> None:
    run_selfplay(
        "square19_3p",
        2,
        2,
        tmp_path,
        ["random", "heuristic:max_candidates=8", "random"],
        1,
        5,
        max_steps=40,
        temperature=None,
    )
    records = sealed_records(tmp_path)
    assert len(records) == 2
    for rec in records:
        assert rec.agents == ("random", "heuristic", "random")
        assert rec.num_moves == 40 and rec.result.termination == "move_cap"
        replay(rec)


def test_a_killed_worker_leaves_no_partial_shard_looking_sealed(tmp_path: Path) -> None:
    """SIGKILL a worker at several moments, shards of one game each so that many writes are
    in progress; whatever is left sealed must verify and hold complete games only."""
    ctx = mp.get_context("spawn")
    for attempt, delay in enumerate((0.8, 1.3, 2.1)):
        job = SelfPlayJob(
            config="square8_2p",
            agent_specs=("random", "random"),
            out_dir=tmp_path,
            base_seed=attempt,
            game_indices=range(10_000),
            games_per_shard=1,
            source="killed",
        )
        events = ctx.Queue()
        proc = ctx.Process(target=worker_main, args=(job, events))
        proc.start()
        deadline = time.monotonic() + 60
        while len(list_sealed_shards(tmp_path)) <= attempt and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
        events.close()
    shards = list_sealed_shards(tmp_path)
    assert len(shards) >= 3
    for path in shards:
        verify_shard(path)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        records = list(read_shard(path))
        assert len(records) == sidecar["games"] == 1
        replay(records[0])
    # Anything else left behind is a temporary file, which readers never list.
    leftovers = {p.name for p in tmp_path.iterdir()} - {p.name for p in shards}
    leftovers -= {p.with_suffix(".json").name for p in shards}
    assert all(name.startswith(".tmp-") for name in leftovers)


def test_the_guard_pauses_a_worker_between_games(tmp_path: Path) -> None:
    events: list[SelfPlayEvent] = []
    report = run_selfplay(
        "square8_2p",
        2,
        1,
        tmp_path,
        "random",
        5,
        10,
        guard=PauseFirstCalls(2),
        progress=events.append,
        pause_poll_s=0.05,
    )
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["pause", "resume"]
    assert events[0].reason == "disk 99% used (test)"
    assert report.games == 2 and not report.stopped


def test_a_worker_gives_up_after_the_pause_timeout_keeping_sealed_work(tmp_path: Path) -> None:
    report = run_selfplay(
        "square8_2p",
        3,
        1,
        tmp_path,
        "random",
        5,
        10,
        guard=always_pause,
        pause_poll_s=0.05,
        pause_timeout_s=0.3,
    )
    assert report.games == 0
    assert "memory 95% used (test)" in report.stopped[0]
    assert list_sealed_shards(tmp_path) == []


def test_a_failing_worker_is_reported_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(SelfPlayError, match="guard exploded") as err:
        run_selfplay("square8_2p", 2, 2, tmp_path, "random", 5, 10, guard=broken_guard)
    assert set(err.value.report.failed) == {0, 1}


def test_bad_arguments_are_named_before_any_worker_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        run_selfplay("square8_2p", 2, 1, tmp_path, "nope", 1, 1)
    with pytest.raises(ValueError, match="bad config name"):
        run_selfplay("square9_2p", 2, 1, tmp_path, "random", 1, 1)
    with pytest.raises(ValueError, match="workers=0"):
        run_selfplay("square8_2p", 2, 0, tmp_path, "random", 1, 1)
    with pytest.raises(ValueError, match="parallel_games=0"):
        run_selfplay("square8_2p", 2, 1, tmp_path, "random", 1, 1, parallel_games=0)
    with pytest.raises(ValueError, match="torch_threads=0"):
        run_selfplay("square8_2p", 2, 1, tmp_path, "random", 1, 1, torch_threads=0)


def test_resource_pause_reports_only_critical_disk_or_memory(tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path)})
    relaxed = cfg.resources.model_copy(
        update={
            "disk_warning_pct": 99.8,
            "disk_critical_pct": 99.9,
            "memory_warning_pct": 99.8,
            "memory_critical_pct": 99.9,
        }
    )
    assert ResourcePause(relaxed, tmp_path)() is None
    strict = cfg.resources.model_copy(
        update={
            "disk_warning_pct": 0.0,
            "disk_critical_pct": 0.001,
            "memory_warning_pct": 0.0,
            "memory_critical_pct": 0.001,
        }
    )
    reason = ResourcePause(strict, tmp_path)()
    assert reason is not None and "critical" in reason


def test_selfplay_from_config_uses_the_loop_settings(tmp_path: Path) -> None:
    cfg = load_config(
        env={"RINGRIFT_HOME": str(tmp_path), "RINGRIFT__SELFPLAY__GAMES_PER_SHARD": "2"}
    )
    report = selfplay_from_config(cfg, "square8_2p", 3, "random", seed=1, resource_guard=False)
    assert report.games == 3
    shards = list_sealed_shards(cfg.paths.shards_incoming)
    assert len(shards) == 2
    assert sum(1 for _ in sealed_records(cfg.paths.shards_incoming)) == 3


@pytest.mark.parametrize("config", [c.name for c in ALL_CONFIGS])
def test_every_config_self_plays_into_shards_with_two_workers(tmp_path: Path, config: str) -> None:
    # Capped prefixes keep the big boards fast; full games are covered in test_play.py.
    report = run_selfplay(config, 2, 2, tmp_path, "random", 77, 5, max_steps=60)
    records = sealed_records(tmp_path)
    assert report.games == len(records) == 2
    assert len(list_sealed_shards(tmp_path)) == 2
    for rec in records:
        assert rec.config == config
        replay(rec)
