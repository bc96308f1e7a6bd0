"""SQLAlchemy models of the shop and of Leal's own ledgers.

Money is integer cents; instants are UTC (`UTCDateTime`); calendar dates that rules
compare (order dates, ledger dates, birthdays) are shop-local `Date`s computed once,
at write time, so that triggers compare plain indexed values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shop.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
PLACED = "placed"  # an order's status unless the shop cancelled or refunded it
CANCELLED_SQL = "status != 'placed'"  # written out: a partial index's predicate
REWARD_SQL = "points_cost IS NOT NULL"  # reward coupons


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _email_key(context: Any) -> str | None:
    from shop.address_keys import insert_default  # imports the models

    return insert_default(context, "email")


def _phone_key(context: Any) -> str | None:
    from shop.address_keys import insert_default

    return insert_default(context, "sms")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    # month * 100 + day, so the birthday rule is one indexed equality.
    birth_mmdd: Mapped[int | None] = mapped_column(SmallInteger, index=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    email_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # When they joined the shop (or its program): the welcome series counts from it.
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Keyed hashes of the canonical address and phone (shop.address_keys), so suppressions
    # join hash to hash. Filled by the importer; an INSERT that leaves them out gets them.
    email_key: Mapped[str | None] = mapped_column(String(64), index=True, default=_email_key)
    phone_key: Mapped[str | None] = mapped_column(String(64), index=True, default=_phone_key)
    # Set by `leal customer erase`: the personal data is gone and imports leave the row alone.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    price_cents: Mapped[int] = mapped_column(BigInteger)
    image_url: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(500))
    in_stock: Mapped[bool] = mapped_column(Boolean, default=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (  # covering: the report reads each customer's dates and totals
        Index("ix_orders_customer_at", "customer_id", "ordered_at", "local_date", "total_cents"),
        # post_purchase_survey: the orders of a window of days (appended in time order)
        Index("ix_orders_ordered_at", "ordered_at", "customer_id"),
        # cancelled and refunded orders, few: what the report takes off its conversions
        Index("ix_orders_cancelled", "customer_id", "ordered_at",
              sqlite_where=text(CANCELLED_SQL), postgresql_where=text(CANCELLED_SQL)),
        # the same by delivery, for shops that send it (partial: no row for the others)
        Index("ix_orders_delivered_at", "delivered_at", "customer_id",
              sqlite_where=text("delivered_at IS NOT NULL"),
              postgresql_where=text("delivered_at IS NOT NULL")),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)  # in the shop's time zone
    total_cents: Mapped[int] = mapped_column(BigInteger)  # what the customer paid
    # The code the order used, normalized (trimmed, upper-case): one of Leal's coupons
    # (shop.redemptions) or the shop's own.
    coupon_code: Mapped[str | None] = mapped_column(String(32))
    # Taken off the order, outside total_cents. Not null: an order without one had none,
    # and sums need no COALESCE. The database's default (no Python one), so an INSERT that
    # leaves the column out, as the import of a file without it does, binds nothing for it.
    discount_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # placed | cancelled | refunded. A cancelled or refunded order's earned points are taken
    # back (a `reverse` ledger entry); it never gets a survey and is no conversion.
    status: Mapped[str] = mapped_column(String(16), server_default=text("'placed'"))
    # Points the customer spent on it: a `redeem` ledger entry, oldest lots first.
    points_redeemed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When the shop delivered it, if it says: post-purchase surveys count from it.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)


class CartEvent(Base):
    """One change of one cart line: `quantity` is the line's new quantity (0 removes it)."""

    __tablename__ = "cart_events"
    __table_args__ = (
        UniqueConstraint("cart_id", "sku", "at", name="uq_cart_events_line_at"),
        Index("ix_cart_events_at", "at", "cart_id"),  # covers the idle-window scan
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    cart_id: Mapped[str] = mapped_column(ID)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Cart(Base):
    """Each cart's state after its latest event: kept current by whoever writes cart
    events (`shop.carts.refresh_carts`), so abandoned_cart reads a range of this table
    instead of replaying a day of events."""

    __tablename__ = "carts"
    __table_args__ = (  # covers abandoned_cart's idle-window range
        Index("ix_carts_last_change", "last_change_at", "item_count", "customer_id", "cart_id"),
    )

    cart_id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    last_change_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item_count: Mapped[int] = mapped_column(Integer)  # units over lines still in the cart


SPEND_SQL = "points < 0 AND kind != 'expire'"  # redeem, reward, reverse, negative adjust

# Ledger entry kinds. Lots (what expires, oldest spent first) are the positive entries.
EARN = "earn"  # an order's points (+), one per order (order_id)
BONUS = "bonus"  # points for an interaction (+): a review, a referral, a survey answered
REDEEM = "redeem"  # points an order spent (-), `points_redeemed`
REWARD = "reward"  # a reward coupon redeemed by an order (-), its `points_cost`
REVERSE = "reverse"  # a cancelled or refunded order's points taken back (-)
# What a cancelled or refunded order spent (its redeem and reward entries) given back (+):
# a lot of the day Leal learned it, expiring like any lot (shop.import_loyalty). Not
# points earned: never in `loyalty.tier_kinds`.
REFUND = "refund"
EXPIRE = "expire"  # what was left of a lot on its expiry date (-), one per lot (lot_id)
ADJUST = "adjust"  # a correction by hand (±)
LOT_KINDS = (EARN, BONUS, REFUND)


class LedgerEntry(Base):
    """The loyalty ledger: one entry per movement of points (the kinds above)."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        # covers the tier window sums: a customer's earn entries by date, with their points
        Index("ix_loyalty_ledger_customer_on", "customer_id", "on_date", "kind", "at", "points"),
        # covers "booked since" and what those entries add (triggers.ledger_sums)
        Index("ix_loyalty_ledger_at", "at", "customer_id", "kind", "points", "on_date", "id"),
        Index("uq_loyalty_ledger_source", "source", unique=True),  # an index: no rebuild
        # Partial: the few customers who spent points, whose lots need FIFO arithmetic to
        # expire; everyone else's lots expire whole, set-based (shop.expiry).
        Index("ix_loyalty_ledger_spend", "customer_id", sqlite_where=text(SPEND_SQL),
              postgresql_where=text(SPEND_SQL)),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer)
    on_date: Mapped[date] = mapped_column(Date)  # shop-local
    # When it happened: an order's `ordered_at` for its earn entry. Tier changes are
    # detected by instant, so an order placed after a daily run counts in the next one.
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_on: Mapped[date | None] = mapped_column(Date)  # lots only (LOT_KINDS)
    order_id: Mapped[str | None] = mapped_column(ID, unique=True)  # one earn entry per order
    # The earn entry an expire entry closes: at most one expiry per lot.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_ledger.id"), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    # What booked it, unique so a re-import or a re-run books it once: `redeem:<order>`,
    # `reward:<order>`, `reverse:<order>`, `interaction:<id>`, and a refund `refund:` + the
    # source of the spend it gives back. Earn entries use order_id.
    source: Mapped[str | None] = mapped_column(String(80))


class CustomerStats(Base):
    """Per-customer summary kept current at import and on events, so runs never rescan orders.

    `points_window` and `tier` are as of `computed_on` (a shop-local date).
    """

    __tablename__ = "customer_stats"
    __table_args__ = (  # covers win_back's range on the last order date
        # also at_risk's columns: the rhythm of each customer in the range, no table row
        Index(
            "ix_customer_stats_last_order_on",
            "last_order_on",
            "customer_id",
            "order_count",
            "first_order_on",
        ),
    )

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    first_order_on: Mapped[date | None] = mapped_column(Date)
    last_order_on: Mapped[date | None] = mapped_column(Date)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    points_window: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str | None] = mapped_column(String(32))
    computed_on: Mapped[date | None] = mapped_column(Date)
    # Whole-ledger sums for the loyalty triggers, whatever the program's settings (migration
    # 0022): every entry (the balance once all are booked), the earned kinds split so that
    # `actions_count_toward_tiers` can change, and the tier window as of `computed_on` split
    # alike. NULL until the next refresh of the customer.
    points_net: Mapped[int | None] = mapped_column(BigInteger)
    earned_orders: Mapped[int | None] = mapped_column(BigInteger)  # earn + reverse
    earned_actions: Mapped[int | None] = mapped_column(BigInteger)  # bonus
    window_orders: Mapped[int | None] = mapped_column(BigInteger)
    window_actions: Mapped[int | None] = mapped_column(BigInteger)
    # Those dated on the day that left the window on `computed_on` (in the day before's).
    left_orders: Mapped[int | None] = mapped_column(BigInteger)
    left_actions: Mapped[int | None] = mapped_column(BigInteger)
    # Which entries the sums hold: ids up to `ledger_through`, booked up to `ledger_last_at`.
    # A trigger uses the sums only if the entries it reads since the previous run are held.
    ledger_through: Mapped[int | None] = mapped_column(BigInteger)
    ledger_last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """An address that must not be contacted on a channel (hard bounce, STOP, unsubscribe,
    erasure), stored as the keyed hash of its canonical form, never in plain."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("channel", "address_key", name="uq_suppressions_channel_address_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PrivacyKey(Base):
    """The installation's secret for address hashes, made once by migration 0012 and never
    rotated: a new key would orphan every suppression (shop.address_keys)."""

    __tablename__ = "privacy_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))  # hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Written out, not bound: a partial index serves a query whose WHERE visibly implies the
# index's, and a bound parameter hides that from SQLite (and from PostgreSQL generic plans).
CLAIMABLE_SQL = "status IN ('queued', 'retry')"
SENDING_SQL = "status = 'sending'"


class OutboxMessage(Base):
    """The outbox ledger: one row per message Leal decided to send. It is the truth.

    The unique key makes a re-run, a redelivered task or a crashed worker a no-op for
    what is already there.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint(
            "campaign", "customer_id", "channel", "occasion", name="uq_outbox_message_key"
        ),
        Index("ix_outbox_day_customer", "run_date", "customer_id"),
        # a customer's messages of one trigger by date: post_purchase_survey's cooldown
        Index("ix_outbox_customer", "customer_id", "trigger", "run_date"),
        # Partial: the queue is the few rows still to send, never the millions already sent,
        # and recording a sent message touches no queue index at all.
        Index("ix_outbox_due", "due_at", "id", sqlite_where=text(CLAIMABLE_SQL),
              postgresql_where=text(CLAIMABLE_SQL)),
        Index("ix_outbox_sending", "claimed_at", sqlite_where=text(SENDING_SQL),
              postgresql_where=text(SENDING_SQL)),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    campaign: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    occasion: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_date: Mapped[date] = mapped_column(Date)  # shop-local date the plan was made for
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Delivery: queued -> sending -> sent | retry | failed | skipped (workers.ledger).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who holds a `sending` row: random per claim, checked before the send and by every
    # outcome write, so a worker whose row was given back can neither send nor record it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(String(500))  # the provider's words, no PII
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. Twilio's SM…
    # The provider's latest word on it (Twilio's MessageStatus), applied in order by
    # workers.provider_status so a late callback never undoes a later state.
    provider_status: Mapped[str | None] = mapped_column(String(16))


class Coupon(Base):
    """A unique offer code for one moment of one campaign (both channels carry it)."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("campaign", "customer_id", "occasion", name="uq_coupons_moment"),
        # a customer's reward coupons, for their loyalty card (partial: rewards are few)
        Index("ix_coupons_rewards", "customer_id", "expires_on",
              sqlite_where=text(REWARD_SQL), postgresql_where=text(REWARD_SQL)),
    )  # fmt: skip

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    occasion: Mapped[str] = mapped_column(String(200))
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off_cents: Mapped[int | None] = mapped_column(BigInteger)
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[date] = mapped_column(Date)  # shop-local, last valid day
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once, by the first order of the same customer that carried the code
    # (shop.redemptions): its ordered_at, even past expires_on, and its id.
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    # A reward coupon (reward_available) costs points: redeeming it books a `reward` entry.
    points_cost: Mapped[int | None] = mapped_column(Integer)


