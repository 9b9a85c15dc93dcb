"""Upstream single-step contract vectors, run the way the reference's own runner runs them.

A contract bundle (``*.vectors.json``, see ``shared/parity/contract_vectors/NOTES.md``) holds
vectors of the form: a serialized state, one move, and a few expected facts about the state
after the move. ``run_vector`` reproduces the reference runner
(``tests/contracts/contractVectorRunner.test.ts``):

1. a vector with a ``skip`` text, or with ``initialMove`` instead of ``move``, is a ``skip``;
2. the state is deserialized (``state_from_contract``) and the move applied without the
   legality check (the reference's ``processTurn`` with default options);
3. if the vector expects ``complete`` but we are awaiting a decision in the line or
   territory phase, ``no_line_action`` / ``no_territory_action`` is played for the current
   player, up to 10 times;
4. the assertions and the status are compared.

An outcome is ``pass``, ``fail`` (an assertion or the status differed), ``throw`` (the
state, the move or the engine rejected the input) or ``skip``.

Known divergence from the reference: the reference sizes a hex board from the state's
``board.size`` (several vectors carry a legacy ``hexagonal`` size of 11 or 13, i.e. a
smaller board); our geometry is fixed per board type (radius 12), so edge-related facts
on those vectors can differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringrift_tasks.rules import lines, territory
from ringrift_tasks.rules.board import Geometry, UnknownPositionError, geometry
from ringrift_tasks.rules.errors import RulesError
from ringrift_tasks.rules.moves import Move, MoveFormatError, move_from_json
from ringrift_tasks.rules.state import PHASES, GameConfig, GameState, cap_height, new_game
from ringrift_tasks.rules.turn import apply_move, legal_moves
from ringrift_tasks.rules.view import StateFormatError

PASS, FAIL, THROW, SKIP = "pass", "fail", "throw", "skip"
OUTCOMES = (PASS, FAIL, THROW, SKIP)

COMPLETE = "complete"
AWAITING_DECISION = "awaiting_decision"
# Phases in which the player to move is answering a decision of their own turn.
DECISION_PHASES = frozenset(
    {"chain_capture", "line_processing", "territory_processing", "forced_elimination"}
)
# The reference runner's auto-completion: at most this many no-action moves.
MAX_AUTO_COMPLETE = 10
_AUTO_COMPLETE_BY_PHASE = {
    "line_processing": "no_line_action",
    "territory_processing": "no_territory_action",
}
# Decision names in older vectors and the reference's current ``DecisionType`` they mean.
_LEGACY_DECISION_NAMES = {"select_line_to_process": "line_order"}
# Contract-move metadata that our move format does not carry.
_CONTRACT_ONLY_MOVE_KEYS = frozenset({"placedOnStack", "placementCount", "lineIndex"})
_CAPTURE_TYPES = frozenset({"overtaking_capture", "continue_capture_segment"})
# The assertion kinds the reference's checker (``validateAgainstAssertions``) compares; a
# vector's verdict rests on these alone, so that it means what RESULTS.json means. The
# other kinds found in the bundles are evaluated too and reported as notes.
REFERENCE_CHECKED_KINDS = frozenset(
    {
        "currentPlayer",
        "currentPhase",
        "gameStatus",
        "stackCount",
        "markerCount",
        "collapsedCount",
        "player1RingsInHand",
        "player1EliminatedRings",
        "player1TerritorySpaces",
        "player2RingsInHand",
        "player2EliminatedRings",
        "player2TerritorySpaces",
        "victoryWinner",
    }
)


class ContractFormatError(ValueError):
    """A bundle or vector that is not a contract vector; the message names the field."""


@dataclass(frozen=True, slots=True)
class ContractVector:
    """One vector of a bundle (the raw JSON object is kept for the runner)."""

    id: str
    file: str
    category: str
    description: str
    data: dict[str, Any]

    @property
    def skip_reason(self) -> str | None:
        """Why the single-step runner does not run this vector, or ``None``."""
        if self.data.get("skip"):
            return f"vector carries skip marker: {self.data['skip']}"
        inp = self.data.get("input", {})
        if "move" not in inp and "initialMove" in inp:
            return "multi-step initialMove/sequence format; not a single-step vector"
        return None


@dataclass(frozen=True, slots=True)
class VectorOutcome:
    """The verdict on one vector: ``result`` is one of ``OUTCOMES``."""

    id: str
    file: str
    result: str
    reason: str
    # Disagreements on assertion kinds the reference does not check (not part of result).
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def load_bundle(path: Path) -> list[ContractVector]:
    """The vectors of one ``*.vectors.json`` bundle; ``ContractFormatError`` if malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ContractFormatError(f"{path}: cannot read bundle: {exc}") from None
    vectors = data.get("vectors") if isinstance(data, dict) else None
    if not isinstance(vectors, list):
        raise ContractFormatError(f"{path}: bundle.vectors: expected a list")
    out = []
    for i, v in enumerate(vectors):
        for key in ("id", "input", "expectedOutput"):
            if not isinstance(v, dict) or key not in v:
                raise ContractFormatError(f"{path}: vectors[{i}].{key}: missing")
        out.append(
            ContractVector(
                id=str(v["id"]),
                file=path.name,
                category=str(v.get("category", "")),
                description=str(v.get("description", "")),
                data=v,
            )
        )
    return out


