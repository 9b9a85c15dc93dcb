"""Daily housekeeping: store optimisation, quarantine retention, a parity sample.

Each function does one chore and reports what it did; ``ringrift_maintenance`` calls them
one per task. Pruning model files is ``evaluation.distribution.prune_archived`` and the
disk check is ``resources.check_disk_space``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ringrift_tasks.records.game_record import RecordError, replay

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

DAY_S = 86_400.0


def optimize_store(store: Store) -> str:
    """``VACUUM`` and ``ANALYZE`` the store (outside any transaction, as both require);
    returns what ran."""
    statements = ["VACUUM", "ANALYZE"] if store.dialect == "sqlite" else ["VACUUM ANALYZE"]
    # The driver connection itself: the store's engine hooks open a transaction on every
    # SQLAlchemy begin, even in AUTOCOMMIT mode. The store's SQLite connections already run
    # without implicit transactions; psycopg needs autocommit switched on.
    raw = store.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        postgres = store.dialect == "postgresql"
        if postgres:
            dbapi.autocommit = True
        try:
            cur = dbapi.cursor()
            for sql in statements:
                cur.execute(sql)
            cur.close()
        finally:
            if postgres:
                dbapi.autocommit = False
    finally:
        raw.close()
    return f"{' + '.join(statements)} on {store.url}"


@dataclass
class QuarantineCleanup:
    """Files removed from the quarantine folder (older than the retention) and kept."""

    removed: list[str] = field(default_factory=list)
    kept: int = 0
    freed_bytes: int = 0


def clean_quarantine(
    quarantine: Path, retention_s: float, *, now: float | None = None
) -> QuarantineCleanup:
    """Delete quarantined shards (and their sidecar and reason files) whose modification
    time is more than ``retention_s`` seconds before ``now``."""
    if retention_s < 0:
        raise ValueError(f"retention_s must be >= 0, got {retention_s}")
    now = time.time() if now is None else now
    out = QuarantineCleanup()
    folder = Path(quarantine)
    if not folder.is_dir():
        return out
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        st = f.stat()
        if now - st.st_mtime > retention_s:
            out.freed_bytes += st.st_size
            f.unlink()
            out.removed.append(f.name)
        else:
            out.kept += 1
    return out


@dataclass
class ParitySample:
    """Replays of a sample of the newest games per config: games checked, failures."""

    checked: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(len(v) for v in self.failures.values())


def parity_sample(store: Store, configs: Sequence[str], per_config: int) -> ParitySample:
    """Replay the ``per_config`` newest games of each config through the rules; a game
    whose moves or result do not replay is a failure, listed with its reason."""
    out = ParitySample()
    for config in configs:
        games = list(store.pool.iter_games(config, newest_first=True, limit=per_config))
        out.checked[config] = len(games)
        for rec in games:
            try:
                replay(rec)
            except RecordError as exc:
                out.failures.setdefault(config, []).append(f"{rec.game_id}: {exc}")
    return out
