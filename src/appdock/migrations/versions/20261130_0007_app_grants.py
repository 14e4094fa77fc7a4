"""app grants: users' consent that an installed app may act for them (AP.request)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_app_grants_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_app_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_grants")),
        sa.UniqueConstraint(
            "installation_id", "user_id", name=op.f("uq_app_grants_installation_id_user_id")
        ),
    )
    with op.batch_alter_table("app_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_grants_installation_id"), ["installation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_app_grants_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("app_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_app_grants_installation_id"))
    op.drop_table("app_grants")
