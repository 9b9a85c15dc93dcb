"""The stores' tables as typed SQLAlchemy 2.x ORM classes.

The schema itself is created by the Alembic migrations in ``migrations/versions``; these
classes describe it for queries, and a test checks that the two agree. Times are Unix
seconds (floats) like every other timestamp in the project (``GameRecord.created_at``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MODEL_STATUSES = ("candidate", "best", "archived")


class Base(DeclarativeBase):
    """Declarative base of every store table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class GameRow(Base):
    """One game in the pool, stored in the compact form of a shard row."""

    __tablename__ = "games"

    game_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(255))
    agents: Mapped[list[Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    winner: Mapped[int | None] = mapped_column(Integer)
    termination: Mapped[str] = mapped_column(String(32))
    num_moves: Mapped[int] = mapped_column(Integer)
    moves_z: Mapped[bytes] = mapped_column(LargeBinary)
    targets_z: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Double)
    merged_at: Mapped[float] = mapped_column(Double)
    checksum: Mapped[str] = mapped_column(String(64))
    # sha256 of the shard the game came in (None for JSONL imports).
    shard: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_games_config_created", "config", "created_at", "game_id"),
        Index("ix_games_config_merged", "config", "merged_at"),
    )


class MergedShardRow(Base):
    """A shard whose games are in the pool (written in the merge's own transaction)."""

    __tablename__ = "merged_shards"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    games_total: Mapped[int] = mapped_column(Integer)
    games_added: Mapped[int] = mapped_column(Integer)
    merged_at: Mapped[float] = mapped_column(Double)


class MatchRow(Base):
    """One finished match in the append-only Elo log.

    ``participants``: ``[{"agent": id, "seat": n}, ...]`` in seat order. ``ranking``: tiers
    best first, each tier a sorted list of agent ids that tied, e.g. ``[["a"], ["b", "c"]]``.
    """

    __tablename__ = "matches"

    match_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    config: Mapped[str] = mapped_column(String(32), index=True)
    participants: Mapped[list[Any]] = mapped_column(JSON)
    ranking: Mapped[list[Any]] = mapped_column(JSON)
    played_at: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(255))
    game_id: Mapped[str | None] = mapped_column(String(64))


class ModelRow(Base):
    """A trained model version, identified by the sha256 of its file."""

    __tablename__ = "models"

    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("models.model_id"))
    created_at: Mapped[float] = mapped_column(Double)
    data_window: Mapped[dict[str, Any]] = mapped_column(JSON)
    code_version: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    promoted_at: Mapped[float | None] = mapped_column(Double)
    archived_at: Mapped[float | None] = mapped_column(Double)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint("status IN ('candidate', 'best', 'archived')", name="ck_models_status"),
        Index("ix_models_config_status", "config", "status"),
        # The second guarantee of one best per config (the first is best_models' key).
        Index(
            "ux_models_one_best_per_config",
            "config",
            unique=True,
            sqlite_where=text("status = 'best'"),
            postgresql_where=text("status = 'best'"),
        ),
    )


class BestModelRow(Base):
    """The best pointer of one config: the row promotions lock and change."""

    __tablename__ = "best_models"

    config: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str | None] = mapped_column(ForeignKey("models.model_id"))
    updated_at: Mapped[float] = mapped_column(Double)


class PromotionRow(Base):
    """Append-only history of best-pointer changes (cooldown, daily cap and rollback)."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    config: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # promote | rollback
    model_id: Mapped[str] = mapped_column(ForeignKey("models.model_id"))
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("models.model_id"))
    at: Mapped[float] = mapped_column(Double)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_promotions_config_at", "config", "at"),)


class DecisionRow(Base):
    """Append-only log of gate verdicts (training gate, promotion gate) with their reasons."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    config: Mapped[str] = mapped_column(String(32))
    gate: Mapped[str] = mapped_column(String(32))
    passed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index("ix_decisions_config_gate_at", "config", "gate", "at"),)


SYNC_STATES = (
    "discovered",
    "downloading",
    "downloaded",
    "verified",
    "merged",
    "acked",
    "quarantined",
)


class SyncShardRow(Base):
    """One shard offered by one node: the sync manifest (write-ahead log) entry.

    ``state`` moves discovered -> downloading -> downloaded -> verified -> merged -> acked,
    or to quarantined with ``error``; each change is committed before the step it announces.
    """

    __tablename__ = "sync_manifest"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    games: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    games_added: Mapped[int | None] = mapped_column(Integer)
    discovered_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        CheckConstraint(
            "state IN ('discovered', 'downloading', 'downloaded', 'verified', 'merged', "
            "'acked', 'quarantined')",
            name="ck_sync_manifest_state",
        ),
        Index("ix_sync_manifest_state", "state"),
        Index("ix_sync_manifest_sha256", "sha256"),
    )


class SyncNodeRow(Base):
    """Sync health of one node: last attempt/success, circuit breaker, backlog, quarantine,
    and the last remote probe."""

    __tablename__ = "sync_nodes"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    last_attempt: Mapped[float | None] = mapped_column(Double)
    last_success: Mapped[float | None] = mapped_column(Double)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    breaker_state: Mapped[str] = mapped_column(String(16))
    breaker_opened_at: Mapped[float | None] = mapped_column(Double)
    backlog: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    # The last successful remote probe (remote_health.py): when, sealed shards waiting in
    # the node's incoming, and its figures (RemoteHealth.to_json()).
    probed_at: Mapped[float | None] = mapped_column(Double)
    remote_backlog: Mapped[int | None] = mapped_column(Integer)
    remote_health: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint(
            "breaker_state IN ('closed', 'open', 'half_open')", name="ck_sync_nodes_breaker"
        ),
    )