def bundle_paths(paths: Iterable[Path]) -> list[Path]:
    """Bundle files named by ``paths`` (a folder stands for its ``*.vectors.json``), sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(p.glob("*.vectors.json")))
        else:
            out.append(p)
    return out


def load_reference_results(path: Path) -> dict[str, str]:
    """``RESULTS.json``: the reference engine's outcome per vector id."""
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        return {vid: str(entry["result"]) for vid, entry in data["vectors"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ContractFormatError(f"{path}: vectors.<id>.result: {exc}") from None


# --------------------------------------------------------------------------------------
# State and move deserialization
# --------------------------------------------------------------------------------------
def _field(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise StateFormatError(f"{where}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise StateFormatError(f"{where}.{key}: missing")
    return obj[key]


def _int(obj: Any, key: str, where: str, default: int | None = None) -> int:
    if default is not None and (not isinstance(obj, dict) or obj.get(key) is None):
        return default
    value = _field(obj, key, where)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StateFormatError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _player(value: Any, n: int, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= n:
        raise StateFormatError(f"{where}: expected a player number 1..{n}, got {value!r}")
    return value


def _cell_of_key(geo: Geometry, key: str, where: str) -> int:
    try:
        return geo.cell_of_key(key)
    except UnknownPositionError as exc:
        raise StateFormatError(f"{where}: {exc}") from None


def _check_position(geo: Geometry, obj: dict[str, Any], cell: int, where: str) -> None:
    pos = obj.get("position")
    if pos is None:
        return
    try:
        at = geo.cell_of(pos)
    except UnknownPositionError as exc:
        raise StateFormatError(f"{where}.position: {exc}") from None
    if at != cell:
        raise StateFormatError(
            f"{where}.position: {pos!r} does not match its key {geo.keys[cell]!r}"
        )


def _blank_state(board_type: str, n: int) -> GameState:
    """A start position with ``n`` players; ``n == 1`` (some vectors) is derived from 2."""
    s = new_game(GameConfig(board_type, max(n, 2)))
    if n == 1:
        s.num_players = 1
        for name in ("board_eliminated", "rings_in_hand", "eliminated", "territory", "player_ids"):
            setattr(s, name, getattr(s, name)[:2])
        s.swap_rule_enabled = False
    return s


def state_from_contract(data: Any) -> GameState:
    """Our state for a contract vector's ``input.state`` (the reference's serialized form).

    Raises ``StateFormatError`` naming the field that is missing or nonsense. Fields the
    reference's deserializer leaves at a default are defaulted the same way (no winner,
    ``totalRingsEliminated`` 0 when absent, territory minimum = ``territoryVictoryMinimum``
    else ``territoryVictoryThreshold``); ``moveHistory`` supplies the per-turn facts.
    """
    where = "state"
    board = _field(data, "board", where)
    board_type = _field(board, "type", "state.board")
    try:
        geo = geometry(board_type)
    except ValueError as exc:
        raise StateFormatError(f"state.board.type: {exc}") from None
    _int(board, "size", "state.board")
    players = _field(data, "players", where)
    if not isinstance(players, list) or not 1 <= len(players) <= 4:
        raise StateFormatError("state.players: expected a list of 1 to 4 players")
    n = len(players)
    s = _blank_state(board_type, n)

    stacks = _field(board, "stacks", "state.board")
    if not isinstance(stacks, dict):
        raise StateFormatError("state.board.stacks: expected an object keyed by position")
    for key, st in stacks.items():
        at = f"state.board.stacks[{key}]"
        cell = _cell_of_key(geo, key, at)
        rings_raw = _field(st, "rings", at)
        if not isinstance(rings_raw, list) or not rings_raw:
            raise StateFormatError(f"{at}.rings: expected a non-empty list, got {rings_raw!r}")
        rings = tuple(_player(r, n, f"{at}.rings[{i}]") for i, r in enumerate(rings_raw))
        _check_position(geo, st, cell, at)
        for name, actual in (
            ("stackHeight", len(rings)),
            ("capHeight", cap_height(rings)),
            ("controllingPlayer", rings[0]),
        ):
            if name in st and st[name] != actual:
                raise StateFormatError(
                    f"{at}.{name}: {st[name]!r} disagrees with rings {list(rings)} ({actual})"
                )
        s.stacks[cell] = rings

    markers = _field(board, "markers", "state.board")
    if not isinstance(markers, dict):
        raise StateFormatError("state.board.markers: expected an object keyed by position")
    for key, mk in markers.items():
        at = f"state.board.markers[{key}]"
        cell = _cell_of_key(geo, key, at)
        _check_position(geo, mk, cell, at)
        if cell in s.stacks:
            raise StateFormatError(f"{at}: a marker on a stack")
        s.markers[cell] = _player(_field(mk, "player", at), n, f"{at}.player")

    collapsed = _field(board, "collapsedSpaces", "state.board")
    if not isinstance(collapsed, dict):
        raise StateFormatError("state.board.collapsedSpaces: expected an object keyed by position")
    for key, owner in collapsed.items():
        at = f"state.board.collapsedSpaces[{key}]"
        cell = _cell_of_key(geo, key, at)
        if cell in s.stacks or cell in s.markers:
            raise StateFormatError(f"{at}: a collapsed space that holds a stack or marker")
        s.collapsed[cell] = _player(owner, n, at)

    elim = board.get("eliminatedRings") or {}
    if not isinstance(elim, dict):
        raise StateFormatError("state.board.eliminatedRings: expected an object keyed by player")
    for key in elim:
        at = f"state.board.eliminatedRings[{key}]"
        p = _player(int(key) if str(key).isdigit() else key, n, at)
        s.board_eliminated[p] = _int(elim, key, "state.board.eliminatedRings")

    for i, pl in enumerate(players):
        at = f"state.players[{i}]"
        p = _int(pl, "playerNumber", at)
        if p != i + 1:
            raise StateFormatError(f"{at}.playerNumber: expected {i + 1}, got {p}")
        s.rings_in_hand[p] = _int(pl, "ringsInHand", at)
        s.eliminated[p] = _int(pl, "eliminatedRings", at)
        s.territory[p] = _int(pl, "territorySpaces", at)
        if isinstance(pl.get("id"), str):
            s.player_ids[p] = pl["id"]

    s.current_player = _player(_field(data, "currentPlayer", where), n, "state.currentPlayer")
    phase = _field(data, "currentPhase", where)
    if phase not in PHASES:
        raise StateFormatError(f"state.currentPhase: unknown phase {phase!r}")
    s.phase = phase
    status = _field(data, "gameStatus", where)
    if status not in ("active", "completed", "abandoned"):
        raise StateFormatError(f"state.gameStatus: unknown status {status!r}")
    s.status = status
    s.winner = None

    mm = data.get("mustMoveFromStackKey")
    s.must_move_from = None if mm is None else _cell_of_key(geo, mm, "state.mustMoveFromStackKey")
    ccp = data.get("chainCapturePosition")
    if ccp is not None:
        try:
            s.chain_capture_pos = geo.cell_of(ccp)
        except UnknownPositionError as exc:
            raise StateFormatError(f"state.chainCapturePosition: {exc}") from None

    s.total_rings_in_play = 0
    s.total_rings_eliminated = _int(data, "totalRingsEliminated", where, default=0)
    s.victory_threshold = _int(data, "victoryThreshold", where, default=s.victory_threshold)
    s.territory_victory_threshold = _int(
        data, "territoryVictoryThreshold", where, default=s.territory_victory_threshold
    )
    s.territory_victory_minimum = _int(
        data, "territoryVictoryMinimum", where, default=s.territory_victory_threshold
    )
    ro = data.get("rulesOptions")
    if ro is not None and not isinstance(ro, dict):
        raise StateFormatError(f"state.rulesOptions: expected an object, got {ro!r}")
    s.swap_rule_enabled = bool(ro and ro.get("swapRuleEnabled")) and n == 2
    _apply_move_history(s, data.get("moveHistory") or [])
    return s


def _apply_move_history(s: GameState, history: Any) -> None:
    """Per-turn facts from the serialized ``moveHistory`` (the moves are not replayed)."""
    if not isinstance(history, list):
        raise StateFormatError("state.moveHistory: expected a list")
    moves = []
    for i, raw in enumerate(history):
        try:
            moves.append(contract_move(raw, s.geo))
        except MoveFormatError as exc:
            raise StateFormatError(f"state.moveHistory[{i}]: {exc}") from None
    tail: list[Move] = []
    for m in moves:
        tail = tail + [m] if tail and tail[-1].player == m.player else [m]
    s.turn_moves = tail
    s.moves_played = len(moves)
    s.swap_applied = any(m.type == "swap_sides" for m in moves)
    s.p1_has_moved = any(m.player == 1 and m.type != "swap_sides" for m in moves)
    s.p2_has_moved = any(m.player == 2 and m.type != "swap_sides" for m in moves)


def contract_move(obj: Any, geo: Geometry) -> Move:
    """A contract vector's move as our ``Move``; ``MoveFormatError`` naming the field.

    Contract moves may carry reference metadata our moves do not: ``placedOnStack`` (derived
    from the board), ``lineIndex`` (legacy) and ``placementCount`` (only 1 is supported: the
    engine places one ring per move).
    """
    if not isinstance(obj, dict):
        return move_from_json(obj, geo)
    count = obj.get("placementCount", 1)
    if count != 1:
        raise MoveFormatError(f"move.placementCount: only 1 is supported, got {count!r}")
    return move_from_json({k: v for k, v in obj.items() if k not in _CONTRACT_ONLY_MOVE_KEYS}, geo)


def resolve_territory_region(s: GameState, move: Move) -> Move:
    """A ``choose_territory_option`` that names no region gets one, as the reference does.

    The reference re-derives the region when the move carries no ``disconnectedRegions``:
    the only processable region, else the one whose first cell is ``move.to``. Our engine
    requires the region on the move, so the contract layer fills it in. Any other move,
    or one whose region cannot be derived, is returned unchanged.
    """
    if move.type != "choose_territory_option" or (move.extra or {}).get("disconnectedRegions"):
        return move
    player = move.player
    recovery = territory.turn_includes_recovery(s.turn_moves, player)
    candidates = territory.processable_regions(s, player, recovery)
    if len(candidates) > 1:
        candidates = [r for r in candidates if r.cells[0] == move.to]
    if not candidates:
        return move
    region = candidates[0]
    extra = dict(move.extra or {})
    extra["disconnectedRegions"] = [territory.region_json(s.geo, region)]
    return Move(move.type, player, move.to, move.frm, move.target, extra)


def is_reference_noop(s: GameState, move: Move) -> bool:
    """True for a move the reference applies as a no-op: a ``choose_territory_option``
    that names no region even after ``resolve_territory_region`` (the reference's territory
    aggregate then returns
    the state unchanged and surfaces no decision, so the turn reports ``complete``).
    Our engine rejects such a move instead; the contract runner reproduces the no-op.
    """
    return move.type == "choose_territory_option" and not (move.extra or {}).get(
        "disconnectedRegions"
    )


# --------------------------------------------------------------------------------------
# Status and assertions
# --------------------------------------------------------------------------------------
def turn_status(s: GameState, mover: int) -> str:
    """``awaiting_decision`` iff the game is active and ``mover`` must still decide in a
    decision phase of the same turn (chain capture, line, territory, forced elimination);
    otherwise ``complete``. This is the reference's ``processTurn`` status seen from the
    resulting state: a pending decision always leaves the mover in one of those phases,
    and a finished turn hands over to the next seat's placement (or ends the game).
    """
    if s.status == "active" and s.current_player == mover and s.phase in DECISION_PHASES:
        return AWAITING_DECISION
    return COMPLETE


def pending_decision_type(s: GameState, mover: int) -> str | None:
    """The reference ``DecisionType`` the mover faces, or ``None`` when the turn is over."""
    if turn_status(s, mover) != AWAITING_DECISION:
        return None
    phase = s.phase
    if phase == "chain_capture":
        return "chain_capture"
    if phase == "forced_elimination":
        return "forced_elimination"
    if phase == "line_processing":
        if s.pending_line_reward:
            return "line_elimination_required"
        if lines.has_line_decision(s, mover):
            return "line_order"
        return "no_line_action_required"
    offered = {m.type for m in legal_moves(s, canonical_order=False)}
    if "eliminate_rings_from_stack" in offered:
        return "elimination_target"
    if "choose_territory_option" in offered:
        return "region_order"
    return "no_territory_action_required"


def s_invariant(s: GameState) -> int:
    """The reference's progress measure S = markers + collapsed spaces + rings eliminated."""
    return len(s.markers) + len(s.collapsed) + s.total_rings_eliminated


@dataclass(slots=True)
class _Run:
    """What one vector run produced: the states around it and the moves applied."""

    before: GameState
    after: GameState
    mover: int
    moves: list[Move]


def _actual(kind: str, run: _Run) -> Any:
    """The observed value of an assertion ``kind``; ``KeyError`` if the kind is unknown."""
    s, before = run.after, run.before
    if kind.startswith("player") and kind[6:7].isdigit():
        p = int(kind[6])
        counter = kind[7:]
        if not 1 <= p <= s.num_players:
            return None
        per_player = {
            "RingsInHand": s.rings_in_hand,
            "EliminatedRings": s.eliminated,
            "TerritorySpaces": s.territory,
        }
        return per_player[counter][p]
    captures = [m for m in run.moves if m.type in _CAPTURE_TYPES]
    landing = captures[-1].to if captures else None
    table = {
        "currentPlayer": lambda: s.current_player,
        "currentPhase": lambda: s.phase,
        "gameStatus": lambda: s.status,
        "stackCount": lambda: len(s.stacks),
        "markerCount": lambda: len(s.markers),
        "collapsedCount": lambda: len(s.collapsed),
        "sInvariantDelta": lambda: s_invariant(s) - s_invariant(before),
        "sInvariantValue": lambda: s_invariant(s),
        "victoryWinner": lambda: s.winner,
        "victoryReason": lambda: getattr(getattr(s, "outcome", None), "termination", None),
        "pendingDecisionType": lambda: pending_decision_type(s, run.mover),
        "markersCreated": lambda: len(s.markers) - len(before.markers),
        "noLineCollapse": lambda: len(s.collapsed) == len(before.collapsed),
        "totalCapturesInChain": lambda: len(captures),
        "finalStackHeight": lambda: len(s.stacks.get(landing, ())) if landing is not None else 0,
        "finalStackController": lambda: (
            s.stacks[landing][0] if landing is not None and landing in s.stacks else None
        ),
        "targetStacksRemaining": lambda: sum(1 for st in s.stacks.values() if st[0] != run.mover),
        "extractionCount": lambda: sum(
            len((m.extra or {}).get("extractionStacks", ())) for m in run.moves
        ),
    }
    return table[kind]()


def check_assertions(run: _Run, assertions: dict[str, Any]) -> list[str]:
    """One line per assertion that does not hold (``kind: expected X, got Y``)."""
    failures = []
    for kind, expected in assertions.items():
        try:
            actual = _actual(kind, run)
        except KeyError:
            failures.append(f"{kind}: unknown assertion kind")
            continue
        if kind == "pendingDecisionType":
            expected = _LEGACY_DECISION_NAMES.get(expected, expected)
        if actual != expected:
            failures.append(f"{kind}: expected {expected!r}, got {actual!r}")
    return failures


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------
def run_vector(vector: ContractVector) -> VectorOutcome:
    """Run one vector as the reference's single-step runner does (module docstring)."""

    def outcome(result: str, reason: str, notes: list[str] | None = None) -> VectorOutcome:
        return VectorOutcome(vector.id, vector.file, result, reason, tuple(notes or ()))

    skip = vector.skip_reason
    if skip is not None:
        return outcome(SKIP, skip)
    inp = vector.data["input"]
    expected = vector.data["expectedOutput"]
    try:
        state = state_from_contract(inp.get("state"))
        move = resolve_territory_region(state, contract_move(inp["move"], state.geo))
        before = state.copy()
        applied = [move]
        mover = move.player
        noop = is_reference_noop(state, move)
        if not noop:
            apply_move(state, move, validate=False)
        if expected.get("status") == COMPLETE and not noop:
            for _ in range(MAX_AUTO_COMPLETE):
                if turn_status(state, mover) != AWAITING_DECISION:
                    break
                auto_type = _AUTO_COMPLETE_BY_PHASE.get(state.phase)
                if auto_type is None:
                    break
                mover = state.current_player
                auto = Move(auto_type, mover)
                apply_move(state, auto, validate=False)
                applied.append(auto)
    except (StateFormatError, MoveFormatError, RulesError) as exc:
        return outcome(THROW, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # an engine crash on odd input is a verdict, not a runner bug
        return outcome(THROW, f"engine crashed: {type(exc).__name__}: {exc}")
    run = _Run(before, state, mover, applied)
    assertions = expected.get("assertions") or {}
    failures = check_assertions(
        run, {k: v for k, v in assertions.items() if k in REFERENCE_CHECKED_KINDS}
    )
    notes = check_assertions(
        run, {k: v for k, v in assertions.items() if k not in REFERENCE_CHECKED_KINDS}
    )
    want = expected.get("status")
    got = COMPLETE if noop else turn_status(state, mover)
    if want is not None and want != got:
        failures.append(f"expected status {want!r}, got {got!r}")
    if noop:
        notes.append("applied as the reference's no-op: choose_territory_option, no region")
    if failures:
        return outcome(FAIL, "; ".join(failures), notes)
    return outcome(PASS, "all assertions and status matched", notes)


@dataclass(slots=True)
class ContractReport:
    """Outcomes of a run, and how they compare with the reference engine's."""

    outcomes: list[VectorOutcome]
    reference: dict[str, str]

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def regressions(self) -> list[VectorOutcome]:
        """Vectors the reference passes and we do not (the only ones trusted)."""
        return [o for o in self.outcomes if self.reference.get(o.id) == PASS and o.result != PASS]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def summary_line(self) -> str:
        ours = ", ".join(f"{self.count(r)} {r}" for r in OUTCOMES)
        ran = {o.id for o in self.outcomes}
        ref = [r for vid, r in self.reference.items() if vid in ran]
        theirs = ", ".join(f"{ref.count(r)} {r}" for r in OUTCOMES) if ref else "none"
        return f"contracts: {ours} (reference: {theirs})"


def run_contracts(bundles: Iterable[Path], reference: dict[str, str]) -> ContractReport:
    """Run every vector of ``bundles`` and compare with ``reference`` (id -> outcome)."""
    outcomes = [run_vector(v) for path in bundles for v in load_bundle(path)]
    return ContractReport(outcomes, reference)
