"""Avatar preparation state: status, error, attempts, claim and heartbeat (video avatars are
prepared by the worker after they are created). Existing avatars are ready.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("avatars", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), server_default="ready", nullable=False))
        batch_op.add_column(sa.Column("error_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("claim_token", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_avatars_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("avatars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_avatars_status"))
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("claim_token")
        batch_op.drop_column("attempts")
        batch_op.drop_column("error_message")
        batch_op.drop_column("status")
