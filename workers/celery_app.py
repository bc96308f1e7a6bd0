"""The Celery app of `leal worker` and `celery -A workers.celery_app`: settings from
$LEAL_SETTINGS (which `leal --settings … worker` sets), else ./settings.toml."""

from __future__ import annotations

from campaigns.loader import load_config
from workers.celery_config import make_app

app = make_app(load_config(None))
