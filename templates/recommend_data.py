"""What `Recommender.from_summaries` reads: the purchase summaries kept at ingest.

The summaries describe every order imported so far. A model as of an earlier instant (a
run re-done later in the day, a replay) must not see the orders placed after it, so the
customers who bought after `as_of` are taken back out of the counts and put in again as
their orders up to `as_of` say: exact, at a cost that grows with those customers only. A
replay so deep that many customers bought since is left to the full fit (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy import sparse
from sqlalchemy import Connection, func, select

from shop.models import CustomerProduct, ProductPair
from shop.purchases import pair_counts, raw_sets
from templates.recommend_rank import Floats, Sparse, Strings, binary, lookup

LATER_MAX = 20_000  # customers who bought after as_of beyond which the full fit is cheaper
IDS_PER_QUERY = 10_000  # bound parameters per IN list (SQLite allows 32,766)


@dataclass(frozen=True)
class SummaryInputs:
    customers: Strings  # sorted ids of the asked customers who bought by `as_of`
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
    later = list(
        connection.scalars(
            select(CustomerProduct.customer_id).where(CustomerProduct.last_at > as_of).distinct()
        )
    )
    if len(later) > LATER_MAX:
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


def _window_counts(
    connection: Connection, skus: Sequence[str], since: datetime, as_of: datetime
) -> Floats:
    """Rows whose last purchase is in (since, as_of], per sku (index ix_customer_products_last)."""
    query = (
        select(CustomerProduct.sku, func.count())
        .where(CustomerProduct.last_at > since, CustomerProduct.last_at <= as_of)
        .group_by(CustomerProduct.sku)
    )
    return _per_sku(skus, {sku: count for sku, count in connection.execute(query)})


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
    """The asked customers' purchases by as_of: stored rows, or raw ones for `later`."""
    pairs: list[tuple[str, str]] = []
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        current = [c for c in chunk if c not in later]
        redo = [c for c in chunk if c in later]
        if current:
            stored = select(CustomerProduct.customer_id, CustomerProduct.sku).where(
                CustomerProduct.customer_id.in_(current)
            )
            pairs += [(c, sku) for c, sku in connection.execute(stored)]
        if redo:
            raw = raw_sets(redo, as_of).subquery()
            pairs += [
                (c, sku) for c, sku in connection.execute(select(raw.c.customer_id, raw.c.sku))
            ]
    customers, rows = np.unique(
        np.array([customer for customer, _ in pairs], dtype=np.str_), return_inverse=True
    )
    columns, _ = lookup(np.array(skus, dtype=np.str_), np.array([s for _, s in pairs], np.str_))
    shape = (len(customers), len(skus))
    return customers, binary(rows.astype(np.intp), columns, shape)


def _per_sku(skus: Sequence[str], counts: dict[str, int]) -> Floats:
    return np.array([counts.get(sku, 0) for sku in skus], dtype=np.float64)
