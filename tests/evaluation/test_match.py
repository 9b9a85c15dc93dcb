"""Matches: seat rotation, deterministic ids and seeds, storing every game and result."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ringrift_tasks.config import ResourceLimits
from ringrift_tasks.evaluation.match import (
    MatchError,
    Participant,
    ResourceWait,
    elo_ranking,
    group_key,
    run_matches,
    schedule_group,
)
from ringrift_tasks.records.game_record import GameRecord, GameResult
from ringrift_tasks.store import Store

P = Participant.baseline


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ("square8_2p", ["random", "heuristic"]),
        ("square8_3p", ["random", "heuristic", "b"]),
        ("hex8_4p", ["d", "c", "b", "a"]),
    ],
)
def test_every_participant_plays_every_seat_equally(config: str, names: list[str]) -> None:
    group = [Participant(n, "random") for n in names]
    k = len(names)
    matches = schedule_group("t1", config, group, games=2 * k + 1)
    assert len(matches) == 3 * k  # rounded up to whole rotations
    seats = Counter((p.name, seat) for m in matches for seat, p in enumerate(m.seats))
    assert set(seats.values()) == {3}
    assert len(seats) == k * k


def test_match_ids_and_seeds_depend_only_on_tournament_group_and_round() -> None:
    a = schedule_group("elo-x", "square8_2p", [P("random"), P("heuristic")], 4)
    b = schedule_group("elo-x", "square8_2p", [P("heuristic"), P("random")], 4)
    assert a == b
    assert len({m.match_id for m in a}) == 4
    assert len({m.seed for m in a}) == 4
    other = schedule_group("elo-y", "square8_2p", [P("random"), P("heuristic")], 4)
    assert not {m.match_id for m in a} & {m.match_id for m in other}
    assert a[0].match_id == f"elo-x/{group_key(['random', 'heuristic'])}/0"


def test_a_group_of_the_wrong_size_or_with_a_repeat_is_refused() -> None:
    with pytest.raises(MatchError, match="needs 2 distinct"):
        schedule_group("t", "square8_2p", [P("random")], 2)
    with pytest.raises(MatchError, match="needs 2 distinct"):
        schedule_group("t", "square8_2p", [P("random"), P("random")], 2)
    with pytest.raises(MatchError, match="tournament id"):
        schedule_group("a/b", "square8_2p", [P("random"), P("heuristic")], 2)


def test_a_capped_game_is_a_draw_and_a_finished_one_follows_the_seat_ranking() -> None:
    def rec(result: GameResult) -> GameRecord:
        return GameRecord("square8_3p", 1, (), result, ("x",) * 3, "n", 0.0)

    names = ["a", "b", "c"]
    assert elo_ranking(rec(GameResult(None, "move_cap", (2, 1, 3))), names) == [names]
    assert elo_ranking(rec(GameResult(3, "ring_elimination", (3, 1, 2))), names) == [
        ["c"],
        ["a"],
        ["b"],
    ]


def test_every_game_goes_to_the_pool_and_its_result_to_the_elo_log(store: Store) -> None:
    matches = schedule_group("t-pool", "square8_2p", [P("random"), P("heuristic")], 4)
    report = run_matches(store, matches, max_steps=80, start_method=None, source="node-a")
    assert sorted(report.played) == sorted(m.match_id for m in matches)
    logged = {m.match_id: m for m in store.elo.matches("square8_2p")}
    assert set(logged) == {m.match_id for m in matches}
    games = {g.game_id: g for g in store.pool.iter_games("square8_2p")}
    assert len(games) == 4
    for m in matches:
        entry = logged[m.match_id]
        assert entry.participants == tuple(p.name for p in m.seats)
        assert entry.source == "t-pool"
        game = games[entry.game_id]
        assert game.kind == "evaluation"
        assert game.seed == m.seed
        assert game.agents == tuple(p.spec for p in m.seats)


def test_a_rerun_plays_nothing_already_logged(store: Store) -> None:
    matches = schedule_group("t-rerun", "square8_2p", [P("random"), P("heuristic")], 4)
    run_matches(store, matches[:2], max_steps=40, start_method=None)
    report = run_matches(store, matches, max_steps=40, start_method=None)
    assert sorted(report.already) == sorted(m.match_id for m in matches[:2])
    assert sorted(report.played) == sorted(m.match_id for m in matches[2:])
    assert store.elo.count("square8_2p") == 4


def test_worker_processes_give_the_same_log_as_one_process(tmp_path, sqlite_url) -> None:
    from ringrift_tasks.store import open_store

    matches = schedule_group("t-par", "square8_2p", [P("random"), P("heuristic")], 6)
    with open_store(sqlite_url) as parallel:
        report = run_matches(parallel, matches, workers=3, max_steps=60, source="n")
        assert report.complete and len(report.played) == 6
        par = {(m.match_id, m.participants, m.ranking) for m in parallel.elo.matches("square8_2p")}
    with open_store(f"sqlite:///{tmp_path / 'serial.db'}") as serial:
        run_matches(serial, matches, max_steps=60, start_method=None, source="n")
        ser = {(m.match_id, m.participants, m.ranking) for m in serial.elo.matches("square8_2p")}
    assert par == ser


def test_workers_stop_with_the_reason_when_resources_are_critical(store: Store, tmp_path) -> None:
    limits = ResourceLimits(disk_warning_pct=0.01, disk_critical_pct=0.02)
    matches = schedule_group("t-guard", "square8_2p", [P("random"), P("heuristic")], 2)
    report = run_matches(
        store,
        matches,
        start_method=None,
        guard=ResourceWait(limits, tmp_path),
        pause_poll_s=0.01,
        pause_timeout_s=0.05,
    )
    assert not report.complete and not report.played
    assert "disk" in report.stopped[0] and "gave up" in report.stopped[0]
    assert store.elo.count() == 0


def test_an_unknown_agent_spec_is_named_before_any_game(store: Store) -> None:
    matches = schedule_group("t", "square8_2p", [P("random"), Participant("x", "nosuch")], 2)
    with pytest.raises(MatchError, match="nosuch"):
        run_matches(store, matches, start_method=None)


def test_the_rounds_of_one_seat_rotation_share_an_opening_and_rotations_differ() -> None:
    matches = schedule_group("t-open", "square8_3p", [P("a"), P("b"), P("c")], 9)
    by_rotation: dict[int, set[int]] = {}
    for m in matches:
        by_rotation.setdefault(m.round // 3, set()).add(m.opening_seed)
    assert all(len(seeds) == 1 for seeds in by_rotation.values())
    assert len({s for seeds in by_rotation.values() for s in seeds}) == 3
    again = schedule_group("t-open", "square8_3p", [P("c"), P("a"), P("b")], 9)
    assert [m.opening_seed for m in again] == [m.opening_seed for m in matches]


def test_random_openings_make_deterministic_agents_play_distinct_games(store: Store) -> None:
    # Two deterministic agents: without an opening, every game of a seat is the same game.
    group = [P("mcts:sims=4"), P("mcts:sims=8")]  # searches without noise
    plain = schedule_group("t-plain", "square8_2p", group, 6)
    run_matches(store, plain, max_steps=60, start_method=None)
    opened = schedule_group("t-opened", "square8_2p", group, 6)
    run_matches(store, opened, max_steps=60, start_method=None, opening_plies=4)
    logged = {m.match_id: m for m in store.elo.matches("square8_2p")}
    games = {g.game_id: g for g in store.pool.iter_games("square8_2p")}

    def moves(matches: list) -> list[tuple[str, ...]]:
        return [
            tuple(json.dumps(mv, sort_keys=True) for mv in games[logged[m.match_id].game_id].moves)
            for m in matches
        ]

    assert len(set(moves(plain))) == 2  # one game per seat order, replayed
    opened_moves = moves(opened)
    assert len(set(opened_moves)) == 6
    # Both rounds of a rotation open alike (4 placements), whoever sits first.
    for first, second in zip(opened_moves[::2], opened_moves[1::2], strict=True):
        assert first[:4] == second[:4]
    assert len({m[:4] for m in opened_moves}) == 3
