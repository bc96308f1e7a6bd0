"""Delivery channels: one module each behind `base.Channel`."""

from __future__ import annotations

from campaigns.loader import Config
from workers.channels.base import Channel
from workers.channels.file import FileChannel
from workers.channels.smtp import SmtpChannel, SmtpServer


def make_channel(config: Config) -> Channel:
    """The configured channel; a relative folder is read from the settings file's folder."""
    settings = config.settings
    if settings.delivery.channel == "smtp":
        smtp = settings.smtp
        envelope = smtp.envelope_from or settings.email.from_address
        return SmtpChannel(SmtpServer(smtp.host, smtp.port, smtp.security, smtp.username, envelope))
    folder = settings.delivery.folder
    if not folder.is_absolute() and config.path is not None:
        folder = config.path.parent / folder
    return FileChannel(folder)


def close_channel(channel: Channel) -> None:
    if isinstance(channel, SmtpChannel):
        channel.close()
