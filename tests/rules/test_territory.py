"""Behavioural tests of territory: region detection, legal moves and their application."""

from __future__ import annotations

import pytest

from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move, canonical_json, move_from_json
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.territory import (
    Region,
    apply_choose_territory_option,
    apply_territory_elimination,
    border_markers,
    find_disconnected_regions,
    has_processable_region,
    pending_territory_region,
    processable_regions,
    territory_elimination_moves,
    territory_phase_moves,
    turn_includes_recovery,
)
from tests.rules.positions import build_position

Cells = dict[tuple[int, ...], object]


def make(config: str = "square8_2p", stacks=None, markers=None, collapsed=None, player: int = 1):
    return build_position(
        config, stacks, markers, collapsed, in_hand=0, phase="territory_processing", player=player
    )


def c(s: GameState, *xy: int) -> int:
    return s.geo.index[tuple(xy)]


def keys(s: GameState, cells: tuple[int, ...] | list[int]) -> list[str]:
    return [s.geo.keys[x] for x in cells]


# Player-1 markers fencing the corner square (0,0),(1,0),(0,1),(1,1) off (von Neumann).
CORNER_FENCE = {(2, 0): 1, (2, 1): 1, (0, 2): 1, (1, 2): 1}


def corner_position(**kw: object) -> GameState:
    """Player 2's stack in the fenced corner; both players have a stack outside."""
    return make(
        stacks={(0, 0): (2, 1), (5, 5): (1,), (6, 6): (2,)},
        markers=dict(CORNER_FENCE),
        **kw,  # type: ignore[arg-type]
    )


# --- detection ------------------------------------------------------------------------
def test_no_rings_on_board_means_no_region() -> None:
    s = make(markers=dict(CORNER_FENCE))
    assert find_disconnected_regions(s) == []


def test_marker_fenced_corner_is_a_region_of_the_border_colour() -> None:
    s = corner_position()
    regions = find_disconnected_regions(s)
    assert regions == [Region((c(s, 0, 0), c(s, 0, 1), c(s, 1, 0), c(s, 1, 1)), 1)]


def test_region_spaces_follow_the_reference_flood_fill_order() -> None:
    # Scan starts at (0,0) (column-major scan); neighbours are visited +y, +x, -y, -x.
    s = corner_position()
    (region,) = find_disconnected_regions(s)
    assert keys(s, region.cells) == ["0,0", "0,1", "1,0", "1,1"]


def test_component_holding_every_active_colour_is_not_a_region() -> None:
    # Both players control a stack inside the fence and outside it: nothing is disconnected.
    s = make(
        stacks={(0, 0): (2,), (1, 1): (1,), (5, 5): (1,), (6, 6): (2,)},
        markers=dict(CORNER_FENCE),
    )
    assert find_disconnected_regions(s) == []


def test_buried_rings_make_their_owner_active() -> None:
    # Only player 1 controls stacks, but player 2's buried ring makes two active colours:
    # the outside (controller 1 only) then counts as disconnected in the collapsed pass.
    s = make(stacks={(5, 5): (1, 2)})
    regions = find_disconnected_regions(s)
    assert len(regions) == 1
    assert regions[0].controlling_player == 1
    assert len(regions[0].cells) == 64


def test_empty_pocket_is_a_region_and_is_offered_to_the_player_to_move() -> None:
    s = make(stacks={(5, 5): (1,), (6, 6): (2,)}, markers=dict(CORNER_FENCE), player=2)
    regions = processable_regions(s, 2)
    assert [r.controlling_player for r in regions] == [1]
    moves = territory_phase_moves(s, 2, None, False)
    assert [m.type for m in moves] == ["choose_territory_option", "skip_territory_processing"]
    choose = moves[0]
    assert choose.player == 2
    assert choose.to == c(s, 0, 0)
    assert choose.extra is not None
    assert choose.extra["disconnectedRegions"][0]["controllingPlayer"] == 1
    assert choose.extra["disconnectedRegions"][0]["isDisconnected"] is True


def test_collapsed_only_region_needs_exactly_one_controller() -> None:
    wall = {(2, 0): 1, (2, 1): 1, (0, 2): 1, (1, 2): 1}
    s = make(stacks={(0, 0): (2,), (5, 5): (1,), (6, 6): (2,)}, collapsed=wall)
    regions = find_disconnected_regions(s)
    assert [(len(r.cells), r.controlling_player) for r in regions] == [(4, 2)]


