"""Hand-built positions for the rules tests: a fresh game with chosen stacks and marks."""

from __future__ import annotations

from ringrift_tasks.rules.state import GameState, new_game

Coords = tuple[int, ...]


def build_position(
    config: str = "square8_2p",
    stacks: dict[Coords, tuple[int, ...]] | None = None,
    markers: dict[Coords, int] | None = None,
    collapsed: dict[Coords, int] | None = None,
    *,
    in_hand: int | None = None,
    phase: str | None = None,
    player: int | None = None,
) -> GameState:
    """A new ``config`` game with the given stacks (rings top first), markers and collapsed
    spaces keyed by coordinates; optionally every player's rings in hand, the phase and the
    player to move."""
    s = new_game(config)
    index = s.geo.index
    for xy, rings in (stacks or {}).items():
        s.stacks[index[xy]] = rings
    for xy, p in (markers or {}).items():
        s.markers[index[xy]] = p
    for xy, p in (collapsed or {}).items():
        s.collapsed[index[xy]] = p
    if in_hand is not None:
        for p in range(1, s.num_players + 1):
            s.rings_in_hand[p] = in_hand
    if phase is not None:
        s.phase = phase
    if player is not None:
        s.current_player = player
    return s


def cell(s: GameState, *xy: int) -> int:
    """The cell index of coordinates ``xy`` on ``s``'s board."""
    return s.geo.index[tuple(xy)]
