"""What `Recommender.from_summaries` reads: the purchase summaries kept at ingest.

The summaries describe every order imported so far. A model as of an earlier instant (a
run re-done later in the day, a replay) must not see the orders placed after it, so the
customers who bought after `as_of` are taken back out of the counts and put in again as
their orders up to `as_of` say: exact, at a cost that grows with those customers only. A
replay so deep that many customers bought since is left to the full fit (None).

Popularity (distinct buyers in a window) counts each customer's last purchase of a
product: the window's whole days are summed from `product_last_days`, only its two
partial days are counted from `customer_products` rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy import Connection, func, select

from shop.models import CustomerProduct, ProductLastDay, ProductPair
from shop.purchases import Rows, midnight, pair_counts, raw_sets
from templates.recommend_rank import Floats, Ints, Sparse, Strings, binary

LATER_MAX = 20_000  # customers who bought after as_of beyond which the full fit is cheaper
IDS_PER_QUERY = 10_000  # bound parameters per IN list (SQLite allows 32,766)


@dataclass(frozen=True)
class SummaryInputs:
    customers: Strings  # the asked customers' ids, sorted
    bought: Sparse  # customers × skus (sorted), 1 where bought by `as_of`
    co: Sparse  # skus × skus customers who bought both (diagonal: buyers), float
    popularity: Floats  # distinct buyers per sku in (since, as_of]


def summary_inputs(
    connection: Connection,
    skus: Sequence[str],
    customer_ids: Sequence[str],
    since: datetime,
    as_of: datetime,
) -> SummaryInputs | None:
    later = _later_customers(connection, as_of)
    if later is None:
        return None
    co = _stored_pairs(connection, skus)
    popularity = _window_counts(connection, skus, since, as_of)
    if later:
        stored = select(CustomerProduct.customer_id, CustomerProduct.sku).where(
            CustomerProduct.customer_id.in_(later)
        )
        co = co - pair_counts(connection, skus, stored.order_by(CustomerProduct.customer_id))
        raw = raw_sets(later, as_of).subquery()
        up_to = select(raw.c.customer_id, raw.c.sku).order_by(raw.c.customer_id)
        co = co + pair_counts(connection, skus, up_to)
        popularity += _later_window_change(connection, skus, later, since, as_of)
    customers, bought = _bought(connection, skus, customer_ids, set(later), as_of)
    return SummaryInputs(customers, bought, sparse.csr_array(co.astype(np.float64)), popularity)


def _stored_pairs(connection: Connection, skus: Sequence[str]) -> Sparse:
    columns = {sku: column for column, sku in enumerate(skus)}
    rows, cols, counts = [], [], []
    for sku, other, customers in connection.execute(
        select(ProductPair.sku, ProductPair.other, ProductPair.customers)
    ):
        if sku in columns and other in columns:
            rows.append(columns[sku])
            cols.append(columns[other])
            counts.append(customers)
    shape = (len(skus), len(skus))
    return sparse.csr_array((np.array(counts, dtype=np.int64), (rows, cols)), shape=shape)


def _later_customers(connection: Connection, as_of: datetime) -> list[str] | None:
    """Sorted ids of the customers with a purchase after `as_of`; None past LATER_MAX.
    Rows, deduplicated here: with DISTINCT, SQLite walks the primary key (every row of the
    table) instead of the window index's few rows after `as_of`."""
    query = select(CustomerProduct.customer_id).where(CustomerProduct.last_at > as_of)
    found: set[str] = set()
    with connection.execute(query.execution_options(yield_per=IDS_PER_QUERY)) as rows:
        for part in rows.partitions():
            found.update(customer for (customer,) in part)
            if len(found) > LATER_MAX:
                return None
    return sorted(found)


