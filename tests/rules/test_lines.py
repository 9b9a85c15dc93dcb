"""Marker lines: detection order and thresholds, the offered line-phase moves, and their effects."""

from __future__ import annotations

import json

import pytest

from ringrift_tasks.rules import lines
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move, canonical_json, move_from_json
from ringrift_tasks.rules.state import GameState, new_game
from ringrift_tasks.rules.view import full_digest


def make(
    config: str, markers: dict[tuple[int, ...], int], stacks=None, collapsed=None, player: int = 1
) -> GameState:
    """A line_processing state of ``config`` with the given markers/stacks (by coordinates)."""
    s = new_game(config)
    idx = s.geo.index
    for c, p in markers.items():
        s.markers[idx[c]] = p
    for c, st in (stacks or {}).items():
        s.stacks[idx[c]] = tuple(st)
    for c, p in (collapsed or {}).items():
        s.collapsed[idx[c]] = p
    s.phase = "line_processing"
    s.current_player = player
    return s


def coords(s: GameState, line: lines.Line) -> list[tuple[int, ...]]:
    return [s.geo.coords[c] for c in line.cells]


def row(y: int, xs) -> dict[tuple[int, int], int]:
    return {(x, y): 1 for x in xs}


def keys(s: GameState, moves: list[Move]) -> list[str]:
    return sorted(m.key(s.geo) for m in moves)


# --- detection -----------------------------------------------------------------------


def test_positions_run_backward_end_first_whatever_marker_starts_the_walk() -> None:
    # Inserted right-to-left: the walk starts at x=5 but the line still reads x=2..5.
    s = make("square8_2p", {(5, 3): 1, (4, 3): 1, (3, 3): 1, (2, 3): 1})
    (line,) = lines.detect_lines(s, 1)
    assert coords(s, line) == [(2, 3), (3, 3), (4, 3), (5, 3)]
    assert line.to_json(s.geo)["direction"] == {"x": 1, "y": 0}
    assert line.to_json(s.geo)["length"] == 4


def test_northeast_line_uses_direction_1_minus_1() -> None:
    s = make("square8_2p", {(0, 7): 1, (1, 6): 1, (2, 5): 1, (3, 4): 1})
    (line,) = lines.detect_lines(s, 1)
    assert coords(s, line) == [(0, 7), (1, 6), (2, 5), (3, 4)]
    assert line.to_json(s.geo)["direction"] == {"x": 1, "y": -1}


@pytest.mark.parametrize("blocker", ["stack", "collapsed", "opponent_marker"])
def test_blockers_split_a_run(blocker: str) -> None:
    ms = row(2, range(0, 7))
    stacks, collapsed = {}, {}
    if blocker == "stack":
        stacks[(3, 2)] = (2,)
    elif blocker == "collapsed":
        collapsed[(3, 2)] = 2
    else:
        ms[(3, 2)] = 2
    s = make("square8_3p", ms, stacks, collapsed)
    found = [coords(s, ln) for ln in lines.detect_lines(s, 1)]
    assert found == [[(0, 2), (1, 2), (2, 2)], [(4, 2), (5, 2), (6, 2)]]


def test_lines_come_in_marker_insertion_order_then_direction_order() -> None:
    # (0,0) is inserted first and starts both an E and an S line; the E line comes first.
    ms = {(0, 0): 1, (5, 5): 1, (6, 5): 1, (7, 5): 1, (1, 0): 1, (2, 0): 1, (0, 1): 1, (0, 2): 1}
    s = make("square8_3p", ms)
    found = [coords(s, ln) for ln in lines.detect_lines(s, 1)]
    assert found == [
        [(0, 0), (1, 0), (2, 0)],
        [(0, 0), (0, 1), (0, 2)],
        [(5, 5), (6, 5), (7, 5)],
    ]


