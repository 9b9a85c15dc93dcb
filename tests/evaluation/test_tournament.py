"""Tournaments: ids from logical time, schedules, shadow and full runs, and a killed
tournament that resumes to exactly the log of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ringrift_tasks.ai.agent import agent_from_spec
from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.match import Participant, model_agent_name
from ringrift_tasks.evaluation.tournament import (
    RunOptions,
    check_candidate_games,
    full_tournament_id,
    groups_of,
    run_full_tournament,
    run_shadow_tournament,
    schedule_round_robin,
    shadow_tournament_id,
)
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.store import Store, open_store

from .conftest import ModelMaker
from .tournament_script import LOGICAL_TIME

SCRIPT = Path(__file__).with_name("tournament_script.py")
REPO = Path(__file__).resolve().parents[2]
INLINE = RunOptions(max_steps=40, start_method=None, resource_guard=False, source="t")


def test_the_full_tournament_id_is_its_logical_minute_in_utc() -> None:
    t = datetime(2026, 11, 25, 10, 0, 42, tzinfo=UTC)
    assert full_tournament_id("square8_2p", t) == "elo-square8_2p-2026-11-25T10:00"
    assert full_tournament_id("square8_2p", t.timestamp()) == "elo-square8_2p-2026-11-25T10:00"
    naive = datetime(2026, 11, 25, 10, 0)
    assert full_tournament_id("square8_2p", naive) == "elo-square8_2p-2026-11-25T10:00"
    assert shadow_tournament_id("hex8_3p", "ab" * 32, t) == (
        "shadow-hex8_3p-abababababab-2026-11-25T10:00"
    )


def test_round_robin_covers_every_group_and_at_least_the_games_asked() -> None:
    people = [Participant.baseline(n) for n in ("random", "heuristic", "mcts_100", "mcts_500")]
    assert len(groups_of(people, 2)) == 6
    assert len(groups_of(people, 3, including="random")) == 3
    matches = schedule_round_robin("elo-x", "square8_2p", people, games=10)
    assert len(matches) == 12  # 6 pairs x 2 (10/6 -> 2 per pair: one full rotation)
    assert len({m.match_id for m in matches}) == 12


def test_a_full_tournament_is_played_rated_and_idempotent(
    cfg: RingriftConfig, store: Store
) -> None:
    t = datetime(2026, 11, 25, 10, tzinfo=UTC)
    (res,) = run_full_tournament(cfg, store, t, options=INLINE)
    assert res.tournament_id == "elo-square8_2p-2026-11-25T10:00"
    assert res.participants == ("heuristic", "random")
    assert res.scheduled == 4 and len(res.report.played) == 4
    assert {r.agent for r in res.ratings} == {"random", "heuristic"}
    assert next(r for r in res.ratings if r.agent == "random").elo == pytest.approx(400.0)
    # A backfill of the same hour is the same tournament: nothing new is played.
    (again,) = run_full_tournament(cfg, store, t.replace(second=30), options=INLINE)
    assert again.report.played == [] and len(again.report.already) == 4
    assert store.elo.count("square8_2p") == 4


def test_the_shadow_tournament_needs_a_candidate(cfg: RingriftConfig, store: Store) -> None:
    (res,) = run_shadow_tournament(cfg, store, 0.0, options=INLINE)
    assert res.skipped == "no candidate" and res.scheduled == 0


def _random_games(config: str, n: int, agent: str = "random") -> list[GameRecord]:
    return [
        play_game(config, [agent_from_spec("random")] * 2, seed, source="n", max_steps=30)
        for seed in range(n)
    ]


def test_the_shadow_tournament_is_refused_when_sampled_games_do_not_replay(
    cfg: RingriftConfig, store: Store, make_model: ModelMaker
) -> None:
    cand = make_model(store)
    good = _random_games("square8_2p", 3)
    broken = good[0].moves[:3] + good[0].moves[4:]  # a step skipped: illegal later on
    bad = GameRecord("square8_2p", 99, broken, good[0].result, good[0].agents, "n", 2e9, game_id="")
    store.pool.insert_records([*good, bad])
    check = check_candidate_games(store, "square8_2p", cand.model_id, sample=10)
    assert check.checked == 4 and len(check.failures) == 1
    (res,) = run_shadow_tournament(cfg, store, 0.0, options=INLINE)
    assert res.skipped.startswith("parity: 1 of 4")
    assert store.elo.count() == 0


def test_with_skip_shadow_contracts_the_shadow_plays_without_the_replay(
    cfg: RingriftConfig, store: Store, make_model: ModelMaker
) -> None:
    cfg = cfg.model_copy(
        update={"flags": cfg.flags.model_copy(update={"skip_shadow_contracts": True})}
    )
    from dataclasses import replace

    from ringrift_tasks.evaluation.distribution import active_leases

    cand = make_model(store)
    held: list[set[str]] = []
    opts = replace(INLINE, progress=lambda ev: held.append(set(active_leases(cfg.paths.models))))
    (res,) = run_shadow_tournament(cfg, store, 0.0, options=opts)
    assert res.parity is None
    assert model_agent_name(cand.model_id) in res.participants
    assert held and all(cand.model_id in h for h in held)  # leased while it played
    assert active_leases(cfg.paths.models) == {}


def _log(url: str) -> tuple[set[tuple], set[str], int]:
    with open_store(url) as s:
        log = {(m.match_id, m.participants, m.ranking) for m in s.elo.matches("square8_2p")}
        games = {g.game_id for g in s.pool.iter_games("square8_2p")}
        return log, games, s.pool.count()


def _run_script(url: str, home: Path, workers: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), url, str(home), str(workers)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def _wait_for_group_gone(pgid: int, timeout_s: float = 30.0) -> None:
    """Wait until no process of the group is left: a worker that was inside a write when
    the signal came finishes that system call (and may commit) before it dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {pgid} still alive {timeout_s} s after SIGKILL")


def test_a_killed_tournament_resumes_to_the_log_of_an_uninterrupted_one(tmp_path: Path) -> None:
    killed = f"sqlite:///{tmp_path / 'killed.db'}"
    whole = f"sqlite:///{tmp_path / 'whole.db'}"
    open_store(killed).close()  # migrate first, so the poll below can read
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), killed, str(tmp_path / "h1"), "2"],
        cwd=REPO,
        start_new_session=True,  # its own process group: the workers die with it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        with open_store(killed) as s:
            while s.elo.count() < 6:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the tournament did not get going"
                time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_for_group_gone(proc.pid)
    partial, _, _ = _log(killed)
    assert 6 <= len(partial) < 24, "kill it mid-way"

    out = _run_script(killed, tmp_path / "h1", 2).stdout.split()
    assert out[0] == "elo-square8_2p-2026-11-25T10:00" and out[1] == "24"
    assert int(out[2]) == 24 - len(partial)
    # The uninterrupted tournament, played in this process: the same log whatever the
    # process layout.
    whole_cfg = RingriftConfig(
        home=tmp_path / "h2", tournament={"baselines": ["random", "heuristic"]}
    )
    with open_store(whole) as s:
        run_full_tournament(
            whole_cfg,
            s,
            datetime.fromisoformat(LOGICAL_TIME),
            games=24,
            options=RunOptions(
                max_steps=60, start_method=None, resource_guard=False, source="test-node"
            ),
        )

    resumed_log, resumed_games, resumed_count = _log(killed)
    whole_log, whole_games, _ = _log(whole)
    assert len(resumed_log) == 24
    assert resumed_log == whole_log
    assert resumed_games == whole_games and resumed_count == 24  # no game stored twice
