"""The quarantine: shards the data sync set aside, and what an operator can do with them.

The sync never merges a shard that fails verification; it moves it here with a ``.reason``
file instead (local collection: ``<quarantine>/<name>``; a worker node's shard:
``<quarantine>/<node>/<name>``, where the bytes may be missing when the shard was refused
before it was downloaded; the node then keeps it in its ``shards/rejected``). This module
lists that folder and offers the two ways out, neither of which loses a shard:

- :func:`retry` re-checks a shard exactly as a merge would (sealed name = content hash,
  SQLite integrity, every game's checksum and id, every game replayed through the rules)
  and moves it back into ``shards/incoming`` for the next data sync. A shard that still
  fails is refused with the reason; ``force`` moves it anyway, which is safe because the
  merge re-validates and the sync quarantines it again if it is still bad.
- :func:`drop` moves a shard (and its reason, with the operator's reason appended) to
  ``shards/dropped``, laid out like the quarantine. Nothing is ever deleted.

Every action is appended to ``shards/quarantine-journal.jsonl`` before it is carried out.
Reason files come in two spellings (``<sha>.reason`` from the local collection,
``<sha>.shard.reason`` from the node sync); both are read.
"""

from __future__ import annotations

import filecmp
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.atomic import atomic_write_text
from ringrift_tasks.records.game_record import RecordError, replay
from ringrift_tasks.records.shard import SHARD_SUFFIX, ShardError, read_shard, verify_shard

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

_HEX = frozenset("0123456789abcdef")
# Shortest hash prefix accepted as a shard name (shorter ones match too much by accident).
MIN_PREFIX = 6
NO_REASON = "(no reason recorded)"


class QuarantineError(ValueError):
    """An operator request on the quarantine that cannot be carried out; says why."""


class RetryRefused(QuarantineError):
    """The shard still fails verification; the message is the verifier's reason."""


@dataclass(frozen=True)
class QuarantinePaths:
    """The folders the quarantine actions move shards between."""

    quarantine: Path
    incoming: Path
    dropped: Path
    journal: Path

    @classmethod
    def from_config(cls, cfg: RingriftConfig) -> QuarantinePaths:
        """The loop's folders under ``RINGRIFT_HOME/shards``."""
        p = cfg.paths
        shards = p.home / "shards"
        return cls(
            quarantine=p.quarantine,
            incoming=p.shards_incoming,
            dropped=shards / "dropped",
            journal=shards / "quarantine-journal.jsonl",
        )


