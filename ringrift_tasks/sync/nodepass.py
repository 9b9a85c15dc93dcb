"""One pass of some work over the worker nodes, each behind its circuit breaker.

The model push, the Elo merge and the health probe all do the same dance around their own
work: ask the node's breaker (kept in the sync manifest's node health) whether the node may
be tried now, open SSH + SFTP, do the work, and record the outcome (reachability, last
success or error, the breaker after it). One node failing never stops the others.
:func:`run_on_nodes` is that dance; the work is a function of the open connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from ringrift_tasks.sync import breaker as brk
from ringrift_tasks.sync.hosts import Inventory, Node
from ringrift_tasks.sync.transport import NodeConnection, SshCredentials, SshSettings, connect

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
CredentialSource = SshCredentials | Callable[[Node], SshCredentials]


@dataclass(frozen=True)
class NodeOutcome(Generic[T]):
    """What a pass did on one node: ``skipped`` (breaker open, ``reason`` says until when),
    ``error`` (the node failed; the work's partial result is lost), or ``result``."""

    node: str
    skipped: bool = False
    reason: str | None = None
    error: str | None = None
    result: T | None = None
    breaker: str = "closed"

    @property
    def ok(self) -> bool:
        return not self.skipped and self.error is None


def credentials_for(source: CredentialSource, node: Node) -> SshCredentials:
    """The credentials ``source`` gives for ``node`` (one set for all, or a function)."""
    return source(node) if callable(source) else source


def breaker_admits(
    store: Store, node: str, policy: brk.BreakerPolicy, now: float
) -> tuple[bool, str | None]:
    """Whether ``node``'s breaker lets a pass try it now; the reason when it does not.

    Read-only: the half-open transition is recorded by the pass that then runs.
    """
    h = store.manifest.health(node)
    b = brk.Breaker(h.breaker_state, h.consecutive_failures, h.breaker_opened_at)  # type: ignore[arg-type]
    admitted, b = brk.admit(b, policy, now)
    if admitted:
        return True, None
    wait = brk.retry_in(b, policy, now)
    last = f"; last error: {h.last_error}" if h.last_error else ""
    return False, (
        f"circuit breaker of node {node} is open after {h.consecutive_failures} failed "
        f"passes; next trial in {wait:.0f} s{last}"
    )


def record_outcome(
    store: Store,
    node: str,
    policy: brk.BreakerPolicy,
    now: float,
    *,
    error: str | None,
    reachable: bool,
) -> str:
    """Record one attempt on ``node`` in its health row (breaker included); returns the
    breaker state after it. Backlog and quarantine counts (the games pass's) are kept."""
    h = store.manifest.health(node)
    b = brk.Breaker(h.breaker_state, h.consecutive_failures, h.breaker_opened_at)  # type: ignore[arg-type]
    _, b = brk.admit(b, policy, now)
    b = brk.on_success() if error is None else brk.on_failure(b, policy, now)
    store.manifest.save_health(
        replace(
            h,
            reachable=reachable,
            last_attempt=now,
            last_success=now if error is None else h.last_success,
            last_error=error,
            consecutive_failures=b.consecutive_failures,
            breaker_state=b.state,
            breaker_opened_at=b.opened_at,
        )
    )
    return b.state


def run_on_nodes(
    store: Store,
    inventory: Inventory,
    work: Callable[[NodeConnection], T],
    *,
    credentials: CredentialSource,
    ssh: SshSettings,
    policy: brk.BreakerPolicy,
    nodes: list[str] | None = None,
    clock: Callable[[], float] = time.time,
    what: str = "pass",
) -> dict[str, NodeOutcome[T]]:
    """Run ``work(conn)`` on every node (or those named) its breaker admits.

    A node whose ``work`` raises (or that cannot be reached) gets an ``error`` outcome and a
    failure on its breaker; the others go on. ``what`` names the pass in log lines.
    """
    chosen = inventory.nodes if nodes is None else tuple(inventory.node(n) for n in nodes)
    out: dict[str, NodeOutcome[T]] = {}
    for node in chosen:
        now = clock()
        admitted, reason = breaker_admits(store, node.name, policy, now)
        if not admitted:
            log.info("%s: %s skipped: %s", node.name, what, reason)
            out[node.name] = NodeOutcome(node.name, skipped=True, reason=reason, breaker="open")
            continue
        reachable = False
        error: str | None = None
        result: T | None = None
        try:
            with connect(node, credentials_for(credentials, node), ssh) as conn:
                reachable = True
                result = work(conn)
        except Exception as exc:
            # Whatever broke on this node (refused host key, dropped link, a local disk
            # error) ends its part of the pass; the breaker counts it, the others go on.
            error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s failed: %s", node.name, what, error)
        state = record_outcome(store, node.name, policy, now, error=error, reachable=reachable)
        out[node.name] = NodeOutcome(
            node.name, error=error, result=None if error else result, breaker=state
        )
    return out
