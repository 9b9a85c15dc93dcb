"""Behavioural tests of recovery slides (eligibility, enumeration, application)."""

from __future__ import annotations

from functools import partial

import pytest

from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.recovery import (
    apply_recovery_slide,
    has_any_recovery_move,
    is_recovery_eligible,
    recovery_moves,
    skip_recovery_available,
)
from ringrift_tasks.rules.state import GameState
from tests.rules.positions import build_position, cell

make = partial(build_position, in_hand=0, phase="movement")


def slide(s: GameState, frm: tuple[int, ...], to: tuple[int, ...], **extra: object) -> Move:
    extra.setdefault("extractionStacks", [])
    return Move("recovery_slide", 1, to=cell(s, *to), frm=cell(s, *frm), extra=dict(extra))


def keys(s: GameState, moves: list[Move]) -> set[tuple[tuple[int, ...], tuple[int, ...], str]]:
    geo = s.geo
    return {
        (geo.coords[m.frm], geo.coords[m.to], m.extra["recoveryMode"])  # type: ignore[index]
        for m in moves
    }


# Player 1: no stacks, one buried ring under player 2, one marker far from everything.
BASE = {"stacks": {(6, 6): (2, 1)}, "markers": {(0, 0): 1}}


def test_eligible_without_stacks_with_marker_and_buried_ring() -> None:
    s = make("square8_2p", **BASE)
    assert is_recovery_eligible(s, 1)
    assert skip_recovery_available(s, 1)
    assert not is_recovery_eligible(s, 2)  # player 2 controls a stack


def test_not_eligible_when_controlling_a_stack() -> None:
    s = make("square8_2p", stacks={(6, 6): (2, 1), (3, 3): (1,)}, markers={(0, 0): 1})
    assert not is_recovery_eligible(s, 1)
    assert recovery_moves(s, 1) == []


def test_not_eligible_without_marker_or_buried_ring() -> None:
    assert not is_recovery_eligible(make("square8_2p", stacks={(6, 6): (2, 1)}), 1)
    no_buried = make("square8_2p", stacks={(6, 6): (2,)}, markers={(0, 0): 1})
    assert not is_recovery_eligible(no_buried, 1)


def test_fallback_slides_to_every_adjacent_empty_cell() -> None:
    s = make("square8_2p", **BASE)
    moves = recovery_moves(s, 1)
    assert keys(s, moves) == {
        ((0, 0), (1, 0), "fallback"),
        ((0, 0), (1, 1), "fallback"),
        ((0, 0), (0, 1), "fallback"),
    }
    assert all(m.extra["extractionStacks"] == [] for m in moves)  # type: ignore[index]
    assert has_any_recovery_move(s, 1)


def test_stack_strike_offered_for_adjacent_stack() -> None:
    s = make("square8_2p", stacks={(6, 6): (2, 1), (1, 0): (2,)}, markers={(0, 0): 1})
    assert ((0, 0), (1, 0), "stack_strike") in keys(s, recovery_moves(s, 1))


def test_line_slides_exclude_fallback() -> None:
    # square8 3p: required length 3. Sliding (2,1)->(2,0) completes (0,0),(1,0),(2,0).
    s = make("square8_3p", stacks={(6, 6): (2, 1)}, markers={(0, 0): 1, (1, 0): 1, (2, 1): 1})
    moves = recovery_moves(s, 1)
    assert {m.extra["recoveryMode"] for m in moves} == {"line"}  # type: ignore[index]
    m = next(m for m in moves if m.to == cell(s, 2, 0) and m.frm == cell(s, 2, 1))
    assert m.key(s.geo) == (
        '{"extractionStacks":[],"from":{"x":2,"y":1},"option":1,"player":1,'
        '"recoveryMode":"line","to":{"x":2,"y":0},"type":"recovery_slide"}'
    )


def test_overlength_line_offers_both_options() -> None:
    # Four markers in a row after the slide, required length 3.
    s = make(
        "square8_3p",
        stacks={(6, 6): (2, 1)},
        markers={(0, 0): 1, (1, 0): 1, (3, 0): 1, (2, 1): 1},
    )
    opts = [m for m in recovery_moves(s, 1) if m.frm == cell(s, 2, 1) and m.to == cell(s, 2, 0)]
    assert sorted(m.extra["option"] for m in opts) == [1, 2]  # type: ignore[index]
    opt2 = next(m for m in opts if m.extra["option"] == 2)  # type: ignore[index]
    assert opt2.extra["collapsePositions"] == [  # type: ignore[index]
        {"x": 0, "y": 0},
        {"x": 1, "y": 0},
        {"x": 2, "y": 0},
    ]


