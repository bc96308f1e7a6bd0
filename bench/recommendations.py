"""Hit-rate of recommendations on each customer's held-out last order, and their cost.

    python bench/recommendations.py [--customers 5000 50000] [--days 28] [--step 1]

For each shop size a demo shop is generated and imported once (SQLite under var/bench/,
reused; --rebuild makes it again). Evaluation replays daily runs without lookahead: for
each run instant (local midnight, every `--step` days over the last `--days` days) the
model is fitted with `as_of` at that instant, and scored on the customers whose last
order falls before the next run and who had ordered before (customers with ≥ 2 orders).
A hit@k is a customer with at least one of their k recommendations in that held-out
order; precision@k and recall@k are averaged over those customers too. Item-to-item
against the popularity baseline (the same model without co-purchase scores), with
already-bought products excluded and allowed: repeat purchases are hits only when allowed.

Each replayed run also fits the model a daily run uses (`from_summaries`, for the
customers scored) and stops if its picks differ from the full fit's: the summaries kept
at ingest must give the same answers, however many customers bought after the instant.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from campaigns.config import DatabaseSettings  # noqa: E402
from campaigns.loader import load_config  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from shop.demo import write_demo_shop  # noqa: E402
from shop.importer import import_dir  # noqa: E402
from shop.models import Customer, Order, OrderItem  # noqa: E402
from templates.recommend import Recommender  # noqa: E402

TZ = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 6, 15, 9, 0, tzinfo=TZ)  # fixed, so a built shop can be reused
KS = (3, 6)
MODELS = ("item-to-item", "popularity")


@dataclass
class Score:
    """Sums over held-out customers, per k: hits, precision and recall."""

    customers: int = 0
    hits: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    precision: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    recall: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))

    def add(self, picks: list[str], held: set[str]) -> None:
        self.customers += 1
        for k in KS:
            found = len(set(picks[:k]) & held)
            self.hits[k] += found > 0
            self.precision[k] += found / k
            self.recall[k] += found / len(held)


@dataclass
class Timings:
    fits: list[float] = field(default_factory=list)
    summary_fits: list[float] = field(default_factory=list)
    scored: int = 0
    scoring: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--days", type=int, default=28, help="replay the last N days")
    parser.add_argument("--step", type=int, default=1, help="days between replayed runs")
    parser.add_argument("--rebuild", action="store_true", help="build the shops again")
    args = parser.parse_args()
    for customers in args.customers:
        engine = _shop(customers, args.rebuild)
        with engine.connect() as connection:
            evaluate(connection, customers, args.days, args.step)


def evaluate(connection: Connection, customers: int, days: int, step: int) -> None:
    runs = [_midnight(AT) - timedelta(days=back) for back in range(days, 0, -step)]
    held = _held_out(connection, runs[0])
    scores = {(m, ex): Score() for m in MODELS for ex in (True, False)}
    timings = Timings()
    for run in runs:
        due = {c: skus for c, (at, skus) in held.items() if run < at <= run + timedelta(days=step)}
        model = _fit(connection, run, due, timings)
        _score(model, due, scores, timings)
    lines = connection.scalar(select(func.count()).select_from(OrderItem))
    held_out = scores[MODELS[0], True].customers
    print(
        f"\n{customers:,} customers, {lines:,} order lines, {len(model.skus)} products: "
        f"{len(runs)} runs replayed, {held_out:,} held-out orders"
    )
    _table(scores)
    _timing(connection, model, timings)


def _held_out(connection: Connection, first_run: datetime) -> dict[str, tuple[datetime, set[str]]]:
    """Customer -> (instant, SKUs) of their last order, for those who ordered before it
    and whose last order is after `first_run`."""
    orders = select(
        Order.customer_id,
        func.max(Order.ordered_at).label("last_at"),
        func.min(Order.ordered_at).label("first_at"),
    ).group_by(Order.customer_id)
    last = {
        customer: last_at
        for customer, last_at, first_at in connection.execute(orders)
        if last_at > first_run and first_at < last_at
    }
    items = (
        select(Order.customer_id, Order.ordered_at, OrderItem.sku)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.ordered_at > first_run)
    )
    held: dict[str, tuple[datetime, set[str]]] = {}
    for customer, at, sku in connection.execute(items):
        if last.get(customer) == at:
            held.setdefault(customer, (at, set()))[1].add(sku)
    return held


def _fit(
    connection: Connection, run: datetime, due: dict[str, set[str]], timings: Timings
) -> Recommender:
    """The full fit, checked against the daily run's model from the summaries."""
    started = time.perf_counter()
    model = Recommender.fit(connection, as_of=run)
    timings.fits.append(time.perf_counter() - started)
    started = time.perf_counter()
    daily = Recommender.from_summaries(connection, as_of=run, customer_ids=list(due))
    timings.summary_fits.append(time.perf_counter() - started)
    for exclude in (True, False):
        picks = daily.recommend(due, k=max(KS), exclude_purchased=exclude)
        if picks != model.recommend(due, k=max(KS), exclude_purchased=exclude):
            sys.exit(f"at {run} the model from the summaries differs from the full fit")
    return model


