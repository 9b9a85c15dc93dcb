"""The cluster data plane in one call: ``games``, ``models``, ``elo`` or ``full``.

Like the reference's sync coordinator, one entry point runs the passes a mode names, in
order: pull sealed game shards (``sync.games``), push the best models (``sync.models``),
merge match logs (``sync.elo``); ``full`` runs the three. Within one ``full`` pass a node
that failed (or whose breaker is open) in the games step is left out of the later steps,
so one bad pass counts once against its breaker and is reported once. The Airflow data
sync runs ``full`` per node every minute (a node that was down gets the current best
models on its next healthy pass); the promotion DAG runs ``models`` after a promotion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ringrift_tasks.sync.elo import EloSyncReport, EloSyncSettings, pull_matches
from ringrift_tasks.sync.games import (
    GamesSyncSettings,
    SyncReport,
    inventory_from_config,
    sync_games,
)
from ringrift_tasks.sync.hosts import Inventory
from ringrift_tasks.sync.models import ModelsSyncReport, ModelsSyncSettings, push_models
from ringrift_tasks.sync.nodepass import CredentialSource
from ringrift_tasks.sync.transport import credentials_from_env

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

MODES: dict[str, tuple[str, ...]] = {
    "games": ("games",),
    "models": ("models",),
    "elo": ("elo",),
    "full": ("games", "models", "elo"),
}


class SyncModeError(ValueError):
    """An unknown sync mode."""


@dataclass
class ClusterSyncReport:
    """What each step of one pass did (None: the mode did not run that step)."""

    mode: str
    nodes: list[str] = field(default_factory=list)
    games: SyncReport | None = None
    models: ModelsSyncReport | None = None
    elo: EloSyncReport | None = None

    def skipped_reason(self, node: str) -> str | None:
        """Why ``node`` was not tried at all (its circuit breaker is open), else None."""
        if self.games is not None and node in self.games.nodes:
            r = self.games.nodes[node]
            return None if r.attempted else (r.error or "circuit breaker open")
        for step in (self.models, self.elo):
            if step is not None and node in step.nodes:
                o = step.nodes[node]
                return o.reason if o.skipped else None
        return None

    def node_error(self, node: str) -> str | None:
        """Why the pass broke off on ``node`` (unreachable, refused key, dropped link), else
        None; bad content on a healthy node is not an error here (see :meth:`failures`)."""
        if self.games is not None and (g := self.games.nodes.get(node)) is not None:
            if g.attempted and not g.ok:
                return f"games: {g.error}"
        for name, step in (("models", self.models), ("elo", self.elo)):
            if step is not None and (o := step.nodes.get(node)) is not None and o.error:
                return f"{name}: {o.error}"
        return None

    def failures(self, node: str) -> list[str]:
        """What went wrong on ``node`` in this pass (empty when all went well)."""
        out: list[str] = []
        if self.games is not None and (g := self.games.nodes.get(node)) is not None:
            if g.attempted and not g.ok:
                out.append(f"games: {g.error}")
            out += [f"games: quarantined {s}: {why}" for s, why in g.quarantine_reasons.items()]
        if self.models is not None and (m := self.models.nodes.get(node)) is not None:
            if m.error:
                out.append(f"models: {m.error}")
            if m.result is not None:
                out += [f"models: {c}: {why}" for c, why in m.result.errors.items()]
        if self.elo is not None and (e := self.elo.nodes.get(node)) is not None:
            if e.error:
                out.append(f"elo: {e.error}")
            if e.result is not None:
                out += [f"elo: {f}: {why}" for f, why in e.result.file_errors.items()]
                out += [f"elo: {f} line {n}: {why}" for f, n, why in e.result.rejected]
        return out

    @property
    def added_per_config(self) -> dict[str, int]:
        """New games per config merged by the games step."""
        return {} if self.games is None else self.games.added_per_config

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures per node (for task logs, XCom and ``--json``)."""
        out: dict[str, Any] = {"mode": self.mode, "nodes": {}}
        for n in self.nodes:
            d: dict[str, Any] = {
                "skipped": self.skipped_reason(n),
                "error": self.node_error(n),
                "failures": self.failures(n),
            }
            if self.games is not None and (g := self.games.nodes.get(n)) is not None:
                d["games"] = {
                    "shards_merged": g.shards_merged,
                    "games_added": g.games_added,
                    "duplicates": g.duplicates,
                    "quarantined": g.quarantined,
                    "backlog": g.backlog,
                    "breaker": g.breaker,
                }
            if self.models is not None and (m := self.models.nodes.get(n)) is not None:
                if m.result is not None:
                    d["models"] = {
                        "uploaded": m.result.uploaded,
                        "current": m.result.current,
                        "pruned": m.result.pruned,
                        "errors": m.result.errors,
                    }
            if self.elo is not None and (e := self.elo.nodes.get(n)) is not None:
                if e.result is not None:
                    d["elo"] = {
                        "added": e.result.added,
                        "duplicates": e.result.duplicates,
                        "rejected_lines": len(e.result.rejected),
                        "files_rejected": e.result.files_rejected,
                    }
            out["nodes"][n] = d
        out["added_per_config"] = self.added_per_config
        return out


def sync_cluster(
    cfg: RingriftConfig,
    store: Store,
    mode: str,
    credentials: CredentialSource | None = None,
    *,
    nodes: Sequence[str] | None = None,
    inventory: Inventory | None = None,
    models_settings: ModelsSyncSettings | None = None,
) -> ClusterSyncReport:
    """Run the steps of ``mode`` over the inventory's nodes (or those named).

    ``credentials`` default to the environment / ssh-agent; ``inventory`` defaults to the
    config's ``sync.hosts_file``. Settings come from the loop config. Raises
    :class:`SyncModeError` for an unknown mode and ``KeyError`` for an unknown node.
    """
    steps = MODES.get(mode)
    if steps is None:
        raise SyncModeError(f"sync mode must be one of {', '.join(MODES)}; got {mode!r}")
    inv = inventory_from_config(cfg) if inventory is None else inventory
    creds = credentials if credentials is not None else credentials_from_env()
    chosen = list(nodes) if nodes is not None else inv.names()
    for n in chosen:
        inv.node(n)  # KeyError naming the known nodes
    report = ClusterSyncReport(mode, nodes=list(chosen))
    todo = list(chosen)
    for step in steps:
        if not todo:
            break
        if step == "games":
            report.games = sync_games(
                store, inv, GamesSyncSettings.from_config(cfg), creds, nodes=todo
            )
            todo = [n for n in todo if report.games.nodes[n].ok]
        elif step == "models":
            report.models = push_models(
                store,
                inv,
                list(cfg.configs),
                models_settings or ModelsSyncSettings.from_config(cfg),
                creds,
                nodes=todo,
            )
            todo = [n for n in todo if report.models.nodes[n].error is None]
            todo = [n for n in todo if not report.models.nodes[n].skipped]
        else:
            report.elo = pull_matches(
                store, inv, EloSyncSettings.from_config(cfg), creds, nodes=todo
            )
    return report
