"""Hit-rate of recommendations on each customer's held-out last order.

    python bench/recommendations.py [--customers 5000 50000]

For each shop size: a demo shop is generated and imported (SQLite under var/bench/),
each customer's last order is held out (customers with at least two orders), the model
is fitted on everything else, and hit-rate@k is the share of those customers with at
least one of their k recommendations in the held-out order. Item-to-item co-purchase
against the popularity baseline, with already-bought products excluded and allowed
(repeat purchases can only be hits when they are allowed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from scipy import sparse
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from campaigns.config import DatabaseSettings  # noqa: E402
from campaigns.loader import load_config  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from shop.demo import write_demo_shop  # noqa: E402
from shop.importer import import_dir  # noqa: E402
from shop.models import Order, OrderItem, Product  # noqa: E402
from templates.recommend import Purchase, Recommender  # noqa: E402

TZ = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 6, 15, 9, 0, tzinfo=TZ)
KS = (3, 6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[5000, 50000])
    for customers in parser.parse_args().customers:
        evaluate(customers)


def evaluate(customers: int) -> None:
    rows, stock = _shop(customers)
    last: dict[str, tuple[datetime, str]] = {}
    for customer, order_id, _, at in rows:
        if customer not in last or (at, order_id) > last[customer]:
            last[customer] = (at, order_id)
    orders = defaultdict(set)
    for customer, order_id, _, _ in rows:
        orders[customer].add(order_id)
    held: dict[str, set[str]] = defaultdict(set)
    train = []
    for customer, order_id, sku, at in rows:
        if len(orders[customer]) >= 2 and last[customer][1] == order_id:
            held[customer].add(sku)
        else:
            train.append(Purchase(customer, sku, at))
    started = time.perf_counter()
    model = Recommender.from_purchases(train, stock, as_of=AT)
    fitted = time.perf_counter() - started
    popular = Recommender(
        **{**vars(model), "similarity": sparse.csr_matrix(model.similarity.shape)}
    )
    print(f"\n{customers:,} customers: {len(rows):,} order lines, {len(held):,} held-out "
          f"last orders, {len(model.skus)} products; fit {fitted:.2f} s")  # fmt: skip
    print(
        f"  {'model':<22}{'already bought':<16}" + "".join(f"hit@{k:<6}" for k in KS) + "recommend"
    )
    for exclude in (True, False):
        for name, recommender in (("item-to-item", model), ("popularity (baseline)", popular)):
            started = time.perf_counter()
            picks = recommender.recommend(held, k=max(KS), exclude_purchased=exclude)
            seconds = time.perf_counter() - started
            hits = [sum(bool(set(picks[c][:k]) & held[c]) for c in held) / len(held) for k in KS]
            print(f"  {name:<22}{'excluded' if exclude else 'allowed':<16}"
                  + "".join(f"{h:<10.3f}" for h in hits)
                  + f"{len(held) / seconds:,.0f} customers/s")  # fmt: skip


def _shop(customers: int) -> tuple[list[tuple[str, str, str, datetime]], dict[str, bool]]:
    path = ROOT / "var" / "bench" / f"recs-{customers}.db"
    engine = make_engine(f"sqlite:///{path}")
    if not path.exists():
        data = path.parent / f"recs-data-{customers}"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        write_demo_shop(data, at=AT, tz=TZ, customers=customers, seed=3)
        config = load_config(ROOT / "settings.toml")
        settings = config.settings.model_copy(
            update={"database": DatabaseSettings(url=f"sqlite:///{path}")}
        )
        migrate(engine)
        import_dir(engine, data, settings, on=AT.date())
        shutil.rmtree(data)
    with engine.connect() as connection:
        query = select(Order.customer_id, Order.id, OrderItem.sku, Order.ordered_at).join(
            OrderItem, OrderItem.order_id == Order.id
        )
        rows = [(c, o, s, at) for c, o, s, at in connection.execute(query)]
        stock = {
            sku: bool(ok) for sku, ok in connection.execute(select(Product.sku, Product.in_stock))
        }
    return rows, stock


if __name__ == "__main__":
    main()
