"""Elo match logs from the worker nodes, merged into the coordinator's log by match id.

A node that plays evaluation matches exports them (:func:`export_matches`) as sealed JSON
Lines files in ``<data_dir>/elo/outbox/<sha256>.jsonl``, each named by the sha256 of its
bytes and written atomically (dot-named temp file, rename). One line per match::

    {"match_id": "...", "config": "square8_2p", "participants": ["a", "b"],
     "ranking": [["b"], ["a"]], "played_at": 1767225600.0, "source": "...", "game_id": null}

``participants`` in seat order, ``ranking`` tiers best first (``store.elo.Match``).

The coordinator's pass (:func:`pull_matches`) reads each sealed file, checks its bytes
against its name, and records every line with ``EloService.record_match``, which is
idempotent on the match id: the same match exported twice, or by two nodes, counts once,
and since ratings are a batch fit of the whole log (order-independent) the merged result
is exact whatever order files arrive in. A line that is not a valid match, or that reuses
a logged match id for a different match, is rejected with its line number and the rest of
the file goes on. The node's file then moves to ``elo/merged`` (or, when any line was
rejected or the file does not match its name, to ``elo/rejected``, with the bytes and the
reasons kept in the coordinator's quarantine). A crash between the merge and the move
only means the file is read again: every line is then a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.atomic import atomic_write_bytes, atomic_write_text
from ringrift_tasks.rules.state import ALL_CONFIGS, GameConfig
from ringrift_tasks.store.elo import Match, MatchConflictError
from ringrift_tasks.sync import breaker as brk
from ringrift_tasks.sync.hosts import Inventory, Node
from ringrift_tasks.sync.nodepass import CredentialSource, NodeOutcome, run_on_nodes
from ringrift_tasks.sync.transport import NodeConnection, SshSettings

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)

MATCHES_SUFFIX = ".jsonl"
CURSOR_FILE = "export.cursor.json"
_SEALED = re.compile(r"^([0-9a-f]{64})\.jsonl$")
# Largest match file a pass reads into memory (a day of a busy node is far smaller).
MAX_FILE_BYTES = 64 << 20
_REQUIRED = ("match_id", "config", "participants", "ranking", "played_at")


def outbox_dir(elo_dir: str) -> str:
    return f"{elo_dir}/outbox"


def node_elo_dir(node: Node) -> str:
    """The node's Elo export folder (``outbox``, ``merged``, ``rejected`` inside)."""
    return f"{node.data_dir}/elo"


# --------------------------------------------------------------------------- node side


