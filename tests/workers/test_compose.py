"""Composing a batch: one message that cannot be built is skipped with its reason, and
the rest of the batch is still composed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from campaigns.policies import Recipient
from campaigns.preview import make_preview
from shop.models import Customer, OutboxMessage
from templates.context import ContextFailure, MessageRef
from templates.samples import sample_context
from tests.factories import ShopFactory
from tests.workers.test_deliver import AT, SIGNER, _config
from workers import ledger
from workers.channels.base import OutgoingSms
from workers.channels.file import FileChannel
from workers.compose import Claimed, Composer, Done, customer_zone
from workers.deliver import Deliverer

NOW = datetime(2026, 6, 15, 10, tzinfo=UTC)


def _claimed(outbox_id: int) -> Claimed:
    ref = MessageRef("custom", "birthday", f"c{outbox_id}", "sms", "birthday:2026", {},
                     outbox_id)  # fmt: skip
    recipient = Recipient("a@example.com", "+34600000001", True, True, False, False)
    return Claimed(ref, "custom", 2, recipient, 1, ZoneInfo("Europe/Madrid"))


def test_a_message_whose_template_fails_is_skipped_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    # given a template that fails for one customer with an error no renderer anticipates
    folder = tmp_path / "custom" / "en"
    folder.mkdir(parents=True)
    (folder / "sms.txt").write_text("Hola {{ customer.first_name + customer.age }}", "utf-8")
    settings = Settings(templates={"dir": str(tmp_path)}, sending_hours={"sms": None})
    composer = Composer(Config(settings, None))
    broken, fine = sample_context("birthday"), sample_context("birthday")
    broken["customer"]["age"], fine["customer"]["age"] = 40, " y 40"
    # when both are composed
    first = composer.compose(_claimed(1), broken, NOW)
    second = composer.compose(_claimed(2), fine, NOW)
    # then the first is skipped, naming the error, and the second is ready to send
    assert isinstance(first, Done) and (first.status, first.reason) == (
        ledger.SKIPPED,
        "compose_error",
    )
    assert first.detail is not None and first.detail.startswith("TypeError")
    assert isinstance(second, OutgoingSms) and second.body.startswith("Hola Maximiliana")


def test_a_context_that_cannot_be_built_is_skipped_without_personal_data(
    tmp_path: Path,
) -> None:
    # given a claimed email whose context failed with words quoting the address
    settings = Settings(templates={"dir": str(tmp_path)}, sending_hours={"email": None})
    composer = Composer(Config(settings, None))
    recipient = Recipient("ana@example.com", "+34600000001", True, True, False, False)
    ref = MessageRef("custom", "birthday", "c1", "email", "birthday:2026", {}, 1)
    item = Claimed(ref, "custom", 2, recipient, 1, ZoneInfo("Europe/Madrid"))
    failure = ContextFailure("ValueError: no such thing as ana@example.com or +34600000001")
    # when it is composed
    done = composer.compose(item, failure, NOW)
    # then it is skipped as a context error, its detail without address or number
    assert isinstance(done, Done) and (done.status, done.reason) == (
        ledger.SKIPPED,
        "context_error",
    )
    assert done.detail == "ValueError: no such thing as <address> or <number>"


def test_a_refused_address_is_not_quoted_in_the_skip_reason(tmp_path: Path) -> None:
    # given an email template and a recipient whose address cannot go in a header
    folder = tmp_path / "custom" / "en"
    folder.mkdir(parents=True)
    for part, text in (("subject.txt", "Hi"), ("text.txt", "Hi {{ customer.first_name }}"),
                       ("email.mjml", "<mjml><mj-body><mj-section><mj-column><mj-text>Hi"
                        "</mj-text></mj-column></mj-section></mj-body></mjml>")):  # fmt: skip
        (folder / part).write_text(text, "utf-8")
    settings = Settings(templates={"dir": str(tmp_path)}, sending_hours={"email": None})
    composer = Composer(Config(settings, None))
    recipient = Recipient("jósé@example.com", None, True, False, False, False)
    ref = MessageRef("custom", "birthday", "c1", "email", "birthday:2026", {}, 1)
    item = Claimed(ref, "custom", 2, recipient, 1, ZoneInfo("Europe/Madrid"))
    # when it is composed
    done = composer.compose(item, sample_context("birthday"), NOW)
    # then it is skipped as a bad header, and the ledger detail does not hold the address
    assert isinstance(done, Done) and done.reason == "bad_header"
    assert done.detail is not None and "jósé" not in done.detail and "<address>" in done.detail


def test_a_time_zone_that_cannot_be_loaded_falls_back_to_the_shops() -> None:
    shop = ZoneInfo("Europe/Madrid")
    for stored in ("Mars/Olympus", "/etc/localtime", "../../etc/passwd", "right/UTC", ""):
        assert customer_zone(stored, shop) is shop, stored
    assert customer_zone(None, shop) is shop
    assert customer_zone("Asia/Tokyo", shop) == ZoneInfo("Asia/Tokyo")


def _birthdays_due(engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path) -> Config:
    """Twelve birthday emails due; `bad` has a locale Babel does not know (as SQL could
    have written it), and the moment of `broken`'s row does not parse."""
    for number in range(10):
        shop.customer(f"c{number:02}", birth_date=date(1990, 6, 15))
    shop.customer("bad", birth_date=date(1990, 6, 15), locale="xx")
    shop.customer("broken", birth_date=date(1990, 6, 15), first_name="Ana", last_name="Pérez")
    shop.product("mug", price_cents=1250)  # recommended: a price in each one's locale
    config = _config(settings, tmp_path)
    config = Config(config.settings.model_copy(update={"campaigns": {
        "birthday": config.settings.campaigns["birthday"].model_copy(
            update={"channels": ["email"], "holdout_percent": 0})
    }}), None)  # fmt: skip
    daily_run(engine, config, AT)
    with engine.begin() as connection:
        connection.execute(
            update(OutboxMessage)
            .where(OutboxMessage.customer_id == "broken")
            .values(context={"birthday_on": "Ana Pérez broken@example.com +34600000000"})
        )
    return config