def test_hex_direction_object_carries_z() -> None:
    ms = {(0, 0, 0): 1, (1, -1, 0): 1, (2, -2, 0): 1, (-1, 1, 0): 1}
    s = make("hex8_2p", ms)
    (line,) = lines.detect_lines(s, 1)
    assert coords(s, line) == [(-1, 1, 0), (0, 0, 0), (1, -1, 0), (2, -2, 0)]
    assert line.to_json(s.geo)["direction"] == {"x": 1, "y": -1, "z": 0}
    assert line.to_json(s.geo)["positions"][0] == {"x": -1, "y": 1, "z": 0}


def test_player_filter_ignores_other_players_lines() -> None:
    ms = {**row(0, range(4)), **{(x, 7): 2 for x in range(4)}}
    s = make("square8_2p", ms)
    assert [ln.player for ln in lines.detect_lines(s)] == [1, 2]
    assert [ln.player for ln in lines.detect_lines(s, 2)] == [2]


# --- offered moves (host H2) ---------------------------------------------------------


def test_three_markers_are_no_line_in_square8_2p() -> None:
    s = make("square8_2p", row(0, range(3)))
    assert lines.line_phase_moves(s, 1) == []
    assert not lines.has_line_decision(s, 1)


def test_exact_line_offers_process_line_and_collapse_all() -> None:
    s = make("square8_3p", row(0, range(3)))
    moves = lines.line_phase_moves(s, 1)
    assert sorted(m.type for m in moves) == ["choose_line_option", "process_line"]
    choose = next(m for m in moves if m.type == "choose_line_option")
    assert choose.extra["collapsedMarkers"] == choose.extra["formedLines"][0]["positions"]
    assert lines.has_line_decision(s, 1)


def test_hex8_3p_three_marker_line_is_host_only() -> None:
    # The engine's detector needs 4 on hex8; the host's choose enumeration needs 3.
    s = make("hex8_3p", {(0, 0, 0): 1, (1, 0, -1): 1, (2, 0, -2): 1})
    moves = lines.line_phase_moves(s, 1)
    assert [m.type for m in moves] == ["choose_line_option"]
    assert not lines.has_line_decision(s, 1)


def test_overlength_line_offers_collapse_all_and_every_window() -> None:
    s = make("square8_2p", row(4, range(1, 7)))  # 6 markers, 4 required
    moves = lines.line_phase_moves(s, 1)
    assert [m.type for m in moves].count("process_line") == 1
    windows = [
        [p["x"] for p in m.extra["collapsedMarkers"]]
        for m in moves
        if m.type == "choose_line_option"
    ]
    assert windows == [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]]


def test_move_json_matches_reference_form() -> None:
    s = make("square8_2p", {(2, 0): 2, (3, 1): 2, (4, 2): 2, (5, 3): 2}, player=2)
    (pl,) = [m for m in lines.line_phase_moves(s, 2) if m.type == "process_line"]
    ref = (
        '{"type":"process_line","player":2,"to":{"x":2,"y":0},"formedLines":[{"positions":'
        '[{"x":2,"y":0},{"x":3,"y":1},{"x":4,"y":2},{"x":5,"y":3}],"player":2,"length":4,'
        '"direction":{"x":1,"y":1}}]}'
    )
    assert pl.key(s.geo) == canonical_json(json.loads(ref))


def test_pending_reward_offers_only_eliminations_of_own_stacks() -> None:
    s = make("square8_3p", row(0, range(3)), stacks={(5, 5): (1, 2), (6, 6): (2,), (7, 7): (1,)})
    s.pending_line_reward = True
    moves = lines.line_phase_moves(s, 1)
    assert {m.type for m in moves} == {"eliminate_rings_from_stack"}
    assert sorted(s.geo.coords[m.to] for m in moves) == [(5, 5), (7, 7)]
    assert moves[0].extra == {
        "eliminatedRings": [{"player": 1, "count": 1}],
        "eliminationContext": "line",
    }


def test_pending_reward_without_stacks_falls_back_to_line_moves() -> None:
    s = make("square8_3p", row(0, range(3)))
    s.pending_line_reward = True
    assert {m.type for m in lines.line_phase_moves(s, 1)} == {"process_line", "choose_line_option"}


# --- applying ------------------------------------------------------------------------


