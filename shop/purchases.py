"""The purchase summaries the recommender reads, kept current at ingest.

`customer_products` holds each (customer, product) ever bought with its first and last
instant; `product_pairs` how many customers bought both of two products. A daily run then
reads the pair counts (products², however long the history) and the planned customers'
rows, never every order line of the shop (templates.recommend).

An import recomputes the rows of the customers whose orders got lines, set-based, and
moves the pair counts by the difference between their sets before and after; the first
import builds everything in one pass. Pair counts are summed with scipy sparse products
over a bounded number of rows at a time, a customer never split between two of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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

from shop.models import ID, Customer, CustomerProduct, Order, OrderItem, Product, ProductPair
from shop.sql import upsert_insert

CHUNK_ROWS = 200_000  # customer_products rows summed at once: bounds memory
SPAN_CUSTOMERS = 50_000  # customers whose lines one GROUP BY of a rebuild sorts
PairCounts = sparse.csr_array  # products × products, in the order of `catalogue`
Rows = Select[*tuple[Any, ...]]
Span = tuple[str | None, str | None]  # customer ids: after the first, up to the last

# Customers whose orders got lines during one import (a temporary table: its size is the
# import's, and the set-based refresh joins it).
_TOUCHED = Table(
    "leal_touched_customers",
    MetaData(),
    Column("customer_id", ID, primary_key=True),
    prefixes=["TEMPORARY"],
)


def catalogue(connection: Connection) -> list[str]:
    """Every SKU, sorted: the rows and columns of pair counts."""
    return list(connection.scalars(select(Product.sku).order_by(Product.sku)))


def raw_sets(customers: Any = None, until: Any = None, span: Span = (None, None)) -> Rows:
    """(customer, sku, first, last) from the orders' lines, for `customers` (a select or a
    list of ids; all when None), orders placed by `until` (all when None), customer ids in
    `span` (after its first, up to its last; open where None)."""
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
    return _in_span(query, Order.customer_id, span).group_by(Order.customer_id, OrderItem.sku)


def rebuild_purchases(connection: Connection) -> None:
    """Every summary from all the orders' lines (a first import, or the migration), a span
    of customers at a time: each GROUP BY sorts a bounded number of lines, never all of
    them, and the window index is built once at the end."""
    connection.execute(delete(ProductPair))
    connection.execute(delete(CustomerProduct))
    table = CustomerProduct.__table__
    assert isinstance(table, Table)
    [window_index] = table.indexes
    window_index.drop(connection)
    skus = catalogue(connection)
    total = sparse.csr_array((len(skus), len(skus)), dtype=np.int64)
    for span in _customer_spans(connection):
        _insert_sets(connection, None, span)
        total = total + pair_counts(connection, skus, _stored_sets(None, span))
    window_index.create(connection)
    _add_pairs(connection, skus, sparse.csr_array(total))


def refresh_purchases(connection: Connection, customers: Any) -> None:
    """Recompute the rows of `customers` (a select or a list of ids) and move the pair
    counts by what their sets gained."""
    skus = catalogue(connection)
    before = pair_counts(connection, skus, _stored_sets(customers))
    connection.execute(delete(CustomerProduct).where(CustomerProduct.customer_id.in_(customers)))
    _insert_sets(connection, customers)
    after = pair_counts(connection, skus, _stored_sets(customers))
    _add_pairs(connection, skus, after - before)


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


def _customer_spans(connection: Connection) -> list[Span]:
    """Customer id spans of about SPAN_CUSTOMERS each, covering every id."""
    numbered = select(
        Customer.id, func.row_number().over(order_by=Customer.id).label("n")
    ).subquery()
    ends = list(
        connection.scalars(
            select(numbered.c.id).where(numbered.c.n % SPAN_CUSTOMERS == 0).order_by(numbered.c.n)
        )
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


def _in_span(query: Rows, customer_id: Any, span: Span) -> Rows:
    after, through = span
    if after is not None:
        query = query.where(customer_id > after)
    if through is not None:
        query = query.where(customer_id <= through)
    return query


def _insert_sets(connection: Connection, customers: Any, span: Span = (None, None)) -> None:
    columns = ["customer_id", "sku", "first_at", "last_at"]
    source = raw_sets(customers, span=span)
    connection.execute(insert(CustomerProduct).from_select(columns, source))


def _add_pairs(connection: Connection, skus: Sequence[str], delta: PairCounts) -> None:
    """product_pairs.customers += delta, and rows that fell to zero removed."""
    coo = sparse.coo_array(delta)
    keep = coo.data != 0
    rows = [
        {"sku": skus[row], "other": skus[column], "customers": int(count)}
        for row, column, count in zip(coo.row[keep], coo.col[keep], coo.data[keep], strict=True)
    ]
    if not rows:
        return
    statement = upsert_insert(connection, ProductPair)
    statement = statement.on_conflict_do_update(
        index_elements=["sku", "other"],
        set_={"customers": ProductPair.customers + statement.excluded.customers},
    )
    connection.execute(statement, rows)
    connection.execute(delete(ProductPair).where(ProductPair.customers == 0))


class PurchaseTracker:
    """What one import does to the summaries: a first import (none yet) rebuilds them all
    at its end; a later one notes the customers whose orders got lines and refreshes them."""

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
        customers = select(Order.customer_id).where(Order.id.in_(set(order_ids))).distinct()
        statement = upsert_insert(self.connection, _TOUCHED).from_select(
            ["customer_id"], customers.where(Order.customer_id.is_not(None))
        )
        self.connection.execute(statement.on_conflict_do_nothing())

    def refresh(self) -> None:
        if self.rebuild:
            if self.lines:
                rebuild_purchases(self.connection)
            return
        if self.lines:
            refresh_purchases(self.connection, select(_TOUCHED.c.customer_id))
        _TOUCHED.drop(self.connection)