def test_one_message_whose_context_fails_is_skipped_and_the_batch_goes_out(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given twelve birthday emails due, one whose moment does not parse and one for a
    # customer whose stored locale Babel does not know
    config = _birthdays_due(engine, settings, shop, tmp_path)
    with engine.connect() as connection:
        ids = ledger.due_ids(connection, NOW, 100)
    # when one batch is delivered through the file channel
    tally = Deliverer(engine, config, FileChannel(tmp_path / "out"), SIGNER).deliver(ids, NOW)
    # then eleven went out, `bad` in the shop's locale, and `broken` is skipped with the
    # error's words and without its name, address or number
    assert tally == {"sent": 11, "skipped:context_error": 1}
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.customer_id, OutboxMessage.status, OutboxMessage.detail)
        ).all()
    [(status, detail)] = [(s, d) for c, s, d in rows if c == "broken"]
    assert status == "skipped" and detail is not None and detail.startswith("ValueError")
    assert not any(pii in detail for pii in ("Ana", "Pérez", "broken@", "600000000"))
    assert {s for c, s, _ in rows if c != "broken"} == {"sent"}


def test_preview_of_a_customer_whose_stored_locale_babel_does_not_know(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    config = _birthdays_due(engine, settings, shop, tmp_path)
    with engine.connect() as connection:
        preview = make_preview(connection, config, "birthday", AT, "bad", ["email"])
    assert preview.email is not None and preview.email.locale == "en"


def test_a_stored_time_zone_that_cannot_be_loaded_does_not_stop_the_batch(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given twelve birthday emails due, and one customer's zone written by hand as a path
    config = _birthdays_due(engine, settings, shop, tmp_path)
    with engine.begin() as connection:
        connection.execute(
            update(Customer).where(Customer.id == "c00").values(timezone="../../etc/passwd")
        )
        ids = ledger.due_ids(connection, NOW, 100)
    # when the batch is delivered
    tally = Deliverer(engine, config, FileChannel(tmp_path / "out"), SIGNER).deliver(ids, NOW)
    # then that customer is sent to in the shop's hours, like one without a zone
    assert tally == {"sent": 11, "skipped:context_error": 1}
