"""Initial schema: games, merged_shards, matches, models, best_models, promotions.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "games",
        sa.Column("game_id", sa.String(length=64), nullable=False),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("agents", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("winner", sa.Integer(), nullable=True),
        sa.Column("termination", sa.String(length=32), nullable=False),
        sa.Column("num_moves", sa.Integer(), nullable=False),
        sa.Column("moves_z", sa.LargeBinary(), nullable=False),
        sa.Column("targets_z", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("merged_at", sa.Double(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("game_id"),
    )
    op.create_index(
        "ix_games_config_created", "games", ["config", "created_at", "game_id"], unique=False
    )
    op.create_index("ix_games_config_merged", "games", ["config", "merged_at"], unique=False)

    op.create_table(
        "matches",
        sa.Column("match_id", sa.String(length=128), nullable=False),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("played_at", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("game_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("match_id"),
    )
    op.create_index(op.f("ix_matches_config"), "matches", ["config"], unique=False)

    op.create_table(
        "merged_shards",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("games_total", sa.Integer(), nullable=False),
        sa.Column("games_added", sa.Integer(), nullable=False),
        sa.Column("merged_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "models",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("data_window", sa.JSON(), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("promoted_at", sa.Double(), nullable=True),
        sa.Column("archived_at", sa.Double(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.CheckConstraint("status IN ('candidate', 'best', 'archived')", name="ck_models_status"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["models.model_id"],
        ),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_index("ix_models_config_status", "models", ["config", "status"], unique=False)
    op.create_index(
        "ux_models_one_best_per_config",
        "models",
        ["config"],
        unique=True,
        sqlite_where=sa.text("status = 'best'"),
        postgresql_where=sa.text("status = 'best'"),
    )

    op.create_table(
        "best_models",
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.model_id"],
        ),
        sa.PrimaryKeyConstraint("config"),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("previous_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.model_id"],
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["models.model_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_promotions_config_at", "promotions", ["config", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_promotions_config_at", table_name="promotions")

    op.drop_table("promotions")
    op.drop_table("best_models")
    op.drop_index(
        "ux_models_one_best_per_config",
        sqlite_where=sa.text("status = 'best'"),
        postgresql_where=sa.text("status = 'best'"),
        table_name="models",
    )
    op.drop_index("ix_models_config_status", table_name="models")

    op.drop_table("models")
    op.drop_table("merged_shards")
    op.drop_index(op.f("ix_matches_config"), table_name="matches")

    op.drop_table("matches")
    op.drop_index("ix_games_config_merged", table_name="games")
    op.drop_index("ix_games_config_created", table_name="games")

    op.drop_table("games")
