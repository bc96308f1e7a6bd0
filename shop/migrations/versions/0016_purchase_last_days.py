"""purchase summaries: product_last_days, the buyers of each product by their last day

Popularity over a window read every customer_products row in it (seconds at a million
customers); it now sums these rows for the window's whole days.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.purchases import rebuild_purchases

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_last_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "sku", name=op.f("pk_product_last_days")),
    )
    rebuild_purchases(op.get_bind())  # an existing shop's history, once, every summary


def downgrade() -> None:
    op.drop_table("product_last_days")