def _pick(s: GameState, mtype: str, n_collapsed: int | None = None) -> Move:
    for m in lines.line_phase_moves(s, s.current_player):
        if m.type != mtype:
            continue
        if n_collapsed is None or len(m.extra["collapsedMarkers"]) == n_collapsed:
            return m
    raise AssertionError(f"no {mtype} offered")


def test_process_line_collapses_exact_line_and_grants_reward() -> None:
    s = make("square8_2p", row(0, range(4)), stacks={(7, 7): (1,)})
    pending = lines.apply_process_line(s, _pick(s, "process_line"))
    assert pending is True and s.pending_line_reward is True
    assert s.markers == {}
    assert sorted(s.geo.coords[c] for c in s.collapsed) == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert set(s.collapsed.values()) == {1}
    assert s.territory[1] == 4


def test_no_reward_when_player_controls_no_stack() -> None:
    s = make("square8_2p", row(0, range(4)), stacks={(7, 7): (2, 1)})
    assert lines.apply_process_line(s, _pick(s, "process_line")) is False
    assert s.pending_line_reward is False
    assert s.territory[1] == 4


def test_process_line_on_overlength_line_is_a_no_op() -> None:
    s = make("square8_2p", row(0, range(5)), stacks={(7, 7): (1,)})
    before = full_digest(s)
    assert lines.apply_process_line(s, _pick(s, "process_line")) is False
    assert full_digest(s) == before


def test_minimum_collapse_collapses_window_without_reward() -> None:
    s = make("square8_2p", row(0, range(5)), stacks={(7, 7): (1,)})
    m = _pick(s, "choose_line_option", n_collapsed=4)
    assert lines.apply_choose_line_option(s, m) is False
    assert s.territory[1] == 4
    assert [s.geo.coords[c] for c in s.markers] == [(4, 0)]


def test_collapse_all_on_overlength_line_grants_reward() -> None:
    s = make("square8_2p", row(0, range(5)), stacks={(7, 7): (1,)})
    assert lines.apply_choose_line_option(s, _pick(s, "choose_line_option", 5)) is True
    assert s.territory[1] == 5 and s.markers == {}


def test_line_reward_elimination_removes_one_top_ring() -> None:
    s = make("square8_3p", {}, stacks={(2, 2): (1, 1, 2), (3, 3): (1,)})
    s.pending_line_reward = True
    m = move_from_json(
        {
            "type": "eliminate_rings_from_stack",
            "player": 1,
            "to": {"x": 2, "y": 2},
            "eliminatedRings": [{"player": 1, "count": 1}],
            "eliminationContext": "line",
        },
        s.geo,
    )
    assert lines.apply_line_reward_elimination(s, m) == 1
    assert s.stacks[s.geo.index[(2, 2)]] == (1, 2)
    assert (s.board_eliminated[1], s.eliminated[1], s.total_rings_eliminated) == (1, 1, 1)
    assert s.pending_line_reward is False


def test_line_reward_elimination_of_single_ring_deletes_the_stack() -> None:
    s = make("square8_3p", {}, stacks={(3, 3): (1,), (4, 4): (1, 1)})
    s.pending_line_reward = True
    m = Move(
        "eliminate_rings_from_stack",
        1,
        to=s.geo.index[(3, 3)],
        extra={"eliminatedRings": [{"player": 1, "count": 1}], "eliminationContext": "line"},
    )
    lines.apply_line_reward_elimination(s, m)
    assert [s.geo.coords[c] for c in s.stacks] == [(4, 4)]


def test_unoffered_line_move_is_rejected() -> None:
    s = make("square8_3p", row(0, range(3)), stacks={(7, 7): (1,)})
    m = _pick(s, "process_line")
    s.pending_line_reward = True  # now only eliminations are offered
    with pytest.raises(IllegalMoveError, match="line_processing|offered"):
        lines.apply_process_line(s, m)


def test_wrong_player_is_rejected() -> None:
    s = make("square8_3p", row(0, range(3)))
    m = _pick(s, "process_line")
    s.current_player = 2
    with pytest.raises(IllegalMoveError, match="player 1"):
        lines.apply_process_line(s, m)
