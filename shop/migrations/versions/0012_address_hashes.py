"""suppressions hold keyed hashes of canonical addresses, customers carry theirs; erasure

Revision ID: 0012
Revises: 0011

Plain suppressed addresses become HMACs under a random per-installation key, made here in
`privacy_keys` (shop.address_keys). A downgrade cannot recover an address from its hash:
it writes back the customer's address where one matches and `key:<hash>` otherwise, and
keeps `privacy_keys`, so that upgrading again turns those rows back into the same hashes.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shop.address_keys import KEY_NAME, Keyer
from shop.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARK = "key:"  # a downgraded suppression whose address Leal no longer knows

TEXT = sa.String()
keys = sa.table(
    "privacy_keys", sa.column("name", TEXT), sa.column("secret", TEXT),
    sa.column("created_at", UTCDateTime()),
)  # fmt: skip
customers = sa.table(
    "customers", sa.column("id", TEXT), sa.column("email", TEXT), sa.column("phone", TEXT),
    sa.column("email_key", TEXT), sa.column("phone_key", TEXT),
)  # fmt: skip
suppressions = sa.table(
    "suppressions", sa.column("id", sa.Integer()), sa.column("channel", TEXT),
    sa.column("address", TEXT), sa.column("address_key", TEXT),
)  # fmt: skip


def upgrade() -> None:
    connection = op.get_bind()
    if not sa.inspect(connection).has_table("privacy_keys"):  # a downgrade keeps it
        op.create_table(
            "privacy_keys",
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("secret", sa.String(length=128), nullable=False),
            sa.Column("created_at", UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("name", name=op.f("pk_privacy_keys")),
        )
    keyer = Keyer(bytes.fromhex(_secret(connection)))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("email_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_customers_email_key", ["email_key"])
        batch.create_index("ix_customers_phone_key", ["phone_key"])
    _hash_customers(connection, keyer)
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("address_key", sa.String(length=64), nullable=True))
    _hash_suppressions(connection, keyer)
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_constraint("uq_suppressions_channel_address", type_="unique")
        batch.drop_column("address")
        batch.alter_column("address_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(
            "uq_suppressions_channel_address_key", ["channel", "address_key"]
        )


def _secret(connection: sa.Connection) -> str:
    found = connection.scalar(sa.select(keys.c.secret).where(keys.c.name == KEY_NAME))
    if found is None:
        found = secrets.token_hex(32)
        connection.execute(
            keys.insert(), {"name": KEY_NAME, "secret": found, "created_at": datetime.now(UTC)}
        )
    return str(found)


def _hash_customers(connection: sa.Connection, keyer: Keyer) -> None:
    rows = connection.execute(
        sa.select(customers.c.id, customers.c.email, customers.c.phone).where(
            sa.or_(customers.c.email.is_not(None), customers.c.phone.is_not(None))
        )
    ).all()
    if rows:
        connection.execute(
            customers.update().where(customers.c.id == sa.bindparam("target")),
            [{"target": id_, "email_key": keyer.key("email", email),
              "phone_key": keyer.key("sms", phone)} for id_, email, phone in rows],
        )  # fmt: skip


def _hash_suppressions(connection: sa.Connection, keyer: Keyer) -> None:
    """Each row gets its hash; spellings of one address collapse into the oldest row."""
    seen: set[tuple[str, str]] = set()
    duplicates, hashed = [], []
    rows = connection.execute(
        sa.select(suppressions.c.id, suppressions.c.channel, suppressions.c.address).order_by(
            suppressions.c.id
        )
    )
    for id_, channel, address in rows:
        key = address[len(MARK) :] if address.startswith(MARK) else keyer.key(channel, address)
        if key is None or (channel, key) in seen:
            duplicates.append(id_)
            continue
        seen.add((channel, key))
        hashed.append({"target": id_, "address_key": key})
    if duplicates:
        connection.execute(suppressions.delete().where(suppressions.c.id.in_(duplicates)))
    if hashed:
        connection.execute(
            suppressions.update().where(suppressions.c.id == sa.bindparam("target")), hashed
        )


def downgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("address", sa.String(length=254), nullable=True))
    for channel, address, key in (("email", customers.c.email, customers.c.email_key),
                                  ("sms", customers.c.phone, customers.c.phone_key)):  # fmt: skip
        known = (
            sa.select(address).where(key == suppressions.c.address_key).limit(1).scalar_subquery()
        )
        connection.execute(
            suppressions.update().where(suppressions.c.channel == channel).values(address=known)
        )
    connection.execute(
        suppressions.update()
        .where(suppressions.c.address.is_(None))
        .values(address=MARK + suppressions.c.address_key)
    )
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_constraint("uq_suppressions_channel_address_key", type_="unique")
        batch.drop_column("address_key")
        batch.alter_column("address", existing_type=sa.String(length=254), nullable=False)
        batch.create_unique_constraint("uq_suppressions_channel_address", ["channel", "address"])
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_phone_key")
        batch.drop_index("ix_customers_email_key")
        batch.drop_column("erased_at")
        batch.drop_column("phone_key")
        batch.drop_column("email_key")
