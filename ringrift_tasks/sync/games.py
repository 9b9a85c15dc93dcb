"""Pulling sealed game shards from worker nodes over SFTP, exactly once.

One pass (:func:`sync_games`) visits every node its circuit breaker admits. Each sealed shard
in the node's ``shards/incoming`` is recorded in the sync manifest and walked through
discovered -> downloading -> downloaded -> verified -> merged -> acked; every state is
committed BEFORE the side effect it announces, and every side effect is idempotent, so a
process killed anywhere resumes from the manifest without losing or duplicating a game:

- downloading: bytes go to ``<staging>/<node>/<name>.part``, appended to on resume;
- downloaded: the part is complete (its size is the node's, checked against the sidecar);
- verified: its sha256 equals its name; renamed to the sealed name in staging;
- merged: ``GamePool.merge_shard`` (replay-validates every game; idempotent by game id and by
  shard hash, so the same shard from two nodes is stored once) has committed;
- acked: the node's file (and sidecar) moved to ``shards/acked`` and stamped; acked files
  older than the retention period are deleted on later passes.

A truncated, wrong-checksum, unreadable or illegal-game shard is quarantined (locally under
``<quarantine>/<node>/`` with a ``.reason`` file, on the node moved to ``shards/rejected``),
counted per node, and the pass goes on. A node that fails (unreachable, refused host key,
dropped connection) leaves its shards where they were and counts against its breaker; the
other nodes are not affected.

Test hook: ``RINGRIFT_SYNC_CRASH_AT=<state>`` makes the process SIGKILL itself right after it
commits ``<state>`` for the first time (``download-chunk``: after the first downloaded chunk).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ringrift_tasks.records.shard import SHARD_SUFFIX, ShardError, file_sha256
from ringrift_tasks.store.manifest import FINAL_STATES, ManifestEntry, NodeHealth
from ringrift_tasks.sync import breaker as brk
from ringrift_tasks.sync.hosts import Inventory, Node, load_inventory
from ringrift_tasks.sync.transport import (
    NodeConnection,
    SshCredentials,
    SshSettings,
    connect,
    credentials_from_env,
)

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)

ENV_CRASH_AT = "RINGRIFT_SYNC_CRASH_AT"
_HEX = frozenset("0123456789abcdef")

CredentialSource = SshCredentials | Callable[[Node], SshCredentials]
# progress(node name, shard name, bytes of the shard downloaded so far)
Progress = Callable[[str, str, int], None]


class ShardRejected(Exception):
    """A shard whose content is bad (quarantine it); the message is the reason."""


@dataclass(frozen=True)
class GamesSyncSettings:
    """Where pulled shards go locally, how to talk SSH, when to give up on a node."""

    staging: Path
    merged: Path
    quarantine: Path
    ssh: SshSettings = field(default_factory=SshSettings)
    breaker: brk.BreakerPolicy = field(default_factory=brk.BreakerPolicy)
    acked_retention_s: float = 7 * 86400.0
    validate: bool = True
    chunk_bytes: int = 1 << 18

    @classmethod
    def from_config(cls, cfg: RingriftConfig) -> GamesSyncSettings:
        """Settings from the loop config's ``sync`` section and data paths."""
        s = cfg.sync
        paths = cfg.paths
        return cls(
            staging=paths.home / "shards" / "downloading",
            merged=paths.shards_merged,
            quarantine=paths.quarantine,
            ssh=SshSettings(
                known_hosts=s.known_hosts or SshSettings().known_hosts,
                connect_timeout_s=s.connect_timeout_s,
            ),
            breaker=brk.BreakerPolicy(s.breaker_failures, float(s.breaker_cooldown_s)),
            acked_retention_s=float(s.acked_retention_s),
        )


