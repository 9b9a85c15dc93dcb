"""The model registry: model versions by content hash, and one best model per config.

A model is registered as a ``candidate``. ``promote`` makes a candidate the config's best
in ONE transaction that first locks the config's row of ``best_models`` (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` write lock), then checks the cooldown
and the daily cap against the ``promotions`` history, archives the old best with the
evidence and moves the pointer. Two promotions racing for one config are serialised by
that lock, so the second sees the first's result (and its cooldown). One best per config
is guaranteed twice: ``best_models`` is keyed by config, and a partial unique index allows
one ``status = 'best'`` model per config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ringrift_tasks.rules.state import GameConfig
from ringrift_tasks.store.models import BestModelRow, ModelRow, PromotionRow

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

_MODELS = ModelRow.__table__
_BEST = BestModelRow.__table__
_PROMOTIONS = PromotionRow.__table__
DAY_S = 86_400.0

__all__ = ["ModelRegistry", "ModelVersion", "PromotionOutcome", "RegistryError"]


class RegistryError(ValueError):
    """A registry request that names an unknown model, the wrong config, or has no target."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered model (a row of ``models``)."""

    model_id: str
    config: str
    parent_id: str | None
    created_at: float
    data_window: dict[str, Any]
    code_version: str
    metrics: dict[str, Any]
    status: str
    path: str
    bytes: int
    promoted_at: float | None
    archived_at: float | None
    evidence: dict[str, Any] | None

    @staticmethod
    def _from_row(row: Any) -> ModelVersion:
        return ModelVersion(**{k: getattr(row, k) for k in ModelVersion.__slots__})


@dataclass(frozen=True, slots=True)
class PromotionOutcome:
    """What ``promote`` did. ``promoted`` False comes with the reason (cooldown, cap...)."""

    promoted: bool
    reason: str
    config: str
    candidate_id: str
    previous_best: str | None


