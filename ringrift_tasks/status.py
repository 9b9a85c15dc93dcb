"""What the loop looks like right now, per config: one read-only snapshot of the stores.

``loop_status`` is what ``ringrift status`` prints and what the Airflow UI page shows, so
both tell the same story: pool size and new games since the last training, the best model,
the top of the Elo ladder, the last gate decision, and the machine's resources.
"""

from __future__ import annotations

import platform
from typing import Any

from sqlalchemy.engine import make_url

from ringrift_tasks import __version__
from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.rules.state import ALL_CONFIGS
from ringrift_tasks.store.db import Store

LADDER_TOP = 3


def redacted_url(url: str) -> str:
    """The store URL with any password hidden (it may come from the environment)."""
    return make_url(url).render_as_string(hide_password=True)


def last_training_time(store: Store, config: str) -> float:
    """When ``config`` last trained: the newest passed training gate or registered model."""
    t = 0.0
    d = store.decisions.latest(config, "training")
    if d is not None and d.passed:
        t = d.at
    best = store.registry.best(config)
    newest = [m.created_at for m in store.registry.candidates(config)]
    if best is not None:
        newest.append(best.created_at)
    return max([t, *newest])


def config_status(store: Store, config: str, *, enabled: bool) -> dict[str, Any]:
    """The per-config part of the status (see module docstring)."""
    best = store.registry.best(config)
    decision = store.decisions.latest(config)
    ladder = store.elo.ratings(config)[:LADDER_TOP]
    return {
        "enabled": enabled,
        "games": store.pool.count(config),
        "new_games": store.pool.count_since(config, last_training_time(store, config)),
        "best_model": best.model_id if best else None,
        "candidates": len(store.registry.candidates(config)),
        "elo_top": [
            {
                "agent": r.agent,
                "elo": round(r.elo, 1),
                "ci_low": round(r.ci_low, 1),
                "ci_high": round(r.ci_high, 1),
                "games": r.games,
            }
            for r in ladder
        ],
        "last_gate_decision": None
        if decision is None
        else {
            "gate": decision.gate,
            "passed": decision.passed,
            "reason": decision.reason,
            "at": decision.at,
        },
    }


def loop_status(
    cfg: RingriftConfig, store: Store, *, resources: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole status: versions, data home, store, resources and every config."""
    enabled = set(cfg.configs)
    return {
        "version": __version__,
        "python": platform.python_version(),
        "home": str(cfg.home),
        "store_url": redacted_url(cfg.store_url),
        "coordinator_only": cfg.flags.disable_local_tasks,
        "resources": resources,
        "configs": {
            c.name: config_status(store, c.name, enabled=c.name in enabled) for c in ALL_CONFIGS
        },
    }
