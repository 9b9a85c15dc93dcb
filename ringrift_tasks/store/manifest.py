"""The sync manifest: a write-ahead log of every shard each node offered, and node health.

One row per (node, shard file name) records how far that shard got (``SYNC_STATES``). The
data sync commits a state before the side effect it announces, so after a crash anywhere
the row says what to redo; every step is idempotent. A second table keeps each node's sync
health (last attempt and success, consecutive failures, circuit breaker, backlog, shards
quarantined) for ``ringrift sync --status`` and the cluster-health DAG, and what the last
remote probe of the node read (``sync/remote_health.py``).

The passes and the probe write disjoint columns of a node's health row: a data sync that
read the row minutes ago must not put back an older probe, nor a probe an older breaker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from ringrift_tasks.store.models import SYNC_STATES, SyncNodeRow, SyncShardRow

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

_SHARDS = SyncShardRow.__table__
_NODES = SyncNodeRow.__table__
# Columns of a node's health row that only the remote probe writes.
PROBE_FIELDS = ("probed_at", "remote_backlog", "remote_health")
# States after which nothing more happens to a shard.
FINAL_STATES = ("acked", "quarantined")


class ManifestError(ValueError):
    """A manifest update that does not fit the row (unknown state, missing row)."""


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One shard offered by one node, as the manifest has it."""

    node: str
    name: str
    sha256: str
    size: int | None
    games: int | None
    state: str
    attempts: int
    error: str | None
    games_added: int | None
    discovered_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """Sync health of one node (times in Unix seconds).

    The last three fields are the last successful remote probe (None: never probed):
    when, the sealed shards it saw waiting in the node's incoming, and its figures
    (``RemoteHealth.to_json()``). :meth:`SyncManifest.save_probe` writes them;
    :meth:`SyncManifest.save_health` leaves them as they are.
    """

    node: str
    reachable: bool | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    breaker_state: str = "closed"
    breaker_opened_at: float | None = None
    backlog: int = 0
    quarantined: int = 0
    probed_at: float | None = None
    remote_backlog: int | None = None
    remote_health: dict[str, Any] | None = None

    @property
    def waiting(self) -> int:
        """Shards this node holds that the loop has not taken in: the larger of what the
        last probe saw in its incoming and the manifest's unfinished entries. The two
        overlap (a shard stays in the node's incoming until acknowledged), so their sum
        would count most shards twice."""
        return max(self.remote_backlog or 0, self.backlog)


def _entry(row: Any) -> ManifestEntry:
    m = row._mapping
    return ManifestEntry(**{f.name: m[f.name] for f in fields(ManifestEntry)})


def _health(row: Any) -> NodeHealth:
    m = row._mapping
    return NodeHealth(**{f.name: m[f.name] for f in fields(NodeHealth)})


