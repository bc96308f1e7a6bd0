"""Workers that die: a row out of attempts fails instead of looping, and a message that
kills its worker every time fails alone, its batch-mates neither charged nor held back."""

from __future__ import annotations

from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from shop.models import Customer, OutboxMessage
from tests.factories import ShopFactory
from tests.workers.test_deliver import AT, NOW, SIGNER, _config, due_for_ana
from workers import ledger
from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms
from workers.deliver import Deliverer


class WorkerDied(BaseException):
    """What the process sees of a kill: nothing after this point runs."""


class KilledByAna:
    """A channel whose process dies whenever it sends Ana's email."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_email(self, message: OutgoingEmail) -> Outcome:
        if message.to.startswith("ana@"):
            raise WorkerDied
        self.sent.append(message.to)
        return Outcome("sent")

    def send_sms(self, message: OutgoingSms) -> Outcome:
        self.sent.append(message.to)
        return Outcome("sent")


def test_a_message_that_kills_its_worker_fails_alone(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given birthday emails and SMS for three customers, Ana's email first in the batch
    for name, phone in (("ana", "+34611111111"), ("bob", "+34622222222"), ("cid", None)):
        shop.customer(name, birth_date=date(1990, 6, 15), phone=phone)
    config = _config(settings, tmp_path)
    daily_run(engine, config, AT)
    channel, now = KilledByAna(), NOW
    # when a worker dies on it every time and recovery gives the stale rows back
    for _ in range(ledger.MAX_ATTEMPTS + 2):
        with engine.connect() as connection:
            ids = ledger.due_ids(connection, now, 10)
        with suppress(WorkerDied):
            Deliverer(engine, config, channel, SIGNER).deliver(ids, now)
        now += timedelta(hours=1)
        with engine.begin() as connection:
            ledger.release_stale(connection, now, now)
    # then Ana's email fails after its attempts, and every other message went out once
    with engine.connect() as connection:
        query = select(Customer.id, OutboxMessage.channel, OutboxMessage.status,
                       OutboxMessage.reason, OutboxMessage.attempts).join(
            Customer, Customer.id == OutboxMessage.customer_id)  # fmt: skip
        rows = {
            (c, ch): (status, reason, n) for c, ch, status, reason, n in connection.execute(query)
        }
    assert rows.pop(("ana", "email")) == ("failed", "worker_lost", ledger.MAX_ATTEMPTS)
    assert {status for status, _, _ in rows.values()} == {"sent"}
    assert sorted(channel.sent) == sorted(
        ["+34611111111", "bob@example.com", "+34622222222", "cid@example.com"]
    )


def test_a_row_whose_last_attempt_lost_its_worker_fails_instead_of_looping(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    ids, now = due_for_ana(engine, settings, shop, tmp_path)
    with engine.begin() as connection:
        ledger.claim(connection, ids, now, ledger.new_token())
        last = OutboxMessage.id == ids[0]
        connection.execute(update(OutboxMessage).where(last).values(attempts=ledger.MAX_ATTEMPTS))
        assert ledger.release_stale(connection, now + timedelta(minutes=10), now) == len(ids)
        rows = dict(connection.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
    assert rows[ids[0]] == ledger.FAILED
    assert all(rows[i] == ledger.RETRY for i in ids[1:])
