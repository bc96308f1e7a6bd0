"""channel pauses: a provider outage pauses the channel, probed until it answers again

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shop.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_pauses",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("paused_at", shop.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("last_probe", sa.String(length=500), nullable=True),
        sa.Column("next_probe_at", shop.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_pauses")),
    )


def downgrade() -> None:
    op.drop_table("channel_pauses")
