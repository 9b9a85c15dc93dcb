"""Marker lines: detection and the line_processing decisions (RR-CANON-R100..R123).

Three thresholds are in play, because the reference mixes two detectors:

* ``s.line_length`` -- the *effective* required length (4 on square8/hex8 with 2 players,
  3 there with 3-4 players, 4 on square19/hexagonal). Rewards and collapse options use it.
* The engine's own detector (``LineAggregate.findAllLines``) keeps lines of at least the
  board's *base* length (square8 3, hex8 4, square19 4, hexagonal 4); the engine then
  filters by the effective length. So ``process_line`` is offered, and a line keeps the
  player in line_processing, only for lines of length >= max(base, effective): on hex8
  with 3-4 players a 3-marker line never yields ``process_line``.
* The host's ``choose_line_option`` enumeration (parity README §3.2 H2) uses the other
  detector (``lineDetection.findAllLines`` with its default of 3 players), which keeps
  lines of length >= effective(board, 3 players) and then drops lines shorter than the
  effective length. So on hex8 with 3-4 players a 3-marker line *is* offered as a
  collapse-all ``choose_line_option``, although the engine itself does not see it.

Detection order (both detectors): markers in the board's marker-map insertion order
(``s.markers`` dict order); for each marker not under a stack / not collapsed, each line
direction in order (square: E, SE, S, NE; hex: (1,0,-1), (1,-1,0), (0,-1,1)); the maximal
run of that player's markers through the marker along that axis, listed from the far
backward end to the far forward end; a run is reported once (first time it is met).

What the orchestrator must do around these moves is described in ``ORCHESTRATION`` below.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.elimination import eliminate_from_stack
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height

ORCHESTRATION = """
What the reference does around line moves (processTurn + processPostMovePhases).

"Engine lines of P" below = detect_lines(s, P, engine_line_threshold(s)) (see module doc).

1. Entering line_processing: after a movement-type move that ends the movement/capture part
   of the turn (move_stack with no capture from the landing cell, capture chain ended,
   recovery_slide, skip_capture, ...), the phase becomes line_processing and, if either
   is set, chainCapturePosition and mustMoveFromStackKey are cleared (both -> null). The
   phase STAYS line_processing whether or not the player has lines; the host then offers
   line_phase_moves(s, P), and inserts the bookkeeping no_line_action (auto, n_legal 0)
   when that list is empty. (hex8 3-4p: a 3-marker line gives a non-empty host list
   although the engine saw no line.)

2. After process_line / choose_line_option (apply_* below, which set
   s.pending_line_reward to their return value -- also to False for a no-op):
     a. if the player still has engine lines -> stay in line_processing (same player);
        pending_line_reward stays as set (the host then offers only the eliminations);
     b. elif pending_line_reward -> stay in line_processing;
     c. else -> hadAnyActionThisTurn is necessarily true (the line move itself counts),
        so the phase becomes territory_processing (chainCapturePosition /
        mustMoveFromStackKey cleared if set), and the territory block runs at once: it
        leaves the state in territory_processing either way (region_order or
        no_territory_action_required decision). No victory check happens here.
   The state is never rotated to another player by a line move.

3. After eliminate_rings_from_stack with eliminationContext "line"
   (apply_line_reward_elimination): pending_line_reward becomes False; the phase stays
   line_processing for the same player whether or not engine lines remain (the engine
   reports line_order or no_line_action_required). The host then offers
   line_phase_moves(s, P) (choose options for any remaining host lines, process_line for
   engine lines) or inserts no_line_action. No victory check, no forced-elimination
   surfacing, no ANM resolution after it (the pending decision suppresses them).

