"""Collecting sealed shards from a local folder into the game pool.

The first half of the data sync: every sealed shard in ``incoming`` is verified,
replay-validated and merged (idempotently, so a crash between merge and move only
costs a re-check), then moved to ``merged``; a shard that fails goes to ``quarantine``
with a ``.reason`` file beside it, and is counted. Remote nodes feed the same folder.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ringrift_tasks.records.shard import ShardError, list_sealed_shards
from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    """What one collection pass did: per config games added, shards merged/quarantined."""

    shards_merged: int = 0
    shards_quarantined: int = 0
    games_added: int = 0
    duplicates: int = 0
    added_per_config: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, str] = field(default_factory=dict)  # shard name -> reason


def _move_with_sidecar(shard: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / shard.name
    os.replace(shard, dest)
    sidecar = shard.with_suffix(".json")
    if sidecar.exists():
        os.replace(sidecar, dest_dir / sidecar.name)
    return dest


def collect_shards(
    store: Store,
    incoming: Path,
    merged: Path,
    quarantine: Path,
    *,
    validate: bool = True,
    limit: int | None = None,
) -> CollectReport:
    """Merge every sealed shard of ``incoming`` into ``store``'s pool (oldest first)."""
    report = CollectReport()
    for shard in list_sealed_shards(incoming)[:limit]:
        try:
            result = store.pool.merge_shard(shard, validate=validate)
        except ShardError as exc:
            reason = str(exc)
            dest = _move_with_sidecar(shard, quarantine)
            dest.with_suffix(".reason").write_text(reason + "\n", encoding="utf-8")
            report.shards_quarantined += 1
            report.quarantined[shard.name] = reason
            log.warning("quarantined shard %s: %s", shard.name, reason)
            continue
        per_config = store.pool.shard_configs(result.sha256) if result.added else {}
        for config, n in per_config.items():
            report.added_per_config[config] = report.added_per_config.get(config, 0) + n
        report.shards_merged += 1
        report.games_added += result.added
        report.duplicates += result.duplicates
        _move_with_sidecar(shard, merged)
        log.info(
            "merged shard %s: %d games added, %d already in the pool",
            shard.name,
            result.added,
            result.duplicates,
        )
    return report
