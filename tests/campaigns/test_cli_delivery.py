"""The delivery commands as on-call uses them: exit codes that tell the truth, what waits
until when, requeue after a fix, recover by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.loader import Problem
from shop.models import OutboxMessage
from tests.campaigns.test_cli import SETTINGS, _leal, _plan, _template
from tests.factories import ShopFactory
from tests.workers.test_celery import REDIS, _redis_or_skip
from workers import channel_health

EMAIL_ONLY = SETTINGS.replace('["email", "sms"]', '["email"]')
SMTP = EMAIL_ONLY + '\n[delivery]\nemail = "smtp"\n[smtp]\nhost = "127.0.0.1"\nport = 1\n'


def _rows(shop: ShopFactory) -> list[tuple[str, str, str | None, int]]:
    with shop.engine.connect() as connection:
        query = select(OutboxMessage.customer_id, OutboxMessage.status, OutboxMessage.reason,
                       OutboxMessage.attempts).order_by(OutboxMessage.customer_id)  # fmt: skip
        return [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]


def test_a_real_channel_with_a_delivery_problem_delivers_nothing_and_exits_1(
    tmp_path: Path, db_url: str, shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a planned email and a readiness check that finds one problem
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    problem = Problem("settings.toml", 3, "web.public_url: customers cannot reach localhost")
    monkeypatch.setattr("campaigns.readiness.delivery_problems", lambda config: [problem])
    # when `leal send` and `leal run` deliver
    sent = _leal(tmp_path, "send", settings=EMAIL_ONLY, db_url=db_url)
    ran = _leal(tmp_path, "run", "--date", "2026-06-15", settings=EMAIL_ONLY, db_url=db_url)
    # then both print the problem, exit 1, and the row is still queued, never tried
    for result in (sent, ran):
        assert result.exit_code == 1, result.output
        assert "settings.toml:3: web.public_url: customers cannot reach localhost" in result.output
        assert "Nothing was delivered" in result.output
    assert _rows(shop) == [("ana", "queued", None, 0)]


def test_smtp_with_the_default_public_url_is_refused(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given SMTP delivery and the shipped default public_url (http://localhost:8000)
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, SMTP)
    # when `leal send` runs
    sent = _leal(tmp_path, "send", settings=SMTP, db_url=db_url)
    # then the real readiness check refuses it: nothing is tried
    assert sent.exit_code == 1, sent.output
    assert "public_url" in sent.output
    assert _rows(shop) == [("ana", "queued", None, 0)]


def test_send_with_nothing_due_says_what_waits_by_state_until_when(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given a planned email that waits for its retry, in two hours
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    later = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    with shop.engine.begin() as connection:
        connection.execute(update(OutboxMessage).where(OutboxMessage.customer_id == "ana")
                           .values(status="retry", due_at=later, attempts=1))  # fmt: skip
    # when `leal send` runs
    sent = _leal(tmp_path, "send", settings=EMAIL_ONLY, db_url=db_url)
    # then nothing was due, and it says what waits, in which state, until when
    assert "Nothing was due." in sent.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in sent.output.splitlines()
            if line.startswith("│")]  # fmt: skip
    assert [
        "retry",
        "their time",
        "1",
        f"{later:%Y-%m-%d %H:%M} UTC",
        f"{later:%Y-%m-%d %H:%M} UTC",
    ] in rows
    assert sent.exit_code == 0, sent.output


def test_rows_held_by_a_paused_channel_show_in_status_and_make_send_exit_1(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given a planned email and a paused email channel
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    now = datetime.now(UTC)
    with shop.engine.begin() as connection:
        channel_health.pause(connection, "email", "smtp_unavailable ConnectionRefusedError", now)
    # when status is asked and a pass runs before the probe is due
    shown = _leal(tmp_path, "status", settings=EMAIL_ONLY, db_url=db_url)
    sent = _leal(tmp_path, "send", settings=EMAIL_ONLY, db_url=db_url)
    assert shown.exit_code == 0, shown.exception
    # then status says since when, why, and when it is probed next; send exits 1
    text = " ".join(shown.output.split())
    probe = now + channel_health.PROBE_AFTER[0]
    assert "The email channel is paused since" in text
    assert (
        f"smtp_unavailable ConnectionRefusedError; next probe at {probe:%Y-%m-%d %H:%M} UTC" in text
    )
    assert "it resumes by itself" in text
    assert sent.exit_code == 1, sent.output
    assert "1 messages are held by a pause" in sent.output


def test_render_skips_show_their_error_and_go_out_once_after_a_requeue(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given a template with a misspelt attribute, and two birthday emails skipped as render
    email = {"text_txt": "Hi", "email_mjml": "<mjml><mj-body></mj-body></mjml>"}
    _template(tmp_path, "en", subject_txt="Hi {{ customer.firstname.upper() }}", **email)
    settings = EMAIL_ONLY + '\n[templates]\ndir = "tpl"\n'
    for name in ("ana", "bo"):
        shop.customer(name, birth_date=date(1990, 6, 15), locale="en")
    _plan(shop, tmp_path, settings)
    assert _leal(tmp_path, "send", settings=settings, db_url=db_url).exit_code == 0
    assert [row[1:3] for row in _rows(shop)] == [("skipped", "render")] * 2
    # when status is asked
    shown = _leal(tmp_path, "status", settings=settings, db_url=db_url)
    # then the reason's first detail names the problem
    assert "birthday email skipped render, first (outbox 1):" in shown.output
    assert "firstname" in shown.output
    # when the template is fixed, the rows requeued (twice) and sent (twice)
    _template(tmp_path, "en", subject_txt="Hi {{ customer.first_name }}", **email)
    first = _leal(tmp_path, "requeue", "birthday", "--reason", "render", settings=settings,
                  db_url=db_url)  # fmt: skip
    again = _leal(tmp_path, "requeue", "birthday", "--reason", "render", settings=settings,
                  db_url=db_url)  # fmt: skip
    sent = _leal(tmp_path, "send", settings=settings, db_url=db_url)
    resent = _leal(tmp_path, "send", settings=settings, db_url=db_url)
    # then both go out, once each, and the second requeue found nothing to do
    assert "birthday: 2 rows queued again" in first.output
    assert "birthday: no skipped or failed rows with reason render" in again.output
    assert _rows(shop) == [("ana", "sent", None, 1), ("bo", "sent", None, 1)]
    assert "Nothing was due." in resent.output and sent.exit_code == 0
    assert len(list((tmp_path / "var" / "outbox" / "email").glob("*.eml"))) == 2


def test_requeue_refuses_what_could_send_twice_or_names_no_campaign(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    lost = _leal(tmp_path, "requeue", "birthday", "--reason", "worker_lost", db_url=db_url)
    typo = _leal(tmp_path, "requeue", "birthdya", "--reason", "render", db_url=db_url)
    resume = _leal(tmp_path, "resume", "birthdya", db_url=db_url)
    assert lost.exit_code == 2 and "could send twice" in lost.output
    assert typo.exit_code == 2 and "no campaign named birthdya" in typo.output
    assert resume.exit_code == 2 and "no campaign named birthdya" in resume.output


def test_requeued_rows_of_a_paused_campaign_wait(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    from workers import ledger

    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    now = datetime.now(UTC)
    with shop.engine.begin() as connection:
        connection.execute(update(OutboxMessage).values(status="failed", reason="smtp_rejected"))
        ledger.pause(connection, "birthday", "25 provider failures in a row", now)
    requeued = _leal(tmp_path, "requeue", "birthday", "--reason", "smtp_rejected",
                     "--status", "failed", "--date", "2026-06-15", db_url=db_url)  # fmt: skip
    sent = _leal(tmp_path, "send", settings=EMAIL_ONLY, db_url=db_url)
    assert "1 rows queued again" in requeued.output
    assert sent.exit_code == 1 and "campaign birthday paused" in sent.output
    assert _rows(shop) == [("ana", "queued", None, 0)]


def test_recover_gives_back_a_lost_workers_rows_and_delivers_them(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given an email a dead worker left `sending` an hour ago
    shop.customer("ana", birth_date=date(1990, 6, 15))
    _plan(shop, tmp_path, EMAIL_ONLY)
    with shop.engine.begin() as connection:
        lost_at = datetime.now(UTC) - timedelta(hours=1)
        connection.execute(
            update(OutboxMessage).values(status="sending", attempts=1, claimed_at=lost_at)
        )
    # when the operator runs `leal recover`
    recovered = _leal(tmp_path, "recover", settings=EMAIL_ONLY, db_url=db_url)
    # then the row is given back and delivered here (no broker), once
    assert recovered.exit_code == 0, recovered.output
    assert "1 rows of lost workers given back." in recovered.output
    assert [row[:2] for row in _rows(shop)] == [("ana", "sent")]


def test_run_with_a_broker_and_no_worker_listening_exits_1(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    _redis_or_skip()
    # given a Redis broker nobody consumes
    shop.customer("ana", birth_date=date(1990, 6, 15))
    settings = EMAIL_ONLY + f'\n[workers]\nbroker_url = "{REDIS}"\n'
    # when the run dispatches
    ran = _leal(tmp_path, "run", "--date", "2026-06-15", settings=settings, db_url=db_url)
    # then it says no worker answered, and exits 1; the row waits in the ledger
    assert ran.exit_code == 1, ran.output
    assert "No worker answered within 1 s" in " ".join(ran.output.split())
    assert _rows(shop) == [("ana", "queued", None, 0)]
