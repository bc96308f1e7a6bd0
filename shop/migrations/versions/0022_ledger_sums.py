"""ledger sums: the customer summaries hold whole-ledger sums (net, earned, the tier window)
with the entries they hold (highest id, latest instant), so milestone, reward_available and
tier_change read one summary row per customer moved since the previous run instead of
summing each one's whole ledger; the `at` index carries the points, dates and ids those
triggers add up, and survey clicks are counted by period on their own index

The new columns stay NULL until a customer's summary is next refreshed (import, events,
survey answers, the daily run's expiries): the triggers sum the ledger for such customers,
as before.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.types import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = (
    "points_net", "earned_orders", "earned_actions", "window_orders", "window_actions",
    "left_orders", "left_actions",
)  # fmt: skip
BOOKED_SINCE = ["at", "customer_id", "kind"]


def upgrade() -> None:
    for name in (*SUMS, "ledger_through"):  # plain ALTERs: no table copy on SQLite
        op.add_column("customer_stats", sa.Column(name, sa.BigInteger(), nullable=True))
    op.add_column("customer_stats", sa.Column("ledger_last_at", UTCDateTime(), nullable=True))
    op.drop_index("ix_loyalty_ledger_at", table_name="loyalty_ledger")
    op.create_index("ix_loyalty_ledger_at", "loyalty_ledger", [*BOOKED_SINCE, "points", "on_date", "id"])
    op.create_index("ix_survey_clicks_at", "survey_clicks", ["at", "suspect"])


def downgrade() -> None:
    op.drop_index("ix_survey_clicks_at", table_name="survey_clicks")
    op.drop_index("ix_loyalty_ledger_at", table_name="loyalty_ledger")
    op.create_index("ix_loyalty_ledger_at", "loyalty_ledger", BOOKED_SINCE)
    with op.batch_alter_table("customer_stats") as batch:
        for name in (*SUMS, "ledger_through", "ledger_last_at"):
            batch.drop_column(name)
