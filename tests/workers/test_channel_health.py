"""An outage of the shop's own relay pauses the channel, not its campaigns; probes (with
backoff) resume it by itself."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import CampaignPause, ChannelPause, OutboxMessage
from templates.unsubscribe import Signer
from tests.factories import ShopFactory, local
from tests.workers.smtp_sink import smtp_sink
from tests.workers.twilio_fake import fake_twilio
from workers import channel_health
from workers.channels import Routed
from workers.channels.file import FileChannel
from workers.channels.smtp import SmtpChannel, SmtpServer
from workers.channels.twilio_sms import TwilioAccount, TwilioChannel
from workers.deliver import Deliverer
from workers.run import deliver_due

AT = local("2026-06-15 09:00")
NOW = local("2026-06-15 10:00")
SIGNER = Signer(b"k" * 32)


def _config(settings: Settings, port: int) -> Config:
    campaign = {
        "trigger": "birthday",
        "channels": ["email"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    data = settings.model_dump() | {
        "campaigns": {"birthday": campaign, "birthday_copy": campaign | {"priority": 1}},
        "delivery": {"email": "smtp"},
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        "email": {"from_address": "hola@cafe.example"},
    }
    return Config(Settings(**data), None)


def _on_port(config: Config, port: int) -> Config:
    smtp = config.settings.smtp.model_copy(update={"port": port})
    return Config(config.settings.model_copy(update={"smtp": smtp}), None)


def _free_port() -> int:
    with smtp_sink() as (_, port):
        pass  # the port is free again: nobody listens
    return port


def test_a_relay_down_for_a_whole_run_pauses_the_channel_and_resumes_by_itself(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 30 birthday emails (two campaigns) and an SMTP relay that is down
    for n in range(15):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    config = _config(settings, _free_port())
    daily_run(engine, config, AT)
    # when the whole run is delivered
    down = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    # then three refused connections pause the email channel; the rest wait, no attempt spent
    assert down == {"retry:smtp_unavailable": 3, "deferred:channel_paused": 27}
    with engine.connect() as connection:
        assert channel_health.paused_channels(connection) == {"email"}
        assert connection.scalar(select(func.count()).select_from(CampaignPause)) == 0
        spent = connection.scalar(select(func.sum(OutboxMessage.attempts)))
    assert spent == 3
    # and a pass before the first probe is due tries nothing
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {}
    # when the relay is back and the next passes come (nobody runs `leal resume`)
    with smtp_sink() as (server, port):
        back = _on_port(config, port)
        later = deliver_due(engine, back, signer=SIGNER, clock=lambda: NOW + timedelta(minutes=2))
        retried = deliver_due(engine, back, signer=SIGNER, clock=lambda: NOW + timedelta(minutes=6))
    # then the probe lifts the pause, the waiting emails go, then the retried ones: once each
    assert later == {"sent": 27}
    assert retried == {"sent": 3}
    assert len(server.recipients) == 30 and len(set(server.recipients)) == 15
    with engine.connect() as connection:
        assert channel_health.paused_channels(connection) == set()


def test_failed_probes_back_off_and_say_what_they_met(engine: Engine, tmp_path: Path) -> None:
    # given an email channel paused while its relay is down
    port = _free_port()
    smtp = SmtpChannel(SmtpServer("127.0.0.1", port, "none", envelope_from="b@cafe.example"))
    channel = Routed(smtp, FileChannel(tmp_path))
    with engine.begin() as connection:
        channel_health.pause(connection, "email", "smtp_unavailable ConnectionRefusedError", NOW)
    # when probes come at each moment the last one set, and once before it
    early = channel_health.probe_due(engine, channel, NOW)
    moments, at = [], NOW + timedelta(minutes=1)
    for _ in range(4):
        assert [p.resumed for p in channel_health.probe_due(engine, channel, at)] == [False]
        with engine.connect() as connection:
            pause = connection.execute(select(ChannelPause)).one()
        moments.append(pause.next_probe_at - at)
        at = pause.next_probe_at
    # then nothing was probed early, and each failure waited longer
    assert early == []
    assert moments == [timedelta(minutes=m) for m in (1, 2, 5, 10)]
    assert pause.probes == 4
    assert pause.last_probe == f"127.0.0.1:{port}: ConnectionRefusedError"
    assert pause.reason == "smtp_unavailable ConnectionRefusedError"


def test_a_forced_probe_ignores_the_backoff_and_a_live_relay_resumes(engine: Engine) -> None:
    with engine.begin() as connection:
        channel_health.pause(connection, "email", "smtp_auth 535 bad credentials", NOW)
    with smtp_sink() as (server, port):
        smtp = SmtpChannel(SmtpServer("127.0.0.1", port, "none"))
        probed = channel_health.probe_due(engine, Routed(smtp, smtp), NOW, force=True)
    assert [(p.channel, p.problem) for p in probed] == [("email", None)]
    assert server.messages == []  # a probe sends nothing
    with engine.connect() as connection:
        assert channel_health.paused_channels(connection) == set()


def test_the_twilio_probe_fetches_the_account_and_names_an_outage() -> None:
    account = TwilioAccount("AC" + "0" * 32, from_number="+34900000000")
    with fake_twilio() as (server, url):
        up = TwilioChannel(TwilioAccount(**{**account.__dict__, "api_url": url}))
        assert up.probe() is None
        assert server.requests[-1][1] == f"/2010-04-01/Accounts/AC{'0' * 32}.json"
    assert up.probe() == "Twilio API: ConnectionError"  # the server is gone


def test_refused_twilio_credentials_pause_the_sms_channel_not_the_message(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given three birthday SMS and a Twilio account that refuses our credentials (401)
    for n in range(3):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15), phone="+34600000005")
    birthday = {
        "trigger": "birthday",
        "channels": ["sms"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    data = settings.model_dump() | {"campaigns": {"birthday": birthday}}
    data["delivery"] = data["delivery"] | {"channel_pause_after_failures": 2}
    config = Config(Settings(**data), None)
    daily_run(engine, config, AT)
    with fake_twilio() as (_, url):
        sms = TwilioChannel(TwilioAccount("AC" + "0" * 32, from_number="+34900000000",
                                          rate_per_second=100, api_url=url))  # fmt: skip
        deliverer = Deliverer(engine, config, Routed(sms, sms), SIGNER)
        with engine.connect() as connection:
            ids = list(connection.scalars(select(OutboxMessage.id)))
        tally = deliverer.deliver(ids, NOW)
    # then no SMS fails for good: two wait for a retry, the third for the channel
    assert tally == {"retry:twilio_auth": 2, "deferred:channel_paused": 1}
    with engine.connect() as connection:
        assert channel_health.paused_channels(connection) == {"sms"}