4. no_line_action: phase -> territory_processing, currentPlayer = move.player; then
   processPostMovePhases with the line block (isLinePhaseMove): engine lines of P (there
   are none in practice) would put it back to line_processing; otherwise
   onLineProcessingComplete(hasTerritoryRegions, hadAnyActionThisTurn, hasStacks):
   regions -> territory_processing; else no action this turn (every move of P this turn
   is a no_*/skip_* bookkeeping move) and P controls a stack -> forced_elimination (with
   its decision; if it has no options, fall through to victory check + rotation to the
   next non-eliminated player's ring_placement); else territory_processing. In
   territory_processing the territory block runs immediately (see the territory area).
"""

# Base line length of each board (BOARD_CONFIGS[board].lineLength in the reference).
BASE_LINE_LENGTH: dict[str, int] = {"square8": 3, "square19": 4, "hex8": 4, "hexagonal": 4}

# Line axes in the reference's order (forward directions; each line is walked both ways).
_SQUARE_LINE_DIRS: tuple[tuple[int, ...], ...] = ((1, 0), (1, 1), (0, 1), (1, -1))
_HEX_LINE_DIRS: tuple[tuple[int, ...], ...] = ((1, 0, -1), (1, -1, 0), (0, -1, 1))


def engine_line_threshold(s: GameState) -> int:
    """Shortest line the engine itself acts on (``process_line``, staying in the phase)."""
    return max(BASE_LINE_LENGTH[s.geo.board_type], s.line_length)


class _LineTables:
    """Per-geometry line walking tables: per axis, each cell's next cell forward/backward."""

    __slots__ = ("fwd", "back", "dir_json", "n_axes")

    def __init__(self, geo: Geometry) -> None:
        axes = _HEX_LINE_DIRS if geo.is_hex else _SQUARE_LINE_DIRS
        index = {d: i for i, d in enumerate(geo.directions)}
        self.n_axes = len(axes)
        fwd = []
        back = []
        for d in axes:
            fi = index[d]
            bi = index[tuple(-v for v in d)]
            # -1 off the board: never a member of a cell set, so walks stop there.
            fwd.append(tuple(geo.neighbors[c][fi] for c in range(geo.n_cells)))
            back.append(tuple(geo.neighbors[c][bi] for c in range(geo.n_cells)))
        self.fwd: tuple[tuple[int, ...], ...] = tuple(fwd)
        self.back: tuple[tuple[int, ...], ...] = tuple(back)
        # The direction object exactly as the reference writes it in formedLines.
        keys = ("x", "y", "z")
        self.dir_json: tuple[dict[str, int], ...] = tuple(
            dict(zip(keys, d, strict=False)) for d in axes
        )


@cache
def _tables(geo: Geometry) -> _LineTables:
    return _LineTables(geo)


class Line:
    """A maximal run of one player's markers along one axis.

    ``cells`` are in the reference's order (backward end first); ``axis`` indexes the
    board's line directions. Immutable by convention.
    """

    __slots__ = ("cells", "player", "axis")

    def __init__(self, cells: tuple[int, ...], player: int, axis: int) -> None:
        self.cells = cells
        self.player = player
        self.axis = axis

    @property
    def length(self) -> int:
        return len(self.cells)

    def to_json(self, geo: Geometry) -> dict[str, Any]:
        """The ``formedLines`` entry: positions, player, length, direction."""
        pos = geo.pos
        return {
            "positions": [pos[c] for c in self.cells],
            "player": self.player,
            "length": len(self.cells),
            "direction": _tables(geo).dir_json[self.axis],
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Line)
            and self.cells == other.cells
            and self.player == other.player
            and self.axis == other.axis
        )

    def __hash__(self) -> int:
        return hash((self.cells, self.player, self.axis))

    def __repr__(self) -> str:
        return f"Line(p{self.player} axis={self.axis} cells={self.cells})"


def _line_cells(s: GameState, player: int | None) -> dict[int, set[int]]:
    """Per owner, the marker cells that can be part of a line (no stack, not collapsed)."""
    markers = s.markers
    # A marker never shares its cell with a stack or a collapsed space in a legal
    # position; the reference still treats either as a blocker, so honour it if it happens.
    blocked = (markers.keys() & s.stacks.keys()) | (markers.keys() & s.collapsed.keys())
    cells: dict[int, set[int]] = {}
    for c, owner in markers.items():
        if (player is None or owner == player) and c not in blocked:
            if owner in cells:
                cells[owner].add(c)
            else:
                cells[owner] = {c}
    return cells


