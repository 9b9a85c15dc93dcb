"""One finished (or capped) game as every room after self-play sees it.

A ``GameRecord`` carries the moves in canonical JSON (parity README §2.2), the search
targets recorded with them, the result, who played and where. Its ``game_id`` is derived
from its content, so the same game arriving twice (a retried sync, a merged shard) is
recognised and stored once. ``replay`` re-validates a record through the rules engine.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from ringrift_tasks.rules.moves import MoveFormatError, canonical_json, move_from_json
from ringrift_tasks.rules.state import GameConfig, GameState, new_game
from ringrift_tasks.rules.turn import apply_move


def payload_checksum(
    game_id: str, result_c: bytes, agents_c: bytes, moves_z: bytes, targets_z: bytes | None
) -> str:
    """sha256 of a stored game: its id, canonical result and agents JSON, and both blobs."""
    h = hashlib.sha256(game_id.encode())
    h.update(result_c)
    h.update(agents_c)
    h.update(moves_z)
    if targets_z is not None:
        h.update(targets_z)
    return h.hexdigest()


class RecordError(ValueError):
    """A game record that is malformed or does not replay; the message says why."""


@dataclass(frozen=True, slots=True)
class SearchTarget:
    """What the search said about one position.

    ``policy``: (index into the canonically ordered legal list, probability) pairs with
    probability > 0; empty for bookkeeping steps. ``values``: the root value per seat
    (seat 1 first), in [-1, 1], from the point of view of each seat.
    """

    policy: tuple[tuple[int, float], ...]
    values: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "p": [[i, round(p, 6)] for i, p in self.policy],
            "v": [round(v, 6) for v in self.values],
        }

    @staticmethod
    def from_json(obj: dict[str, Any]) -> SearchTarget:
        return SearchTarget(
            tuple((int(i), float(p)) for i, p in obj.get("p", [])),
            tuple(float(v) for v in obj.get("v", [])),
        )


@dataclass(frozen=True, slots=True)
class GameResult:
    """How a game ended: winner (None if capped), termination reason, ranking best first."""

    winner: int | None
    termination: str
    ranking: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "termination": self.termination,
            "ranking": list(self.ranking),
        }

    @staticmethod
    def from_json(obj: dict[str, Any]) -> GameResult:
        try:
            return GameResult(obj["winner"], str(obj["termination"]), tuple(obj["ranking"]))
        except (KeyError, TypeError) as exc:
            raise RecordError(f"result: malformed ({exc})") from None


@dataclass(frozen=True, slots=True)
class GameRecord:
    """A complete game. ``moves`` are canonical move objects, one per step."""

    config: str
    seed: int
    moves: tuple[dict[str, Any], ...]
    result: GameResult
    agents: tuple[str, ...]
    source: str
    created_at: float
    kind: str = "selfplay"  # selfplay | evaluation | import
    targets: tuple[SearchTarget | None, ...] | None = None
    game_id: str = field(default="")

    def __post_init__(self) -> None:
        GameConfig.parse(self.config)
        if self.targets is not None and len(self.targets) != len(self.moves):
            raise RecordError(f"targets: {len(self.targets)} entries for {len(self.moves)} moves")
        if not self.game_id:
            object.__setattr__(self, "game_id", self.content_id())

    def content_id(self) -> str:
        """Stable id from what identifies a game: config, seed, source, agents and moves."""
        h = hashlib.sha256()
        h.update(canonical_json([self.config, self.seed, self.source, list(self.agents)]).encode())
        h.update(canonical_json(list(self.moves)).encode())
        return h.hexdigest()[:32]

    @property
    def num_moves(self) -> int:
        return len(self.moves)

    # --- compact storage form -----------------------------------------------------------
    def moves_blob(self) -> bytes:
        """The moves as zlib-compressed canonical JSON."""
        return zlib.compress(canonical_json(list(self.moves)).encode(), 6)

    def targets_blob(self) -> bytes | None:
        if self.targets is None:
            return None
        data = [None if t is None else t.to_json() for t in self.targets]
        return zlib.compress(canonical_json(data).encode(), 6)

    def checksum(self) -> str:
        """sha256 over the stored payload: id, result, agents and both blobs."""
        return payload_checksum(
            self.game_id,
            canonical_json(self.result.to_json()).encode(),
            canonical_json(list(self.agents)).encode(),
            self.moves_blob(),
            self.targets_blob(),
        )

    @staticmethod
    def from_blobs(
        *,
        game_id: str,
        config: str,
        seed: int,
        moves_blob: bytes,
        targets_blob: bytes | None,
        result_json: str,
        agents_json: str,
        source: str,
        created_at: float,
        kind: str,
        checksum: str | None = None,
    ) -> GameRecord:
        """Rebuild a record from its stored columns; ``RecordError`` if anything is off."""
        try:
            moves = tuple(json.loads(zlib.decompress(moves_blob)))
            targets = None
            if targets_blob is not None:
                targets = tuple(
                    None if t is None else SearchTarget.from_json(t)
                    for t in json.loads(zlib.decompress(targets_blob))
                )
            result = GameResult.from_json(json.loads(result_json))
            agents = tuple(json.loads(agents_json))
        except (zlib.error, json.JSONDecodeError, TypeError) as exc:
            raise RecordError(f"game {game_id}: undecodable payload ({exc})") from None
        rec = GameRecord(
            config=config,
            seed=seed,
            moves=moves,
            result=result,
            agents=agents,
            source=source,
            created_at=created_at,
            kind=kind,
            targets=targets,
            game_id=game_id,
        )
        # Checked over the bytes as stored (never recompressed: another zlib build may
        # compress the same text differently).
        if checksum is not None:
            actual = payload_checksum(
                game_id,
                canonical_json(result.to_json()).encode(),
                canonical_json(list(agents)).encode(),
                moves_blob,
                targets_blob,
            )
            if actual != checksum:
                raise RecordError(f"game {game_id}: checksum mismatch")
        return rec


def replay(record: GameRecord) -> GameState:
    """Replay every move through the rules engine (validating each) and check the result.

    Returns the final state; raises ``RecordError`` naming the step and the reason.
    """
    s = new_game(record.config)
    for i, mj in enumerate(record.moves):
        try:
            move = move_from_json(mj, s.geo)
            apply_move(s, move, validate=True)
        except (MoveFormatError, ValueError) as exc:
            raise RecordError(f"game {record.game_id} step {i}: {exc}") from None
    res = record.result
    if res.termination == "move_cap":
        if s.status != "active":
            raise RecordError(f"game {record.game_id}: recorded move_cap but the game ended")
    else:
        if s.status != "completed":
            raise RecordError(
                f"game {record.game_id}: recorded {res.termination} but the game is still active"
            )
        if s.winner != res.winner:
            raise RecordError(
                f"game {record.game_id}: recorded winner {res.winner}, replay gives {s.winner}"
            )
    return s


def result_from_state(s: GameState) -> GameResult:
    """The result of a game that was played to ``s``: its victory, or ``move_cap`` if the
    game is still active (stopped by the caller's step limit)."""
    from ringrift_tasks.rules.victory import ranking

    if s.status == "active" or s.outcome is None:
        return GameResult(None, "move_cap", tuple(ranking(s)))
    return GameResult(s.winner, s.outcome.termination, tuple(ranking(s)))
