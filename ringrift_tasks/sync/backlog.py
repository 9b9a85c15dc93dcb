"""Backpressure: is self-play producing faster than the loop can take it in?

Three backlogs hold self-play back (the reference's queue-depth check): sealed shards still
waiting in the local ``incoming`` for the collect step, sealed shards waiting on the worker
nodes for the data sync (``sync.max_node_backlog``), and games merged but not yet trained
on (new games since a config's last training) piling far beyond what one training needs.
:func:`decide_backpressure` is the pure verdict; :func:`backpressure_reason` measures.

A node's waiting shards are read from its stored health (``NodeHealth.waiting``): what the
last probe of the cluster-health DAG saw in its incoming and the sync manifest's unfinished
entries; measuring them never opens an SSH connection.
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


def waiting_on_nodes(cfg: RingriftConfig, store: Store) -> dict[str, int]:
    """Per node of the inventory (``sync.hosts_file``): sealed shards it holds that the
    loop has not taken in, as its stored health last saw them (0: never seen)."""
    from ringrift_tasks.sync.games import inventory_from_config

    return {n: store.manifest.health(n).waiting for n in inventory_from_config(cfg).names()}


def decide_backpressure(
    unmerged: int,
    max_unmerged: int,
    pending: Mapping[str, int],
    max_pending: int | None,
    *,
    nodes: Mapping[str, int] | None = None,
    max_node_backlog: int | None = None,
) -> str | None:
    """The reason to hold self-play, or None. ``max_pending`` None: no training limit;
    ``nodes``: shards waiting per worker node, held above ``max_node_backlog`` in all
    (None: no node limit)."""
    reasons = []
    if unmerged > max_unmerged:
        reasons.append(f"{unmerged} unmerged shards in incoming > limit {max_unmerged}")
    waiting = sum((nodes or {}).values())
    if max_node_backlog is not None and waiting > max_node_backlog:
        busiest = sorted((nodes or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        detail = ", ".join(f"{n} {k}" for n, k in busiest if k > 0)
        reasons.append(
            f"{waiting} shards waiting on the nodes > limit {max_node_backlog} ({detail})"
        )
    if max_pending is not None:
        over = {c: n for c, n in sorted(pending.items()) if n > max_pending}
        if over and len(over) == len(pending):
            # Hold only when every config is backed up: a lagging config still wants games.
            detail = ", ".join(f"{c} {n}" for c, n in over.items())
            reasons.append(f"untrained games above {max_pending} in every config ({detail})")
    return "; ".join(reasons) or None


def backpressure_reason(
    cfg: RingriftConfig,
    store: Store | None,
    max_unmerged: int,
    max_pending: int | None = None,
    *,
    max_node_backlog: int | None = None,
) -> str | None:
    """Measure the backlogs and decide. ``max_node_backlog`` defaults to the config's
    ``sync.max_node_backlog``; ``store`` None measures the local incoming only."""
    if max_unmerged < 0:
        raise ValueError(f"max_unmerged must be >= 0, got {max_unmerged}")
    node_limit = cfg.sync.max_node_backlog if max_node_backlog is None else max_node_backlog
    pending = pending_training(cfg, store) if store is not None and max_pending else {}
    nodes = waiting_on_nodes(cfg, store) if store is not None else {}
    return decide_backpressure(
        unmerged_shards(cfg.paths.shards_incoming),
        max_unmerged,
        pending,
        max_pending,
        nodes=nodes,
        max_node_backlog=node_limit if store is not None else None,
    )
