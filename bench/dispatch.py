"""Delivery from the ledger to a local SMTP server: messages/s and our CPU per email.

    python bench/dispatch.py --messages 20000
    python bench/dispatch.py --postgres postgresql+psycopg://postgres@127.0.0.1/test

A demo-style shop gets N win-back emails planned into the outbox (SQLite), then 1 and 2
worker processes deliver them through Leal's SMTP channel to an aiosmtpd sink running in
its own process (offering PIPELINING, as production MTAs do, unless --no-pipelining).
Printed: messages/s, Leal's CPU ms per delivered email (render, MIME, ledger, SMTP client;
the sink's CPU is not counted), beside raw smtplib sending the same bytes over one
connection (the ceiling the sink allows).
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bench.sms_rate import measure  # noqa: E402
from bench.win_back_queue import plan_win_back, requeue  # noqa: E402
from campaigns.config import Settings  # noqa: E402
from campaigns.loader import Config  # noqa: E402
from shop.db import make_engine  # noqa: E402
from shop.models import OutboxMessage  # noqa: E402
from templates.unsubscribe import Signer  # noqa: E402
from workers.run import deliver_due  # noqa: E402

NOW = datetime(2026, 6, 15, 8, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--no-pipelining", action="store_true", help="the sink does not offer PIPELINING"
    )
    parser.add_argument("--sms", type=int, default=300, help="SMS for the rate check (0: none)")
    parser.add_argument("--sms-rate", type=float, default=50.0, help="SMS per second per sender")
    parser.add_argument(
        "--postgres", metavar="URL", help="the ledger on PostgreSQL, in a fresh schema there"
    )
    args = parser.parse_args()
    n, pipelining = args.messages, not args.no_pipelining
    sink = multiprocessing.get_context("spawn").Process(
        target=_sink, args=(2526, pipelining), daemon=True
    )
    sink.start()
    time.sleep(1.5)
    with tempfile.TemporaryDirectory() as folder:
        url = _fresh_schema(args.postgres) if args.postgres else f"sqlite:///{folder}/bench.db"
        config = _config(url)
        _plan(url, n)
        offers = "offering PIPELINING" if pipelining else "without PIPELINING"
        print(f"{n:,} win-back emails, ledger on {make_engine(url).dialect.name}, SMTP sink on "
              f"127.0.0.1:2526 (aiosmtpd, own process, {offers})")  # fmt: skip
        ceiling = _raw_smtplib(n)
        print(
            f"  raw smtplib, one connection      {ceiling:>8,.0f} messages/s (the sink's ceiling)"
        )
        for workers in (1, 2):
            requeue(url)
            rate, cpu_ms = _deliver(config, url, workers)
            print(f"  leal, {workers} worker process(es)     {rate:>8,.0f} messages/s, "
                  f"{cpu_ms:.2f} ms of our CPU per email")  # fmt: skip
        if args.sms >= 2:  # a rate needs two SMS at least; --sms 0 skips this part
            print(f"{args.sms:,} win-back SMS, twilio SDK to a local Twilio-like server, "
                  f"one sender at {args.sms_rate:g} per second")  # fmt: skip
            for line in measure(folder, args.sms, args.sms_rate, NOW):
                print(line)
    sink.terminate()
    if args.postgres:
        _drop_schema(args.postgres)


def _fresh_schema(url: str) -> str:
    """An empty schema on the server for the bench's ledger (the server's CPU, like the
    sink's, is not counted as ours)."""
    _drop_schema(url)
    with make_engine(url).begin() as connection:
        connection.execute(text("CREATE SCHEMA leal_bench_dispatch"))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3Dleal_bench_dispatch"


def _drop_schema(url: str) -> None:
    with make_engine(url).begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS leal_bench_dispatch CASCADE"))


def _config(url: str) -> Config:
    settings = Settings(
        database={"url": url},
        campaigns={"win_back": {"trigger": "win_back", "channels": ["email"],
                                "template": "win_back", "recommendations": 0}},
        delivery={"email": "smtp", "batch": 200},
        smtp={"host": "127.0.0.1", "port": 2526, "security": "none"},
        email={"from_address": "hola@cafe.example"},
        web={"public_url": "https://leal.cafe.example"},
        sending_hours={"sms": None},
    )  # fmt: skip
    return Config(settings, None)


def _plan(url: str, n: int) -> None:
    customers = [
        {"id": f"C{i:07d}", "email": f"c{i}@example.com", "phone": None,
         "first_name": f"Client {i}", "last_name": "Pérez",
         "locale": ("ca", "es", "it", "ro", "en")[i % 5], "email_opt_in": True,
         "sms_opt_in": False}
        for i in range(n)
    ]  # fmt: skip
    plan_win_back(url, customers, "email", NOW)


def _deliver(config: Config, url: str, workers: int) -> tuple[float, float]:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.perf_counter()
    processes = [
        context.Process(target=_worker, args=(config, url, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    cpu = sum(results.get() for _ in processes)
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    with make_engine(url).connect() as connection:
        sent = len(
            connection.execute(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all()
        )
    return sent / elapsed, cpu / sent * 1000


def _worker(config: Config, url: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    start = time.process_time()
    deliver_due(
        make_engine(url), config, signer=Signer(b"k" * 32), clock=lambda: NOW + timedelta(hours=1)
    )
    results.put(time.process_time() - start)


def _raw_smtplib(n: int) -> float:
    body = (b"x" * 76 + b"\r\n") * 400  # about a rendered email, in SMTP-sized lines
    data = b"From: a@cafe.example\r\nTo: b@example.com\r\nSubject: x\r\n\r\n" + body
    with smtplib.SMTP("127.0.0.1", 2526) as connection:
        started = time.perf_counter()
        for _ in range(n):
            connection.sendmail("a@cafe.example", ["b@example.com"], data)
    return n / (time.perf_counter() - started)


def _sink(port: int, pipelining: bool) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802
            """Offer PIPELINING as Postfix and the big providers do (aiosmtpd reads
            commands in order, so it serves pipelined clients without advertising it)."""
            session.host_name = hostname
            if pipelining:
                responses.insert(-1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
