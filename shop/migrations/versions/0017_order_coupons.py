"""order coupons: the code and discount an order carried, and the order that redeemed a coupon

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no rewrite of the orders on either database
    # (PostgreSQL 11+ keeps the default in the catalog; SQLite in the schema).
    op.add_column("orders", sa.Column("coupon_code", sa.String(length=32), nullable=True))
    op.add_column(
        "orders",
        sa.Column("discount_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    # A foreign key needs a table rebuild on SQLite; the coupons are few next to the orders.
    with op.batch_alter_table("coupons") as batch:
        batch.add_column(sa.Column("redeemed_order_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_coupons_redeemed_order_id_orders"), "orders", ["redeemed_order_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.drop_constraint(op.f("fk_coupons_redeemed_order_id_orders"), type_="foreignkey")
        batch.drop_column("redeemed_order_id")
    # Not a batch: SQLite (3.35+) drops a plain column in place, where rebuilding orders
    # would fail on the order lines' foreign key to it.
    op.drop_column("orders", "discount_cents")
    op.drop_column("orders", "coupon_code")
