"""The Celery app's configuration, from Leal's settings (no side effects on import).

With `[workers] broker_url` unset (the default) tasks run in the calling process, so a
fresh machine delivers with no server. With `redis://…` the same tasks run on any number
of `leal worker` processes. Tasks carry outbox ids only; the ledger decides what is still
to do, so `acks_late` (a task is acknowledged after it ran, and redelivered if its worker
died) can never send a message twice. The daily run is scheduled by beat at
`[schedule] daily_at` in the shop's time zone.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from campaigns.loader import Config


def make_app(config: Config) -> Celery:
    settings = config.settings
    broker = settings.workers.broker_url
    app = Celery("leal", include=["workers.tasks"])
    app.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=broker is None,  # no server: run tasks in-process
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,  # a killed worker's task goes back to the queue
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        timezone=settings.shop.timezone,
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "daily-run": {
                "task": "leal.daily_run",
                "schedule": crontab(
                    hour=settings.schedule.daily_at.hour, minute=settings.schedule.daily_at.minute
                ),
            },
            # rows of dead workers back to the queue; deferred rows that came due go out
            "recover": {"task": "leal.recover", "schedule": crontab(minute="*/5")},
        },
    )
    app.leal_config = config  # type: ignore[attr-defined]  # the tasks' settings
    return app
