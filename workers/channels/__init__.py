"""Delivery channels: one module each behind `base.Channel`."""

from __future__ import annotations

from campaigns.loader import Config
from workers.channels.base import Channel, Outcome, OutgoingEmail, OutgoingSms, Probeable
from workers.channels.file import FileChannel
from workers.channels.smtp import SmtpChannel, SmtpServer
from workers.channels.twilio_sms import TwilioAccount, TwilioChannel


class Routed:
    """Email through one channel, SMS through another."""

    def __init__(self, email: Channel, sms: Channel) -> None:
        self.email, self.sms = email, sms

    def send_email(self, message: OutgoingEmail) -> Outcome:
        return self.email.send_email(message)

    def send_sms(self, message: OutgoingSms) -> Outcome:
        return self.sms.send_sms(message)

    def probe(self, kind: str) -> str | None:
        """Whether the provider of `kind` ("email" or "sms") answers; None when it does."""
        channel = self.email if kind == "email" else self.sms
        return channel.probe() if isinstance(channel, Probeable) else None

    def close(self) -> None:
        for channel in (self.email, self.sms):
            if isinstance(channel, SmtpChannel):
                channel.close()


def make_channel(config: Config) -> Routed:
    """The configured channels; relative paths are read from the settings file's folder."""
    settings, delivery = config.settings, config.settings.delivery
    files = (
        FileChannel(config.beside(delivery.folder))
        if "file" in (delivery.email, delivery.sms)
        else None
    )
    email: Channel | None = files
    if delivery.email == "smtp":
        smtp = settings.smtp
        envelope = smtp.envelope_from or settings.email.from_address
        ca_file = str(config.beside(smtp.ca_file)) if smtp.ca_file else None
        email = SmtpChannel(
            SmtpServer(smtp.host, smtp.port, smtp.security, smtp.username, envelope,
                       ca_file=ca_file)
        )  # fmt: skip
    sms: Channel | None = files
    if delivery.sms == "twilio":
        twilio = settings.twilio
        sms = TwilioChannel(
            TwilioAccount(
                twilio.account_sid,
                twilio.from_number,
                twilio.messaging_service_sid,
                twilio.status_callback,
                twilio.rate_per_second,
                pace_redis_url=_redis(settings.workers.broker_url),
            )
        )
    assert email is not None and sms is not None
    return Routed(email, sms)


def _redis(broker_url: str | None) -> str | None:
    """Workers that share a Redis broker share their senders' pace through it."""
    return broker_url if broker_url and broker_url.startswith(("redis://", "rediss://")) else None


def close_channel(channel: Channel) -> None:
    if isinstance(channel, Routed):
        channel.close()


__all__ = ["Routed", "close_channel", "make_channel"]