class CampaignPause(Base):
    """A campaign whose delivery stopped itself after repeated provider failures; its
    messages wait in the ledger until an operator resumes it (`leal resume`)."""

    __tablename__ = "campaign_pauses"

    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))


class ChannelPause(Base):
    """A delivery channel (`email`, `sms`) whose provider is unreachable: the shop's relay
    or account, not any campaign. Its rows wait in the ledger; each delivery pass probes it
    once `next_probe_at` has come (with backoff) and deletes the pause when it answers."""

    __tablename__ = "channel_pauses"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))  # the failure that paused it
    probes: Mapped[int] = mapped_column(Integer, default=0)  # failed probes since
    last_probe: Mapped[str | None] = mapped_column(String(500))  # what the last one met
    next_probe_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Run(Base):
    """One evaluation of the campaigns for a run instant."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_date: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerProduct(Base):
    """Each product a customer ever bought, with when: what the recommender needs of the
    purchase history, kept current at ingest (shop.purchases) so a daily run reads the
    planned customers' rows instead of every order line of the shop."""

    __tablename__ = "customer_products"
    __table_args__ = (
        # popularity: distinct buyers per product whose last purchase is in a window
        Index("ix_customer_products_last", "last_at", "sku", "customer_id"),
    )

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ID, primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProductPair(Base):
    """How many customers bought both `sku` and `other` (both orders of a pair stored; the
    diagonal is each product's buyers): the co-purchase counts the item-to-item cosine is
    computed from, moved at ingest by what each customer's new purchases add."""

    __tablename__ = "product_pairs"

    sku: Mapped[str] = mapped_column(ID, primary_key=True)
    other: Mapped[str] = mapped_column(ID, primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger)