def test_hex_region_detection_uses_six_neighbours() -> None:
    s = make("hex8_2p", stacks={(0, 0, 0): (2,), (3, -3, 0): (1,), (-3, 3, 0): (2,)})
    ring = [(1, 0, -1), (1, -1, 0), (0, -1, 1), (-1, 0, 1), (-1, 1, 0), (0, 1, -1)]
    for xyz in ring:
        s.markers[s.geo.index[xyz]] = 1
    regions = find_disconnected_regions(s)
    assert regions == [Region((c(s, 0, 0, 0),), 1)]


# --- legal moves --------------------------------------------------------------------
def test_q23_region_not_offered_without_a_stack_outside() -> None:
    # Two regions: the corner (player 2's only stack) and the rest (only player 1 controls
    # stacks there). Player 2 can pay only for the rest; player 1 only for the corner.
    s = make(stacks={(0, 0): (2,), (5, 5): (1,)}, markers=dict(CORNER_FENCE), player=2)
    corner, rest = find_disconnected_regions(s)
    assert len(corner.cells) == 4 and len(rest.cells) == 56
    assert processable_regions(s, 2) == [rest]
    assert processable_regions(s, 1) == [corner]
    s.stacks[c(s, 0, 0)] = (1,)
    assert not has_processable_region(s, 2)


def test_recovery_context_requires_a_buried_ring_outside() -> None:
    s = make(stacks={(0, 0): (2,), (5, 5): (1,)}, markers=dict(CORNER_FENCE), player=1)
    assert processable_regions(s, 1, "territory")
    assert processable_regions(s, 1, "recovery") == []
    s.stacks[c(s, 6, 6)] = (2, 1)
    assert processable_regions(s, 1, True)


def test_pending_self_elimination_offers_only_eliminations_outside_the_region() -> None:
    s = corner_position()
    s.stacks[c(s, 1, 1)] = (1, 1)  # inside the region: excluded
    region = (c(s, 0, 0), c(s, 0, 1), c(s, 1, 0), c(s, 1, 1))
    moves = territory_phase_moves(s, 1, region, False)
    assert [m.to for m in moves] == [c(s, 5, 5)]
    assert canonical_json(moves[0].to_json(s.geo)) == canonical_json(
        {
            "type": "eliminate_rings_from_stack",
            "player": 1,
            "to": {"x": 5, "y": 5},
            "eliminatedRings": [{"player": 1, "count": 1}],
            "eliminationFromStack": {
                "position": {"x": 5, "y": 5},
                "capHeight": 1,
                "totalHeight": 1,
            },
            "eliminationContext": "territory",
        }
    )


def test_recovery_elimination_moves_take_one_buried_ring_from_any_stack() -> None:
    s = make(stacks={(3, 3): (2, 2, 1), (4, 4): (1,)})
    moves = territory_elimination_moves(s, 1, (), True)
    assert [m.to for m in moves] == [c(s, 3, 3)]
    extra = moves[0].extra
    assert extra is not None
    assert extra["eliminatedRings"] == [{"player": 1, "count": 1}]
    assert extra["eliminationFromStack"]["capHeight"] == 2
    assert extra["eliminationContext"] == "recovery"


def test_pending_region_and_recovery_are_read_from_the_turn_log() -> None:
    s = corner_position()
    (choose, _skip) = territory_phase_moves(s, 1, None, False)
    geo = s.geo
    assert pending_territory_region(geo, [choose], 1) == (
        c(s, 0, 0),
        c(s, 0, 1),
        c(s, 1, 0),
        c(s, 1, 1),
    )
    assert pending_territory_region(geo, [choose], 2) is None
    assert pending_territory_region(geo, [choose, Move("no_territory_action", 1)], 1) is None
    slide = Move("recovery_slide", 1, to=0, frm=1)
    assert turn_includes_recovery([slide, choose], 1)
    assert not turn_includes_recovery([slide, Move("no_line_action", 2)], 2)
    s.turn_moves = [choose]
    assert [m.type for m in territory_phase_moves(s, 1)] == ["eliminate_rings_from_stack"]


