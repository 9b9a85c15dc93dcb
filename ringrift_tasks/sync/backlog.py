"""Backpressure: is self-play producing faster than the loop can take it in?

Two backlogs hold self-play back (the reference's queue-depth check): sealed shards still
waiting in ``incoming`` for the data sync, and games merged but not yet trained on (new
games since a config's last training) piling far beyond what one training needs.
:func:`decide_backpressure` is the pure verdict; :func:`backpressure_reason` measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ringrift_tasks.records.shard import list_sealed_shards

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store


def unmerged_shards(incoming: Path) -> int:
    """Sealed shards in ``incoming`` not yet collected (0 when the folder is absent)."""
    return len(list_sealed_shards(incoming)) if Path(incoming).is_dir() else 0


def pending_training(cfg: RingriftConfig, store: Store) -> dict[str, int]:
    """Per enabled config: games merged since its last training."""
    from ringrift_tasks.status import last_training_time

    return {c: store.pool.count_since(c, last_training_time(store, c)) for c in cfg.configs}


def decide_backpressure(
    unmerged: int, max_unmerged: int, pending: Mapping[str, int], max_pending: int | None
) -> str | None:
    """The reason to hold self-play, or None. ``max_pending`` None: no training limit."""
    reasons = []
    if unmerged > max_unmerged:
        reasons.append(f"{unmerged} unmerged shards in incoming > limit {max_unmerged}")
    if max_pending is not None:
        over = {c: n for c, n in sorted(pending.items()) if n > max_pending}
        if over and len(over) == len(pending):
            # Hold only when every config is backed up: a lagging config still wants games.
            detail = ", ".join(f"{c} {n}" for c, n in over.items())
            reasons.append(f"untrained games above {max_pending} in every config ({detail})")
    return "; ".join(reasons) or None


def backpressure_reason(
    cfg: RingriftConfig, store: Store | None, max_unmerged: int, max_pending: int | None = None
) -> str | None:
    """Measure both backlogs and decide (``store`` may be None when ``max_pending`` is)."""
    if max_unmerged < 0:
        raise ValueError(f"max_unmerged must be >= 0, got {max_unmerged}")
    pending = pending_training(cfg, store) if store is not None and max_pending else {}
    return decide_backpressure(
        unmerged_shards(cfg.paths.shards_incoming), max_unmerged, pending, max_pending
    )
