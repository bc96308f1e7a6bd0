"""delivery states of outbox rows: claimed, sent, the provider's detail

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shop.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_at", shop.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sent_at", shop.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("detail", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("detail")
        batch.drop_column("sent_at")
        batch.drop_column("claimed_at")
