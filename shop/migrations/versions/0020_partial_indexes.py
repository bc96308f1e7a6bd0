"""partial indexes: the few cancelled or refunded orders, which the report's attribution takes
off each moment's conversions without leaving the covering orders index; and each
customer's reward coupons, which their loyalty card lists

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANCELLED = "status != 'placed'"
REWARD = "points_cost IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_orders_cancelled", "orders", ["customer_id", "ordered_at"],
                    sqlite_where=sa.text(CANCELLED), postgresql_where=sa.text(CANCELLED))  # fmt: skip
    op.create_index("ix_coupons_rewards", "coupons", ["customer_id", "expires_on"],
                    sqlite_where=sa.text(REWARD), postgresql_where=sa.text(REWARD))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_coupons_rewards", table_name="coupons")
    op.drop_index("ix_orders_cancelled", table_name="orders")
