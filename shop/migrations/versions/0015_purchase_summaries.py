"""purchase summaries: customer_products and product_pairs, built from the order lines

The recommender read every order line of the shop on each daily run; it now reads the
co-purchase counts and the planned customers' rows, kept current at ingest.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shop.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_products",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("first_at", shop.types.UTCDateTime(), nullable=False),
        sa.Column("last_at", shop.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_products_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "sku", name=op.f("pk_customer_products")),
    )  # fmt: skip
    op.create_index("ix_customer_products_last", "customer_products", ["last_at", "sku", "customer_id"])
    op.create_table(
        "product_pairs",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("other", sa.String(64), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "other", name=op.f("pk_product_pairs")),
    )  # filled by 0016 with the table it adds: the summaries are built together


def downgrade() -> None:
    op.drop_table("product_pairs")
    op.drop_index("ix_customer_products_last", table_name="customer_products")
    op.drop_table("customer_products")
