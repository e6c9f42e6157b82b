"""Captions: account caption templates; jobs gain a kind (render/caption), the captioned source
video, the caption template and a share-link token; a captioning job has no avatar.

Revision ID: 0003_captions
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_captions"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "caption_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("style", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_caption_templates_account_id"), "caption_templates", ["account_id"], unique=False
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="render", nullable=False))
        batch_op.add_column(sa.Column("source_video_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("caption_template_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("share_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_jobs_share_token", ["share_token"])
        batch_op.alter_column("avatar_id", existing_type=sa.String(length=80), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("avatar_id", existing_type=sa.String(length=80), nullable=False)
        batch_op.drop_constraint("uq_jobs_share_token", type_="unique")
        batch_op.drop_column("share_token")
        batch_op.drop_column("caption_template_id")
        batch_op.drop_column("source_video_id")
        batch_op.drop_column("kind")
    op.drop_index(op.f("ix_caption_templates_account_id"), table_name="caption_templates")
    op.drop_table("caption_templates")