def test_apply_fallback_moves_marker_and_pays_bottom_buried_ring() -> None:
    s = make("square8_2p", stacks={(5, 5): (2,), (6, 6): (2, 1, 2, 1)}, markers={(0, 0): 1})
    apply_recovery_slide(s, slide(s, (0, 0), (1, 1), recoveryMode="fallback"))
    assert s.markers == {cell(s, 1, 1): 1}
    assert s.stacks[cell(s, 6, 6)] == (2, 1, 2)
    # Only players[].eliminatedRings is credited (reference quirk).
    assert (s.eliminated[1], s.board_eliminated[1], s.total_rings_eliminated) == (1, 0, 0)


def test_apply_extracts_from_first_stack_in_dict_order() -> None:
    s = make("square8_2p", stacks={(6, 6): (2, 1), (4, 4): (2, 1)}, markers={(0, 0): 1})
    apply_recovery_slide(s, slide(s, (0, 0), (1, 1), recoveryMode="fallback"))
    assert s.stacks[cell(s, 6, 6)] == (2,)
    assert s.stacks[cell(s, 4, 4)] == (2, 1)


def test_apply_stack_strike_removes_marker_and_top_ring() -> None:
    s = make("square8_2p", stacks={(6, 6): (2, 1), (1, 0): (2, 2)}, markers={(0, 0): 1})
    apply_recovery_slide(s, slide(s, (0, 0), (1, 0), recoveryMode="stack_strike"))
    assert s.markers == {}
    assert s.stacks[cell(s, 1, 0)] == (2,)
    assert s.stacks[cell(s, 6, 6)] == (2,)
    # Strike: all three counters; extraction: players[] only.
    assert (s.eliminated[1], s.board_eliminated[1], s.total_rings_eliminated) == (2, 1, 1)


def test_apply_line_collapses_line_and_pays() -> None:
    s = make("square8_3p", stacks={(6, 6): (2, 1)}, markers={(0, 0): 1, (1, 0): 1, (2, 1): 1})
    apply_recovery_slide(s, slide(s, (2, 1), (2, 0), option=1, recoveryMode="line"))
    assert s.markers == {}
    assert s.collapsed == {cell(s, 0, 0): 1, cell(s, 1, 0): 1, cell(s, 2, 0): 1}
    assert s.territory[1] == 3
    assert s.stacks[cell(s, 6, 6)] == (2,)
    assert s.eliminated[1] == 1


def test_apply_option2_collapses_only_given_cells_for_free() -> None:
    s = make(
        "square8_3p",
        stacks={(6, 6): (2, 1)},
        markers={(0, 0): 1, (1, 0): 1, (3, 0): 1, (2, 1): 1},
    )
    move = next(
        m
        for m in recovery_moves(s, 1)
        if m.frm == cell(s, 2, 1) and m.extra["option"] == 2  # type: ignore[index]
    )
    apply_recovery_slide(s, move)
    assert set(s.collapsed) == {cell(s, 0, 0), cell(s, 1, 0), cell(s, 2, 0)}
    assert s.markers == {cell(s, 3, 0): 1}
    assert s.stacks[cell(s, 6, 6)] == (2, 1)
    assert s.eliminated[1] == 0


def test_fallback_rejected_when_a_line_exists() -> None:
    s = make("square8_3p", stacks={(6, 6): (2, 1)}, markers={(0, 0): 1, (1, 0): 1, (2, 1): 1})
    with pytest.raises(IllegalMoveError):
        apply_recovery_slide(s, slide(s, (2, 1), (3, 1), recoveryMode="fallback"))


def test_hex8_3p_exact_length_line_is_offered_but_fails_on_apply() -> None:
    # Reference quirk: offered with required length 3, re-detected with base length 4.
    s = make(
        "hex8_3p",
        stacks={(3, 0, -3): (2, 1)},
        markers={(0, 0, 0): 1, (1, 0, -1): 1, (2, -1, -1): 1},
    )
    moves = [m for m in recovery_moves(s, 1) if m.to == cell(s, 2, 0, -2)]
    assert moves and moves[0].extra["recoveryMode"] == "line"  # type: ignore[index]
    with pytest.raises(IllegalMoveError, match="did not form a valid line"):
        apply_recovery_slide(s, moves[0])
