"""outbox queue indexes: partial, over the rows still to send and the rows being sent

The status index held every row ever planned, so finding the next due batch read and
sorted all queued rows each time (quadratic over a large run), and recording a sent
message rewrote two of its entries.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMABLE = "status IN ('queued', 'retry')"
SENDING = "status = 'sending'"


def upgrade() -> None:
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["due_at", "id"],
                    sqlite_where=sa.text(CLAIMABLE), postgresql_where=sa.text(CLAIMABLE))  # fmt: skip
    op.create_index("ix_outbox_sending", "outbox", ["claimed_at"],
                    sqlite_where=sa.text(SENDING), postgresql_where=sa.text(SENDING))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_outbox_sending", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_status", "outbox", ["status"])