def _score(
    model: Recommender,
    due: dict[str, set[str]],
    scores: dict[tuple[str, bool], Score],
    timings: Timings,
) -> None:
    for name, recommender in zip(MODELS, (model, model.without_similarity()), strict=True):
        for exclude in (True, False):
            started = time.perf_counter()
            picks = recommender.recommend(due, k=max(KS), exclude_purchased=exclude)
            if name == MODELS[0]:
                timings.scoring += time.perf_counter() - started
                timings.scored += len(due)
            for customer, held in due.items():
                scores[name, exclude].add(picks[customer], held)


def _table(scores: dict[tuple[str, bool], Score]) -> None:
    header = "".join(f"{f'{m}@{k}':>9}" for m in ("hit", "prec", "recall") for k in KS)
    print(f"  {'model':<14}{'already bought':<16}{header}")
    for exclude in (True, False):
        for name in MODELS:
            score = scores[name, exclude]
            n = score.customers or 1
            cells = [score.hits, score.precision, score.recall]
            row = "".join(f"{cell[k] / n:>9.3f}" for cell in cells for k in KS)
            print(f"  {name:<14}{'excluded' if exclude else 'allowed':<16}{row}")


def _timing(connection: Connection, model: Recommender, timings: Timings) -> None:
    ids = list(connection.scalars(select(Customer.id)))
    started = time.perf_counter()
    model.recommend(ids, k=max(KS))
    everyone = time.perf_counter() - started
    fit = sorted(timings.fits)[len(timings.fits) // 2]
    daily = sorted(timings.summary_fits)[len(timings.summary_fits) // 2]
    rate = timings.scored / timings.scoring if timings.scoring else 0.0
    print(
        f"  fit {fit:.3f} s, from the summaries {daily:.3f} s, same picks (medians of "
        f"{len(timings.fits)}); recommend k={max(KS)}: "
        f"{rate:,.0f} customers/s in run-sized batches, all {len(ids):,} customers "
        f"in {everyone:.3f} s"
    )


def _midnight(at: datetime) -> datetime:
    return datetime.combine(at.date(), datetime.min.time(), tzinfo=at.tzinfo)


def _shop(customers: int, rebuild: bool) -> Engine:
    """The demo shop of `customers` customers, built and imported unless already there."""
    path = ROOT / "var" / "bench" / f"recs-{customers}.db"
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    built = path.exists()
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    if built:
        return engine
    data = path.parent / f"recs-data-{customers}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    started = time.perf_counter()
    write_demo_shop(data, at=AT, tz=TZ, customers=customers, seed=3)
    config = load_config(ROOT / "settings.toml")
    database = DatabaseSettings(url=f"sqlite:///{path}")
    settings = config.settings.model_copy(update={"database": database})
    import_dir(engine, data, settings, on=AT.date())
    shutil.rmtree(data)
    print(f"built {path.name} in {time.perf_counter() - started:.1f} s")
    return engine


if __name__ == "__main__":
    main()
