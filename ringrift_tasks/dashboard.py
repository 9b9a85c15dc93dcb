"""The loop at a glance, for the RingRift page in the Airflow UI: one typed, read-only
snapshot of the stores per config, plus the health of the nodes.

Per config: the best model, the Elo ladder (the batch fit of the whole match log), the
trend plot the hourly tournament writes (``<artifacts>/<config>_elo_trend.png``), the pool
size and the games merged since the last training, the last training-gate verdict and the
last promotion verdict with its evidence. The page (``plugins/ringrift_airflow/ui.py``)
only renders this; ``ringrift status`` tells the same story from ``status.loop_status``.

Shown configs: the enabled ones, and any other config that has games, matches or models,
so a fresh install shows its enabled configs empty rather than twelve empty cards.
"""

from __future__ import annotations

import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ringrift_tasks import __version__
from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.match import model_agent_name
from ringrift_tasks.rules.state import ALL_CONFIGS
from ringrift_tasks.status import last_training_time, redacted_url
from ringrift_tasks.store.db import Store
from ringrift_tasks.store.decisions import Decision
from ringrift_tasks.store.manifest import NodeHealth as SyncHealth

# The ladder lists at most this many agents; the rest are counted.
LADDER_SIZE = 12
TRAINING_GATE, PROMOTION_GATE = "training", "promotion"


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A registered model: id (sha256), when it was registered and promoted (Unix s)."""

    model_id: str
    agent: str
    created_at: float
    promoted_at: float | None
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class LadderEntry:
    """One rung of the Elo ladder; ``is_best``: the agent is the config's best model."""

    rank: int
    agent: str
    elo: float
    ci_low: float
    ci_high: float
    games: int
    is_best: bool


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """A gate verdict as stored in the decision log (``at`` in Unix s)."""

    gate: str
    passed: bool
    reason: str
    at: float
    run_id: str | None
    evidence: dict[str, Any]

    @staticmethod
    def of(d: Decision | None) -> DecisionSummary | None:
        if d is None:
            return None
        return DecisionSummary(d.gate, d.passed, d.reason, d.at, d.run_id, dict(d.evidence or {}))


@dataclass(frozen=True, slots=True)
class ConfigDashboard:
    """Everything the page shows for one board/player config."""

    config: str
    enabled: bool
    games: int
    new_games: int
    last_training_at: float | None
    candidates: int
    matches: int
    best: ModelSummary | None
    ladder: tuple[LadderEntry, ...]
    ladder_more: int
    training: DecisionSummary | None
    promotion: DecisionSummary | None
    trend_plot: Path | None
    trend_plot_at: float | None


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """One node's resource verdict. ``level``: ok / warning / critical / unknown;
    ``checks``: resource name -> one-line reading; ``checked_at`` Unix s."""

    node: str
    role: str
    level: str
    reason: str
    checked_at: float
    checks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The whole page. ``node_scope``: which nodes ``nodes`` covers (``local``: this
    machine only, sampled now; ``cluster``: this machine and every node the data sync
    keeps health for)."""

    generated_at: float
    version: str
    home: str
    store_url: str
    coordinator_only: bool
    configs: tuple[ConfigDashboard, ...]
    nodes: tuple[NodeHealth, ...]
    node_scope: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings)."""
        out = asdict(self)
        for c in out["configs"]:
            c["trend_plot"] = None if c["trend_plot"] is None else str(c["trend_plot"])
        return out


def trend_plot_path(cfg: RingriftConfig, config: str) -> Path:
    """Where ``evaluation.trends.write_trend_artifacts`` puts ``config``'s Elo trend."""
    return cfg.paths.artifacts / f"{config}_elo_trend.png"


def config_dashboard(
    cfg: RingriftConfig, store: Store, config: str, *, enabled: bool
) -> ConfigDashboard:
    """One config's card (see module docstring)."""
    best = store.registry.best(config)
    best_agent = model_agent_name(best.model_id) if best else None
    ratings = store.elo.ratings(config)
    ladder = tuple(
        LadderEntry(i + 1, r.agent, r.elo, r.ci_low, r.ci_high, r.games, r.agent == best_agent)
        for i, r in enumerate(ratings[:LADDER_SIZE])
    )
    trained_at = last_training_time(store, config)
    plot = trend_plot_path(cfg, config)
    plot_at = plot.stat().st_mtime if plot.is_file() else None
    return ConfigDashboard(
        config=config,
        enabled=enabled,
        games=store.pool.count(config),
        new_games=store.pool.count_since(config, trained_at),
        last_training_at=trained_at or None,
        candidates=len(store.registry.candidates(config)),
        matches=store.elo.count(config),
        best=None
        if best is None
        else ModelSummary(
            best.model_id,
            model_agent_name(best.model_id),
            best.created_at,
            best.promoted_at,
            best.parent_id,
        ),
        ladder=ladder,
        ladder_more=max(0, len(ratings) - LADDER_SIZE),
        training=DecisionSummary.of(store.decisions.latest(config, TRAINING_GATE)),
        promotion=DecisionSummary.of(store.decisions.latest(config, PROMOTION_GATE)),
        trend_plot=plot if plot_at is not None else None,
        trend_plot_at=plot_at,
    )


