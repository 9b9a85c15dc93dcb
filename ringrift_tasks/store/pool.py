"""The game pool: every game once, keyed by its content-derived ``game_id``.

Games arrive in sealed shards (``merge_shard``) or from parity-trace JSONL files
(``import_jsonl``). Both are idempotent: a shard is verified, optionally replayed through
the rules, and inserted in ONE transaction with insert-or-ignore on ``game_id``, so the
same shard twice, or a merge killed half-way and retried, stores each game exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ringrift_tasks.records.game_record import (
    GameRecord,
    GameResult,
    RecordError,
    payload_checksum,
    replay,
)
from ringrift_tasks.records.shard import ShardError, verify_shard
from ringrift_tasks.rules.moves import canonical_json
from ringrift_tasks.rules.traces import iter_trace_games
from ringrift_tasks.store.models import GameRow, MergedShardRow

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

_GAMES = GameRow.__table__
_SHARDS = MergedShardRow.__table__
# Rows per executemany call.
_BATCH = 1000
# Games that are training data in their own right: what "new games since the last
# training" counts. Evaluation games (tournaments, gates) are in the pool for statistics and
# value targets, but a tournament must not be what wakes the trainer.
TRAINING_KINDS: tuple[str, ...] = ("selfplay", "import")

__all__ = ["GamePool", "ImportResult", "MergeResult", "ShardError"]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What one ``merge_shard`` did: games newly added, games already in the pool, games
    rejected (always 0 on success: one bad game rejects the whole shard with ShardError)."""

    sha256: str
    added: int
    duplicates: int
    rejected: int = 0
    already_merged: bool = False


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one ``import_jsonl`` did. ``errors``: one line per rejected game."""

    added: int
    duplicates: int
    rejected: int
    errors: tuple[str, ...] = field(default=())


def _row_from_record(rec: GameRecord, *, merged_at: float, shard: str | None) -> tuple[Any, ...]:
    res = rec.result
    return (
        rec.game_id, rec.config, rec.seed, rec.kind, rec.source,
        json.dumps(list(rec.agents)), json.dumps(res.to_json(), sort_keys=True),
        res.winner, res.termination, rec.num_moves, rec.moves_blob(), rec.targets_blob(),
        rec.created_at, merged_at, rec.checksum(), shard,
    )  # fmt: skip


def _record_from_row(row: Any) -> GameRecord:
    return GameRecord.from_blobs(
        game_id=row.game_id,
        config=row.config,
        seed=row.seed,
        moves_blob=row.moves_z,
        targets_blob=row.targets_z,
        result_json=json.dumps(row.result),
        agents_json=json.dumps(row.agents),
        source=row.source,
        created_at=row.created_at,
        kind=row.kind,
    )


class _JsonCache:
    """Parsed and canonical forms of the small JSON fields of a shard (agents, result).

    They repeat across a shard's games (a few agent lists, a few results), so each
    distinct text is parsed and canonicalised once.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Any, bytes]] = {}

    def get(self, text: str) -> tuple[Any, bytes]:
        hit = self._seen.get(text)
        if hit is None:
            value = json.loads(text)
            hit = self._seen[text] = (value, canonical_json(value).encode())
        return hit


# Column order of the bulk INSERT (``_insert_rows``); JSON columns travel as JSON text.
_COLUMNS = (
    "game_id", "config", "seed", "kind", "source", "agents", "result", "winner",
    "termination", "num_moves", "moves_z", "targets_z", "created_at", "merged_at",
    "checksum", "shard",
)  # fmt: skip
_ROW = {name: i for i, name in enumerate(_COLUMNS)}


def _read_shard_rows(path: Path, *, merged_at: float, sha: str) -> list[tuple[Any, ...]]:
    """The shard's games as pool rows (``_COLUMNS`` order, blobs kept as stored).

    The file hash (checked by ``verify_shard``) already covers every byte; each row's own
    checksum is checked as well, over the stored bytes, which catches a writer bug.
    ``ShardError`` on any bad row.
    """
    rows: list[tuple[Any, ...]] = []
    cache = _JsonCache()
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            cur = con.execute(
                "SELECT game_id, config, seed, kind, source, agents_json, result_json, "
                "num_moves, moves_z, targets_z, created_at, checksum FROM games ORDER BY rowid"
            )
            for gid, cfg, seed, kind, src, agents_j, result_j, n, mz, tz, created, ck in cur:
                try:
                    result, result_c = cache.get(result_j)
                    _, agents_c = cache.get(agents_j)
                    GameResult.from_json(result)
                except (json.JSONDecodeError, RecordError) as exc:
                    raise ShardError(
                        f"{path.name}: game {gid}: bad result/agents ({exc})"
                    ) from None
                if payload_checksum(gid, result_c, agents_c, mz, tz) != ck:
                    raise ShardError(f"{path.name}: game {gid}: checksum mismatch")
                rows.append(
                    (gid, cfg, seed, kind, src, agents_j, result_j, result["winner"],
                     result["termination"], n, mz, tz, created, merged_at, ck, sha)
                )  # fmt: skip
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ShardError(f"{path.name}: unreadable rows ({exc})") from None
    return rows