class SyncManifest:
    """Repository of the sync manifest and node health on a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _insert(self, table: Any) -> Any:
        return (
            postgresql.insert(table) if self.store.dialect == "postgresql" else sqlite.insert(table)
        )

    # --- shards -----------------------------------------------------------------------------
    def discover(
        self, node: str, name: str, sha256: str, *, size: int | None, games: int | None
    ) -> ManifestEntry:
        """Record that ``node`` offers shard ``name`` (a no-op when already recorded);
        returns the entry as it now stands."""
        now = time.time()
        with self.store.write() as conn:
            conn.execute(
                self._insert(_SHARDS)
                .values(
                    node=node,
                    name=name,
                    sha256=sha256,
                    size=size,
                    games=games,
                    state="discovered",
                    attempts=0,
                    discovered_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["node", "name"])
            )
            row = conn.execute(
                select(_SHARDS).where(_SHARDS.c.node == node, _SHARDS.c.name == name)
            ).one()
        return _entry(row)

    def advance(
        self,
        node: str,
        name: str,
        state: str,
        *,
        error: str | None = None,
        games_added: int | None = None,
        count_attempt: bool = False,
    ) -> ManifestEntry:
        """Set the shard's ``state`` (committed when this returns). ``count_attempt`` adds one
        to ``attempts`` (a download starting); ``error`` is kept for a quarantine."""
        if state not in SYNC_STATES:
            raise ManifestError(f"unknown sync state {state!r} (expected one of {SYNC_STATES})")
        values: dict[str, Any] = {"state": state, "updated_at": time.time(), "error": error}
        if games_added is not None:
            values["games_added"] = games_added
        if count_attempt:
            values["attempts"] = _SHARDS.c.attempts + 1
        where = (_SHARDS.c.node == node, _SHARDS.c.name == name)
        with self.store.write() as conn:
            if conn.execute(_SHARDS.update().where(*where).values(**values)).rowcount != 1:
                raise ManifestError(f"no manifest entry for shard {name} of node {node}")
            row = conn.execute(select(_SHARDS).where(*where)).one()
        return _entry(row)

    def get(self, node: str, name: str) -> ManifestEntry | None:
        """The entry for ``name`` offered by ``node``, or None."""
        with self.store.read() as conn:
            row = conn.execute(
                select(_SHARDS).where(_SHARDS.c.node == node, _SHARDS.c.name == name)
            ).first()
        return None if row is None else _entry(row)

    def entries(
        self, node: str | None = None, states: Iterable[str] | None = None
    ) -> list[ManifestEntry]:
        """Entries (of ``node``, in ``states``), oldest discovery first."""
        q = select(_SHARDS).order_by(_SHARDS.c.discovered_at, _SHARDS.c.node, _SHARDS.c.name)
        if node is not None:
            q = q.where(_SHARDS.c.node == node)
        if states is not None:
            q = q.where(_SHARDS.c.state.in_(list(states)))
        with self.store.read() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def state_counts(self, node: str | None = None) -> dict[str, int]:
        """Shards per state (of ``node``, or of every node)."""
        q = select(_SHARDS.c.state, func.count()).group_by(_SHARDS.c.state)
        if node is not None:
            q = q.where(_SHARDS.c.node == node)
        with self.store.read() as conn:
            return {s: int(n) for s, n in conn.execute(q)}

    # --- node health ------------------------------------------------------------------------
    def health(self, node: str) -> NodeHealth:
        """The node's sync health (a fresh, closed-breaker record when never synced)."""
        with self.store.read() as conn:
            row = conn.execute(select(_NODES).where(_NODES.c.node == node)).first()
        return NodeHealth(node) if row is None else _health(row)

    def all_health(self) -> list[NodeHealth]:
        """Health of every node that was ever synced, by name."""
        with self.store.read() as conn:
            rows = conn.execute(select(_NODES).order_by(_NODES.c.node)).all()
        return [_health(r) for r in rows]

    def save_health(self, h: NodeHealth) -> None:
        """Insert or replace the node's sync health; the probe's columns are kept as they
        are (see :meth:`save_probe`)."""
        values = {f.name: getattr(h, f.name) for f in fields(NodeHealth)}
        for name in PROBE_FIELDS:
            del values[name]
        stmt = self._insert(_NODES).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["node"], set_={k: v for k, v in values.items() if k != "node"}
        )
        with self.store.write() as conn:
            conn.execute(stmt)

    def save_probe(
        self, node: str, *, probed_at: float, remote_backlog: int, remote_health: dict[str, Any]
    ) -> None:
        """Record a successful remote probe of ``node`` (Unix s; shards waiting in its
        incoming; the JSON-ready figures), leaving its sync health as it is."""
        if remote_backlog < 0:
            raise ManifestError(f"remote backlog of node {node} must be >= 0, got {remote_backlog}")
        probe = {
            "probed_at": probed_at,
            "remote_backlog": remote_backlog,
            "remote_health": remote_health,
        }
        fresh = NodeHealth(node)
        stmt = self._insert(_NODES).values(
            node=node,
            consecutive_failures=fresh.consecutive_failures,
            breaker_state=fresh.breaker_state,
            backlog=fresh.backlog,
            quarantined=fresh.quarantined,
            **probe,
        )
        stmt = stmt.on_conflict_do_update(index_elements=["node"], set_=probe)
        with self.store.write() as conn:
            conn.execute(stmt)