@dataclass
class NodeReport:
    """What one pass did on one node."""

    node: str
    attempted: bool = False
    ok: bool = False
    error: str | None = None
    shards_seen: int = 0
    shards_merged: int = 0
    games_added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    acked: int = 0
    acked_deleted: int = 0
    bytes: int = 0
    backlog: int = 0
    breaker: str = "closed"
    added_per_config: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncReport:
    """What one pass did, per node."""

    nodes: dict[str, NodeReport] = field(default_factory=dict)

    @property
    def games_added(self) -> int:
        return sum(r.games_added for r in self.nodes.values())

    @property
    def shards_merged(self) -> int:
        return sum(r.shards_merged for r in self.nodes.values())

    @property
    def quarantined(self) -> int:
        return sum(r.quarantined for r in self.nodes.values())

    @property
    def failed_nodes(self) -> list[str]:
        return [n for n, r in self.nodes.items() if r.attempted and not r.ok]

    @property
    def added_per_config(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.nodes.values():
            for c, n in r.added_per_config.items():
                out[c] = out.get(c, 0) + n
        return out


def _is_sealed_name(name: str) -> bool:
    stem = name[: -len(SHARD_SUFFIX)] if name.endswith(SHARD_SUFFIX) else ""
    return len(stem) == 64 and set(stem) <= _HEX


_crashed: set[str] = set()


def _crash_point(point: str) -> None:
    """Test hook: SIGKILL this process the first time ``point`` is reached (see module doc)."""
    if os.environ.get(ENV_CRASH_AT) == point and point not in _crashed:
        _crashed.add(point)
        os.kill(os.getpid(), signal.SIGKILL)


class _NodeSync:
    """One pass over one connected node."""

    def __init__(
        self,
        store: Store,
        node: Node,
        conn: NodeConnection,
        settings: GamesSyncSettings,
        report: NodeReport,
        now: float,
        progress: Progress | None,
    ) -> None:
        self.progress = progress
        self.store = store
        self.manifest = store.manifest
        self.node = node
        self.conn = conn
        self.s = settings
        self.report = report
        self.now = now
        self.staging = settings.staging / node.name

    # --- paths ------------------------------------------------------------------------------
    def _remote(self, folder: str, name: str) -> str:
        return f"{folder}/{name}"

    def _part(self, name: str) -> Path:
        return self.staging / f"{name}.part"

    def _staged(self, name: str) -> Path:
        return self.staging / name

    # --- the pass ---------------------------------------------------------------------------
    def run(self) -> None:
        offered = self._discover()
        pending = [e for e in self.manifest.entries(self.node.name) if e.state not in FINAL_STATES]
        for entry in pending:
            self._drive(entry)
        # A final shard that is still offered: a crash hit between the final commit and the
        # move on the node; finish the move so it is not offered forever.
        for name in offered:
            e = self.manifest.get(self.node.name, name)
            if e is not None and e.state == "acked":
                self._ack_remote(name)
            elif e is not None and e.state == "quarantined":
                self._set_aside(name, e.error or "quarantined")
        self._expire_acked()

    def _discover(self) -> list[str]:
        names = sorted(
            (a.st_mtime or 0, a.filename)
            for a in self.conn.listdir(self.node.incoming_dir)
            if _is_sealed_name(a.filename)
        )
        offered = [n for _, n in names]
        self.report.shards_seen = len(offered)
        for name in offered:
            if self.manifest.get(self.node.name, name) is not None:
                continue
            size, games = self._sidecar(name)
            self.manifest.discover(
                self.node.name, name, name[: -len(SHARD_SUFFIX)], size=size, games=games
            )
            _crash_point("discovered")
        return offered

    def _sidecar(self, name: str) -> tuple[int | None, int | None]:
        """Size and game count the node's sidecar announces (None when absent/unreadable)."""
        path = self._remote(self.node.incoming_dir, name[: -len(SHARD_SUFFIX)] + ".json")
        try:
            meta = json.loads(self.conn.read_text(path))
            return int(meta["bytes"]), int(meta["games"])
        except FileNotFoundError:
            return None, None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable sidecar of %s: %s", self.node.name, name, exc)
            return None, None

    def _drive(self, entry: ManifestEntry) -> None:
        """Move one shard from its recorded state to a final one."""
        try:
            while entry.state not in FINAL_STATES:
                entry = self._step(entry)
        except ShardRejected as exc:
            self._quarantine(entry, str(exc))

    def _step(self, e: ManifestEntry) -> ManifestEntry:
        node, name = self.node.name, e.name
        if e.state in ("discovered", "downloading"):
            if e.state == "discovered":
                e = self.manifest.advance(node, name, "downloading", count_attempt=True)
                _crash_point("downloading")
            self._download(e)
            e = self.manifest.advance(node, name, "downloaded")
            _crash_point("downloaded")
            return e
        if e.state == "downloaded":
            part, staged = self._part(name), self._staged(name)
            if part.exists():
                digest = file_sha256(part)
                if digest != e.sha256:
                    raise ShardRejected(
                        f"{name}: checksum mismatch (content hashes to {digest[:16]}..., "
                        f"{part.stat().st_size} bytes)"
                    )
                os.replace(part, staged)
            elif not staged.exists():
                # Nothing local survived: fetch it again.
                return self.manifest.advance(node, name, "discovered")
            e = self.manifest.advance(node, name, "verified")
            _crash_point("verified")
            return e
        if e.state == "verified":
            staged = self._staged(name)
            if not staged.exists():
                if self.store.pool.is_merged(e.sha256):
                    return self.manifest.advance(node, name, "merged", games_added=0)
                return self.manifest.advance(node, name, "discovered")
            try:
                result = self.store.pool.merge_shard(staged, validate=self.s.validate)
            except ShardError as exc:
                raise ShardRejected(str(exc)) from None
            e = self.manifest.advance(node, name, "merged", games_added=result.added)
            _crash_point("merged")
            self.report.shards_merged += 1
            self.report.games_added += result.added
            self.report.duplicates += result.duplicates
            if result.added:
                for c, n in self.store.pool.shard_configs(result.sha256).items():
                    self.report.added_per_config[c] = self.report.added_per_config.get(c, 0) + n
            return e
        if e.state == "merged":
            staged = self._staged(name)
            if staged.exists():
                self.s.merged.mkdir(parents=True, exist_ok=True)
                os.replace(staged, self.s.merged / name)
            self._ack_remote(name)
            e = self.manifest.advance(node, name, "acked")
            self.report.acked += 1
            _crash_point("acked")
            return e
        raise AssertionError(f"unexpected sync state {e.state!r}")  # FINAL_STATES end the loop

    def _download(self, e: ManifestEntry) -> None:
        """Fetch the node's file into the part file (resuming), checking its size."""
        remote = self._remote(self.node.incoming_dir, e.name)
        part = self._part(e.name)
        remote_size = self.conn.size(remote)
        if remote_size is None:
            raise ShardRejected(f"{e.name}: vanished from {self.node.incoming_dir}")
        have = part.stat().st_size if part.exists() else 0
        if have > remote_size:
            raise ShardRejected(
                f"{e.name}: the node's file shrank to {remote_size} bytes after {have} were "
                "downloaded"
            )
        first = [True]

        def chunk_done(total: int) -> None:
            if self.progress is not None:
                self.progress(self.node.name, e.name, total)
            if first[0]:
                first[0] = False
                _crash_point("download-chunk")

        self.report.bytes += self.conn.download(
            remote, part, chunk=self.s.chunk_bytes, on_chunk=chunk_done
        )
        got = part.stat().st_size
        if e.size is not None and got != e.size:
            kind = "truncated" if got < e.size else "oversized"
            raise ShardRejected(f"{e.name}: {kind}: {got} bytes, the sidecar says {e.size}")

    # --- final moves ------------------------------------------------------------------------
    def _move_remote(self, name: str, dest_dir: str, *, stamp: bool) -> None:
        """Move a shard and its sidecar out of incoming into ``dest_dir`` (idempotent)."""
        self.conn.makedirs(dest_dir)
        sidecar = name[: -len(SHARD_SUFFIX)] + ".json"
        # Sidecar first: a shard never sits in acked/ without it, and a half-done move
        # leaves the shard still offered, which the next pass finishes.
        for fname in (sidecar, name):
            src = self._remote(self.node.incoming_dir, fname)
            if self.conn.exists(src):
                dst = self._remote(dest_dir, fname)
                self.conn.rename(src, dst)
                if stamp:
                    self.conn.touch(dst)  # the retention clock starts at acknowledgement

    def _ack_remote(self, name: str) -> None:
        self._move_remote(name, self.node.acked_dir, stamp=True)

    def _reject_remote(self, name: str) -> None:
        self._move_remote(name, self.node.rejected_dir, stamp=False)

    def _quarantine(self, e: ManifestEntry, reason: str) -> None:
        """Record the shard as quarantined, keep its bytes with the reason, move it aside."""
        self.manifest.advance(self.node.name, e.name, "quarantined", error=reason)
        _crash_point("quarantined")
        self._set_aside(e.name, reason)
        self.report.quarantined += 1
        self.report.quarantine_reasons[e.name] = reason
        log.warning("%s: quarantined shard %s: %s", self.node.name, e.name, reason)

    def _set_aside(self, name: str, reason: str) -> None:
        """The moves of a quarantine (idempotent): local bytes + reason, node copy aside."""
        qdir = self.s.quarantine / self.node.name
        qdir.mkdir(parents=True, exist_ok=True)
        for local in (self._part(name), self._staged(name)):
            if local.exists():
                os.replace(local, qdir / name)
        (qdir / f"{name}.reason").write_text(reason + "\n", encoding="utf-8")
        self._reject_remote(name)

    def _expire_acked(self) -> None:
        """Delete acknowledged shards older than the retention period (manifest says acked)."""
        cutoff = self.now - self.s.acked_retention_s
        for a in self.conn.listdir(self.node.acked_dir):
            fname = a.filename
            if (a.st_mtime or 0) > cutoff:
                continue
            stem = fname.rsplit(".", 1)[0]
            e = self.manifest.get(self.node.name, stem + SHARD_SUFFIX)
            if e is None or e.state != "acked":
                continue  # not ours to delete
            self.conn.remove(self._remote(self.node.acked_dir, fname))
            if fname.endswith(SHARD_SUFFIX):
                self.report.acked_deleted += 1


def _creds_for(source: CredentialSource, node: Node) -> SshCredentials:
    return source(node) if callable(source) else source


def sync_games(
    store: Store,
    inventory: Inventory,
    settings: GamesSyncSettings,
    credentials: CredentialSource,
    *,
    nodes: list[str] | None = None,
    clock: Callable[[], float] = time.time,
    progress: Progress | None = None,
) -> SyncReport:
    """One pull pass: every node (or those named in ``nodes``) its breaker admits.

    ``credentials``: one ``SshCredentials`` for all nodes or a function of the node (the
    Airflow side resolves ``node.ssh_conn_id`` there). A failing node is recorded in its
    health row and report; the others go on. ``clock`` gives Unix seconds (breaker
    cooldowns, retention); ``progress`` is called after each downloaded window.
    Returns the per-node report.
    """
    report = SyncReport()
    chosen = inventory.nodes if nodes is None else [inventory.node(n) for n in nodes]
    for node in chosen:
        report.nodes[node.name] = _sync_node(store, node, settings, credentials, clock(), progress)
    return report


def _sync_node(
    store: Store,
    node: Node,
    settings: GamesSyncSettings,
    credentials: CredentialSource,
    now: float,
    progress: Progress | None,
) -> NodeReport:
    health = store.manifest.health(node.name)
    b = brk.Breaker(health.breaker_state, health.consecutive_failures, health.breaker_opened_at)  # type: ignore[arg-type]
    r = NodeReport(node.name)
    admitted, b = brk.admit(b, settings.breaker, now)
    if not admitted:
        wait = brk.retry_in(b, settings.breaker, now)
        r.breaker, r.error = b.state, f"circuit breaker open; next trial in {wait:.0f} s"
        r.backlog = health.backlog
        log.info("%s: skipped, %s", node.name, r.error)
        return r
    r.attempted = True
    error: str | None = None
    reachable = False
    try:
        with connect(node, _creds_for(credentials, node), settings.ssh) as conn:
            reachable = True
            _NodeSync(store, node, conn, settings, r, now, progress).run()
    except Exception as exc:
        # Any failure on this node (refused host key, dropped link, a local disk error)
        # ends its pass; the manifest holds its progress, the breaker counts the failure.
        error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: sync failed: %s", node.name, error)
    b = brk.on_success() if error is None else brk.on_failure(b, settings.breaker, now)
    counts = store.manifest.state_counts(node.name)
    r.ok, r.error, r.breaker = error is None, error, b.state
    r.backlog = sum(n for s, n in counts.items() if s not in FINAL_STATES)
    store.manifest.save_health(
        replace(
            health,
            reachable=reachable,
            last_attempt=now,
            last_success=now if error is None else health.last_success,
            last_error=error,
            consecutive_failures=b.consecutive_failures,
            breaker_state=b.state,
            breaker_opened_at=b.opened_at,
            backlog=r.backlog,
            quarantined=counts.get("quarantined", 0),
        )
    )
    return r


def node_health(store: Store, inventory: Inventory) -> list[NodeHealth]:
    """Stored sync health of every inventory node (a never-synced node: defaults)."""
    return [store.manifest.health(n.name) for n in inventory.nodes]


def inventory_from_config(cfg: RingriftConfig) -> Inventory:
    """The node inventory ``cfg.sync.hosts_file`` names (default ``config/hosts.yaml``; an
    absent default file means no remote nodes). ``InventoryError`` if it is invalid."""
    from ringrift_tasks.config import REPO_ROOT

    path = cfg.sync.hosts_file
    if path is None:
        path = REPO_ROOT / "config" / "hosts.yaml"
        if not path.is_file():
            return Inventory()
    return load_inventory(path)


def sync_games_from_config(
    cfg: RingriftConfig,
    store: Store,
    credentials: CredentialSource | None = None,
    *,
    nodes: list[str] | None = None,
) -> SyncReport:
    """One pull pass with the loop config's inventory, paths and sync settings; credentials
    default to the environment / ssh-agent (:func:`credentials_from_env`)."""
    return sync_games(
        store,
        inventory_from_config(cfg),
        GamesSyncSettings.from_config(cfg),
        credentials if credentials is not None else credentials_from_env(),
        nodes=nodes,
    )
