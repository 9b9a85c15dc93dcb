"""The worker nodes, for DAG structure: one mapped sync task per node of the inventory."""

from __future__ import annotations

import logging

from ringrift_tasks.config import load_config
from ringrift_tasks.sync.games import inventory_from_config

log = logging.getLogger(__name__)


def parse_time_nodes() -> list[str]:
    """Names of the inventory's nodes (``sync.hosts_file``), read when the DAG is parsed.

    No inventory file, or one listing no node: an empty list (the DAG then merges local
    shards only). A broken config or inventory must not break the DAG's import: it is
    logged here and raised with its message by the tasks that use it.
    """
    try:
        return inventory_from_config(load_config()).names()
    except Exception as exc:  # ConfigError / InventoryError: reported at run time
        log.warning("node inventory unreadable at parse time (%s); no node tasks", exc)
        return []
