"""Malformed input is refused with an error that names what was wrong.

Moves (``move_from_json``) raise ``MoveFormatError`` naming the field; state views
(``state_from_view``) and contract states (``state_from_contract``) raise
``StateFormatError`` naming the field; moves that are well-formed but not legal raise
``IllegalMoveError`` naming phase, player and reason, and leave the state as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ringrift_tasks.rules.board import geometry
from ringrift_tasks.rules.contracts import state_from_contract
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move, MoveFormatError, move_from_json
from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import GameState, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.rules.view import (
    StateFormatError,
    digest_of_view,
    full_digest,
    state_from_view,
    state_view,
)

SQUARE8 = geometry("square8")
HEX8 = geometry("hex8")


# --------------------------------------------------------------------------------------
# Move JSON
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"player": 1, "to": {"x": 0, "y": 0}}, "move.type"),
        ({"type": "teleport", "player": 1, "to": {"x": 0, "y": 0}}, "move.type"),
        ({"type": "place_ring", "to": {"x": 0, "y": 0}}, "move.player"),
        ({"type": "place_ring", "player": 0, "to": {"x": 0, "y": 0}}, "move.player"),
        ({"type": "place_ring", "player": "1", "to": {"x": 0, "y": 0}}, "move.player"),
        ({"type": "place_ring", "player": True, "to": {"x": 0, "y": 0}}, "move.player"),
        ({"type": "place_ring", "player": 1}, "move.to"),
        ({"type": "place_ring", "player": 1, "to": {"x": 8, "y": 0}}, "move.to"),
        ({"type": "place_ring", "player": 1, "to": {"x": "a", "y": 0}}, "move.to"),
        ({"type": "place_ring", "player": 1, "to": [0, 0]}, "move.to"),
        ({"type": "move_stack", "player": 1, "to": {"x": 1, "y": 0}}, "move.from"),
        (
            {
                "type": "overtaking_capture",
                "player": 1,
                "from": {"x": 0, "y": 0},
                "to": {"x": 2, "y": 0},
            },
            "move.captureTarget",
        ),
        (
            {"type": "move_stack", "player": 1, "from": {"x": 0, "y": -1}, "to": {"x": 1, "y": 0}},
            "move.from",
        ),
    ],
    ids=[
        "missing-type",
        "unknown-type",
        "missing-player",
        "player-zero",
        "player-string",
        "player-bool",
        "missing-to",
        "off-board-to",
        "non-numeric-to",
        "to-not-object",
        "missing-from",
        "missing-capture-target",
        "off-board-from",
    ],
)
def test_malformed_move_names_the_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(MoveFormatError, match=field.replace(".", r"\.")):
        move_from_json(obj, SQUARE8)


def test_unexpected_move_field_is_named() -> None:
    obj = {"type": "place_ring", "player": 1, "to": {"x": 0, "y": 0}, "ringCount": 2}

    with pytest.raises(MoveFormatError, match="unexpected field.*ringCount"):
        move_from_json(obj, SQUARE8)


def test_move_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(MoveFormatError, match="JSON object"):
        move_from_json(["place_ring", 1], SQUARE8)


def test_off_board_hex_position_is_refused() -> None:
    # Radius 4: (5, -5, 0) lies outside; (1, 1, 1) is not a cube coordinate.
    for pos in ({"x": 5, "y": -5, "z": 0}, {"x": 1, "y": 1, "z": 1}):
        with pytest.raises(MoveFormatError, match=r"move\.to"):
            move_from_json({"type": "place_ring", "player": 1, "to": pos}, HEX8)


def test_engine_metadata_fields_are_accepted_and_dropped() -> None:
    obj = {"type": "place_ring", "player": 2, "to": {"x": 3, "y": 4}, "id": "m1", "moveNumber": 7}

    move = move_from_json(obj, SQUARE8)

    assert move.to_json(SQUARE8) == {"type": "place_ring", "player": 2, "to": {"x": 3, "y": 4}}


# --------------------------------------------------------------------------------------
# State views
# --------------------------------------------------------------------------------------
def _mid_game_view() -> dict[str, Any]:
    s = new_game("square8_2p")
    rng = Mulberry32(3)
    for _ in range(30):
        moves = legal_moves(s)
        apply_move(s, moves[rng.index(len(moves))] if moves else auto_move(s))
    view = state_view(s)
    assert view["board"]["stacks"] and view["board"]["markers"]
    return view


VIEW = _mid_game_view()
STACK_KEY = next(iter(VIEW["board"]["stacks"]))
Edit = Callable[[dict[str, Any]], object]


def _edited(edit: Edit) -> dict[str, Any]:
    view = copy.deepcopy(VIEW)
    edit(view)
    return view


VIEW_ERRORS: list[tuple[str, Edit, str]] = [
    ("missing-board-type", lambda v: v.pop("boardType"), "state.boardType"),
    ("unknown-board-type", lambda v: v.__setitem__("boardType", "square9"), "state.boardType"),
    ("missing-board", lambda v: v.pop("board"), "state.board"),
    ("one-player", lambda v: v.__setitem__("players", v["players"][:1]), "state.players"),
    ("players-not-list", lambda v: v.__setitem__("players", {}), "state.players"),
    (
        "stack-off-board",
        lambda v: v["board"]["stacks"].__setitem__("8,8", {"rings": [1]}),
        "8,8",
    ),
    (
        "stack-without-rings",
        lambda v: v["board"]["stacks"][STACK_KEY].pop("rings"),
        f"state.board.stacks[{STACK_KEY}].rings",
    ),
    (
        "stack-ring-of-no-player",
        lambda v: v["board"]["stacks"][STACK_KEY].__setitem__("rings", [3]),
        f"state.board.stacks[{STACK_KEY}].rings",
    ),
    (
        "empty-stack",
        lambda v: v["board"]["stacks"][STACK_KEY].__setitem__("rings", []),
        f"state.board.stacks[{STACK_KEY}].rings",
    ),
    (
        "marker-without-player",
        lambda v: v["board"]["markers"].__setitem__("7,7", {"type": "regular"}),
        "state.board.markers[7,7].player",
    ),
    (
        "player-number-out-of-order",
        lambda v: v["players"][1].__setitem__("playerNumber", 1),
        "state.players[1].playerNumber",
    ),
    (
        "player-without-rings-in-hand",
        lambda v: v["players"][0].pop("ringsInHand"),
        "state.players[0].ringsInHand",
    ),
    ("current-player-zero", lambda v: v.__setitem__("currentPlayer", 0), "state.currentPlayer"),
    ("current-player-three", lambda v: v.__setitem__("currentPlayer", 3), "state.currentPlayer"),
    ("unknown-phase", lambda v: v.__setitem__("currentPhase", "dancing"), "state.currentPhase"),
    ("unknown-status", lambda v: v.__setitem__("gameStatus", "paused"), "state.gameStatus"),
    (
        "must-move-off-board",
        lambda v: v.__setitem__("mustMoveFromStackKey", "99,99"),
        "99,99",
    ),
]


@pytest.mark.parametrize(
    ("edit", "field"),
    [(edit, field) for _, edit, field in VIEW_ERRORS],
    ids=[name for name, _, _ in VIEW_ERRORS],
)
def test_malformed_state_view_names_the_field(edit: Edit, field: str) -> None:
    with pytest.raises(StateFormatError) as info:
        state_from_view(_edited(edit))

    assert field in str(info.value)


# Found by these tests and reported to the lead (view.py is not ours to change): these
# malformed views either crash with a bare ValueError/TypeError/AttributeError that names
# no field, or are accepted although they describe no RingRift position.
NONSENSE_VIEWS: list[tuple[str, Edit, str]] = [
    (
        "ring-owner-not-a-number",
        lambda v: v["board"]["stacks"][STACK_KEY].__setitem__("rings", ["x"]),
        f"state.board.stacks[{STACK_KEY}].rings",
    ),
    (
        "rings-not-a-list",
        lambda v: v["board"]["stacks"][STACK_KEY].__setitem__("rings", 5),
        f"state.board.stacks[{STACK_KEY}].rings",
    ),
    ("stacks-not-an-object", lambda v: v["board"].__setitem__("stacks", []), "state.board.stacks"),
    (
        "marker-player-not-a-number",
        lambda v: v["board"]["markers"].__setitem__("7,7", {"player": "a"}),
        "state.board.markers[7,7].player",
    ),
    (
        "marker-of-no-player",
        lambda v: v["board"]["markers"].__setitem__("7,7", {"player": 9}),
        "state.board.markers[7,7].player",
    ),
    (
        "collapsed-owner-not-a-number",
        lambda v: v["board"]["collapsedSpaces"].__setitem__("7,7", "z"),
        "state.board.collapsedSpaces",
    ),
    (
        "rings-in-hand-not-a-number",
        lambda v: v["players"][0].__setitem__("ringsInHand", "lots"),
        "state.players[0].ringsInHand",
    ),
    (
        "negative-rings-in-hand",
        lambda v: v["players"][0].__setitem__("ringsInHand", -3),
        "state.players[0].ringsInHand",
    ),
    (
        "eliminated-rings-not-an-object",
        lambda v: v["board"].__setitem__("eliminatedRings", [1, 2]),
        "state.board.eliminatedRings",
    ),
    (
        "victory-threshold-not-a-number",
        lambda v: v.__setitem__("victoryThreshold", "x"),
        "state.victoryThreshold",
    ),
    ("winner-not-a-player", lambda v: v.__setitem__("winner", "me"), "state.winner"),
    (
        "stack-on-a-collapsed-space",
        lambda v: v["board"]["collapsedSpaces"].__setitem__(STACK_KEY, 1),
        STACK_KEY,
    ),
]


@pytest.mark.parametrize(
    ("edit", "field"),
    [(edit, field) for _, edit, field in NONSENSE_VIEWS],
    ids=[name for name, _, _ in NONSENSE_VIEWS],
)
def test_nonsense_state_view_is_refused_naming_the_field(edit: Edit, field: str) -> None:
    with pytest.raises(StateFormatError) as info:
        state_from_view(_edited(edit))

    assert field in str(info.value)


def test_state_view_round_trip_rebuilds_the_same_position() -> None:
    rebuilt = state_from_view(copy.deepcopy(VIEW))

    assert state_view(rebuilt) == VIEW
    assert full_digest(rebuilt) == digest_of_view(VIEW)


# --------------------------------------------------------------------------------------
# Contract states (the reference's serialized form)
# --------------------------------------------------------------------------------------
def _contract_state() -> dict[str, Any]:
    return {
        "board": {
            "type": "square8",
            "size": 8,
            "stacks": {
                "2,2": {
                    "position": {"x": 2, "y": 2},
                    "rings": [1, 2],
                    "stackHeight": 2,
                    "capHeight": 1,
                    "controllingPlayer": 1,
                }
            },
            "markers": {"3,3": {"position": {"x": 3, "y": 3}, "player": 2, "type": "regular"}},
            "collapsedSpaces": {"4,4": 1},
            "eliminatedRings": {"1": 0, "2": 0},
        },
        "players": [
            {"playerNumber": p, "ringsInHand": 17, "eliminatedRings": 0, "territorySpaces": 0}
            for p in (1, 2)
        ],
        "currentPlayer": 1,
        "currentPhase": "movement",
        "gameStatus": "active",
        "moveHistory": [],
        "victoryThreshold": 18,
        "territoryVictoryThreshold": 33,
    }


def test_contract_state_maps_stacks_markers_and_collapsed_spaces() -> None:
    s = state_from_contract(_contract_state())
    index = s.geo.index

    assert s.stacks == {index[(2, 2)]: (1, 2)}
    assert s.markers == {index[(3, 3)]: 2}
    assert s.collapsed == {index[(4, 4)]: 1}
    assert s.rings_in_hand[1:] == [17, 17]
    assert (s.current_player, s.phase, s.status) == (1, "movement", "active")
    # The reference falls back to the threshold when no territory minimum is given.
    assert s.territory_victory_minimum == 33


CONTRACT_ERRORS: list[tuple[str, Edit, str]] = [
    ("missing-board", lambda d: d.pop("board"), "state.board: missing"),
    ("unknown-board-type", lambda d: d["board"].__setitem__("type", "go19"), "state.board.type"),
    ("no-players", lambda d: d.__setitem__("players", []), "state.players"),
    (
        "stack-height-disagrees",
        lambda d: d["board"]["stacks"]["2,2"].__setitem__("stackHeight", 3),
        "state.board.stacks[2,2].stackHeight",
    ),
    (
        "cap-height-disagrees",
        lambda d: d["board"]["stacks"]["2,2"].__setitem__("capHeight", 2),
        "state.board.stacks[2,2].capHeight",
    ),
    (
        "controller-disagrees",
        lambda d: d["board"]["stacks"]["2,2"].__setitem__("controllingPlayer", 2),
        "state.board.stacks[2,2].controllingPlayer",
    ),
    (
        "position-disagrees-with-key",
        lambda d: d["board"]["stacks"]["2,2"].__setitem__("position", {"x": 5, "y": 5}),
        "state.board.stacks[2,2].position",
    ),
    (
        "ring-not-a-number",
        lambda d: d["board"]["stacks"]["2,2"].__setitem__("rings", ["1"]),
        "state.board.stacks[2,2].rings[0]",
    ),
    (
        "marker-of-no-player",
        lambda d: d["board"]["markers"]["3,3"].__setitem__("player", 5),
        "state.board.markers[3,3].player",
    ),
    (
        "marker-on-a-stack",
        lambda d: d["board"]["markers"].__setitem__("2,2", {"player": 1}),
        "state.board.markers[2,2]",
    ),
    (
        "collapsed-owner-not-a-player",
        lambda d: d["board"]["collapsedSpaces"].__setitem__("4,4", "z"),
        "state.board.collapsedSpaces[4,4]",
    ),
    (
        "rings-in-hand-not-a-number",
        lambda d: d["players"][0].__setitem__("ringsInHand", "17"),
        "state.players[0].ringsInHand",
    ),
    ("unknown-phase", lambda d: d.__setitem__("currentPhase", "setup"), "state.currentPhase"),
    (
        "chain-capture-position-off-board",
        lambda d: d.__setitem__("chainCapturePosition", {"x": 9, "y": 9}),
        "state.chainCapturePosition",
    ),
    (
        "bad-move-in-history",
        lambda d: d.__setitem__("moveHistory", [{"type": "warp", "player": 1}]),
        "state.moveHistory[0]",
    ),
]


@pytest.mark.parametrize(
    ("edit", "field"),
    [(edit, field) for _, edit, field in CONTRACT_ERRORS],
    ids=[name for name, _, _ in CONTRACT_ERRORS],
)
def test_malformed_contract_state_names_the_field(edit: Edit, field: str) -> None:
    data = _contract_state()
    edit(data)

    with pytest.raises(StateFormatError) as info:
        state_from_contract(data)

    assert field in str(info.value)


# --------------------------------------------------------------------------------------
# Illegal moves
# --------------------------------------------------------------------------------------
def _refused(s: GameState, move: Move) -> str:
    """Apply ``move``, expect ``IllegalMoveError`` and an untouched state; the message."""
    digest = full_digest(s)
    moves_played = s.moves_played
    with pytest.raises(IllegalMoveError) as info:
        apply_move(s, move)
    assert full_digest(s) == digest
    assert s.moves_played == moves_played
    return str(info.value)


def test_move_by_the_wrong_player_names_phase_player_and_turn() -> None:
    s = new_game("square8_2p")
    message = _refused(s, Move("place_ring", 2, to=0))

    assert "phase ring_placement" in message
    assert "player 1" in message
    assert "it is player 1's turn, not player 2's" in message


def test_move_type_not_possible_in_the_phase_lists_what_is() -> None:
    s = new_game("square8_2p")
    message = _refused(s, Move("move_stack", 1, to=1, frm=0))

    assert "phase ring_placement for player 1" in message
    assert "move_stack is not possible now (possible: place_ring)" in message


def test_placement_on_a_collapsed_space_is_not_among_the_legal_moves() -> None:
    s = new_game("square8_2p")
    s.collapsed[5] = 2
    message = _refused(s, Move("place_ring", 1, to=5))

    assert "phase ring_placement for player 1" in message
    assert "this place_ring is not among the 63 legal moves" in message


def test_only_the_bookkeeping_move_is_accepted_when_nothing_is_offered() -> None:
    s = new_game("square8_2p")
    rng = Mulberry32(3)
    while legal_moves(s):
        moves = legal_moves(s)
        apply_move(s, moves[rng.index(len(moves))])
    auto = auto_move(s)

    message = _refused(s, Move("skip_capture", s.current_player))

    assert f"phase {s.phase} for player {s.current_player}" in message
    assert f"only the bookkeeping move {auto.type} is possible, got skip_capture" in message


def test_no_move_is_accepted_once_the_game_is_over() -> None:
    s = new_game("square8_2p")
    rng = Mulberry32(1)
    while not s.is_over:
        moves = legal_moves(s)
        apply_move(s, moves[rng.index(len(moves))] if moves else auto_move(s))

    message = _refused(s, Move("place_ring", s.current_player, to=0))

    assert "game is over (completed)" in message