def detect_lines(s: GameState, player: int | None = None, min_length: int = 3) -> list[Line]:
    """All marker lines of length >= ``min_length``, in the reference's detection order.

    ``player`` restricts the result to that player's lines (same order as filtering the
    full list). A marker under a stack or on a collapsed space neither starts nor extends
    a line; only the same player's markers extend one.
    """
    markers = s.markers
    if len(markers) < min_length:
        return []
    by_owner = _line_cells(s, player)
    t = _tables(s.geo)
    fwd_t, back_t = t.fwd, t.back
    axes = range(t.n_axes)
    found: list[Line] = []
    # Every cell of a maximal run yields the same run, so a cell already covered on an
    # axis is skipped: the run was reported when its first marker (in map order) was met.
    seen: list[set[int]] = [set() for _ in axes]
    for cell, owner in markers.items():
        mine = by_owner.get(owner)
        if mine is None or cell not in mine:
            continue
        for axis in axes:
            done = seen[axis]
            if cell in done:
                continue
            back = back_t[axis]
            fwd = fwd_t[axis]
            first = cell
            prv = back[first]
            while prv in mine:
                first = prv
                prv = back[first]
            run = [first]
            nxt = fwd[first]
            while nxt in mine:
                run.append(nxt)
                nxt = fwd[nxt]
            done.update(run)
            if len(run) >= min_length:
                found.append(Line(tuple(run), owner, axis))
    return found


def has_line_decision(s: GameState, player: int) -> bool:
    """True if the engine sees a line of ``player`` (it stays in / enters a line decision).

    This is the engine's test in processPostMovePhases (length >= engine_line_threshold).
    The host may still offer ``choose_line_option`` moves when this is False (hex8 3-4p,
    3-marker lines): use ``line_phase_moves`` for the offered list.
    """
    need = engine_line_threshold(s)
    if len(s.markers) < need:
        return False
    mine = _line_cells(s, player).get(player)
    if mine is None or len(mine) < need:
        return False
    t = _tables(s.geo)
    for axis in range(t.n_axes):
        back = t.back[axis]
        fwd = t.fwd[axis]
        for c in mine:
            if back[c] in mine:
                continue  # not the first cell of its run
            n = 1
            nxt = fwd[c]
            while nxt in mine:
                n += 1
                if n >= need:
                    return True
                nxt = fwd[nxt]
    return False


def _process_line_move(geo: Geometry, line: Line) -> Move:
    return Move(
        "process_line", line.player, to=line.cells[0], extra={"formedLines": [line.to_json(geo)]}
    )


def _choose_moves(geo: Geometry, line: Line, required: int) -> list[Move]:
    """The host's choose_line_option moves for one line (collapse-all, then windows)."""
    lj = line.to_json(geo)
    positions = lj["positions"]
    out = [
        Move(
            "choose_line_option",
            line.player,
            to=line.cells[0],
            extra={"formedLines": [lj], "collapsedMarkers": positions},
        )
    ]
    n = len(positions)
    if n > required:
        for start in range(n - required + 1):
            out.append(
                Move(
                    "choose_line_option",
                    line.player,
                    to=line.cells[0],
                    extra={
                        "formedLines": [lj],
                        "collapsedMarkers": positions[start : start + required],
                    },
                )
            )
    return out


def line_elimination_moves(s: GameState, player: int) -> list[Move]:
    """The engine's line-reward eliminations: one per stack ``player`` controls (dict order)."""
    extra = {"eliminatedRings": [{"player": player, "count": 1}], "eliminationContext": "line"}
    return [
        Move("eliminate_rings_from_stack", player, to=cell, extra=extra)
        for cell, st in s.stacks.items()
        if st[0] == player
    ]


def line_phase_moves(s: GameState, player: int) -> list[Move]:
    """The moves the host offers in line_processing (parity README §3.2 H2), unsorted.

    Pending line reward with at least one controlled stack: only the eliminations.
    Otherwise: the engine's ``process_line`` moves, then (only while the reward is pending
    but no stack is left) nothing else from the engine, then the host's
    ``choose_line_option`` moves for every line in detection order. Exact duplicates do not
    occur. An empty list means the host inserts ``no_line_action``.
    """
    geo = s.geo
    if s.pending_line_reward:
        elim = line_elimination_moves(s, player)
        if elim:
            return elim
    required = s.line_length
    # The host's detector keeps lines >= effective(board, 3 players) <= required, then the
    # choose enumerator drops lines < required; the engine keeps >= engine threshold.
    lines = detect_lines(s, player, required)
    eng = engine_line_threshold(s)
    moves = [_process_line_move(geo, ln) for ln in lines if ln.length >= eng]
    for ln in lines:
        moves.extend(_choose_moves(geo, ln, required))
    return moves


# --- applying ------------------------------------------------------------------------


def _line_of_move(s: GameState, move: Move) -> tuple[tuple[int, ...], int]:
    """The cells and declared length of ``move.formedLines[0]`` (the engine trusts them)."""
    fl = (move.extra or {}).get("formedLines")
    if not fl:
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: {move.type} without formedLines"
        )
    entry = fl[0]
    cells = tuple(s.geo.cell_of(p) for p in entry["positions"])
    length = entry.get("length")
    if not isinstance(length, int):
        length = len(cells)
    return cells, length