class ModelRegistry:
    """Repository of model versions on a ``Store``; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- registering and reading ------------------------------------------------------------
    def register(
        self,
        model_id: str,
        config: str,
        *,
        path: str,
        bytes: int,
        parent_id: str | None = None,
        data_window: dict[str, Any] | None = None,
        code_version: str = "",
        metrics: dict[str, Any] | None = None,
        created_at: float | None = None,
    ) -> ModelVersion:
        """Register a candidate; idempotent on ``model_id`` (the file's sha256).

        Returns the stored version (the existing one if the id was already registered).
        ``RegistryError`` for a bad id, an unknown parent, or an id known under another config.
        """
        if len(model_id) != 64 or any(c not in "0123456789abcdef" for c in model_id):
            raise RegistryError(f"model_id {model_id!r}: expected a lowercase hex sha256")
        GameConfig.parse(config)
        row = {
            "model_id": model_id,
            "config": config,
            "parent_id": parent_id,
            "created_at": time.time() if created_at is None else created_at,
            "data_window": data_window or {},
            "code_version": code_version,
            "metrics": metrics or {},
            "status": "candidate",
            "path": path,
            "bytes": bytes,
        }
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        with self.store.write() as conn:
            if parent_id is not None and self._get(conn, parent_id) is None:
                raise RegistryError(f"parent_id {parent_id!r}: no such model")
            conn.execute(
                dialect.insert(_MODELS).on_conflict_do_nothing(index_elements=["model_id"]), row
            )
            stored = self._get(conn, model_id)
        assert stored is not None
        if stored.config != config:
            raise RegistryError(
                f"model {model_id[:12]}: already registered for {stored.config}, not {config}"
            )
        return stored

    @staticmethod
    def _get(conn: Connection, model_id: str) -> ModelVersion | None:
        row = conn.execute(select(_MODELS).where(_MODELS.c.model_id == model_id)).first()
        return None if row is None else ModelVersion._from_row(row)

    def get(self, model_id: str) -> ModelVersion | None:
        """The model with this id, or None."""
        with self.store.read() as conn:
            return self._get(conn, model_id)

    def best(self, config: str) -> ModelVersion | None:
        """The config's best model, or None before the first promotion."""
        q = select(_MODELS).join(_BEST, _BEST.c.model_id == _MODELS.c.model_id)
        with self.store.read() as conn:
            row = conn.execute(q.where(_BEST.c.config == config)).first()
        return None if row is None else ModelVersion._from_row(row)

    def candidates(self, config: str) -> list[ModelVersion]:
        """Candidates of ``config``, newest first."""
        q = (
            select(_MODELS)
            .where(_MODELS.c.config == config, _MODELS.c.status == "candidate")
            .order_by(_MODELS.c.created_at.desc(), _MODELS.c.model_id)
        )
        with self.store.read() as conn:
            return [ModelVersion._from_row(r) for r in conn.execute(q)]

    def history(self, config: str) -> list[dict[str, Any]]:
        """Best-pointer changes of ``config``, oldest first."""
        q = select(_PROMOTIONS).where(_PROMOTIONS.c.config == config).order_by(_PROMOTIONS.c.id)
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # --- changing the best pointer ----------------------------------------------------------
    def _lock_best(self, conn: Connection, config: str, now: float) -> str | None:
        """Make sure the config's pointer row exists and lock it; returns the best id."""
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        conn.execute(
            dialect.insert(_BEST).on_conflict_do_nothing(index_elements=["config"]),
            {"config": config, "model_id": None, "updated_at": now},
        )
        q = select(_BEST.c.model_id).where(_BEST.c.config == config)
        if self.store.dialect == "postgresql":
            q = q.with_for_update()
        return conn.execute(q).scalar_one()

    def _move_best(
        self,
        conn: Connection,
        config: str,
        new_id: str,
        old_id: str | None,
        *,
        kind: str,
        evidence: dict[str, Any] | None,
        now: float,
    ) -> None:
        # Archive first: the partial unique index admits one 'best' per config at any time.
        if old_id is not None:
            conn.execute(
                update(_MODELS)
                .where(_MODELS.c.model_id == old_id)
                .values(status="archived", archived_at=now, evidence=evidence)
            )
        conn.execute(
            update(_MODELS)
            .where(_MODELS.c.model_id == new_id)
            .values(status="best", promoted_at=now, archived_at=None)
        )
        conn.execute(
            update(_BEST).where(_BEST.c.config == config).values(model_id=new_id, updated_at=now)
        )
        conn.execute(
            _PROMOTIONS.insert(),
            {
                "config": config,
                "kind": kind,
                "model_id": new_id,
                "previous_id": old_id,
                "at": now,
                "evidence": evidence,
            },
        )

    def promote(
        self,
        config: str,
        candidate_id: str,
        evidence: dict[str, Any],
        *,
        cooldown_s: float,
        max_per_day: int,
        now: float | None = None,
        expected_best: str | None | object = ...,
    ) -> PromotionOutcome:
        """Make ``candidate_id`` the best of ``config`` if the cooldown and daily cap allow.

        ``expected_best``: the best the gate played against (``None`` for "no best yet");
        when given, the promotion is refused if the best changed meanwhile, checked under
        the same lock, so two gates racing with different evidence cannot both win.

        ``cooldown_s``: minimum seconds since the config's last promotion. ``max_per_day``:
        most promotions of the config in the 24 h before ``now`` (Unix seconds, default the
        clock). ``evidence`` (the gate's statistics) is stored on the promotion and on the
        archived model. Refusals return ``promoted=False`` with the reason; an unknown model,
        another config's model or a non-candidate raise ``RegistryError``.
        """
        now = time.time() if now is None else now
        with self.store.write() as conn:
            previous = self._lock_best(conn, config, now)
            cand = self._get(conn, candidate_id)
            if cand is None:
                raise RegistryError(f"candidate {candidate_id!r}: no such model")
            if cand.config != config:
                raise RegistryError(
                    f"candidate {candidate_id[:12]} belongs to {cand.config}, not {config}"
                )

            def refuse(reason: str) -> PromotionOutcome:
                return PromotionOutcome(False, reason, config, candidate_id, previous)

            if previous == candidate_id:
                return refuse("already best")
            if expected_best is not ... and previous != expected_best:
                was = "none" if expected_best is None else str(expected_best)[:12]
                now_best = "none" if previous is None else previous[:12]
                return refuse(f"best changed during the gate (played {was}, now {now_best})")
            if cand.status != "candidate":
                return refuse(f"model is {cand.status}, not a candidate")
            promos = select(_PROMOTIONS.c.at).where(
                _PROMOTIONS.c.config == config, _PROMOTIONS.c.kind == "promote"
            )
            last = conn.execute(select(func.max(promos.subquery().c.at))).scalar_one_or_none()
            if last is not None and now - last < cooldown_s:
                return refuse(
                    f"cooldown: last promotion {now - last:.0f} s ago (< {cooldown_s:.0f} s)"
                )
            recent = conn.execute(
                select(func.count()).select_from(
                    promos.where(_PROMOTIONS.c.at > now - DAY_S).subquery()
                )
            ).scalar_one()
            if recent >= max_per_day:
                return refuse(
                    f"daily cap: {recent} promotions in the last 24 h (max {max_per_day})"
                )
            self._move_best(
                conn, config, candidate_id, previous, kind="promote", evidence=evidence, now=now
            )
        return PromotionOutcome(True, "promoted", config, candidate_id, previous)

    def rollback(self, config: str, reason: str, *, now: float | None = None) -> ModelVersion:
        """Restore the best that the current best replaced; returns the restored model.

        The current best is archived with ``{"rollback": reason}`` as its evidence.
        ``RegistryError`` if there is no best or nothing before it.
        """
        now = time.time() if now is None else now
        with self.store.write() as conn:
            current = self._lock_best(conn, config, now)
            if current is None:
                raise RegistryError(f"{config}: no best model to roll back")
            previous = conn.execute(
                select(_PROMOTIONS.c.previous_id)
                .where(
                    _PROMOTIONS.c.config == config,
                    _PROMOTIONS.c.kind == "promote",
                    _PROMOTIONS.c.model_id == current,
                )
                .order_by(_PROMOTIONS.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if previous is None:
                raise RegistryError(f"{config}: best {current[:12]} has no previous best")
            self._move_best(
                conn,
                config,
                previous,
                current,
                kind="rollback",
                evidence={"rollback": reason},
                now=now,
            )
            restored = self._get(conn, previous)
        assert restored is not None
        return restored
