"""`leal customer export|erase`: everything Leal holds, and an erasure that sticks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Engine, String, Text, insert, select

from campaigns.cli import main
from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import (
    Base,
    CampaignPause,
    Coupon,
    Interaction,
    LedgerEntry,
    OutboxMessage,
    SurveyClick,
    SurveyResponse,
)
from shop.privacy import UnknownCustomerError, erase_customer, export_customer
from shop.suppressions import suppress, suppression_reason
from tests.factories import ShopFactory, local
from tests.shop.import_files import run, write
from workers.web import create_app
from workers.web_privacy import ADMIN_TOKEN_ENV

AT = local("2026-06-15 09:00")
NOW = datetime(2026, 6, 15, 7, tzinfo=UTC)
EMAIL, PHONE, FIRST, LAST = "Zelda.Quintero@example.org", "+34611223344", "Zelda", "Quintero"
PII = (EMAIL, PHONE, FIRST, LAST, "611223344", "zelda.quintero")


def _config(settings: Settings) -> Config:
    campaigns = {"birthday": {"trigger": "birthday", "channels": ["email", "sms"],
                              "template": "birthday", "holdout_percent": 0}}  # fmt: skip
    return Config(Settings(**settings.model_dump() | {"campaigns": campaigns}), None)


def _message(customer_id: str, status: str, occasion: str, **extra: Any) -> dict[str, Any]:
    return {"campaign": "birthday", "trigger": "birthday", "customer_id": customer_id,
            "channel": "email", "occasion": occasion, "status": status,
            "context": {"first_name": FIRST if customer_id == "z1" else "Bo"},
            "run_date": NOW.date(), "due_at": NOW, "created_at": NOW,
            "updated_at": NOW} | extra  # fmt: skip


@pytest.fixture
def zelda(engine: Engine, shop: ShopFactory) -> str:
    """A customer Leal knows a lot about, and a neighbour who must stay untouched."""
    customer = shop.customer("z1", email=EMAIL, phone=PHONE, first_name=FIRST,
                             last_name=LAST, birth_date=date(1990, 6, 15))  # fmt: skip
    shop.customer("other")
    shop.product("cup")
    shop.order(customer, local("2026-05-01 10:00"), 2500)
    with engine.begin() as connection:
        for message in [
            _message(customer, "sent", "birthday:2025", sent_at=NOW,
                     detail=f"250 ok queued for <{EMAIL}>"),
            _message(customer, "queued", "birthday:2026"),
            _message(customer, "retry", "birthday:2027", attempts=1),
            _message("other", "queued", "birthday:2026"),
        ]:  # fmt: skip
            connection.execute(insert(OutboxMessage), message)
        connection.execute(insert(LedgerEntry), {
            "customer_id": customer, "kind": "adjust", "points": 5, "on_date": NOW.date(),
            "at": NOW, "note": f"goodwill, called {FIRST} {LAST}",
        })  # fmt: skip
        connection.execute(insert(Coupon), {
            "code": "BDAY-ZZ", "campaign": "birthday", "customer_id": customer,
            "occasion": "birthday:2026", "percent_off": 10, "expires_on": date(2026, 7, 1),
            "created_at": NOW,
        })  # fmt: skip
        connection.execute(insert(CampaignPause), {
            "campaign": "birthday", "paused_at": NOW, "reason": f"550 5.1.1 <{EMAIL}> unknown",
        })  # fmt: skip
        suppress(connection, "email", EMAIL.upper(), "unsubscribed", NOW)
    return customer


def _text_everywhere(engine: Engine) -> str:
    """Every text and JSON value of every table, lowercased, as one string."""
    values: list[str] = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if isinstance(c.type, String | Text | JSON)]
            for row in connection.execute(select(*columns)) if columns else ():
                values += [json.dumps(value) if not isinstance(value, str) else value
                           for value in row if value is not None]  # fmt: skip
    return "\n".join(values).lower()


def test_the_export_holds_everything_leal_has_on_the_customer(engine: Engine, zelda: str) -> None:
    # when Zelda's data is exported
    with engine.connect() as connection:
        data = json.loads(json.dumps(export_customer(connection, zelda)))
    # then her profile, consent and the suppression of her address are there
    assert (data["profile"]["email"], data["profile"]["first_name"]) == (EMAIL, FIRST)
    assert data["consent"] == {"email_opt_in": True, "sms_opt_in": True}
    assert [(s["channel"], s["reason"]) for s in data["suppressions"]] == [
        ("email", "unsubscribed")
    ]
    # and every table that refers to a customer, with her rows only
    referring = {t.name for t in Base.metadata.sorted_tables if "customer_id" in t.c}
    assert referring - {"customers"} <= set(data)
    assert {m["occasion"] for m in data["outbox"]} == {"birthday:2025", "birthday:2026",
                                                       "birthday:2027"}  # fmt: skip
    assert {m["status"] for m in data["outbox"]} == {"sent", "queued", "retry"}
    assert [c["code"] for c in data["coupons"]] == ["BDAY-ZZ"]
    assert sorted(e["kind"] for e in data["loyalty_ledger"]) == ["adjust", "earn"]
    assert [o["total_cents"] for o in data["orders"]] == [2500]
    assert "order_items" in data and data["customer_stats"] == []
    assert "other" not in json.dumps(data)


def test_erase_removes_the_personal_data_from_every_table(engine: Engine, zelda: str) -> None:
    # given Zelda's name, address and phone somewhere in the database
    assert all(part.lower() in _text_everywhere(engine) for part in (EMAIL, PHONE, LAST))
    # when she is erased
    with engine.begin() as connection:
        done = erase_customer(connection, zelda, NOW)
    # then no text column of any table holds her address, phone or name any more
    everywhere = _text_everywhere(engine)
    assert [part for part in PII if part.lower() in everywhere] == []
    with engine.connect() as connection:
        profile = export_customer(connection, zelda)["profile"]
    assert profile["birth_date"] is None and profile["erased_at"] is not None
    # and her orders stay for the KPIs, without anything personal
    with engine.connect() as connection:
        data = export_customer(connection, zelda)
    assert [o["total_cents"] for o in data["orders"]] == [2500]
    assert (done.already_erased, done.suppressed_channels) == (False, ("email", "sms"))


def _answers(engine: Engine, customer_id: str) -> None:
    """A review that earned points, a survey answer with a comment, the clicks on its link."""
    answer = {"campaign": "survey", "customer_id": customer_id, "occasion": "survey:o1",
              "kind": "nps", "score": 9, "scores": {"recommend": 9}, "locale": "es",
              "comment": "Zelda here: the cup arrived broken", "answered_at": NOW,
              "updated_at": NOW}  # fmt: skip
    click = {"campaign": "survey", "customer_id": customer_id, "occasion": "survey:o1",
             "at": NOW, "link": "score", "score": 9, "seconds_after_send": 3,
             "suspect": True}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Interaction), {
            "id": f"review-{customer_id}", "customer_id": customer_id, "action": "review",
            "at": NOW, "local_date": NOW.date(), "points": 50,
        })  # fmt: skip
        connection.execute(insert(SurveyResponse), answer)
        connection.execute(insert(SurveyClick), [click, click | {"link": "honeypot"}])


def test_the_export_holds_interactions_and_survey_answers_and_clicks(
    engine: Engine, zelda: str
) -> None:
    # given Zelda's review, survey answer and clicks, and another customer's
    _answers(engine, zelda)
    _answers(engine, "other")
    # when exported
    with engine.connect() as connection:
        data = json.loads(json.dumps(export_customer(connection, zelda)))
    # then hers are there, with the comment she wrote, and nobody else's
    assert [i["id"] for i in data["interactions"]] == ["review-z1"]
    assert [(a["score"], a["comment"]) for a in data["survey_responses"]] == [
        (9, "Zelda here: the cup arrived broken")
    ]
    assert sorted(c["link"] for c in data["survey_clicks"]) == ["honeypot", "score"]


def test_erase_keeps_survey_scores_without_comments_and_deletes_the_clicks(
    engine: Engine, zelda: str
) -> None:
    # given Zelda's and another customer's survey answers and clicks
    _answers(engine, zelda)
    _answers(engine, "other")
    # when Zelda is erased
    with engine.begin() as connection:
        erase_customer(connection, zelda, NOW)
    # then her score stays (anonymous statistics) without its comment, her clicks are gone,
    # her interaction stays with the points it booked, and the other customer's are whole
    with engine.connect() as connection:
        answers = connection.execute(
            select(SurveyResponse.customer_id, SurveyResponse.score, SurveyResponse.comment)
        ).all()
        clicks = connection.scalars(select(SurveyClick.customer_id)).all()
        interactions = connection.scalars(select(Interaction.customer_id)).all()
    assert sorted(tuple(row) for row in answers) == [
        ("other", 9, "Zelda here: the cup arrived broken"), ("z1", 9, None),
    ]  # fmt: skip
    assert sorted(clicks) == ["other", "other"]
    assert sorted(interactions) == ["other", "z1"]


def test_erase_skips_the_waiting_messages_and_keeps_the_sent_ones(
    engine: Engine, zelda: str
) -> None:
    # when Zelda is erased
    with engine.begin() as connection:
        done = erase_customer(connection, zelda, NOW)
    # then her queued and retrying messages are skipped as erased; sent stays; others untouched
    with engine.connect() as connection:
        columns = (OutboxMessage.customer_id, OutboxMessage.occasion, OutboxMessage.status)
        rows = connection.execute(select(*columns, OutboxMessage.reason)).all()
    assert sorted(tuple(row) for row in rows) == [
        ("other", "birthday:2026", "queued", None),
        ("z1", "birthday:2025", "sent", None),
        ("z1", "birthday:2026", "skipped", "erased"),
        ("z1", "birthday:2027", "skipped", "erased"),
    ]
    assert done.messages_cancelled == 2


def test_an_erased_customer_is_never_contacted_again_even_after_a_reimport(
    engine: Engine, settings: Settings, zelda: str, tmp_path: Path
) -> None:
    # given Zelda erased
    with engine.begin() as connection:
        erase_customer(connection, zelda, NOW)
    # when the shop imports her again: under her id, and under a new id, spelled otherwise
    row = "{},{},611 22 33 44,Zelda,Quintero,1990-06-15,es,,true,true,"
    write(tmp_path, "customers", row.format("z1", EMAIL), row.format("zq", EMAIL.lower()))
    report = run(engine, tmp_path, settings)
    # then her own row is ignored (warned at its line), the new one is suppressed everywhere
    assert report.committed
    assert f"{tmp_path / 'customers.csv'}:2: customer 'z1' was erased" in report.warnings[0]
    assert FIRST.lower() not in " ".join(report.warnings).lower()
    result = daily_run(engine, _config(settings), AT, dry_run=True)
    verdicts = {(m.customer_id, m.channel): m.reason for m in result.plan.messages}
    assert verdicts[("zq", "email")] == verdicts[("zq", "sms")] == "no_consent"
    assert [key for key in verdicts if key[0] == "z1"] == []  # no birthday left to match
    with engine.connect() as connection:
        assert export_customer(connection, zelda)["profile"]["email"] is None
        assert suppression_reason(connection, "sms", "+34 611 22 33 44") == "erased"
        assert suppression_reason(connection, "email", EMAIL.lower()) == "unsubscribed"


def test_erase_is_idempotent_and_an_unknown_id_is_an_error(engine: Engine, zelda: str) -> None:
    # given Zelda erased once
    with engine.begin() as connection:
        erase_customer(connection, zelda, NOW)
    with engine.connect() as connection:
        before = export_customer(connection, zelda)
    # when erased again
    with engine.begin() as connection:
        again = erase_customer(connection, zelda, datetime(2026, 7, 1, tzinfo=UTC))
    # then nothing changes (not even the erasure's date) and it says so
    with engine.connect() as connection:
        assert export_customer(connection, zelda) == before
    assert (again.already_erased, again.messages_cancelled) == (True, 0)
    with pytest.raises(UnknownCustomerError), engine.begin() as connection:
        erase_customer(connection, "nobody", NOW)


def test_the_cli_exports_and_erases(
    engine: Engine, db_url: str, zelda: str, tmp_path: Path
) -> None:
    # given settings pointing at the database
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    leal = CliRunner()
    # when exported to a file and to stdout, then erased
    out = tmp_path / "zelda.json"
    to_file = leal.invoke(main, ["--settings", str(settings), "customer", "export", zelda,
                                 "--out", str(out)])  # fmt: skip
    to_stdout = leal.invoke(main, ["--settings", str(settings), "customer", "export", zelda])
    erased = leal.invoke(main, ["--settings", str(settings), "customer", "erase", zelda, "--yes"])
    unknown = leal.invoke(main, ["--settings", str(settings), "customer", "erase", "x", "--yes"])
    # then both exports are the same JSON, the erasure reports without PII, unknown fails
    assert to_file.exit_code == to_stdout.exit_code == erased.exit_code == 0, erased.output
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(to_stdout.stdout)
    assert "2 waiting message(s) skipped" in erased.output and EMAIL not in erased.output
    assert unknown.exit_code == 1 and "no customer has the id 'x'" in unknown.output


def test_the_http_routes_need_the_admin_token(
    engine: Engine, settings: Settings, zelda: str
) -> None:
    # given `leal serve`'s app, first without LEAL_ADMIN_TOKEN
    environ: dict[str, str] = {}
    client = TestClient(create_app(_config(settings), engine, environ=environ))
    off = client.post(f"/customers/{zelda}/erase", headers={"Authorization": "Bearer "})
    environ[ADMIN_TOKEN_ENV] = "admin-token-0123456789"
    good, bad = (
        {"Authorization": f"Bearer {environ[ADMIN_TOKEN_ENV]}"},
        {"Authorization": "Bearer admin"},
    )
    # when called without, with a wrong and with the right token
    answers = [client.get(f"/customers/{zelda}/export", headers=bad),
               client.post(f"/customers/{zelda}/erase")]  # fmt: skip
    exported = client.get(f"/customers/{zelda}/export", headers=good)
    erased = client.post(f"/customers/{zelda}/erase", headers=good)
    unknown = client.get("/customers/nobody/export", headers=good)
    # then off is 503, wrong is 403, right works and an unknown id is 404
    assert off.status_code == 503 and [a.status_code for a in answers] == [403, 403]
    assert exported.status_code == 200 and exported.json()["profile"]["email"] == EMAIL
    assert erased.status_code == 200 and erased.json()["messages_cancelled"] == 2
    assert unknown.status_code == 404
