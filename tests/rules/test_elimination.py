"""Behavioural tests of the elimination primitives and forced elimination."""

from __future__ import annotations

import pytest

from ringrift_tasks.rules.elimination import eliminate_from_stack, extract_buried_ring
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.forced_elimination import (
    apply_forced_elimination,
    auto_forced_elimination,
    forced_elimination_moves,
    needs_forced_elimination,
)
from ringrift_tasks.rules.movement import has_any_movement_or_capture, stack_can_act
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.placement import has_any_legal_placement
from tests.rules.positions import build_position, cell


def make(
    config: str = "square8_2p",
    stacks=None,
    markers=None,
    collapsed=None,
    in_hand: int = 0,
    phase: str = "movement",
):
    return build_position(config, stacks, markers, collapsed, in_hand=in_hand, phase=phase)


# A height-1 stack of player 1 in the corner, walled in by collapsed spaces.
WALL = {(1, 0): 2, (0, 1): 2, (1, 1): 2}


def test_eliminate_from_stack_removes_top_and_credits_the_given_player() -> None:
    s = make(stacks={(3, 3): (1, 1, 2), (5, 5): (2,)})
    n = eliminate_from_stack(s, cell(s, 3, 3), 2, 1)
    assert n == 2
    assert s.stacks[cell(s, 3, 3)] == (2,)
    assert s.board_eliminated[1] == 2 and s.eliminated[1] == 2
    assert s.total_rings_eliminated == 2
    assert s.board_eliminated[2] == 0 and s.eliminated[2] == 0


def test_eliminate_from_stack_keeps_dict_position() -> None:
    s = make(stacks={(3, 3): (1, 1, 2), (5, 5): (2,)})
    eliminate_from_stack(s, cell(s, 3, 3), 1, 1)
    assert list(s.stacks) == [cell(s, 3, 3), cell(s, 5, 5)]


def test_eliminate_from_stack_deletes_emptied_stack_and_clips_count() -> None:
    s = make(stacks={(3, 3): (1, 1)})
    assert eliminate_from_stack(s, cell(s, 3, 3), 5, 1) == 2
    assert cell(s, 3, 3) not in s.stacks
    assert s.total_rings_eliminated == 2


def test_extract_buried_ring_takes_bottom_most_buried_ring() -> None:
    s = make(stacks={(2, 2): (2, 1, 2, 1, 2)})
    assert extract_buried_ring(s, cell(s, 2, 2), 1)
    assert s.stacks[cell(s, 2, 2)] == (2, 1, 2, 2)
    assert s.eliminated[1] == 1 and s.board_eliminated[1] == 1


def test_extract_buried_ring_never_takes_the_top_ring() -> None:
    s = make(stacks={(2, 2): (1, 2)})
    assert not extract_buried_ring(s, cell(s, 2, 2), 1)
    assert s.stacks[cell(s, 2, 2)] == (1, 2)


def test_blocked_stack_needs_forced_elimination() -> None:
    s = make(stacks={(0, 0): (1, 2, 2)}, collapsed=WALL)
    assert not has_any_movement_or_capture(s, 1)
    assert needs_forced_elimination(s, 1)


def test_forced_elimination_moves_list_each_controlled_stack() -> None:
    s = make(stacks={(0, 0): (1, 2, 2), (2, 0): (2,)}, collapsed=WALL)
    # Player 2's stack at (2,0) can move, but it is player 1 who is blocked.
    moves = forced_elimination_moves(s, 1)
    assert [m.key(s.geo) for m in moves] == [
        '{"eliminatedRings":[{"count":1,"player":1}],"eliminationFromStack":'
        '{"capHeight":1,"position":{"x":0,"y":0},"totalHeight":3},'
        '"player":1,"to":{"x":0,"y":0},"type":"forced_elimination"}'
    ]


def test_no_forced_elimination_when_a_move_exists() -> None:
    s = make(stacks={(0, 0): (1,), (4, 4): (1,)}, collapsed=WALL)
    assert not needs_forced_elimination(s, 1)
    assert forced_elimination_moves(s, 1) == []


def test_must_move_from_limits_the_movement_check() -> None:
    s = make(stacks={(0, 0): (1,), (4, 4): (1,)}, collapsed=WALL)
    s.must_move_from = cell(s, 0, 0)
    assert needs_forced_elimination(s, 1)


def test_placement_in_hand_prevents_forced_elimination() -> None:
    s = make(stacks={(0, 0): (1,)}, collapsed=WALL, in_hand=3)
    assert has_any_legal_placement(s, 1)
    assert not needs_forced_elimination(s, 1)


def test_placement_blocked_by_ring_cap() -> None:
    # 18 rings of player 1 on the board already: no placement despite rings in hand.
    s = make(stacks={(0, 0): (1,) * 18}, collapsed=WALL, in_hand=3)
    assert not has_any_legal_placement(s, 1)


def test_apply_forced_elimination_removes_whole_cap() -> None:
    s = make(stacks={(0, 0): (1, 1, 2)}, collapsed=WALL)
    n = apply_forced_elimination(s, Move("forced_elimination", 1, to=cell(s, 0, 0)))
    assert n == 2
    assert s.stacks[cell(s, 0, 0)] == (2,)
    assert (s.board_eliminated[1], s.eliminated[1], s.total_rings_eliminated) == (2, 2, 2)


def test_apply_forced_elimination_rejects_foreign_stack() -> None:
    s = make(stacks={(0, 0): (2, 1)}, collapsed=WALL)
    with pytest.raises(IllegalMoveError):
        apply_forced_elimination(s, Move("forced_elimination", 1, to=cell(s, 0, 0)))


def test_auto_forced_elimination_picks_smallest_cap_first_on_ties() -> None:
    walls = {(1, 0): 2, (0, 1): 2, (1, 1): 2, (6, 0): 2, (6, 1): 2, (7, 1): 2}
    s = make(stacks={(0, 0): (1, 1), (7, 0): (1, 2)}, collapsed=walls)
    assert auto_forced_elimination(s, 1)
    assert cell(s, 7, 0) in s.stacks and s.stacks[cell(s, 7, 0)] == (2,)
    assert s.stacks[cell(s, 0, 0)] == (1, 1)


def test_stack_can_act_sees_a_capture_over_an_adjacent_stack() -> None:
    # (0,0) is walled except towards (1,0), where a capturable stack sits.
    s = make(stacks={(0, 0): (1,), (1, 0): (2,)}, collapsed={(0, 1): 2, (1, 1): 2})
    assert stack_can_act(s, cell(s, 0, 0), 1, 1, 1)
    # A taller cap on the target makes it uncapturable.
    s.stacks[cell(s, 1, 0)] = (2, 2)
    assert not stack_can_act(s, cell(s, 0, 0), 1, 1, 1)
