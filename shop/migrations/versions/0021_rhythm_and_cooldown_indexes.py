"""rhythm and cooldown indexes: at_risk reads each customer's rhythm (order count, first
order date) from the customer summaries' last-order index, and post_purchase_survey's
cooldown probes a customer's survey messages by date (without it, at 1M customers, every
candidate scanned every message of the cooldown's days)

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAST_ORDER = ["last_order_on", "customer_id"]


def upgrade() -> None:
    op.drop_index("ix_customer_stats_last_order_on", table_name="customer_stats")
    op.create_index("ix_customer_stats_last_order_on", "customer_stats",
                    [*LAST_ORDER, "order_count", "first_order_on"])  # fmt: skip
    op.create_index("ix_outbox_customer", "outbox", ["customer_id", "trigger", "run_date"])


def downgrade() -> None:
    op.drop_index("ix_outbox_customer", table_name="outbox")
    op.drop_index("ix_customer_stats_last_order_on", table_name="customer_stats")
    op.create_index("ix_customer_stats_last_order_on", "customer_stats", LAST_ORDER)
