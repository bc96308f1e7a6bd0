"""Claims name their owner: recovery never makes a live worker and another send the same row.

`leal.recover` judges a worker lost from how old its claim is. A worker renews the claim of
each row right before sending it and proves it still owns it then; every outcome write
names its token. So a slow worker loses at most rows it has not reached yet (another worker
sends those), never sends a row it lost, and never overwrites another worker's outcome.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import OutboxMessage
from tests.factories import ShopFactory
from tests.workers.test_deliver import AT, NOW, SIGNER
from workers import ledger
from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms
from workers.deliver import Deliverer

CUSTOMERS = 10


class Recording:
    """A channel that keeps what it sent; `before` runs inside each send (a slow relay,
    or whatever else happens while this worker waits on it)."""

    def __init__(self, sent: list[str], before: Callable[[str], Outcome | None] | None = None):
        self.sent, self.before = sent, before

    def send_email(self, message: OutgoingEmail) -> Outcome:
        outcome = self.before(message.to) if self.before else None
        if outcome is None or outcome.verdict == "sent":
            self.sent.append(message.to)
        return outcome or Outcome("sent")

    def send_sms(self, message: OutgoingSms) -> Outcome:
        raise AssertionError("no SMS planned")


def _planned(engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path) -> Config:
    """Birthday emails (no SMS) for CUSTOMERS customers, written to the outbox."""
    for n in range(CUSTOMERS):
        shop.customer(f"c{n:02d}", birth_date=date(1990, 6, 15), phone=None)
    birthday = {
        "trigger": "birthday",
        "channels": ["email"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    data = settings.model_dump() | {
        "campaigns": {"birthday": birthday},
        "delivery": {"folder": tmp_path, "batch": CUSTOMERS},
        "email": {"from_address": "hola@cafe.example"},
        "web": {"public_url": "https://leal.cafe.example"},
    }
    config = Config(Settings(**data), None)
    daily_run(engine, config, AT)
    return config


def _due(engine: Engine, now: datetime) -> list[int]:
    with engine.connect() as connection:
        return ledger.due_ids(connection, now, 100)


def _recover(engine: Engine, claimed_before: datetime, now: datetime) -> int:
    with engine.begin() as connection:
        return ledger.release_stale(connection, claimed_before, now)


def _ledger(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        return Counter(connection.scalars(select(OutboxMessage.status)))


def _everyone() -> list[str]:
    return [f"c{n:02d}@example.com" for n in range(CUSTOMERS)]


def test_a_slow_worker_and_recovery_with_a_tiny_timeout_send_each_email_once(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given ten emails, and a worker whose relay takes 0.1 s a message (a second a batch)
    config = _planned(engine, settings, shop, tmp_path)
    sent: list[str] = []
    sending = threading.Event()

    def slow_relay(_: str) -> None:
        sending.set()
        time.sleep(0.1)

    slow = Deliverer(engine, config, Recording(sent, slow_relay), SIGNER)
    fast = Deliverer(engine, config, Recording(sent), SIGNER)
    began = time.monotonic()

    def clock() -> datetime:  # the tests' timeline, running at the speed of real time
        return NOW + timedelta(seconds=time.monotonic() - began)

    slow_tally: Counter[str] = Counter()
    worker = threading.Thread(
        target=lambda: slow_tally.update(slow.deliver(_due(engine, NOW), NOW))
    )
    # when recovery judges claims older than 0.5 s lost, over and over while it sends, and
    # a second worker delivers whatever recovery gives back
    worker.start()
    # (once it holds its batch: on a busy machine the other worker could claim it first)
    assert sending.wait(timeout=30)
    while worker.is_alive():
        _recover(engine, clock() - timedelta(seconds=0.5), clock())
        fast.deliver(_due(engine, clock()), clock())
        time.sleep(0.05)
    worker.join()
    fast.deliver(_due(engine, clock()), clock())
    # then every email went out exactly once, and the ledger says what went out
    assert sorted(sent) == _everyone()
    assert _ledger(engine) == {"sent": CUSTOMERS}
    # and the slow worker lost the rows it had not reached to the other, and sent none of them
    assert slow_tally["sent"] < CUSTOMERS and slow_tally["taken_over"] > 0


def test_a_live_worker_that_renews_its_claim_keeps_its_whole_batch(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given ten emails, a worker whose relay takes 0.1 s a message and which renews the
    # claim on the rest of its batch every 0.2 s (claim_timeout_minutes / 4 in production)
    config = _planned(engine, settings, shop, tmp_path)
    sent: list[str] = []
    slow = Deliverer(engine, config, Recording(sent, lambda _: time.sleep(0.1)), SIGNER)
    slow.renew_every = timedelta(seconds=0.2)
    began = time.monotonic()
    tally: Counter[str] = Counter()
    worker = threading.Thread(target=lambda: tally.update(slow.deliver(_due(engine, NOW), NOW)))
    # when recovery judges claims older than 0.5 s lost, over and over while it sends
    worker.start()
    while worker.is_alive():
        now = NOW + timedelta(seconds=time.monotonic() - began)
        _recover(engine, now - timedelta(seconds=0.5), now)
        time.sleep(0.05)
    worker.join()
    # then recovery took nothing from it: it sent its whole batch, once
    assert tally == {"sent": CUSTOMERS}
    assert sorted(sent) == _everyone()
    assert _ledger(engine) == {"sent": CUSTOMERS}


def test_a_worker_whose_row_was_taken_over_neither_sends_it_nor_overwrites_its_outcome(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given ten emails claimed by a first worker
    config = _planned(engine, settings, shop, tmp_path)
    first_sent: list[str] = []
    other_sent: list[str] = []
    other = Deliverer(engine, config, Recording(other_sent), SIGNER)

    def recovery_and_another_worker_meanwhile(to: str) -> Outcome | None:
        if to == "c00@example.com":  # while the first worker waits on its first message
            _recover(engine, NOW + timedelta(hours=1), NOW)
            other.deliver(_due(engine, NOW), NOW)
            return Outcome("retry", "smtp_temporary", "451 4.3.0 try later")
        return None

    first = Deliverer(engine, config, Recording(first_sent, recovery_and_another_worker_meanwhile),
                      SIGNER)  # fmt: skip
    # when recovery gives every row back during its first send and another worker sends them
    tally = first.deliver(_due(engine, NOW), NOW)
    # then the first worker sent none of the rows it lost, nor recorded its late retry
    assert first_sent == []
    assert tally == {"taken_over:retry": 1, "taken_over": CUSTOMERS - 1}
    # and the other worker's outcomes stand: each email sent once, by it
    assert sorted(other_sent) == _everyone()
    assert _ledger(engine) == {"sent": CUSTOMERS}


def test_what_a_worker_sent_after_recovery_gave_its_row_back_is_recorded_not_sent_again(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given ten emails claimed by a worker
    config = _planned(engine, settings, shop, tmp_path)
    sent: list[str] = []

    def recovery_meanwhile(to: str) -> Outcome | None:
        if to == "c00@example.com":  # the relay is so slow that recovery judges it lost
            _recover(engine, NOW + timedelta(hours=1), NOW)
        return None

    worker = Deliverer(engine, config, Recording(sent, recovery_meanwhile), SIGNER)
    # when recovery gives its rows back while it sends the first, and no one claimed them yet
    tally = worker.deliver(_due(engine, NOW), NOW)
    # then the email it sent is recorded as sent (the ledger never under-reports), and the
    # rows it had not reached are left to the next pass, which sends each of them once
    assert tally == {"sent": 1, "taken_over": CUSTOMERS - 1}
    assert _ledger(engine) == {"sent": 1, "retry": CUSTOMERS - 1}
    later = NOW + timedelta(minutes=1)
    again = Deliverer(engine, config, Recording(sent), SIGNER).deliver(_due(engine, later), later)
    assert again == {"sent": CUSTOMERS - 1}
    assert sorted(sent) == _everyone()
    assert _ledger(engine) == {"sent": CUSTOMERS}


def test_each_outcome_is_stamped_when_it_happened_not_when_the_batch_began(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given ten emails, the fifth refused for now, through a relay that takes 50 ms each
    config = _planned(engine, settings, shop, tmp_path)

    def slow(to: str) -> Outcome | None:
        time.sleep(0.05)
        return Outcome("retry", "smtp_temporary", "451") if to == "c04@example.com" else None

    # when one batch delivers them
    Deliverer(engine, config, Recording([], slow), SIGNER).deliver(_due(engine, NOW), NOW)
    # then each sent_at is the moment of its own answer, and the retry counts from its own
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.sent_at, OutboxMessage.due_at, OutboxMessage.status)
            .order_by(OutboxMessage.id)
        ).all()  # fmt: skip
    sent_at = [row.sent_at for row in rows if row.status == "sent"]
    assert sent_at == sorted(sent_at) and len(set(sent_at)) == CUSTOMERS - 1
    assert sent_at[-1] - NOW >= timedelta(seconds=0.05 * (CUSTOMERS - 1))
    [retry] = [row for row in rows if row.status == "retry"]
    assert retry.due_at - ledger.RETRY_AFTER[0] >= NOW + timedelta(seconds=0.05 * 5)