def shown_configs(cfg: RingriftConfig, store: Store) -> list[str]:
    """Enabled configs, then any other config with games, matches or a model, in the
    canonical order of the 12."""
    enabled = set(cfg.configs)
    out = []
    for c in ALL_CONFIGS:
        name = c.name
        if (
            name in enabled
            or store.pool.count(name)
            or store.elo.count(name)
            or store.registry.best(name) is not None
            or store.registry.candidates(name)
        ):
            out.append(name)
    return out


def local_node_health(resources: dict[str, Any], *, checked_at: float | None = None) -> NodeHealth:
    """This machine's health from a ``resources.snapshot`` dict."""
    checks = {
        name: str(resources[name]["reason"])
        for name in ("disk", "memory", "cpu", "load", "gpu_memory")
        if isinstance(resources.get(name), dict)
    }
    return NodeHealth(
        node=socket.gethostname(),
        role="this node",
        level=str(resources.get("level", "unknown")),
        reason=str(resources.get("reason") or "all resources ok"),
        checked_at=time.time() if checked_at is None else checked_at,
        checks=checks,
    )


_LEVEL_RANK = {"ok": 0, "warning": 1, "critical": 2}


def _utc_minute(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def worker_node_health(h: SyncHealth) -> NodeHealth:
    """A worker node's health as the data sync and the last remote probe saw it (its
    sync health row): critical while its circuit breaker is open, a warning after failed
    or unreachable attempts, else ok -- or worse when the node's own resource verdict in
    the last probe is worse. The probe's figures (disk, memory, load, GPUs, shards
    waiting on the node) are among the readings."""
    from ringrift_tasks.sync.remote_health import figures_line

    if h.breaker_state != "closed":
        level, reason = "critical", f"circuit breaker {h.breaker_state}"
    elif h.consecutive_failures or h.reachable is False:
        level = "warning"
        reason = f"{h.consecutive_failures} failed attempt(s) in a row"
    else:
        level, reason = "ok", "last sync ok"
    if h.last_error and level != "ok":
        reason += f": {h.last_error}"
    figures = h.remote_health or {}
    remote_level = figures.get("level")
    if _LEVEL_RANK.get(str(remote_level), 0) > _LEVEL_RANK[level]:
        level = str(remote_level)
        reason = f"node reports {remote_level}: {figures.get('reason') or 'no reason given'}"
    last_ok = "never" if h.last_success is None else _utc_minute(h.last_success)
    checks = {
        "last_success": f"last successful sync {last_ok}",
        "backlog": f"backlog {h.backlog} shard(s), quarantined {h.quarantined}",
    }
    if h.probed_at is None:
        checks["remote"] = "not probed yet (ringrift_cluster_health)"
    else:
        checks["remote"] = f"probed {_utc_minute(h.probed_at)}: {figures_line(figures)}"
        checks["remote_backlog"] = f"{h.remote_backlog} shard(s) waiting on the node"
    return NodeHealth(
        node=h.node,
        role="worker",
        level=level,
        reason=reason,
        checked_at=max(h.last_attempt or 0.0, h.probed_at or 0.0),
        checks=checks,
    )


def dashboard(
    cfg: RingriftConfig,
    store: Store,
    *,
    nodes: tuple[NodeHealth, ...] = (),
    node_scope: str = "local",
    now: float | None = None,
) -> Dashboard:
    """The snapshot the RingRift page renders; ``nodes`` are sampled by the caller (the
    page samples this machine with ``resources.snapshot``)."""
    enabled = set(cfg.configs)
    return Dashboard(
        generated_at=time.time() if now is None else now,
        version=__version__,
        home=str(cfg.home),
        store_url=redacted_url(cfg.store_url),
        coordinator_only=cfg.flags.disable_local_tasks,
        configs=tuple(
            config_dashboard(cfg, store, c, enabled=c in enabled) for c in shown_configs(cfg, store)
        ),
        nodes=nodes,
        node_scope=node_scope,
    )
