"""loyalty ledger: a partial index of the entries that spend points

Expiry books whole lots set-based for customers who never spent a point; the few who did
need FIFO arithmetic, and this index finds them without reading the whole ledger.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPEND = "points < 0 AND kind != 'expire'"


def upgrade() -> None:
    op.create_index("ix_loyalty_ledger_spend", "loyalty_ledger", ["customer_id"],
                    sqlite_where=sa.text(SPEND), postgresql_where=sa.text(SPEND))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_loyalty_ledger_spend", table_name="loyalty_ledger")