class ProductLastDay(Base):
    """How many customers last bought `sku` on `day` (UTC): the buyers of a product in a
    window of whole days are a sum over these rows, not a count over every customer's
    rows of `customer_products` (whose `last_at` they group), kept with it at ingest."""

    __tablename__ = "product_last_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku: Mapped[str] = mapped_column(ID, primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger)


class Interaction(Base):
    """Something a customer did that earns points without an order ([loyalty.actions]): a
    review, a referral, a survey answered. The shop's id makes a re-import a no-op."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)  # in the shop's time zone
    points: Mapped[int] = mapped_column(Integer)  # as booked by the rules of that day


class SurveyResponse(Base):
    """A customer's answer to one survey moment (campaign, customer, occasion): one per
    moment, a later submit updates it. `score` is the answer (NPS 0-10, CSAT 1-5, CES 1-7;
    the Customer Loyalty Index's 'recommend'); `scores` holds every question's answer."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("campaign", "customer_id", "occasion", name="uq_survey_responses_moment"),
        Index("ix_survey_responses_answered", "answered_at", "kind", "score"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    occasion: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # nps | csat | ces | cli
    score: Mapped[int] = mapped_column(SmallInteger)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(String(2000))
    locale: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first submit
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # latest submit


class SurveyClick(Base):
    """A GET of a survey link. Never an answer: scanners open every link of an email. A
    click within seconds of delivery or on the invisible honeypot link is `suspect`."""

    __tablename__ = "survey_clicks"
    __table_args__ = (
        Index("ix_survey_clicks_moment", "campaign", "customer_id", "occasion"),
        Index("ix_survey_clicks_at", "at", "suspect"),  # the report's period counts
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    occasion: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    link: Mapped[str] = mapped_column(String(8))  # score | honeypot
    score: Mapped[int | None] = mapped_column(SmallInteger)
    seconds_after_send: Mapped[int | None] = mapped_column(Integer)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
