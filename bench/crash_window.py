"""What a kill -9 costs: how often a crashed worker's last email goes out twice.

    python bench/crash_window.py --trials 40 --messages 300
    python bench/crash_window.py --postgres postgresql+psycopg://postgres@127.0.0.1/test

A real aiosmtpd sink runs in its own process and logs each message's Message-ID and the
moment it accepted it (CLOCK_MONOTONIC is one clock for every process on the machine). Per
trial a worker process delivers a fresh ledger of N win-back emails through Leal's SMTP
channel and is killed -9 at a random moment of its sending; recovery gives its rows back
and a second pass delivers the rest. Counted at the sink: emails received twice (same
Message-ID) and emails never received.

The window is measured in one uninterrupted run, per message, in three parts: from the
moment the worker handed the message's last byte to the kernel to the sink's acceptance
(the server's part: a killed process's socket still delivers what it buffered, so the
server accepts the message anyway), then until the worker has read the 250 (the reply's
trip), then until its log line for the message, which Leal writes right after the
outcome's commit (Leal's own part).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.win_back_queue import plan_win_back  # noqa: E402
from campaigns.config import Settings  # noqa: E402
from campaigns.loader import Config  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from templates.unsubscribe import Signer  # noqa: E402
from workers import ledger  # noqa: E402
from workers.run import deliver_due  # noqa: E402

NOW = datetime(2026, 6, 15, 8, tzinfo=UTC)
PORT = 2527
MESSAGE_ID = re.compile(rb"^Message-ID: <leal\.outbox\.(\d+)@", re.MULTILINE | re.IGNORECASE)
SCHEMA = "leal_bench_crash"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--messages", type=int, default=300, help="emails per trial")
    parser.add_argument("--postgres", metavar="URL", help="the ledger on PostgreSQL")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        received = work / "received.log"
        sink = multiprocessing.get_context("spawn").Process(
            target=_sink, args=(PORT, str(received)), daemon=True
        )
        sink.start()
        time.sleep(1.5)
        template = work / "template.db"
        plan_win_back(f"sqlite:///{template}", _customers(args.messages), "email", NOW)
        _checkpoint(template)
        ledger_url = _ledger_url(args.postgres, work, template)
        dialect = make_engine(ledger_url).dialect.name
        print(f"{args.trials} trials of {args.messages} emails, ledger on {dialect}, "
              "aiosmtpd sink in its own process")  # fmt: skip
        (server, reply, ours), cycle, span = _measure_window(ledger_url, work, received)
        whole = [a + b + c for a, b, c in zip(server, reply, ours, strict=True)]
        for name, part in (("last byte handed over -> sink accepted", server),
                           ("sink accepted -> its 250 read        ", reply),
                           ("250 read -> outcome committed (Leal) ", ours),
                           ("the whole window                     ", whole)):  # fmt: skip
            print(f"  {name} median {_us(part, 50)}, p90 {_us(part, 90)}, p99 {_us(part, 99)}")
        print(f"  one message every {cycle * 1e6:,.0f} µs of the sending; the window is "
              f"{statistics.mean(whole) / cycle:.0%} of that")  # fmt: skip
        duplicated = lost = 0
        for _ in range(args.trials):
            twice, missing = _trial(ledger_url, work, received, args, span)
            duplicated += twice
            lost += missing
        print(f"  kill -9 at a random moment: {duplicated} of {args.trials} trials sent one "
              f"email twice ({duplicated / args.trials:.0%}), {lost} emails lost")  # fmt: skip
        sink.terminate()
    if args.postgres:
        _drop_schema(args.postgres)


def _us(values: list[float], percentile: int) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, len(ordered) * percentile // 100)] * 1e6:,.0f} µs"


def _customers(n: int) -> list[dict[str, object]]:
    return [
        {"id": f"C{i:07d}", "email": f"c{i}@example.com", "phone": None,
         "first_name": f"Client {i}", "last_name": "Pérez", "locale": "es",
         "email_opt_in": True, "sms_opt_in": False}
        for i in range(n)
    ]  # fmt: skip


def _ledger_url(postgres: str | None, work: Path, template: Path) -> str:
    if postgres is None:
        return f"sqlite:///{work / 'trial.db'}"
    _drop_schema(postgres)
    with make_engine(postgres).begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in postgres else "?"
    url = f"{postgres}{separator}options=-csearch_path%3D{SCHEMA}"
    migrate(make_engine(url))  # the schema only; rows are copied per trial
    return url


def _checkpoint(path: Path) -> None:
    """Everything into the main file, so a plain copy of it is the whole database."""
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def _drop_schema(url: str) -> None:
    with make_engine(url).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def _fresh_ledger(url: str, work: Path) -> None:
    """The planned ledger, as before any delivery."""
    template = work / "template.db"
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work / 'trial.db'}{suffix}").unlink(missing_ok=True)
        shutil.copy(template, work / "trial.db")
        return
    _copy_to_postgres(template, url)


def _copy_to_postgres(template: Path, url: str) -> None:
    from shop.models import Base

    source, target = make_engine(f"sqlite:///{template}"), make_engine(url)
    tables = [t for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
    with source.connect() as reading, target.begin() as writing:
        writing.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} CASCADE"))
        for table in tables:
            rows = [dict(row) for row in reading.execute(table.select()).mappings()]
            if rows:
                writing.execute(table.insert(), rows)
        writing.execute(text("SELECT setval('outbox_id_seq', (SELECT max(id) FROM outbox))"))


def _config(url: str, folder: Path) -> Config:
    settings = Settings(
        database={"url": url},
        campaigns={"win_back": {"trigger": "win_back", "channels": ["email"],
                                "template": "win_back", "recommendations": 0}},
        delivery={"email": "smtp", "batch": 100, "folder": folder},
        smtp={"host": "127.0.0.1", "port": PORT, "security": "none"},
        email={"from_address": "hola@cafe.example"},
        web={"public_url": "https://leal.cafe.example"},
        sending_hours={"sms": None},
    )  # fmt: skip
    return Config(settings, None)


def _worker(url: str, folder: str, measured: str | None) -> None:
    """A worker process: delivers every due row; with `measured`, logs when each message's
    last byte went to the kernel (`.handed`) and when its outcome's commit returned
    (`.committed`: Leal's log line comes right after it)."""
    if measured is not None:
        _log_hand_over(measured)
        handler = _CommitLog(f"{measured}.committed")
        logging.getLogger("leal.delivery").addHandler(handler)
        logging.getLogger("leal.delivery").setLevel(logging.INFO)
    later = NOW + timedelta(hours=1)
    deliver_due(make_engine(url), _config(url, Path(folder)), signer=Signer(b"k" * 32),
                clock=lambda: later)  # fmt: skip


def _log_hand_over(path: str) -> None:
    """Wrap smtplib (this process only) to log when each message's data was handed to the
    kernel (`path.handed`) and when the server's reply to it was read (`path.replied`)."""
    import smtplib

    handed = open(f"{path}.handed", "a", encoding="ascii")  # noqa: SIM115
    replied = open(f"{path}.replied", "a", encoding="ascii")  # noqa: SIM115
    send, getreply = smtplib.SMTP.send, smtplib.SMTP.getreply
    pending: list[str] = []

    def logged_send(self: smtplib.SMTP, data: Any) -> None:
        send(self, data)
        if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
            found = MESSAGE_ID.search(data)
            pending.append(found.group(1).decode() if found else "?")
            handed.write(f"{pending[-1]}\t{time.monotonic()}\n")
            handed.flush()

    def logged_reply(self: smtplib.SMTP) -> tuple[int, bytes]:
        reply = getreply(self)
        if pending:
            replied.write(f"{pending.pop()}\t{time.monotonic()}\n")
            replied.flush()
        return reply

    smtplib.SMTP.send = logged_send  # type: ignore[method-assign,assignment]
    smtplib.SMTP.getreply = logged_reply  # type: ignore[method-assign]


class _CommitLog(logging.Handler):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.file = open(path, "a", encoding="ascii")  # noqa: SIM115 (lives as the process)

    def emit(self, record: logging.LogRecord) -> None:
        at = time.monotonic()
        self.file.write(f"{record.args[0]}\t{at}\n")  # type: ignore[index]
        self.file.flush()


def _measure_window(
    url: str, work: Path, received: Path
) -> tuple[tuple[list[float], list[float], list[float]], float, tuple[float, float]]:
    """The window's three parts per message, the time one message takes, and when sending
    begins and ends after the worker starts (the span a kill is drawn from)."""
    _fresh_ledger(url, work)
    received.write_text("")
    measured = work / "measured"
    started = time.monotonic()
    process = multiprocessing.get_context("fork").Process(
        target=_worker, args=(url, str(work), str(measured))
    )
    process.start()
    process.join()
    accepted = {int(i): t for i, t in _lines(received)}
    handed = {int(i): t for i, t in _lines(Path(f"{measured}.handed"))}
    replied = {int(i): t for i, t in _lines(Path(f"{measured}.replied"))}
    done = {int(i): t for i, t in _lines(Path(f"{measured}.committed"))}
    every = [i for i in accepted if i in done and i in handed and i in replied]
    server = [accepted[i] - handed[i] for i in every]
    reply = [replied[i] - accepted[i] for i in every]
    ours = [done[i] - replied[i] for i in every]
    first, last = min(accepted.values()), max(accepted.values())
    cycle = (last - first) / max(1, len(accepted) - 1)
    return (server, reply, ours), cycle, (first - started, last - started)


def _trial(
    url: str, work: Path, received: Path, args: argparse.Namespace, span: tuple[float, float]
) -> tuple[int, int]:
    """One kill: (1 if an email arrived twice else 0, emails never received)."""
    _fresh_ledger(url, work)
    received.write_text("")
    process = multiprocessing.get_context("fork").Process(
        target=_worker, args=(url, str(work), None)
    )
    process.start()
    time.sleep(random.uniform(*span))
    os.kill(process.pid or 0, signal.SIGKILL)
    process.join()
    engine = make_engine(url)
    with engine.begin() as connection:  # recovery, its timeout already past
        ledger.release_stale(connection, NOW + timedelta(days=1), NOW + timedelta(hours=1))
    engine.dispose()
    _worker(url, str(work), None)
    counts = Counter(int(i) for i, _ in _lines(received))
    twice = sum(1 for n in counts.values() if n > 1)
    return (1 if twice else 0), args.messages - len(counts)


def _lines(path: Path) -> list[tuple[str, float]]:
    rows = [line.split("\t") for line in path.read_text().splitlines() if line]
    return [(key, float(at)) for key, at in rows]


def _sink(port: int, path: str) -> None:
    from aiosmtpd.controller import Controller

    log = open(path, "a", encoding="ascii")  # noqa: SIM115 (lives as the process)

    class Logged:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802
            session.host_name = hostname
            responses.insert(-1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            """The message is the receiver's from here: logged before the 250 goes."""
            found = MESSAGE_ID.search(envelope.original_content or envelope.content)
            log.write(f"{found.group(1).decode() if found else '?'}\t{time.monotonic()}\n")
            log.flush()
            return "250 OK"

    controller = Controller(Logged(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
