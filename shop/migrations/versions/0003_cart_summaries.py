"""cart summaries: each cart's last change and item count

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shop.types
from shop.carts import refresh_carts

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carts",
        sa.Column("cart_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("last_change_at", shop.types.UTCDateTime(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_carts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("cart_id", name=op.f("pk_carts")),
    )
    op.create_index(
        "ix_carts_last_change", "carts", ["last_change_at", "item_count", "customer_id", "cart_id"]
    )
    refresh_carts(op.get_bind())  # summaries of the carts already imported


def downgrade() -> None:
    op.drop_index("ix_carts_last_change", table_name="carts")
    op.drop_table("carts")
