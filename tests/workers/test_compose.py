"""Composing a batch: one message that cannot be built is skipped with its reason, and
the rest of the batch is still composed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campaigns.config import Settings
from campaigns.loader import Config
from campaigns.policies import Recipient
from templates.context import MessageRef
from templates.samples import sample_context
from workers import ledger
from workers.channels.base import OutgoingSms
from workers.compose import Claimed, Composer, Done

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
