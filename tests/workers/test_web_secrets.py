"""`leal serve` without its secrets: each route group is off (503), says so, and never
validates with an empty key."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from campaigns.config import Settings
from campaigns.loader import Config
from shop.suppressions import described_suppressions
from templates.unsubscribe import SECRET_ENV, Signer
from tests.factories import ShopFactory
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web import EVENTS_TOKEN_ENV, RouteGroup, create_app, route_status
from workers.web_privacy import ADMIN_TOKEN_ENV

PUBLIC = "https://leal.cafe.example"
SECRETS = {SECRET_ENV: "s" * 32, EVENTS_TOKEN_ENV: "e" * 24, TOKEN_ENV: "twilio-token",
           ADMIN_TOKEN_ENV: "a" * 24}  # fmt: skip


def _config(settings: Settings) -> Config:
    return Config(Settings(**(settings.model_dump() | {"web": {"public_url": PUBLIC}})), None)


def _empty_key_signature(path: str, form: dict[str, str]) -> str:
    """What the old code accepted: a signature under an empty auth token."""
    return str(RequestValidator("").compute_signature(f"{PUBLIC}{path}", form))


@pytest.mark.parametrize("path", ["/twilio/inbound", "/twilio/status"])
def test_without_the_twilio_token_callbacks_are_off_even_signed_with_an_empty_key(
    engine: Engine, settings: Settings, shop: ShopFactory, path: str
) -> None:
    # given no LEAL_TWILIO_AUTH_TOKEN, and a STOP signed with the empty key
    ana = shop.customer("ana")
    app = create_app(_config(settings), engine, environ=SECRETS | {TOKEN_ENV: ""})
    form = {"From": "+34600000000", "Body": "STOP", "MessageSid": "SM1",
            "MessageStatus": "undelivered", "ErrorCode": "21610", "To": "+34600000000"}  # fmt: skip
    # when it is posted
    answer = TestClient(app).post(
        path, data=form, headers={"X-Twilio-Signature": _empty_key_signature(path, form)}
    )
    # then the route is off and nothing changed
    assert answer.status_code == 503 and TOKEN_ENV in answer.json()["detail"]
    with engine.connect() as connection:
        assert described_suppressions(connection) == []
    assert ana


@pytest.mark.parametrize("token", ["", "short-token"])
def test_without_a_usable_events_token_events_are_off(
    engine: Engine, settings: Settings, token: str
) -> None:
    app = create_app(_config(settings), engine, environ=SECRETS | {EVENTS_TOKEN_ENV: token})
    answer = TestClient(app).post(
        "/events/product", json={"sku": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 503 and EVENTS_TOKEN_ENV in answer.json()["detail"]


def test_a_wrong_events_token_is_403(engine: Engine, settings: Settings) -> None:
    app = TestClient(create_app(_config(settings), engine, environ=SECRETS))
    for header in ({}, {"Authorization": "Bearer nope"}, {"Authorization": b"Bearer \xe9"}):
        assert app.post("/events/product", json={}, headers=header).status_code == 403


def test_without_the_secret_key_the_app_starts_and_unsubscribe_is_off(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given no LEAL_SECRET_KEY (create_app used to raise MissingSecretError)
    ana = shop.customer("ana")
    app = TestClient(create_app(_config(settings), engine, environ=SECRETS | {SECRET_ENV: ""}))
    token = Signer(b"s" * 32).token(ana, "email")
    # then both the page and the one-click POST are 503
    assert app.get(f"/unsubscribe/{token}").status_code == 503
    post = app.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert post.status_code == 503 and SECRET_ENV in post.json()["detail"]


def test_route_status_says_what_is_on_and_why_not(settings: Settings) -> None:
    config = _config(settings)
    everything = route_status(config, SECRETS)
    assert [group.on for group in everything] == [True] * 6
    nothing = route_status(config, {SECRET_ENV: "short", EVENTS_TOKEN_ENV: "x"})
    assert nothing == [
        RouteGroup("/unsubscribe/*", False, f"{SECRET_ENV} must hold at least 16 bytes"),
        RouteGroup("/events/*", False, f"{EVENTS_TOKEN_ENV} must hold at least 16 characters"),
        RouteGroup("/twilio/*", False, f"{TOKEN_ENV} is not set"),
        RouteGroup("/customers/* (export, erase)", False, f"{ADMIN_TOKEN_ENV} is not set"),
        RouteGroup("/card/*", False, f"{SECRET_ENV} must hold at least 16 bytes"),
        RouteGroup("/survey/*", False, f"{SECRET_ENV} must hold at least 16 bytes"),
    ]


def test_leal_serve_prints_the_routes_at_start(
    db_url: str, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from campaigns.cli import main

    # given a settings file, only the Twilio token set, and uvicorn not really started
    settings_file = tmp_path / "settings.toml"  # type: ignore[operator]
    settings_file.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(TOKEN_ENV, "twilio-token")
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    # when `leal serve` starts
    result = CliRunner().invoke(main, ["--settings", str(settings_file), "serve"])
    # then it says which routes are off and why, and serves the rest
    assert result.exit_code == 0, result.output
    assert "off  /unsubscribe/*  LEAL_SECRET_KEY is not set" in result.output
    assert "off  /events/*  LEAL_EVENTS_TOKEN is not set" in result.output
    assert "on   /twilio/*" in result.output
    assert len(started) == 1


def test_leal_serve_refuses_to_start_with_every_route_off(
    db_url: str, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaigns.cli import main

    settings_file = tmp_path / "settings.toml"  # type: ignore[operator]
    settings_file.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["--settings", str(settings_file), "serve"])
    assert result.exit_code == 1
    assert "nothing to serve" in result.output