# --- applying a region --------------------------------------------------------------
def test_processing_collapses_region_and_border_and_credits_the_mover() -> None:
    s = corner_position()
    (choose, _skip) = territory_phase_moves(s, 1, None, False)
    cells = apply_choose_territory_option(s, choose, False)
    assert len(cells) == 4
    # Region and its four border markers become player 1's territory.
    for xy in [(0, 0), (0, 1), (1, 0), (1, 1), *CORNER_FENCE]:
        assert s.collapsed[c(s, *xy)] == 1
    assert not s.markers
    assert c(s, 0, 0) not in s.stacks
    assert s.territory == [0, 8, 0]
    # The two rings inside (one of each colour) are all credited to player 1.
    assert s.board_eliminated == [0, 2, 0]
    assert s.eliminated == [0, 2, 0]
    assert s.total_rings_eliminated == 2
    assert s.phase == "territory_processing" and s.current_player == 1


def test_border_grows_through_diagonally_touching_markers() -> None:
    s = corner_position()
    s.markers[c(s, 3, 2)] = 2  # Moore-adjacent to (2,1): joins the border
    s.markers[c(s, 5, 0)] = 2  # not connected: stays
    region = (c(s, 0, 0), c(s, 0, 1), c(s, 1, 0), c(s, 1, 1))
    assert keys(s, border_markers(s, region)) == ["2,0", "2,1", "0,2", "1,2", "3,2"]


def test_hexagonal_border_is_not_expanded_but_hex8_jumps_two_steps() -> None:
    for board, expected in (("hexagonal", 6), ("hex8", 7)):
        s = make(f"{board}_2p", stacks={(0, 0, 0): (2,)})
        ring = [(1, 0, -1), (1, -1, 0), (0, -1, 1), (-1, 0, 1), (-1, 1, 0), (0, 1, -1)]
        for xyz in ring:
            s.markers[s.geo.index[xyz]] = 1
        # (2,1,-3) is offset (+1,+1) from (1,0,-1): a "Moore" step in (x, y) on hex8 only.
        s.markers[s.geo.index[(2, 1, -3)]] = 2
        assert len(border_markers(s, (c(s, 0, 0, 0),))) == expected, board


def test_region_move_parsed_from_json_applies_like_the_generated_one() -> None:
    s = corner_position()
    t = corner_position()
    (choose, _skip) = territory_phase_moves(s, 1, None, False)
    parsed = move_from_json(choose.to_json(s.geo), s.geo)
    apply_choose_territory_option(s, choose, False)
    apply_choose_territory_option(t, parsed, False)
    assert (s.collapsed, s.stacks, s.territory) == (t.collapsed, t.stacks, t.territory)


def test_processing_a_region_the_player_cannot_pay_for_is_illegal() -> None:
    s = make(stacks={(0, 0): (2,), (5, 5): (1,)}, markers=dict(CORNER_FENCE), player=2)
    (choose, _skip) = territory_phase_moves(s, 1, None, False)
    assert choose.to == c(s, 0, 0)
    bad = Move(choose.type, 2, choose.to, extra=choose.extra)
    with pytest.raises(IllegalMoveError, match="player 2"):
        apply_choose_territory_option(s, bad, False)


# --- self-elimination ---------------------------------------------------------------
def test_territory_elimination_removes_the_whole_cap() -> None:
    s = make(stacks={(4, 4): (1, 1, 2, 1)})
    (m,) = territory_elimination_moves(s, 1, ())
    assert apply_territory_elimination(s, m) == 2
    assert s.stacks[c(s, 4, 4)] == (2, 1)
    assert s.board_eliminated[1] == s.eliminated[1] == s.total_rings_eliminated == 2


def test_territory_elimination_of_a_pure_stack_removes_it() -> None:
    s = make(stacks={(4, 4): (1, 1)})
    (m,) = territory_elimination_moves(s, 1, ())
    apply_territory_elimination(s, m)
    assert c(s, 4, 4) not in s.stacks


def test_recovery_elimination_extracts_the_bottom_most_buried_ring() -> None:
    s = make(stacks={(4, 4): (2, 1, 2, 1, 2)})
    (m,) = territory_elimination_moves(s, 1, (), "recovery")
    assert apply_territory_elimination(s, m) == 1
    assert s.stacks[c(s, 4, 4)] == (2, 1, 2, 2)
    assert s.eliminated == [0, 1, 0]


def test_eliminating_from_an_opponent_stack_is_illegal() -> None:
    s = make(stacks={(4, 4): (2, 1)})
    m = Move(
        "eliminate_rings_from_stack", 1, to=c(s, 4, 4), extra={"eliminationContext": "territory"}
    )
    with pytest.raises(IllegalMoveError, match="controlled by player 2"):
        apply_territory_elimination(s, m)
