"""Behavioural tests of non-capturing movement (move_stack) and stack reachability."""

from __future__ import annotations

from functools import partial

import pytest

from ringrift_tasks.rules.movement import (
    apply_simple_movement,
    has_any_movement_or_capture,
    movement_moves,
    path_between,
    simple_move_targets,
    stack_at_can_act,
)
from ringrift_tasks.rules.state import GameState
from tests.rules.positions import build_position, cell

make = partial(build_position, phase="movement")


def coords(s: GameState, cells: list[int]) -> set[tuple[int, ...]]:
    return {s.geo.coords[c] for c in cells}


def test_single_ring_moves_any_distance_in_all_eight_directions() -> None:
    s = make(stacks={(0, 0): (1,)})
    targets = coords(s, simple_move_targets(s, cell(s, 0, 0)))
    # East 7, south 7, diagonal 7.
    assert len(targets) == 21
    assert (7, 7) in targets and (7, 0) in targets and (0, 7) in targets


def test_minimum_distance_is_the_stack_height() -> None:
    s = make(stacks={(0, 0): (1, 2, 1)})
    targets = coords(s, simple_move_targets(s, cell(s, 0, 0)))
    assert (1, 0) not in targets and (2, 0) not in targets
    assert (3, 0) in targets


def test_stacks_and_collapsed_spaces_end_the_ray_markers_do_not() -> None:
    s = make(stacks={(0, 0): (1,), (4, 0): (2,)}, markers={(2, 0): 2}, collapsed={(0, 3): 1})
    targets = coords(s, simple_move_targets(s, cell(s, 0, 0)))
    assert {(1, 0), (2, 0), (3, 0)} <= targets  # marker cell is a legal landing
    assert (4, 0) not in targets and (5, 0) not in targets
    assert (0, 2) in targets and (0, 3) not in targets and (0, 4) not in targets


def test_must_move_from_restricts_movement_to_that_stack() -> None:
    s = make(stacks={(0, 0): (1,), (5, 5): (1,)})
    s.must_move_from = cell(s, 5, 5)
    assert {m.frm for m in movement_moves(s, 1)} == {cell(s, 5, 5)}
    s.must_move_from = None
    assert {m.frm for m in movement_moves(s, 1)} == {cell(s, 0, 0), cell(s, 5, 5)}


def test_only_controlled_stacks_move() -> None:
    s = make(stacks={(0, 0): (2, 1)})
    assert movement_moves(s, 1) == []
    assert len(movement_moves(s, 2)) > 0


def test_move_leaves_marker_and_moves_stack_to_end_of_board_order() -> None:
    s = make(stacks={(0, 0): (1,), (7, 7): (2,)})
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 3, 0), 1)
    assert s.markers == {cell(s, 0, 0): 1}
    assert list(s.stacks) == [cell(s, 7, 7), cell(s, 3, 0)]
    assert s.stacks[cell(s, 3, 0)] == (1,)


def test_jumped_own_marker_collapses_and_scores_territory() -> None:
    s = make(stacks={(0, 0): (1,)}, markers={(1, 0): 1, (2, 0): 2})
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 3, 0), 1)
    assert s.collapsed == {cell(s, 1, 0): 1}
    assert s.markers[cell(s, 2, 0)] == 1  # opponent marker flipped
    assert s.territory[1] == 1


def test_flipped_marker_keeps_its_dict_position() -> None:
    s = make(stacks={(0, 0): (1,)}, markers={(2, 0): 2, (6, 6): 2})
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 3, 0), 1)
    assert list(s.markers) == [cell(s, 2, 0), cell(s, 6, 6), cell(s, 0, 0)]


@pytest.mark.parametrize("owner", [1, 2])
def test_landing_on_any_marker_removes_it_and_eliminates_the_top_ring(owner: int) -> None:
    s = make(stacks={(0, 0): (1, 2)}, markers={(3, 0): owner})
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 3, 0), 1)
    assert cell(s, 3, 0) not in s.markers
    assert s.stacks[cell(s, 3, 0)] == (2,)  # control passes to the ring below
    assert s.eliminated[1] == 1 and s.board_eliminated[1] == 1
    assert s.total_rings_eliminated == 1
    assert s.eliminated[2] == 0


def test_single_ring_landing_on_marker_disappears() -> None:
    s = make(stacks={(0, 0): (1,)}, markers={(1, 1): 2})
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 1, 1), 1)
    assert s.stacks == {}
    assert s.markers == {cell(s, 0, 0): 1}
    assert s.eliminated[1] == 1


def test_must_move_from_follows_the_moved_stack() -> None:
    s = make(stacks={(0, 0): (1,)})
    s.must_move_from = cell(s, 0, 0)
    apply_simple_movement(s, cell(s, 0, 0), cell(s, 0, 4), 1)
    assert s.must_move_from == cell(s, 0, 4)


def test_stack_can_act_sees_captures_when_no_simple_move_exists() -> None:
    # Height-1 stack boxed in by collapsed spaces except an opponent stack to capture.
    s = make(
        stacks={(0, 0): (1,), (1, 1): (2,)},
        collapsed={(1, 0): 2, (0, 1): 2},
    )
    assert simple_move_targets(s, cell(s, 0, 0)) == []
    assert stack_at_can_act(s, cell(s, 0, 0), 1)
    s.stacks[cell(s, 1, 1)] = (2, 2)  # cap 2 > 1: not capturable
    assert not stack_at_can_act(s, cell(s, 0, 0), 1)


def test_has_any_movement_or_capture_honours_must_move_from() -> None:
    s = make(
        stacks={(0, 0): (1,), (5, 5): (1,)},
        collapsed={(1, 0): 2, (0, 1): 2, (1, 1): 2},
    )
    assert has_any_movement_or_capture(s, 1)
    s.must_move_from = cell(s, 0, 0)
    assert not has_any_movement_or_capture(s, 1)
    assert has_any_movement_or_capture(s, 1, honour_must_move=False)


def test_hex_movement_uses_six_directions() -> None:
    s = make("hex8_2p", stacks={(0, 0, 0): (1,)})
    targets = simple_move_targets(s, cell(s, 0, 0, 0))
    assert len(targets) == 24  # 6 rays of 4 cells
    assert path_between(s.geo, cell(s, 0, 0, 0), cell(s, 3, -3, 0)) == (
        cell(s, 1, -1, 0),
        cell(s, 2, -2, 0),
    )
