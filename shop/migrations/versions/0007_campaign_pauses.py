"""campaign pauses: delivery stops itself after repeated provider failures

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shop.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_pauses",
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("paused_at", shop.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("campaign", name=op.f("pk_campaign_pauses")),
    )


def downgrade() -> None:
    op.drop_table("campaign_pauses")