def _check_offered(s: GameState, move: Move) -> None:
    if s.phase != "line_processing":
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: {move.type} is only legal in line_processing"
        )
    if move.player != s.current_player:
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: not the current player ({s.current_player})"
        )
    key = move.key(s.geo)
    if all(m.key(s.geo) != key for m in line_phase_moves(s, move.player)):
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: {move.type} is not among the offered "
            f"line moves: {key}"
        )


def _collapse(s: GameState, cells: tuple[int, ...] | list[int], player: int) -> None:
    """Collapse ``cells`` to ``player``'s territory (LineAggregate.collapseLinePositions).

    A stack on a collapsed cell (never produced by detection) returns every ring to its
    owner's hand without touching totalRingsInPlay; markers are removed; the territory
    count grows by the number of distinct cells.
    """
    done: set[int] = set()
    stacks = s.stacks
    for c in cells:
        if c in done:
            continue
        done.add(c)
        st = stacks.pop(c, None)
        if st:
            for owner in st:
                s.rings_in_hand[owner] += 1
        s.markers.pop(c, None)
        s.collapsed[c] = player
    s.territory[player] += len(done)


def _controls_stack(s: GameState, player: int) -> bool:
    return any(st[0] == player for st in s.stacks.values())


def apply_process_line(s: GameState, move: Move, validate: bool = True) -> bool:
    """Apply ``process_line``; returns and stores in ``s.pending_line_reward`` the reward flag.

    Exact-length line: collapse it; the reward is pending iff the player still controls a
    stack afterwards. A line longer (or shorter) than required: no-op (README §8) and the
    flag becomes False. ``validate`` checks the move is offered (IllegalMoveError if not).
    """
    if validate:
        _check_offered(s, move)
    cells, length = _line_of_move(s, move)
    pending = False
    if length == s.line_length:
        _collapse(s, cells, move.player)
        pending = _controls_stack(s, move.player)
    s.pending_line_reward = pending
    return pending


def apply_choose_line_option(s: GameState, move: Move, validate: bool = True) -> bool:
    """Apply ``choose_line_option``; returns and stores the line-reward flag.

    Collapses ``collapsedMarkers`` (the whole line when absent/empty). The reward is
    pending iff the line is at least the required length, the collapsed set equals the
    line's set, and the player still controls a stack afterwards.
    """
    if validate:
        _check_offered(s, move)
    cells, length = _line_of_move(s, move)
    cm = (move.extra or {}).get("collapsedMarkers")
    target = [s.geo.cell_of(p) for p in cm] if cm else list(cells)
    full = set(target) == set(cells)
    _collapse(s, target, move.player)
    pending = length >= s.line_length and full and _controls_stack(s, move.player)
    s.pending_line_reward = pending
    return pending


def apply_line_reward_elimination(s: GameState, move: Move, validate: bool = True) -> int:
    """Apply ``eliminate_rings_from_stack`` with eliminationContext "line".

    Removes exactly one ring from the top of the stack at ``move.to`` (the player must
    control it; otherwise the reference silently changes nothing), credited to the player
    in board_eliminated, eliminated and total_rings_eliminated. Clears
    ``s.pending_line_reward`` in every case. Returns the number of rings removed.
    """
    if validate:
        _check_offered(s, move)
    removed = 0
    st = s.stacks.get(move.to) if move.to is not None else None
    if st and st[0] == move.player and cap_height(st) > 0:
        removed = eliminate_from_stack(s, move.to, 1, move.player)
    s.pending_line_reward = False
    return removed


def apply_line_move(s: GameState, move: Move, validate: bool = True) -> bool:
    """Dispatch a line_processing decision move (not ``no_line_action``).

    Returns the pending-reward flag after the move.
    """
    t = move.type
    if t == "process_line":
        return apply_process_line(s, move, validate)
    if t == "choose_line_option":
        return apply_choose_line_option(s, move, validate)
    if t == "eliminate_rings_from_stack":
        apply_line_reward_elimination(s, move, validate)
        return False
    raise IllegalMoveError(f"phase {s.phase}, player {move.player}: {t} is not a line decision")


# The orchestrator's name for the engine's "does P still have a line" test.
player_has_lines = has_line_decision
