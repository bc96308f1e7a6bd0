"""loyalty ledger: the (customer, date) index also carries kind, instant and points

The tier trigger sums each moved customer's earn entries over a year; with the values in
the index that is an index-only scan (tier_change 0.76 → 0.55 s at 1M customers).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME, TABLE = "ix_loyalty_ledger_customer_on", "loyalty_ledger"


def upgrade() -> None:
    op.drop_index(NAME, table_name=TABLE)
    op.create_index(NAME, TABLE, ["customer_id", "on_date", "kind", "at", "points"])


def downgrade() -> None:
    op.drop_index(NAME, table_name=TABLE)
    op.create_index(NAME, TABLE, ["customer_id", "on_date"])