def _validate_row(path_name: str, row: tuple[Any, ...]) -> None:
    """Decode the row into a ``GameRecord`` and replay it through the rules."""
    r = _ROW
    try:
        rec = GameRecord.from_blobs(
            game_id=row[r["game_id"]],
            config=row[r["config"]],
            seed=row[r["seed"]],
            moves_blob=row[r["moves_z"]],
            targets_blob=row[r["targets_z"]],
            result_json=row[r["result"]],
            agents_json=row[r["agents"]],
            source=row[r["source"]],
            created_at=row[r["created_at"]],
            kind=row[r["kind"]],
        )
        if rec.content_id() != rec.game_id:
            raise RecordError(f"game {rec.game_id}: id does not match its content")
        replay(rec)
    except (RecordError, ValueError) as exc:
        raise ShardError(f"{path_name}: illegal game rejected the shard: {exc}") from None


class GamePool:
    """Repository of games on a ``Store``; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- writing ----------------------------------------------------------------------------
    def _insert_or_ignore(self, conn: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Insert ``rows`` (``_COLUMNS`` order) skipping game ids already present; returns
        how many were new. One DBAPI executemany per batch: the SQL layer's per-row
        processing would cost more than SQLite's own insert."""
        if not rows:
            return 0
        mark = "%s" if self.store.dialect == "postgresql" else "?"
        sql = (
            f"INSERT INTO games ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(_COLUMNS))}) ON CONFLICT (game_id) DO NOTHING"
        )
        added = 0
        for i in range(0, len(rows), _BATCH):
            added += conn.exec_driver_sql(sql, rows[i : i + _BATCH]).rowcount
        return added

    def insert_records(self, records: Iterable[GameRecord], *, shard: str | None = None) -> int:
        """Insert already-validated records (insert-or-ignore); returns how many were new."""
        now = time.time()
        rows = [_row_from_record(r, merged_at=now, shard=shard) for r in records]
        with self.store.write() as conn:
            return self._insert_or_ignore(conn, rows)

    def merge_shard(self, path: Path, *, validate: bool = True) -> MergeResult:
        """Merge the sealed shard at ``path`` into the pool in one transaction.

        The shard is verified (name = content sha256, SQLite integrity, format) and every
        row's checksum checked; with ``validate`` each game is also replayed through the
        rules. Any failure raises ``ShardError`` with the reason (naming the game and the
        step for an illegal game) and nothing of the shard is merged. A shard already
        recorded in ``merged_shards`` is not read again.
        """
        path = Path(path)
        sha = verify_shard(path)
        with self.store.read() as conn:
            done = conn.execute(
                select(_SHARDS.c.games_total).where(_SHARDS.c.sha256 == sha)
            ).scalar_one_or_none()
        if done is not None:
            return MergeResult(sha, added=0, duplicates=done, already_merged=True)

        rows = _read_shard_rows(path, merged_at=time.time(), sha=sha)
        if validate:
            for row in rows:
                _validate_row(path.name, row)
        with self.store.write() as conn:
            added = self._insert_or_ignore(conn, rows)
            shard_insert = (
                postgresql.insert(_SHARDS)
                if self.store.dialect == "postgresql"
                else sqlite.insert(_SHARDS)
            ).on_conflict_do_nothing(index_elements=["sha256"])
            conn.execute(
                shard_insert,
                {
                    "sha256": sha,
                    "games_total": len(rows),
                    "games_added": added,
                    "merged_at": time.time(),
                },
            )
        return MergeResult(sha, added=added, duplicates=len(rows) - added)

    def is_merged(self, sha256: str) -> bool:
        """Whether the shard with this content hash has been merged."""
        with self.store.read() as conn:
            return (
                conn.execute(select(_SHARDS.c.sha256).where(_SHARDS.c.sha256 == sha256)).first()
                is not None
            )

    def import_jsonl(self, path: Path, *, validate: bool = True) -> ImportResult:
        """Load games in the parity trace format (``ringrift-oracle-trace/1``).

        Each game becomes a ``GameRecord`` (moves from ``steps[*].move``, agents "trace",
        source ``import:<file name>``, kind "import", created at the trace's file time) and
        is replayed through the rules; a game that does not replay (or an ``engine_error``
        trace) is rejected and reported in ``errors``, the others are stored once each.
        ``TraceFormatError`` if the file itself is not a trace file.
        """
        path = Path(path)
        created = path.stat().st_mtime
        good: list[GameRecord] = []
        errors: list[str] = []
        for game in iter_trace_games(path):
            where = f"{path.name} game {game.get('game_index', '?')} (seed {game['seed']})"
            try:
                rec = _record_from_trace(game, source=f"import:{path.name}", created_at=created)
                if validate:
                    replay(rec)
            except (RecordError, ValueError, KeyError, TypeError) as exc:
                errors.append(f"{where}: {exc}")
                continue
            good.append(rec)
        added = self.insert_records(good)
        return ImportResult(
            added=added, duplicates=len(good) - added, rejected=len(errors), errors=tuple(errors)
        )

    # --- reading ----------------------------------------------------------------------------
    def count(self, config: str | None = None) -> int:
        """Games in the pool (of ``config``, or all)."""
        q = select(func.count()).select_from(_GAMES)
        if config is not None:
            q = q.where(_GAMES.c.config == config)
        with self.store.read() as conn:
            return int(conn.execute(q).scalar_one())

    def count_since(
        self, config: str, t: float, kinds: Iterable[str] | None = TRAINING_KINDS
    ) -> int:
        """Games of ``config`` merged into the pool at or after ``t`` (Unix seconds), of the
        given ``kinds`` (default: self-play and imports; None: every kind)."""
        q = (
            select(func.count())
            .select_from(_GAMES)
            .where(_GAMES.c.config == config, _GAMES.c.merged_at >= t)
        )
        if kinds is not None:
            q = q.where(_GAMES.c.kind.in_(tuple(kinds)))
        with self.store.read() as conn:
            return int(conn.execute(q).scalar_one())

    def iter_games(
        self, config: str | None = None, *, newest_first: bool = True, limit: int | None = None
    ) -> Iterator[GameRecord]:
        """Games as ``GameRecord``s ordered by ``created_at`` (ties by ``game_id``)."""
        order = (
            (_GAMES.c.created_at.desc(), _GAMES.c.game_id.desc())
            if newest_first
            else (_GAMES.c.created_at, _GAMES.c.game_id)
        )
        q = select(_GAMES).order_by(*order)
        if config is not None:
            q = q.where(_GAMES.c.config == config)
        if limit is not None:
            q = q.limit(limit)
        with self.store.read() as conn:
            for row in conn.execute(q):
                yield _record_from_row(row)

    def latest_window(self, config: str, n: int) -> list[GameRecord]:
        """The ``n`` newest games of ``config``, oldest first (a training window)."""
        games = list(self.iter_games(config, newest_first=True, limit=n))
        games.reverse()
        return games

    def configs(self) -> dict[str, int]:
        """Games per config present in the pool."""
        q = select(_GAMES.c.config, func.count()).group_by(_GAMES.c.config)
        with self.store.read() as conn:
            return {c: int(n) for c, n in conn.execute(q)}

    def shard_configs(self, sha256: str) -> dict[str, int]:
        """Games per config that the shard ``sha256`` brought into the pool."""
        q = (
            select(_GAMES.c.config, func.count())
            .where(_GAMES.c.shard == sha256)
            .group_by(_GAMES.c.config)
        )
        with self.store.read() as conn:
            return {c: int(n) for c, n in conn.execute(q)}


def _record_from_trace(game: dict[str, Any], *, source: str, created_at: float) -> GameRecord:
    """A ``GameRecord`` for one parity-trace game (see ``GamePool.import_jsonl``)."""
    res = game["result"]
    if res.get("termination") == "engine_error":
        raise RecordError(f"engine_error trace ({res.get('error')}) is not a game")
    config = game["config"]
    players = int(config.rsplit("_", 1)[1][:-1])
    return GameRecord(
        config=config,
        seed=int(game["seed"]),
        moves=tuple(step["move"] for step in game["steps"]),
        result=GameResult(res["winner"], str(res["termination"]), tuple(res["ranking"])),
        agents=tuple("trace" for _ in range(players)),
        source=source,
        created_at=created_at,
        kind="import",
    )
