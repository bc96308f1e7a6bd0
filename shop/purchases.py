"""The purchase summaries the recommender reads, kept current at ingest.

`customer_products` holds each (customer, product) ever bought with its first and last
instant; `product_pairs` how many customers bought both of two products; `product_last_days`
how many customers last bought a product on each day. A daily run then reads the pair
counts (products², however long the history), the day counts of its popularity window and
the planned customers' rows, never every order line of the shop (templates.recommend).

An import merges the lines it wrote into the rows (a product first bought adds a row, one
bought again moves its instants) and moves the pair and day counts by what changed, at a
cost that grows with the import, not the history; a first import (or a backfill) builds
everything in one pass. Pair counts are summed with scipy sparse products over a bounded
number of rows at a time, a customer never split between two of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Select,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import aliased

from shop.models import (
    ID,
    Customer,
    CustomerProduct,
    Order,
    OrderItem,
    Product,
    ProductLastDay,
    ProductPair,
)
from shop.sql import upsert_insert

CHUNK_ROWS = 200_000  # customer_products rows summed at once: bounds memory
SPAN_CUSTOMERS = 50_000  # customers whose lines one GROUP BY of a rebuild sorts
MERGE_ORDERS = 10_000  # orders whose lines one merge reads (and customers it names at most)
REBUILD_SHARE = 16  # per order, a merge costs about this many times a rebuild (measured)
PairCounts = sparse.csr_array  # products × products, in the order of `catalogue`
Rows = Select[*tuple[Any, ...]]
Span = tuple[str | None, str | None]  # key values: after the first, up to the last
DayCounts = Counter[tuple[date, str]]  # (UTC day of the last purchase, sku) -> customers

# Orders that got lines during one import (a temporary table: its size is the import's).
_TOUCHED = Table(
    "leal_touched_orders",
    MetaData(),
    Column("order_id", ID, primary_key=True),
    prefixes=["TEMPORARY"],
)


def catalogue(connection: Connection) -> list[str]:
    """Every SKU, sorted: the rows and columns of pair counts."""
    return list(connection.scalars(select(Product.sku).order_by(Product.sku)))


def raw_sets(
    customers: Any = None, until: Any = None, span: Span = (None, None), orders: Any = None
) -> Rows:
    """(customer, sku, first, last) from the orders' lines, for `customers` (a select or a
    list of ids; all when None), orders placed by `until` (all when None), customer ids in
    `span` (after its first, up to its last; open where None), `orders` (ids; all when
    None)."""
    query = select(
        Order.customer_id,
        OrderItem.sku,
        func.min(Order.ordered_at).label("first_at"),
        func.max(Order.ordered_at).label("last_at"),
    ).join(OrderItem, OrderItem.order_id == Order.id)
    if customers is not None:
        query = query.where(Order.customer_id.in_(customers))
    if until is not None:
        query = query.where(Order.ordered_at <= until)
    if orders is not None:
        query = query.where(Order.id.in_(orders))
    return _in_span(query, Order.customer_id, span).group_by(Order.customer_id, OrderItem.sku)


def rebuild_purchases(connection: Connection) -> None:
    """Every summary from all the orders' lines (a first import, or the migration), a span
    of customers at a time: each GROUP BY sorts a bounded number of lines, never all of
    them, and the window index is built once at the end (dropped first: deleting the rows
    it holds costs more than building it again)."""
    table = CustomerProduct.__table__
    assert isinstance(table, Table)
    [window_index] = table.indexes
    window_index.drop(connection)
    for summary in (ProductPair, ProductLastDay, CustomerProduct):
        connection.execute(delete(summary))
    skus = catalogue(connection)
    total = sparse.csr_array((len(skus), len(skus)), dtype=np.int64)
    for span in _spans(connection, Customer.id, SPAN_CUSTOMERS):
        _insert_sets(connection, None, span)
        total = total + pair_counts(connection, skus, _stored_sets(None, span))
    window_index.create(connection)
    _add_pairs(connection, skus, sparse.csr_array(total))
    _add_last_days(connection, _every_last_day(connection))


def add_purchases(connection: Connection, orders: Any) -> None:
    """Merge the lines of `orders` (a select or a list of at most MERGE_ORDERS ids) into
    the summaries: a (customer, sku) first bought gets a row, and pairs with what the
    customer bought before; one bought again moves its first or last instant, and its day.
    Lines already merged move nothing, so a re-import changes nothing."""
    rows, days = _merged(connection, orders)
    if not rows:
        return
    gaining = sorted({customer for customer, sku, first_at, last_at, new in rows if new})
    skus = catalogue(connection)
    before = pair_counts(connection, skus, _stored_sets(gaining))
    statement = upsert_insert(connection, CustomerProduct)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "sku"],
        set_={"first_at": statement.excluded.first_at, "last_at": statement.excluded.last_at},
    )
    connection.execute(statement, [
        {"customer_id": customer, "sku": sku, "first_at": first_at, "last_at": last_at}
        for customer, sku, first_at, last_at, _ in rows
    ])  # fmt: skip
    after = pair_counts(connection, skus, _stored_sets(gaining))
    _add_pairs(connection, skus, after - before)
    _add_last_days(connection, days)


def _merged(
    connection: Connection, orders: Any
) -> tuple[list[tuple[str, str, datetime, datetime, bool]], DayCounts]:
    """The rows the lines of `orders` change, merged with what is stored: (customer, sku,
    first, last, whether new), and how the day counts move."""
    lines = raw_sets(orders=orders).subquery()
    stored = aliased(CustomerProduct)
    query = select(lines, stored.first_at, stored.last_at).outerjoin(
        stored, (stored.customer_id == lines.c.customer_id) & (stored.sku == lines.c.sku)
    )
    changed: list[tuple[str, str, datetime, datetime, bool]] = []
    days: DayCounts = Counter()
    for customer, sku, first_at, last_at, was_first, was_last in connection.execute(query):
        if was_first is not None:
            first_at, last_at = min(first_at, was_first), max(last_at, was_last)
            if (first_at, last_at) == (was_first, was_last):
                continue
            days[was_last.date(), sku] -= 1
        days[last_at.date(), sku] += 1
        changed.append((customer, sku, first_at, last_at, was_first is None))
    return changed, days


def pair_counts(connection: Connection, skus: Sequence[str], rows: Rows) -> PairCounts:
    """Σ over customers of (their set)ᵀ(their set): `rows` are (customer, sku) ordered by
    customer, so a chunk always holds whole customers. Read straight from the driver's
    cursor: at millions of rows SQLAlchemy's Row objects cost more than the sums."""
    columns = {sku: column for column, sku in enumerate(skus)}
    total = sparse.csr_array((len(skus), len(skus)), dtype=np.int64)
    for chunk in _whole_customers(connection.execute(rows).cursor):
        rows_of = np.fromiter(_numbered(c for c, _ in chunk), dtype=np.intp, count=len(chunk))
        cols = np.fromiter((columns[sku] for _, sku in chunk), dtype=np.intp, count=len(chunk))
        data = np.ones(len(chunk), dtype=np.int64)
        shape = (int(rows_of[-1]) + 1, len(skus))
        bought = sparse.csr_array((data, (rows_of, cols)), shape=shape)
        total = total + sparse.csr_array(bought.T @ bought)
    return sparse.csr_array(total)


