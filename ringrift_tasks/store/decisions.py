"""The decision log: every gate verdict (train or not, promote or not) and why.

Gates are pure functions elsewhere (training gate, promotion gate); this repository keeps
their verdicts so the CLI, the Airflow UI page and a person reading later can see the last
decision per config and its evidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ringrift_tasks.store.models import DecisionRow

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

_DECISIONS = DecisionRow.__table__


@dataclass(frozen=True, slots=True)
class Decision:
    """One gate verdict."""

    config: str
    gate: str
    passed: bool
    reason: str
    evidence: dict[str, Any] | None
    run_id: str | None
    at: float


class DecisionLog:
    """Append-only gate verdicts on a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        config: str,
        gate: str,
        passed: bool,
        reason: str,
        *,
        evidence: dict[str, Any] | None = None,
        run_id: str | None = None,
        at: float | None = None,
    ) -> Decision:
        """Append a verdict of ``gate`` (e.g. ``"training"``, ``"promotion"``) for ``config``."""
        d = Decision(
            config, gate, passed, reason, evidence, run_id, time.time() if at is None else at
        )
        with self.store.write() as conn:
            conn.execute(
                _DECISIONS.insert(),
                {
                    "config": d.config,
                    "gate": d.gate,
                    "passed": d.passed,
                    "reason": d.reason,
                    "evidence": d.evidence,
                    "run_id": d.run_id,
                    "at": d.at,
                },
            )
        return d

    def latest(self, config: str, gate: str | None = None) -> Decision | None:
        """The newest verdict for ``config`` (of ``gate`` if given), or None."""
        q = select(_DECISIONS).where(_DECISIONS.c.config == config)
        if gate is not None:
            q = q.where(_DECISIONS.c.gate == gate)
        q = q.order_by(_DECISIONS.c.at.desc(), _DECISIONS.c.id.desc()).limit(1)
        with self.store.read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        m = row._mapping
        return Decision(
            m["config"],
            m["gate"],
            bool(m["passed"]),
            m["reason"],
            m["evidence"],
            m["run_id"],
            m["at"],
        )

    def history(self, config: str, gate: str | None = None, limit: int = 50) -> list[Decision]:
        """Newest first."""
        return self.recent(config, gate, limit)

    def recent(
        self, config: str | None = None, gate: str | None = None, limit: int = 50
    ) -> list[Decision]:
        """Newest first, over every config unless ``config`` is given."""
        q = select(_DECISIONS)
        if config is not None:
            q = q.where(_DECISIONS.c.config == config)
        if gate is not None:
            q = q.where(_DECISIONS.c.gate == gate)
        q = q.order_by(_DECISIONS.c.at.desc(), _DECISIONS.c.id.desc()).limit(limit)
        with self.store.read() as conn:
            rows = conn.execute(q).all()
        return [
            Decision(r.config, r.gate, bool(r.passed), r.reason, r.evidence, r.run_id, r.at)
            for r in rows
        ]
