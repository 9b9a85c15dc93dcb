"""Sealed game shards: the unit in which self-play hands games to the pool.

A shard is a small SQLite file (tables ``meta`` and ``games``). It is written under a
temporary name (``.tmp-*.shard``), fsynced, hashed and renamed to ``<sha256>.shard`` with
a JSON sidecar ``<sha256>.json`` (games, configs, bytes) so planners never open the
payload. Only files named by their own content hash are sealed; readers ignore
everything else, so a worker killed mid-write never leaves a half shard that looks sealed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ringrift_tasks.atomic import atomic_write_text
from ringrift_tasks.records.game_record import GameRecord, RecordError

SHARD_FORMAT = "ringrift-shard/1"
SHARD_SUFFIX = ".shard"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE games (
    game_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    agents_json TEXT NOT NULL,
    result_json TEXT NOT NULL,
    num_moves INTEGER NOT NULL,
    moves_z BLOB NOT NULL,
    targets_z BLOB,
    created_at REAL NOT NULL,
    checksum TEXT NOT NULL
);
"""


class ShardError(ValueError):
    """A shard that is not sealed, not intact or not readable; the message says why."""


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """What the sidecar says about a sealed shard."""

    path: Path
    sha256: str
    games: int
    configs: tuple[str, ...]
    bytes: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_shard(
    directory: Path, records: Iterable[GameRecord], *, node: str = "local"
) -> ShardInfo:
    """Write ``records`` as one sealed shard in ``directory``; returns its info.

    The shard only appears under its final name once complete and synced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{uuid.uuid4().hex}{SHARD_SUFFIX}"
    configs: set[str] = set()
    n = 0
    try:
        con = sqlite3.connect(tmp)
        try:
            con.executescript(_SCHEMA)
            for r in records:
                con.execute(
                    "INSERT OR IGNORE INTO games VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        r.game_id,
                        r.config,
                        r.seed,
                        r.kind,
                        r.source,
                        json.dumps(list(r.agents)),
                        json.dumps(r.result.to_json(), sort_keys=True),
                        r.num_moves,
                        r.moves_blob(),
                        r.targets_blob(),
                        r.created_at,
                        r.checksum(),
                    ),
                )
                configs.add(r.config)
                n += 1
            meta = {
                "format": SHARD_FORMAT,
                "node": node,
                "created_at": repr(time.time()),
                "games": str(n),
                "configs": ",".join(sorted(configs)),
            }
            con.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
            con.commit()
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
        final = directory / f"{digest}{SHARD_SUFFIX}"
        size = tmp.stat().st_size
        atomic_write_text(
            directory / f"{digest}.json",
            json.dumps(
                {
                    "format": SHARD_FORMAT,
                    "sha256": digest,
                    "games": n,
                    "configs": sorted(configs),
                    "bytes": size,
                    "node": node,
                },
                sort_keys=True,
            ),
        )
        os.replace(tmp, final)
        _fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ShardInfo(final, digest, n, tuple(sorted(configs)), size)


def list_sealed_shards(directory: Path) -> list[Path]:
    """Sealed shard files in ``directory`` (named ``<64 hex>.shard``), oldest first."""
    if not directory.is_dir():
        return []
    out = []
    for p in directory.iterdir():
        stem = p.name[: -len(SHARD_SUFFIX)] if p.name.endswith(SHARD_SUFFIX) else ""
        if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
            out.append(p)
    return sorted(out, key=lambda p: (p.stat().st_mtime, p.name))


def verify_shard(path: Path) -> str:
    """Check that ``path`` is sealed and intact; returns its sha256 or raises ``ShardError``."""
    stem = path.name[: -len(SHARD_SUFFIX)]
    if not path.name.endswith(SHARD_SUFFIX) or len(stem) != 64:
        raise ShardError(f"{path.name}: not a sealed shard name")
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ShardError(f"{path.name}: unreadable ({exc})") from None
    if digest != stem:
        raise ShardError(f"{path.name}: checksum mismatch (content hashes to {digest[:16]}...)")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()
            fmt = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ShardError(f"{path.name}: not a readable shard database ({exc})") from None
    if not ok or ok[0] != "ok":
        raise ShardError(f"{path.name}: database integrity check failed ({ok})")
    if not fmt or fmt[0] != SHARD_FORMAT:
        raise ShardError(f"{path.name}: unknown shard format {fmt}")
    return digest


def read_shard(path: Path, *, verify: bool = True) -> Iterator[GameRecord]:
    """Yield the records of a sealed shard (each checked against its checksum)."""
    if verify:
        verify_shard(path)
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        rows = con.execute(
            "SELECT game_id, config, seed, kind, source, agents_json, result_json, "
            "moves_z, targets_z, created_at, checksum FROM games ORDER BY rowid"
        )
        for row in rows:
            try:
                yield GameRecord.from_blobs(
                    game_id=row[0],
                    config=row[1],
                    seed=row[2],
                    kind=row[3],
                    source=row[4],
                    agents_json=row[5],
                    result_json=row[6],
                    moves_blob=row[7],
                    targets_blob=row[8],
                    created_at=row[9],
                    checksum=row[10],
                )
            except (RecordError, ValueError) as exc:
                raise ShardError(f"{path.name}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise ShardError(f"{path.name}: unreadable rows ({exc})") from None
    finally:
        con.close()
