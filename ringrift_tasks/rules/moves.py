"""Moves: a small immutable record plus its canonical JSON form (parity README §2.2).

The common moves (placement, movement, captures, skips, bookkeeping) carry only integer
cells. Decision moves also carry ``extra``: their remaining canonical-JSON fields
(``formedLines``, ``collapsedMarkers``, ``eliminatedRings``, ``eliminationFromStack``,
``eliminationContext``, ``disconnectedRegions``, ``recoveryMode``, ``extractionStacks``, ``option``,
``collapsePositions``)
exactly as the reference engine writes them, positions included.
"""

from __future__ import annotations

import json
from typing import Any

from ringrift_tasks.rules.board import Geometry, UnknownPositionError

MOVE_TYPES = frozenset(
    {
        "place_ring",
        "skip_placement",
        "no_placement_action",
        "swap_sides",
        "move_stack",
        "overtaking_capture",
        "skip_capture",
        "continue_capture_segment",
        "recovery_slide",
        "skip_recovery",
        "no_movement_action",
        "process_line",
        "choose_line_option",
        "eliminate_rings_from_stack",
        "no_line_action",
        "choose_territory_option",
        "skip_territory_processing",
        "no_territory_action",
        "forced_elimination",
    }
)

# Types whose "to" is the meaningless sentinel {"x":0,"y":0}.
SENTINEL_TYPES = frozenset(
    {
        "skip_placement",
        "no_placement_action",
        "swap_sides",
        "skip_capture",
        "skip_recovery",
        "no_movement_action",
        "no_line_action",
        "skip_territory_processing",
        "no_territory_action",
    }
)
_NEEDS_FROM = frozenset(
    {"move_stack", "overtaking_capture", "continue_capture_segment", "recovery_slide"}
)
_NEEDS_TARGET = frozenset({"overtaking_capture", "continue_capture_segment"})
_EXTRA_KEYS = (
    "formedLines",
    "collapsedMarkers",
    "eliminatedRings",
    "eliminationFromStack",
    "eliminationContext",
    "disconnectedRegions",
    "recoveryMode",
    "extractionStacks",
    "option",
    "collapsePositions",
)
# Engine metadata the canonical form drops (parity README §2.2).
_DROPPED_KEYS = frozenset({"id", "timestamp", "thinkTime", "moveNumber"})
SENTINEL_POS: dict[str, int] = {"x": 0, "y": 0}


class MoveFormatError(ValueError):
    """A move JSON object that is malformed; the message names the field."""


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no whitespace) as the parity digests use it."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Move:
    """One move. Immutable by convention; equality and hashing follow the canonical JSON."""

    __slots__ = ("type", "player", "to", "frm", "target", "extra", "_key")

    def __init__(
        self,
        type: str,
        player: int,
        to: int | None = None,
        frm: int | None = None,
        target: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.type = type
        self.player = player
        self.to = to
        self.frm = frm
        self.target = target
        self.extra = extra
        self._key: str | None = None

    def to_json(self, geo: Geometry) -> dict[str, Any]:
        """The canonical move object (positions as JSON positions)."""
        out: dict[str, Any] = {"type": self.type, "player": self.player}
        out["to"] = SENTINEL_POS if self.to is None else geo.pos[self.to]
        if self.frm is not None:
            out["from"] = geo.pos[self.frm]
        if self.target is not None:
            out["captureTarget"] = geo.pos[self.target]
        if self.extra:
            out.update(self.extra)
        return out

    def key(self, geo: Geometry) -> str:
        """Canonical JSON string of this move (cached)."""
        if self._key is None:
            self._key = canonical_json(self.to_json(geo))
        return self._key

    def __repr__(self) -> str:
        parts = [self.type, f"p{self.player}"]
        if self.frm is not None:
            parts.append(f"from={self.frm}")
        if self.target is not None:
            parts.append(f"target={self.target}")
        if self.to is not None:
            parts.append(f"to={self.to}")
        if self.extra:
            parts.append(canonical_json(self.extra))
        return f"Move({' '.join(parts)})"


def move_from_json(obj: Any, geo: Geometry) -> Move:
    """Parse a (canonical or engine-annotated) move object.

    Raises ``MoveFormatError`` naming the missing or malformed field.
    """
    if not isinstance(obj, dict):
        raise MoveFormatError(f"move must be a JSON object, got {type(obj).__name__}")
    mtype = obj.get("type")
    if mtype not in MOVE_TYPES:
        raise MoveFormatError(f"move.type: unknown move type {mtype!r}")
    player = obj.get("player")
    if not isinstance(player, int) or isinstance(player, bool) or player < 1:
        raise MoveFormatError(f"move.player: expected a player number >= 1, got {player!r}")

    def cell(field: str, required: bool) -> int | None:
        if field not in obj or obj[field] is None:
            if required:
                raise MoveFormatError(f"move.{field}: required for {mtype}")
            return None
        try:
            return geo.cell_of(obj[field])
        except UnknownPositionError as exc:
            raise MoveFormatError(f"move.{field}: {exc}") from None

    to = None if mtype in SENTINEL_TYPES else cell("to", True)
    frm = cell("from", mtype in _NEEDS_FROM)
    target = cell("captureTarget", mtype in _NEEDS_TARGET)
    extra = {k: obj[k] for k in _EXTRA_KEYS if k in obj and obj[k] is not None}
    unknown = set(obj) - {"type", "player", "to", "from", "captureTarget", *_EXTRA_KEYS}
    unknown -= _DROPPED_KEYS
    if unknown:
        raise MoveFormatError(f"move: unexpected field(s) {sorted(unknown)} for {mtype}")
    return Move(mtype, player, to, frm, target, extra or None)