def _every_last_day(connection: Connection) -> DayCounts:
    """Every stored row per (UTC day of the last purchase, sku), one day at a time along
    the window index, from each day to the next one that has rows: one GROUP BY of every
    row would sort them all."""
    last_at = CustomerProduct.last_at
    counts: DayCounts = Counter()
    after = connection.scalar(select(func.min(last_at)))
    while after is not None:
        day = after.date()
        end = midnight(day + timedelta(days=1))
        query = select(CustomerProduct.sku, func.count()).where(last_at >= after, last_at < end)
        rows = connection.execute(query.group_by(CustomerProduct.sku))
        counts.update({(day, sku): count for sku, count in rows})
        after = connection.scalar(select(func.min(last_at)).where(last_at >= end))
    return counts


def midnight(day: date) -> datetime:
    """The UTC instant a UTC day starts."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _numbered(customers: Iterable[str]) -> Iterator[int]:
    """0, 0, 1, 1, 1, 2…: a row per customer, as they come (in order, each once)."""
    number, previous = -1, None
    for customer in customers:
        if customer != previous:
            number, previous = number + 1, customer
        yield number


def _whole_customers(cursor: Any) -> Iterator[list[tuple[str, str]]]:
    """Chunks of about CHUNK_ROWS rows, cut only where the customer changes."""
    held: list[tuple[str, str]] = []
    while batch := cursor.fetchmany(CHUNK_ROWS):
        held += batch
        last = held[-1][0]
        cut = len(held)
        while cut and held[cut - 1][0] == last:
            cut -= 1
        if cut:
            yield held[:cut]
            held = held[cut:]
    if held:
        yield held


def _spans(connection: Connection, key: Any, size: int) -> list[Span]:
    """Spans of about `size` values of the column `key` each, covering every value."""
    numbered = select(key.label("key"), func.row_number().over(order_by=key).label("n"))
    ranked = numbered.subquery()
    ends = list(
        connection.scalars(select(ranked.c.key).where(ranked.c.n % size == 0).order_by(ranked.c.n))
    )
    starts: list[str | None] = [None, *ends]
    return list(zip(starts, [*ends, None], strict=True))


def _stored_sets(customers: Any, span: Span = (None, None)) -> Rows:
    query = select(CustomerProduct.customer_id, CustomerProduct.sku).order_by(
        CustomerProduct.customer_id
    )
    if customers is not None:
        query = query.where(CustomerProduct.customer_id.in_(customers))
    return _in_span(query, CustomerProduct.customer_id, span)


def _in_span(query: Rows, key: Any, span: Span) -> Rows:
    after, through = span
    if after is not None:
        query = query.where(key > after)
    if through is not None:
        query = query.where(key <= through)
    return query


def _insert_sets(connection: Connection, customers: Any, span: Span = (None, None)) -> None:
    columns = ["customer_id", "sku", "first_at", "last_at"]
    source = raw_sets(customers, span=span)
    connection.execute(insert(CustomerProduct).from_select(columns, source))


def _add_pairs(connection: Connection, skus: Sequence[str], delta: PairCounts) -> None:
    """product_pairs.customers += delta, and rows that fell to zero removed (only a
    negative delta can empty one: merges and rebuilds only add)."""
    coo = sparse.coo_array(delta)
    keep = coo.data != 0
    rows = [
        {"sku": skus[row], "other": skus[column], "customers": int(count)}
        for row, column, count in zip(coo.row[keep], coo.col[keep], coo.data[keep], strict=True)
    ]
    if _add_counts(connection, ProductPair, ["sku", "other"], rows) and (coo.data < 0).any():
        connection.execute(delete(ProductPair).where(ProductPair.customers == 0))


def _add_last_days(connection: Connection, delta: DayCounts) -> None:
    """product_last_days.customers += delta, and rows that fell to zero removed (a
    customer's last purchase of a product moved to a later day)."""
    rows = [{"day": on, "sku": sku, "customers": n} for (on, sku), n in delta.items() if n]
    emptied = sorted({on for (on, _), n in delta.items() if n < 0})
    if _add_counts(connection, ProductLastDay, ["day", "sku"], rows) and emptied:
        connection.execute(delete(ProductLastDay).where(
            ProductLastDay.day.in_(emptied), ProductLastDay.customers == 0))  # fmt: skip


def _add_counts(
    connection: Connection, model: type[Any], keys: list[str], rows: list[dict[str, Any]]
) -> bool:
    """`customers += n` for each keyed row, inserting the new ones; whether there were any."""
    if not rows:
        return False
    statement = upsert_insert(connection, model)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={"customers": model.customers + statement.excluded.customers}
    )
    connection.execute(statement, rows)
    return True


