"""SMS from the ledger through the real twilio SDK to a local server answering like Twilio:
is the configured rate per sender held, by one worker and by two sharing Redis?

Used by `bench/dispatch.py`; the server is the test suite's fake of the Messages API.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta
from pathlib import Path

import redis

from bench.win_back_queue import plan_win_back, requeue
from campaigns.config import Settings
from campaigns.loader import Config
from shop.db import make_engine
from templates.unsubscribe import Signer
from tests.workers.twilio_fake import fake_twilio
from workers import ledger
from workers.channels import Routed
from workers.channels.file import FileChannel
from workers.channels.twilio_sms import TwilioAccount, TwilioChannel
from workers.deliver import Deliverer

REDIS = "redis://127.0.0.1:6379/15"
SENDER = "+34900000001"


def measure(folder: str, n: int, rate: float, now: datetime) -> list[str]:
    """Lines to print: per setup, the sent rate and the most SMS arriving in any one second
    (arrival times at the server carry a few ms of HTTP jitter; the pace's slots do not)."""
    url = f"sqlite:///{folder}/sms.db"
    _plan(url, n, now)
    config = Config(Settings(database={"url": url}, campaigns={"win_back": {
        "trigger": "win_back", "channels": ["sms"], "template": "win_back"}},
        sending_hours={"sms": None}), None)  # fmt: skip
    lines = []
    for workers, shared in ((1, None), (2, _redis_or_none())):
        if workers == 2 and shared is None:
            lines.append("  2 workers: skipped, no Redis on 127.0.0.1:6379 to share the pace")
            continue
        requeue(url)
        with fake_twilio() as (server, api):
            _deliver(config, url, api, rate, shared, workers, now)
            times = sorted(when for when, _, _ in server.requests)
        span = times[-1] - times[0]
        busiest = max(sum(start <= t < start + 1.0 for t in times) for start in times)
        lines.append(
            f"  {workers} worker(s){' sharing Redis' if shared else ''}: {len(times)} SMS, "
            f"{(len(times) - 1) / span:.2f} per second (limit {rate:g}), at most {busiest} "
            "arriving in any one second"
        )
    return lines


def _plan(url: str, n: int, now: datetime) -> None:
    customers = [
        {"id": f"S{i:06d}", "email": None, "phone": f"+347{i:08d}", "first_name": f"Client {i}",
         "last_name": "Puig", "locale": "ca", "email_opt_in": False, "sms_opt_in": True}
        for i in range(n)
    ]  # fmt: skip
    plan_win_back(url, customers, "sms", now)


def _redis_or_none() -> str | None:
    try:
        redis.Redis.from_url(REDIS).flushdb()
    except redis.RedisError:
        return None
    return REDIS


def _deliver(config: Config, url: str, api: str, rate: float, shared: str | None,
             workers: int, now: datetime) -> None:  # fmt: skip
    context = multiprocessing.get_context("fork")
    args = (config, url, api, rate, shared, now)  # fork: the config travels as is
    processes = [context.Process(target=_worker, args=args) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()


def _worker(config: Config, url: str, api: str, rate: float, shared: str | None,
            now: datetime) -> None:  # fmt: skip
    account = TwilioAccount("AC" + "0" * 32, from_number=SENDER, rate_per_second=rate,
                            api_url=api, pace_redis_url=shared)  # fmt: skip
    engine = make_engine(url)
    sms = TwilioChannel(account)
    unused = FileChannel(Path(url.removeprefix("sqlite:///")).parent / "email")  # no email here
    deliverer = Deliverer(engine, config, Routed(unused, sms), Signer(b"k" * 32))
    later = now + timedelta(hours=1)
    while True:
        with engine.connect() as connection:
            ids = ledger.due_ids(connection, later, 20)
        if not ids:
            break
        deliverer.deliver(ids, later)
