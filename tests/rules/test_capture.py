"""Behavioural tests of overtaking captures and capture chains."""

from __future__ import annotations

from functools import partial

from ringrift_tasks.rules.capture import (
    apply_capture_segment,
    capture_moves,
    capture_phase_moves,
    capture_segments_from,
    chain_capture_moves,
    has_capture_from,
    movement_phase_moves,
)
from ringrift_tasks.rules.state import GameState
from tests.rules.positions import build_position, cell

make = partial(build_position, phase="movement")


def segs(s: GameState, frm: tuple[int, ...], player: int) -> set[tuple[tuple, tuple]]:
    c = s.geo.coords
    return {(c[t], c[land]) for t, land in capture_segments_from(s, cell(s, *frm), player)}


def test_capture_lands_anywhere_beyond_the_target_until_blocked() -> None:
    s = make(stacks={(0, 0): (1,), (2, 0): (2,), (6, 0): (2, 2, 2)}, collapsed={(0, 5): 1})
    got = segs(s, (0, 0), 1)
    assert got == {((2, 0), (3, 0)), ((2, 0), (4, 0)), ((2, 0), (5, 0))}


def test_cap_height_must_be_at_least_the_targets() -> None:
    s = make(stacks={(0, 0): (1, 2, 2), (2, 0): (2, 2)})
    assert segs(s, (0, 0), 1) == set()
    s.stacks[cell(s, 0, 0)] = (1, 1, 2)
    assert ((2, 0), (3, 0)) in segs(s, (0, 0), 1)


def test_own_stacks_can_be_overtaken() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (1,)})
    assert ((1, 0), (2, 0)) in segs(s, (0, 0), 1)


def test_total_distance_must_reach_the_attacker_height() -> None:
    s = make(stacks={(0, 0): (1, 1, 1), (1, 0): (2,)})
    got = {land for _, land in segs(s, (0, 0), 1)}
    assert (2, 0) not in got and (3, 0) in got


def test_markers_are_jumped_and_collapsed_spaces_block() -> None:
    s = make(
        stacks={(0, 0): (1,), (3, 0): (2,), (0, 3): (2,)},
        markers={(1, 0): 2},
        collapsed={(0, 1): 2},
    )
    got = segs(s, (0, 0), 1)
    assert ((3, 0), (4, 0)) in got
    assert all(t != (0, 3) for t, _ in got)


def test_capture_moves_from_one_or_all_stacks() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (2,), (7, 7): (1,), (6, 7): (2,)})
    all_moves = capture_moves(s, 1)
    assert {m.frm for m in all_moves} == {cell(s, 0, 0), cell(s, 7, 7)}
    assert {m.frm for m in capture_moves(s, 1, cell(s, 7, 7))} == {cell(s, 7, 7)}
    assert all(m.type == "overtaking_capture" for m in all_moves)


def test_movement_phase_moves_respect_must_move_from() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (2,), (7, 7): (1,)})
    s.must_move_from = cell(s, 7, 7)
    assert {m.frm for m in movement_phase_moves(s, 1)} == {cell(s, 7, 7)}


def test_capture_phase_lists_captures_from_attacker_then_skip() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (2,)})
    moves = capture_phase_moves(s, 1, cell(s, 0, 0))
    assert moves[-1].type == "skip_capture"
    assert {m.type for m in moves[:-1]} == {"overtaking_capture"}
    assert capture_phase_moves(s, 1, None) == []


def test_chain_moves_are_continue_capture_segments() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (2,)})
    moves = chain_capture_moves(s, 1, cell(s, 0, 0))
    assert moves and {m.type for m in moves} == {"continue_capture_segment"}


def test_apply_transfers_target_top_ring_to_the_bottom() -> None:
    s = make(stacks={(0, 0): (1,), (2, 0): (2, 1)})
    apply_capture_segment(s, cell(s, 0, 0), cell(s, 2, 0), cell(s, 4, 0), 1)
    assert s.stacks[cell(s, 4, 0)] == (1, 2)
    assert s.stacks[cell(s, 2, 0)] == (1,)
    assert s.markers == {cell(s, 0, 0): 1}
    # Target remainder is re-inserted after the landing stack.
    assert list(s.stacks) == [cell(s, 4, 0), cell(s, 2, 0)]


def test_apply_processes_markers_on_both_legs() -> None:
    s = make(stacks={(0, 0): (1,), (2, 0): (2,)}, markers={(1, 0): 1, (3, 0): 2})
    apply_capture_segment(s, cell(s, 0, 0), cell(s, 2, 0), cell(s, 4, 0), 1)
    assert s.collapsed == {cell(s, 1, 0): 1}
    assert s.markers[cell(s, 3, 0)] == 1
    assert s.territory[1] == 1


def test_landing_on_a_marker_eliminates_the_attackers_top_ring() -> None:
    s = make(stacks={(0, 0): (1, 2), (1, 0): (2,)}, markers={(3, 0): 2})
    apply_capture_segment(s, cell(s, 0, 0), cell(s, 1, 0), cell(s, 3, 0), 1)
    assert s.stacks[cell(s, 3, 0)] == (2, 2)
    assert cell(s, 3, 0) not in s.markers
    assert s.eliminated[1] == 1 and s.board_eliminated[1] == 1
    assert s.total_rings_eliminated == 1


def test_chain_continuation_is_reported() -> None:
    # After capturing (1,0) and landing on (2,0), the stack (height 2) can capture (2,3).
    s = make(stacks={(0, 0): (1,), (1, 0): (2,), (2, 2): (2,)})
    more = apply_capture_segment(s, cell(s, 0, 0), cell(s, 1, 0), cell(s, 2, 0), 1)
    assert more
    assert has_capture_from(s, cell(s, 2, 0), 1)
    done = apply_capture_segment(s, cell(s, 2, 0), cell(s, 2, 2), cell(s, 2, 4), 1)
    assert not done


def test_no_continuation_after_control_is_lost_on_a_marker() -> None:
    s = make(stacks={(0, 0): (1, 2), (1, 0): (2,), (3, 3): (2,)}, markers={(2, 0): 2})
    more = apply_capture_segment(s, cell(s, 0, 0), cell(s, 1, 0), cell(s, 2, 0), 1)
    assert s.stacks[cell(s, 2, 0)][0] == 2
    assert not more


def test_must_move_from_follows_the_capturing_stack() -> None:
    s = make(stacks={(0, 0): (1,), (1, 0): (2,)})
    s.must_move_from = cell(s, 0, 0)
    apply_capture_segment(s, cell(s, 0, 0), cell(s, 1, 0), cell(s, 3, 0), 1)
    assert s.must_move_from == cell(s, 3, 0)


def test_hex_capture() -> None:
    s = make("hex8_3p", stacks={(0, 0, 0): (3,), (1, 0, -1): (1,)})
    got = segs(s, (0, 0, 0), 3)
    assert got == {((1, 0, -1), (2, 0, -2)), ((1, 0, -1), (3, 0, -3)), ((1, 0, -1), (4, 0, -4))}