class PurchaseTracker:
    """What one import does to the summaries: a first import (none yet) rebuilds them all
    at its end; a later one notes the orders that got lines and merges their lines."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.rebuild = connection.execute(select(CustomerProduct.sku).limit(1)).first() is None
        self.lines = False
        if not self.rebuild:
            _TOUCHED.create(connection)

    def lines_written(self, order_ids: Sequence[str]) -> None:
        if not order_ids:
            return
        self.lines = True
        if self.rebuild:
            return
        statement = upsert_insert(self.connection, _TOUCHED).on_conflict_do_nothing()
        self.connection.execute(statement, [{"order_id": order} for order in set(order_ids)])

    def refresh(self) -> None:
        if not self.rebuild:
            touched = self.connection.scalar(select(func.count()).select_from(_TOUCHED)) or 0
            self.rebuild = _rebuild_is_cheaper(self.connection, touched)
            if touched and not self.rebuild:
                for span in _spans(self.connection, _TOUCHED.c.order_id, MERGE_ORDERS):
                    orders = _in_span(select(_TOUCHED.c.order_id), _TOUCHED.c.order_id, span)
                    add_purchases(self.connection, orders)
            _TOUCHED.drop(self.connection)
        if self.rebuild and self.lines:
            rebuild_purchases(self.connection)


def _rebuild_is_cheaper(connection: Connection, touched: int) -> bool:
    """Whether merging the lines of `touched` orders would cost more than rebuilding from
    every order: a backfill, or the whole history imported again."""
    if touched <= MERGE_ORDERS:
        return False
    orders = connection.scalar(select(func.count()).select_from(Order)) or 0
    return touched * REBUILD_SHARE > orders
