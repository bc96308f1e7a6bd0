"""loyalty moments: redemptions, order status and delivery, interactions, reward coupons,
survey answers and clicks

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERED = "delivered_at IS NOT NULL"


def upgrade() -> None:
    # ADD COLUMN with constant defaults: no rewrite of orders or the ledger on either database.
    op.add_column(
        "orders",
        sa.Column("status", sa.String(length=16), server_default=sa.text("'placed'"),
                  nullable=False),
    )  # fmt: skip
    op.add_column(
        "orders",
        sa.Column("points_redeemed", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("orders", sa.Column("delivered_at", UTCDateTime(), nullable=True))
    op.create_index("ix_orders_ordered_at", "orders", ["ordered_at", "customer_id"])
    op.create_index("ix_orders_delivered_at", "orders", ["delivered_at", "customer_id"],
                    sqlite_where=sa.text(DELIVERED), postgresql_where=sa.text(DELIVERED))  # fmt: skip
    op.create_index(op.f("ix_customers_created_at"), "customers", ["created_at"])
    # A unique index, not a constraint: SQLite adds one without rebuilding the ledger.
    op.add_column("loyalty_ledger", sa.Column("source", sa.String(length=80), nullable=True))
    op.create_index("uq_loyalty_ledger_source", "loyalty_ledger", ["source"], unique=True)
    op.add_column("coupons", sa.Column("points_cost", sa.Integer(), nullable=True))
    _interactions()
    _surveys()


def _interactions() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_interactions_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )  # fmt: skip
    op.create_index(op.f("ix_interactions_customer_id"), "interactions", ["customer_id"])


def _surveys() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("occasion", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_survey_responses_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("campaign", "customer_id", "occasion",
                            name="uq_survey_responses_moment"),
    )  # fmt: skip
    op.create_index(op.f("ix_survey_responses_customer_id"), "survey_responses", ["customer_id"])
    op.create_index("ix_survey_responses_answered", "survey_responses",
                    ["answered_at", "kind", "score"])  # fmt: skip
    op.create_table(
        "survey_clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("occasion", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("link", sa.String(length=8), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("seconds_after_send", sa.Integer(), nullable=True),
        sa.Column("suspect", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_survey_clicks_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_clicks")),
    )  # fmt: skip
    op.create_index("ix_survey_clicks_moment", "survey_clicks",
                    ["campaign", "customer_id", "occasion"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("survey_clicks")
    op.drop_table("survey_responses")
    op.drop_table("interactions")
    op.drop_column("coupons", "points_cost")
    op.drop_index("uq_loyalty_ledger_source", table_name="loyalty_ledger")
    op.drop_column("loyalty_ledger", "source")
    op.drop_index(op.f("ix_customers_created_at"), table_name="customers")
    op.drop_index("ix_orders_delivered_at", table_name="orders")
    op.drop_index("ix_orders_ordered_at", table_name="orders")
    op.drop_column("orders", "delivered_at")
    op.drop_column("orders", "points_redeemed")
    op.drop_column("orders", "status")
