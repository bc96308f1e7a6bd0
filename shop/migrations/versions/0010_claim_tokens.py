"""claim tokens: each claim names its owner, so a worker that lost a row cannot send or record it

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: ALTER TABLE ADD COLUMN on both databases, no
    # rewrite of an outbox that may hold millions of rows.
    op.add_column("outbox", sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # SQLite rebuilds the table
        batch.drop_column("claim_token")