def match_line(m: Match) -> str:
    """One match as a JSON line (sorted keys, no newline)."""
    return json.dumps(
        {
            "match_id": m.match_id,
            "config": m.config,
            "participants": list(m.participants),
            "ranking": [list(t) for t in m.ranking],
            "played_at": m.played_at,
            "source": m.source,
            "game_id": m.game_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def seal_match_lines(lines: Sequence[str], outbox: Path) -> Path:
    """Write ``lines`` as ``<outbox>/<sha256>.jsonl`` atomically; returns the path (an
    identical file already there is left alone)."""
    blob = "".join(line + "\n" for line in lines).encode("utf-8")
    path = Path(outbox) / f"{hashlib.sha256(blob).hexdigest()}{MATCHES_SUFFIX}"
    if not path.exists():
        atomic_write_bytes(path, blob)
    return path


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_matches` wrote: the sealed file (None when nothing to export),
    how many matches, and the cursor (latest ``played_at`` exported, Unix s)."""

    path: Path | None
    matches: int
    cursor: float | None


def export_matches(
    store: Store,
    elo_dir: Path,
    *,
    configs: Sequence[str] | None = None,
    overlap_s: float = 3600.0,
    full: bool = False,
) -> ExportResult:
    """Export the node's matches played since the last export into ``<elo_dir>/outbox``.

    The cursor (``<elo_dir>/export.cursor.json``) remembers the latest ``played_at``
    exported; the next export starts ``overlap_s`` before it, so a match recorded late
    with an earlier timestamp is still sent (the coordinator's merge by match id makes
    the repeats free). ``full`` exports the whole log. ``configs``: default all 12.
    """
    elo_dir = Path(elo_dir)
    cursor_path = elo_dir / CURSOR_FILE
    since: float | None = None
    if not full and cursor_path.is_file():
        try:
            since = float(json.loads(cursor_path.read_text(encoding="utf-8"))["played_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{cursor_path}: unreadable export cursor ({exc}); "
                "delete it to export the whole log"
            ) from None
    names = list(configs) if configs is not None else [c.name for c in ALL_CONFIGS]
    matches = [
        m
        for c in names
        for m in store.elo.matches(c)
        if since is None or m.played_at >= since - overlap_s
    ]
    if not matches:
        return ExportResult(None, 0, since)
    matches.sort(key=lambda m: (m.played_at, m.match_id))
    path = seal_match_lines([match_line(m) for m in matches], elo_dir / "outbox")
    latest = max(m.played_at for m in matches if math.isfinite(m.played_at))
    newest = latest if since is None else max(latest, since)
    atomic_write_text(cursor_path, json.dumps({"played_at": newest}) + "\n")
    return ExportResult(path, len(matches), newest)


# --------------------------------------------------------------------------- merging


@dataclass
class FileMerge:
    """What merging one file did: matches added, duplicates (already logged), rejected
    lines ``(line number from 1, reason)``."""

    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def parse_match_line(line: str, *, default_source: str = "") -> Match:
    """One JSON line as a validated ``Match``; ``ValueError`` naming what is wrong."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(d, dict):
        raise ValueError(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not isinstance(d["match_id"], str) or not 0 < len(d["match_id"]) <= 128:
        raise ValueError(f"match_id: expected a string of 1-128 characters, got {d['match_id']!r}")
    if not isinstance(d["config"], str):
        raise ValueError(f"config: expected a string, got {d['config']!r}")
    GameConfig.parse(d["config"])
    parts = d["participants"]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        raise ValueError(f"participants: expected a list of agent names, got {parts!r}")
    if not isinstance(d["ranking"], list):
        raise ValueError(f"ranking: expected a list of tiers, got {d['ranking']!r}")
    played = d["played_at"]
    if isinstance(played, bool) or not isinstance(played, int | float) or not math.isfinite(played):
        raise ValueError(f"played_at: expected Unix seconds, got {played!r}")
    source = d.get("source") or default_source
    game_id = d.get("game_id")
    if not isinstance(source, str) or not (game_id is None or isinstance(game_id, str)):
        raise ValueError(f"source/game_id: expected strings, got {source!r}/{game_id!r}")
    return Match.build(
        d["match_id"],
        d["config"],
        parts,
        d["ranking"],
        played_at=played,
        source=source,
        game_id=game_id,
    )


def merge_match_lines(store: Store, text: str, *, source: str = "") -> FileMerge:
    """Record every match line of ``text`` in the store's Elo log, idempotently.

    Blank lines are ignored; a bad line (or a match id logged with other content) is
    rejected with its number and the rest goes on. ``source`` fills an empty ``source``.
    """
    out = FileMerge()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            m = parse_match_line(line, default_source=source)
            new = store.elo.record_match(
                m.match_id,
                m.config,
                m.participants,
                [list(t) for t in m.ranking],
                played_at=m.played_at,
                source=m.source,
                game_id=m.game_id,
            )
        except (ValueError, MatchConflictError) as exc:
            out.rejected.append((number, str(exc)))
            continue
        if new:
            out.added += 1
        else:
            out.duplicates += 1
    return out


# --------------------------------------------------------------------------- the pass


@dataclass(frozen=True)
class EloSyncSettings:
    """How to talk SSH, the breaker, where rejected files are kept, how long merged files
    stay on a node (seconds)."""

    quarantine: Path
    ssh: SshSettings = field(default_factory=SshSettings)
    breaker: brk.BreakerPolicy = field(default_factory=brk.BreakerPolicy)
    merged_retention_s: float = 7 * 86400.0

    @classmethod
    def from_config(cls, cfg: RingriftConfig) -> EloSyncSettings:
        """Settings from the loop config's ``sync`` section and data paths."""
        s = cfg.sync
        return cls(
            quarantine=cfg.paths.quarantine / "elo",
            ssh=SshSettings(
                known_hosts=s.known_hosts or SshSettings().known_hosts,
                connect_timeout_s=s.connect_timeout_s,
            ),
            breaker=brk.BreakerPolicy(s.breaker_failures, float(s.breaker_cooldown_s)),
            merged_retention_s=float(s.acked_retention_s),
        )


@dataclass
class NodeEloReport:
    """What a pass did on one node."""

    node: str
    files_merged: int = 0
    files_rejected: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    file_errors: dict[str, str] = field(default_factory=dict)
    expired: int = 0


@dataclass
class EloSyncReport:
    """Per node outcome of one Elo pass."""

    nodes: dict[str, NodeOutcome[NodeEloReport]] = field(default_factory=dict)

    def _sum(self, attr: str) -> int:
        return sum(getattr(o.result, attr) for o in self.nodes.values() if o.result)

    @property
    def added(self) -> int:
        return self._sum("added")

    @property
    def duplicates(self) -> int:
        return self._sum("duplicates")

    @property
    def rejected(self) -> list[tuple[str, str, int, str]]:
        """``(node, file, line, reason)`` of every rejected line."""
        return [(n, *r) for n, o in self.nodes.items() if o.result for r in o.result.rejected]

    @property
    def failed_nodes(self) -> list[str]:
        return [n for n, o in self.nodes.items() if o.error is not None]


def _read_all(conn: NodeConnection, path: str) -> bytes:
    with conn.sftp.open(path, "rb") as fh:
        size = int(fh.stat().st_size or 0)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{size} bytes, more than the {MAX_FILE_BYTES} a match file may hold")
        fh.prefetch(size)
        return fh.read(size + 1)


def _node_pass(
    conn: NodeConnection, store: Store, settings: EloSyncSettings, now: float
) -> NodeEloReport:
    node = conn.node
    r = NodeEloReport(node.name)
    base = node_elo_dir(node)
    outbox = outbox_dir(base)
    names = sorted(a.filename for a in conn.listdir(outbox) if _SEALED.match(a.filename))
    for name in names:
        remote = f"{outbox}/{name}"
        reasons: list[str] = []
        try:
            blob = _read_all(conn, remote)
        except ValueError as exc:
            blob, reasons = b"", [f"unreadable: {exc}"]
        if not reasons:
            digest = hashlib.sha256(blob).hexdigest()
            if f"{digest}{MATCHES_SUFFIX}" != name:
                reasons = [f"content hashes to {digest[:16]}..., not its name ({len(blob)} bytes)"]
        if not reasons:
            try:
                text = blob.decode("utf-8")
            except UnicodeDecodeError as exc:
                reasons = [f"not UTF-8: {exc}"]
        if not reasons:
            merged = merge_match_lines(store, text, source=f"node:{node.name}")
            r.added += merged.added
            r.duplicates += merged.duplicates
            r.rejected += [(name, line, why) for line, why in merged.rejected]
            reasons = [f"line {line}: {why}" for line, why in merged.rejected]
        else:
            r.file_errors[name] = reasons[0]
        if reasons:
            qdir = settings.quarantine / node.name
            if blob:
                atomic_write_bytes(qdir / name, blob)
            atomic_write_text(qdir / f"{name}.reason", "\n".join(reasons) + "\n")
            _move(conn, remote, f"{base}/rejected/{name}")
            r.files_rejected += 1
            log.warning(
                "%s: %s: %d problem(s), first: %s", node.name, name, len(reasons), reasons[0]
            )
        else:
            _move(conn, remote, f"{base}/merged/{name}", stamp=True)
            r.files_merged += 1
    cutoff = now - settings.merged_retention_s
    for a in conn.listdir(f"{base}/merged"):
        if _SEALED.match(a.filename) and (a.st_mtime or 0) <= cutoff:
            conn.remove(f"{base}/merged/{a.filename}")
            r.expired += 1
    return r


def _move(conn: NodeConnection, src: str, dst: str, *, stamp: bool = False) -> None:
    conn.makedirs(dst.rsplit("/", 1)[0])
    conn.rename(src, dst)
    if stamp:
        conn.touch(dst)  # the retention clock starts at the merge


def pull_matches(
    store: Store,
    inventory: Inventory,
    settings: EloSyncSettings,
    credentials: CredentialSource,
    *,
    nodes: list[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> EloSyncReport:
    """One Elo pass: merge the sealed match files of every node (or those named) its
    breaker admits into the store's Elo log. Returns the per-node report."""

    def work(conn: NodeConnection) -> NodeEloReport:
        return _node_pass(conn, store, settings, clock())

    return EloSyncReport(
        run_on_nodes(
            store,
            inventory,
            work,
            credentials=credentials,
            ssh=settings.ssh,
            policy=settings.breaker,
            nodes=nodes,
            clock=clock,
            what="Elo merge",
        )
    )


def describe(report: EloSyncReport) -> dict[str, Any]:
    """The report as a JSON-ready dict (for the CLI and task logs)."""
    return {
        "added": report.added,
        "duplicates": report.duplicates,
        "rejected": [
            {"node": n, "file": f, "line": line, "reason": why}
            for n, f, line, why in report.rejected
        ],
        "nodes": {
            n: {
                "skipped": o.skipped,
                "reason": o.reason,
                "error": o.error,
                "breaker": o.breaker,
                **(
                    {
                        "files_merged": o.result.files_merged,
                        "files_rejected": o.result.files_rejected,
                        "added": o.result.added,
                        "duplicates": o.result.duplicates,
                        "file_errors": o.result.file_errors,
                    }
                    if o.result
                    else {}
                ),
            }
            for n, o in report.nodes.items()
        },
    }
