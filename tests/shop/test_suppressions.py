"""Suppressions are keyed hashes of canonical addresses, and Leal's opt-outs survive imports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, delete, select, text, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.address_keys import PrivacyKeyError, canonical_email, canonical_phone
from shop.db import alembic_config, migrate
from shop.models import Customer, PrivacyKey, Suppression
from shop.suppressions import is_address_suppressed, lift, suppress, suppression_reason
from tests.factories import ShopFactory, local
from tests.shop.import_files import run, write

AT = local("2026-06-15 09:00")
NOW = datetime(2026, 6, 15, 7, tzinfo=UTC)
BIRTHDAY = date(1990, 6, 15)


def _config(settings: Settings) -> Config:
    campaigns = {"birthday": {"trigger": "birthday", "channels": ["email", "sms"],
                              "template": "birthday", "holdout_percent": 0}}  # fmt: skip
    return Config(Settings(**settings.model_dump() | {"campaigns": campaigns}), None)


def _verdicts(engine: Engine, settings: Settings) -> dict[tuple[str, str], str]:
    result = daily_run(engine, _config(settings), AT, dry_run=True)
    return {(m.customer_id, m.channel): m.reason or m.status for m in result.plan.messages}


def _customers_csv(directory: Path, *rows: str) -> Path:
    directory.mkdir(exist_ok=True)
    write(directory, "customers", *rows)
    return directory


def _row(customer_id: str, email: str, phone: str, email_ok: str, sms_ok: str) -> str:
    return f"{customer_id},{email},{phone},Ana,Pérez,1990-06-15,es,,{email_ok},{sms_ok},"


def _plain_text_of(engine: Engine) -> str:
    with engine.connect() as connection:
        return repr(connection.execute(select(Suppression.__table__)).all())


def test_suppressions_are_stored_as_keyed_hashes_never_in_plain(engine: Engine) -> None:
    # given an unsubscribe, a STOP and a hard bounce
    with engine.begin() as connection:
        suppress(connection, "email", "Ana.Perez@example.com", "unsubscribed", NOW)
        suppress(connection, "sms", "+34612345678", "stop", NOW)
        suppress(connection, "email", "gone@example.org", "hard_bounce", NOW)
    # when the suppressions table is read as it is
    stored = _plain_text_of(engine)
    # then it holds none of the addresses, in any spelling, yet each is still suppressed
    for part in ("ana", "perez", "example", "612345678", "gone"):
        assert part not in stored.lower()
    with engine.connect() as connection:
        assert suppression_reason(connection, "email", "Ana.Perez@example.com") == "unsubscribed"
        assert suppression_reason(connection, "sms", "+34612345678") == "stop"
        assert not is_address_suppressed(connection, "email", "someone@example.com")


@pytest.mark.parametrize(
    ("channel", "recorded", "spelled"),
    [
        ("email", "Ana@Example.COM", "ana@example.com"),  # domain and local part case
        ("email", " ana@example.com ", "ANA@EXAMPLE.COM"),
        ("email", "ana@xn--mnchen-3ya.de", "Ana@MÜNCHEN.de"),  # punycode and Unicode
        ("sms", "+34 612 34 56 78", "+34612345678"),
        ("sms", "+34-612-345-678", "+34 612345678"),
    ],
)
def test_a_suppression_matches_every_spelling_of_its_address(
    engine: Engine, channel: str, recorded: str, spelled: str
) -> None:
    # given a suppression recorded in one spelling
    with engine.begin() as connection:
        suppress(connection, channel, recorded, "unsubscribed", NOW)
    # when another spelling of the same mailbox or number is checked
    with engine.connect() as connection:
        found = is_address_suppressed(connection, channel, spelled)
    # then it is suppressed
    assert found


def test_canonical_forms() -> None:
    # given spellings a shop's files use, when made canonical, then one form each
    assert canonical_email("  Ana.Perez+news@Example.COM ") == "ana.perez+news@example.com"
    assert canonical_email("ana@MÜNCHEN.de") == canonical_email("ana@xn--mnchen-3ya.de")
    assert canonical_phone("612 34 56 78", "ES") == "+34612345678"
    assert canonical_phone("0612 345678", "NL") == "+31612345678"
    assert canonical_phone("(612) 34-56-78", "ES") == "+34612345678"


def test_start_lifts_a_stop_in_any_spelling(engine: Engine) -> None:
    # given a STOP recorded from Twilio's E.164 number
    with engine.begin() as connection:
        suppress(connection, "sms", "+34612345678", "stop", NOW)
    # when START arrives for the number written another way
    with engine.begin() as connection:
        lift(connection, "sms", "+34 612 34 56 78")
    # then the number may be contacted again
    with engine.connect() as connection:
        assert not is_address_suppressed(connection, "sms", "+34612345678")


def test_a_reimport_with_opt_in_does_not_undo_an_unsubscribe_leal_recorded(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana imported with consent, then unsubscribed by email link and STOP through Leal
    first = _customers_csv(
        tmp_path / "a", _row("ana", "Ana@example.com", "612345678", "true", "true")
    )
    assert run(engine, first, settings).committed
    with engine.begin() as connection:
        connection.execute(update(Customer).values(email_opt_in=False, sms_opt_in=False))
        suppress(connection, "email", "Ana@example.com", "unsubscribed", NOW)
        suppress(connection, "sms", "+34612345678", "stop", NOW)
    # when the shop's file comes again saying opt-in, the address spelled another way
    again = _customers_csv(
        tmp_path / "b", _row("ana", "ana@EXAMPLE.com", "+34 612 34 56 78", "true", "true")
    )
    report = run(engine, again, settings)
    # then Leal's opt-outs stand, each reported with its file:line, and nobody is planned
    with engine.connect() as connection:
        flags = connection.execute(select(Customer.email_opt_in, Customer.sms_opt_in)).one()
    assert tuple(flags) == (False, False)
    path = again / "customers.csv"
    assert [w.split(" ignored")[0] for w in report.warnings] == [
        f"{path}:2: customer 'ana': email_opt_in=true",
        f"{path}:2: customer 'ana': sms_opt_in=true",
    ]
    assert "example" not in " ".join(report.warnings).lower()  # no address in the report
    assert _verdicts(engine, settings) == {("ana", "email"): "no_consent",
                                           ("ana", "sms"): "no_consent"}  # fmt: skip


def test_a_hard_bounce_keeps_the_shops_consent_but_still_suppresses(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a bounced address (not the person's "no") imported again with consent
    files = _customers_csv(tmp_path / "a", _row("ana", "ana@example.com", "", "true", "false"))
    with engine.begin() as connection:
        suppress(connection, "email", "ANA@example.com", "hard_bounce", NOW)
    # when imported
    report = run(engine, files, settings)
    # then the consent is the shop's, no warning, and the address stays suppressed
    assert report.warnings == []
    assert _verdicts(engine, settings)[("ana", "email")] == "suppressed"


def test_after_a_start_the_shops_opt_in_counts_again(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a STOP, then START (the owner's new yes through Leal)
    with engine.begin() as connection:
        suppress(connection, "sms", "+34612345678", "stop", NOW)
        lift(connection, "sms", "+34612345678")
    files = _customers_csv(tmp_path / "a", _row("ana", "", "612345678", "false", "true"))
    # when imported with sms_opt_in=true
    report = run(engine, files, settings)
    # then the opt-in is written and Ana gets her SMS
    assert report.warnings == []
    assert _verdicts(engine, settings)[("ana", "sms")] == "planned"


def test_a_customer_written_around_the_importer_is_hashed_or_held_back(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a suppressed address; one customer inserted without its hash columns, another
    # whose hash was explicitly left NULL (a script writing straight into the table)
    with engine.begin() as connection:
        suppress(connection, "email", "ana@example.com", "unsubscribed", NOW)
    shop.customer("ana", email="Ana@Example.com", phone=None, birth_date=BIRTHDAY)
    shop.customer("bo", phone=None, birth_date=BIRTHDAY, email_key=None)
    # when planned
    verdicts = _verdicts(engine, settings)
    # then the first got its hash from the column default and is suppressed, and the one
    # with an address but no hash is held back (fail closed), never planned
    assert (verdicts[("ana", "email")], verdicts[("bo", "email")]) == ("suppressed", "suppressed")


def test_a_lost_key_refuses_instead_of_orphaning_the_suppressions(engine: Engine) -> None:
    # given suppressions, then the key row lost (a partial restore)
    with engine.begin() as connection:
        suppress(connection, "email", "ana@example.com", "unsubscribed", NOW)
        connection.execute(delete(PrivacyKey))
    # when anything needs a hash, then it refuses rather than make a key that matches nothing
    with (
        pytest.raises(PrivacyKeyError, match="restore it from a backup"),
        engine.connect() as connection,
    ):
        is_address_suppressed(connection, "email", "ana@example.com")


def _suppress_plain(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for row in rows:
            connection.execute(
                text("INSERT INTO suppressions (channel, address, reason, created_at)"
                     " VALUES (:channel, :address, :reason, :at)"),
                row | {"at": "2026-01-01 00:00:00"},
            )  # fmt: skip


def test_the_migration_hashes_plain_suppressions_and_downgrades(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a database before 0012 with plain suppressions, two spellings of one address
    config = alembic_config(engine)
    try:
        command.downgrade(config, "0011")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO customers (id, email, phone, first_name, last_name, email_opt_in,"
                " sms_opt_in) VALUES ('ana', 'ana@example.com', '+34612345678', 'Ana', '',"
                " true, true)"
            ))  # fmt: skip
        _suppress_plain(engine, [
            {"channel": "email", "address": "Ana@Example.com", "reason": "unsubscribed"},
            {"channel": "email", "address": "ana@example.com", "reason": "hard_bounce"},
            {"channel": "sms", "address": "+34699999999", "reason": "stop"},
        ])  # fmt: skip
        # when migrated to head
        migrate(engine)
        # then no plain address is left, duplicates collapsed into the oldest, all matched
        # the whole number: a hex digest holds a short run like "699" by chance
        assert "example" not in _plain_text_of(engine)
        assert "699999999" not in _plain_text_of(engine)
        with engine.connect() as connection:
            assert suppression_reason(connection, "email", "ana@example.com") == "unsubscribed"
            assert suppression_reason(connection, "sms", "+34699999999") == "stop"
            assert connection.scalar(select(Customer.email_key)) is not None
        # and down again: known addresses come back, unknown ones as their hash
        command.downgrade(config, "0011")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT channel, address FROM suppressions")).all()
        assert sorted(("key:" if r[1].startswith("key:") else r[1]) for r in rows) == [
            "ana@example.com",
            "key:",
        ]
        # and up once more: the same hashes, still matching
        migrate(engine)
        with engine.connect() as connection:
            assert suppression_reason(connection, "sms", "+34699999999") == "stop"
            assert suppression_reason(connection, "email", "ANA@example.com") == "unsubscribed"
    finally:
        migrate(engine)