def _window_counts(
    connection: Connection, skus: Sequence[str], since: datetime, as_of: datetime
) -> Floats:
    """Rows whose last purchase is in (since, as_of], per sku: the UTC days wholly inside
    summed from product_last_days, the partial days at both ends counted from the rows
    (index ix_customer_products_last), so the cost does not grow with the customers."""
    last_at = CustomerProduct.last_at
    first_day = since.astimezone(UTC).date() + timedelta(days=1)
    last_day = as_of.astimezone(UTC).date()
    if first_day > last_day:  # both ends on the same day
        return _per_sku(skus, _rows_per_sku(connection, last_at > since, last_at <= as_of))
    counts = _rows_per_sku(connection, last_at > since, last_at < midnight(first_day))
    counts.update(_rows_per_sku(connection, last_at >= midnight(last_day), last_at <= as_of))
    whole_days = (
        select(ProductLastDay.sku, func.sum(ProductLastDay.customers))
        .where(ProductLastDay.day >= first_day, ProductLastDay.day < last_day)
        .group_by(ProductLastDay.sku)
    )
    counts.update({sku: int(total) for sku, total in connection.execute(whole_days)})
    return _per_sku(skus, counts)


def _rows_per_sku(connection: Connection, *where: Any) -> Counter[str]:
    query = select(CustomerProduct.sku, func.count()).where(*where)
    return Counter(
        {sku: count for sku, count in connection.execute(query.group_by(CustomerProduct.sku))}
    )


def _later_window_change(
    connection: Connection, skus: Sequence[str], later: list[str], since: datetime, as_of: datetime
) -> Floats:
    """For customers who bought after as_of: their true buyers-in-window counts minus what
    their stored rows counted."""
    counted: dict[str, int] = {}
    true: dict[str, int] = {}
    for start in range(0, len(later), IDS_PER_QUERY):
        chunk = later[start : start + IDS_PER_QUERY]
        stored = (
            select(CustomerProduct.sku, func.count())
            .where(CustomerProduct.customer_id.in_(chunk))
            .where(CustomerProduct.last_at > since, CustomerProduct.last_at <= as_of)
            .group_by(CustomerProduct.sku)
        )
        raw = raw_sets(chunk, as_of).subquery()
        actual = select(raw.c.sku, func.count()).where(raw.c.last_at > since).group_by(raw.c.sku)
        for sku, count in connection.execute(stored):
            counted[sku] = counted.get(sku, 0) + count
        for sku, count in connection.execute(actual):
            true[sku] = true.get(sku, 0) + count
    return _per_sku(skus, true) - _per_sku(skus, counted)


def _bought(
    connection: Connection,
    skus: Sequence[str],
    customer_ids: Sequence[str],
    later: set[str],
    as_of: datetime,
) -> tuple[Strings, Sparse]:
    """The asked customers (sorted) × skus, 1 where bought by as_of: stored rows, or raw
    ones for `later`. A run asks for up to a million rows: each chunk is read from the
    driver's cursor (SQLAlchemy's Row objects would cost as much as the query) and turned
    into positions at once, so only the positions are kept."""
    wanted = sorted(set(customer_ids))
    row_of = {customer: row for row, customer in enumerate(wanted)}
    column_of = {sku: column for column, sku in enumerate(skus)}
    rows: list[Ints] = []
    columns: list[Ints] = []
    for start in range(0, len(wanted), IDS_PER_QUERY):
        for query in _purchases_of(wanted[start : start + IDS_PER_QUERY], later, as_of):
            pairs = connection.execute(query).cursor.fetchall()
            rows.append(np.fromiter((row_of[c] for c, _ in pairs), np.intp, len(pairs)))
            columns.append(np.fromiter((column_of[s] for _, s in pairs), np.intp, len(pairs)))
    shape = (len(wanted), len(skus))
    return np.array(wanted, dtype=np.str_), binary(_joined(rows), _joined(columns), shape)


def _purchases_of(customers: list[str], later: set[str], as_of: datetime) -> list[Rows]:
    """(customer, sku) queries: their stored rows, or for `later` their orders by as_of."""
    current = [c for c in customers if c not in later]
    redo = [c for c in customers if c in later]
    queries: list[Rows] = []
    if current:
        stored = select(CustomerProduct.customer_id, CustomerProduct.sku)
        queries.append(stored.where(CustomerProduct.customer_id.in_(current)))
    if redo:
        raw = raw_sets(redo, as_of).subquery()
        queries.append(select(raw.c.customer_id, raw.c.sku))
    return queries


def _joined(parts: list[Ints]) -> Ints:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


def _per_sku(skus: Sequence[str], counts: Mapping[str, int]) -> Floats:
    return np.array([counts.get(sku, 0) for sku in skus], dtype=np.float64)