@dataclass(frozen=True)
class QuarantinedShard:
    """One quarantined shard. ``node`` None: set aside by the local collection.

    ``size``: bytes of the local copy, None when only the node kept it. ``quarantined_at``:
    Unix seconds (when its reason was written). ``in_pool``: a shard with this content hash
    has been merged, so its games are already in the pool (e.g. an intact copy from
    another node) and dropping this one loses no game.
    """

    name: str
    node: str | None
    path: Path
    reason: str
    quarantined_at: float
    size: int | None
    in_pool: bool

    @property
    def key(self) -> str:
        """How the CLI names it: ``<name>`` or ``<node>/<name>``."""
        return self.name if self.node is None else f"{self.node}/{self.name}"

    @property
    def sha256(self) -> str:
        return self.name[: -len(SHARD_SUFFIX)]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able fields (path as text)."""
        out = asdict(self)
        out["path"] = str(self.path)
        out["key"] = self.key
        return out


@dataclass(frozen=True)
class RetryResult:
    """What :func:`retry` did: where the shard now waits, how many games it holds
    (None when forced without a check), and whether it was forced."""

    shard: QuarantinedShard
    moved_to: Path
    games: int | None
    forced: bool


def _is_sealed_name(name: str) -> bool:
    stem = name[: -len(SHARD_SUFFIX)] if name.endswith(SHARD_SUFFIX) else ""
    return len(stem) == 64 and set(stem) <= _HEX


def _reason_files(folder: Path, name: str) -> list[Path]:
    """The reason files of shard ``name`` in ``folder`` (either spelling), existing only."""
    stem = name[: -len(SHARD_SUFFIX)]
    return [p for p in (folder / f"{name}.reason", folder / f"{stem}.reason") if p.is_file()]


def _shard_of_reason(file_name: str) -> str | None:
    """The shard name a reason file belongs to, or None if it is not one."""
    if not file_name.endswith(".reason"):
        return None
    stem = file_name[: -len(".reason")]
    if not stem.endswith(SHARD_SUFFIX):
        stem += SHARD_SUFFIX
    return stem if _is_sealed_name(stem) else None


def _scan_folder(folder: Path, node: str | None, store: Store | None) -> list[QuarantinedShard]:
    names: set[str] = set()
    for p in folder.iterdir():
        if p.is_file():
            if _is_sealed_name(p.name):
                names.add(p.name)
            elif (shard := _shard_of_reason(p.name)) is not None:
                names.add(shard)
    out = []
    for name in names:
        path = folder / name
        reasons = _reason_files(folder, name)
        reason = " | ".join(r.read_text(encoding="utf-8").strip() for r in reasons) or NO_REASON
        stamp = reasons[0] if reasons else path
        sha = name[: -len(SHARD_SUFFIX)]
        out.append(
            QuarantinedShard(
                name=name,
                node=node,
                path=path,
                reason=reason,
                quarantined_at=stamp.stat().st_mtime,
                size=path.stat().st_size if path.is_file() else None,
                in_pool=store.pool.is_merged(sha) if store is not None else False,
            )
        )
    return out


def list_quarantine(quarantine: Path, store: Store | None = None) -> list[QuarantinedShard]:
    """Every quarantined shard, local and per node, newest first.

    With ``store``, ``in_pool`` says whether a shard of the same content hash was merged.
    """
    if not quarantine.is_dir():
        return []
    found = _scan_folder(quarantine, None, store)
    for sub in sorted(quarantine.iterdir()):
        if sub.is_dir():
            found.extend(_scan_folder(sub, sub.name, store))
    return sorted(found, key=lambda q: (-q.quarantined_at, q.key))


def find(quarantine: Path, name: str, store: Store | None = None) -> QuarantinedShard:
    """The quarantined shard ``[node/]name``; ``name`` may be the file name, the hash, or a
    unique hash prefix (at least ``MIN_PREFIX`` characters). ``QuarantineError`` naming
    the candidates when none or several match."""
    node, _, bare = name.rpartition("/")
    bare = bare.removesuffix(SHARD_SUFFIX).lower()
    if len(bare) < MIN_PREFIX or not set(bare) <= _HEX:
        raise QuarantineError(
            f"{name!r} is not a shard name: expected [NODE/]<sha256>[.shard] or a hash prefix "
            f"of at least {MIN_PREFIX} hex digits"
        )
    every = list_quarantine(quarantine, store)
    matches = [
        q for q in every if q.sha256.startswith(bare) and (not node or (q.node or "") == node)
    ]
    if not matches:
        where = f" from node {node!r}" if node else ""
        raise QuarantineError(
            f"no quarantined shard {name!r}{where} in {quarantine} "
            f"({len(every)} quarantined; see `ringrift quarantine list`)"
        )
    if len(matches) > 1:
        keys = ", ".join(q.key for q in matches)
        raise QuarantineError(f"{name!r} matches {len(matches)} quarantined shards: {keys}")
    return matches[0]


def check_shard(path: Path) -> int:
    """Verify ``path`` as a merge would, without merging; returns its game count.

    Sealed name = content hash, SQLite integrity and format, every game's checksum and
    content id, every game replayed through the rules. ``ShardError`` with the reason.
    """
    verify_shard(path)
    games = 0
    for record in read_shard(path, verify=False):
        if record.content_id() != record.game_id:
            raise ShardError(f"{path.name}: game {record.game_id}: id does not match its content")
        try:
            replay(record)
        except RecordError as exc:
            raise ShardError(f"{path.name}: illegal game rejected the shard: {exc}") from None
        games += 1
    return games


def quarantine_shard(
    quarantine: Path, shard: Path, reason: str, *, node: str | None = None
) -> QuarantinedShard:
    """Set ``shard`` (and its ``.json`` sidecar) aside under ``quarantine`` (``/<node>``)
    with ``reason``: the reason is written first, so the shard is never there without one."""
    if not _is_sealed_name(shard.name):
        raise QuarantineError(f"{shard.name}: not a sealed shard name")
    if not reason.strip():
        raise QuarantineError(f"{shard.name}: a reason is required to quarantine a shard")
    folder = quarantine if node is None else quarantine / node
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"{shard.name}.reason", reason.strip() + "\n")
    sidecar = shard.with_suffix(".json")
    if sidecar.exists():
        os.replace(sidecar, folder / sidecar.name)
    os.replace(shard, folder / shard.name)
    return _scan_folder_one(folder, node, shard.name)


def _scan_folder_one(folder: Path, node: str | None, name: str) -> QuarantinedShard:
    return next(q for q in _scan_folder(folder, node, None) if q.name == name)


def _journal(paths: QuarantinePaths, action: str, q: QuarantinedShard, **extra: Any) -> None:
    """Append one line saying what is about to happen (fsynced: it outlives a crash)."""
    paths.journal.parent.mkdir(parents=True, exist_ok=True)
    line = {"at": time.time(), "action": action, "shard": q.key, "reason": q.reason, **extra}
    with open(paths.journal, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _same_bytes(a: Path, b: Path) -> bool:
    return filecmp.cmp(a, b, shallow=False)


def retry(
    paths: QuarantinePaths, name: str, *, force: bool = False, store: Store | None = None
) -> RetryResult:
    """Re-check the quarantined shard ``name`` and move it into ``incoming`` for the next
    data sync (which merges it, re-validating every game).

    ``RetryRefused`` with the verifier's reason if it still fails (it stays quarantined);
    ``force`` skips the check (the sync re-checks and quarantines it again if it is bad).
    ``QuarantineError`` if only the node holds its bytes or ``incoming`` already has it.
    """
    q = find(paths.quarantine, name, store)
    if q.size is None:
        raise QuarantineError(
            f"{q.key}: no local copy to retry: it was refused before it was downloaded; "
            f"node {q.node} keeps it in its shards/rejected folder"
        )
    games: int | None = None
    if not force:
        try:
            games = check_shard(q.path)
        except ShardError as exc:
            raise RetryRefused(
                f"{q.key} still fails verification: {exc} (it stays quarantined; "
                "`ringrift quarantine drop` sets it aside for good)"
            ) from None
    dest = paths.incoming / q.name
    if dest.exists():
        raise QuarantineError(
            f"{q.key}: {dest} already exists ("
            + ("the same bytes" if _same_bytes(q.path, dest) else "different bytes")
            + "); the next data sync takes that copy, this one stays quarantined"
        )
    _journal(paths, "retry", q, forced=force, games=games)
    paths.incoming.mkdir(parents=True, exist_ok=True)
    # The reason goes first: a crash part-way leaves the shard in quarantine (listed as
    # "no reason recorded", the reason is in the journal), never a reason without a shard.
    for r in _reason_files(q.path.parent, q.name):
        r.unlink()
    sidecar = q.path.with_suffix(".json")
    if sidecar.exists():
        os.replace(sidecar, paths.incoming / sidecar.name)
    os.replace(q.path, dest)
    return RetryResult(q, dest, games, force)


def drop(
    paths: QuarantinePaths, name: str, reason: str, *, store: Store | None = None
) -> QuarantinedShard:
    """Set the quarantined shard ``name`` aside for good: it moves, with its sidecar and
    its reason (the operator's ``reason`` appended), to ``dropped[/<node>]``. Never
    deletes. Returns the shard as it was listed."""
    if not reason.strip():
        raise QuarantineError("a reason is required to drop a shard (--reason)")
    q = find(paths.quarantine, name, store)
    folder = paths.dropped if q.node is None else paths.dropped / q.node
    dest = folder / q.name
    if q.size is not None and dest.exists() and not _same_bytes(q.path, dest):
        raise QuarantineError(
            f"{q.key}: {dest} already holds different bytes under the same name; "
            "move one of them by hand"
        )
    _journal(paths, "drop", q, why=reason.strip())
    folder.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    earlier = [r.read_text(encoding="utf-8").strip() for r in _reason_files(folder, q.name)]
    if q.reason != NO_REASON:
        earlier.append(q.reason)
    # The same shard dropped before (e.g. from another node): keep that story too.
    dropped_reason = "\n".join([*earlier, f"dropped {when}: {reason.strip()}"]) + "\n"
    # Reason first (a dropped shard always has one), then the bytes, then the old reason.
    atomic_write_text(folder / f"{q.name}.reason", dropped_reason)
    if q.size is not None:
        sidecar = q.path.with_suffix(".json")
        if sidecar.exists():
            os.replace(sidecar, folder / sidecar.name)
        os.replace(q.path, dest)
    for r in _reason_files(q.path.parent, q.name):
        r.unlink()
    return q


def list_dropped(paths: QuarantinePaths) -> list[QuarantinedShard]:
    """The dropped shards (same layout and fields as the quarantine; ``in_pool`` False)."""
    return list_quarantine(paths.dropped)
