"""Product recommendations, fitted once per daily run and scored for a whole batch.

`Recommender.fit` reads the orders placed by `as_of` in three set-based queries into a
scipy sparse customer × product matrix of purchases. Item-to-item co-purchase is the
cosine similarity of products over that matrix, so a customer's scores are one sparse
product (their purchases × the similarity); customers without history, and any slots
left, get what sold best (distinct buyers) in the `popularity_days` before `as_of`.

Never an out-of-stock product; never one the customer already bought unless the campaign
allows it; for an abandoned cart, the products bought with its lines, never the lines.
Columns are kept in popularity order, then by SKU, so equal scores fall back to
popularity and then to the SKU, and every run with the same data gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
from sqlalchemy import Connection, distinct, func, select

from shop.models import Order, OrderItem, Product
from templates.recommend_data import summary_inputs
from templates.recommend_rank import (
    Bools,
    Floats,
    Ints,
    Sparse,
    Strings,
    binary,
    cosine_of_counts,
    lookup,
    top_k,
)

CELLS = 1 << 22  # customers × products scored per batch: bounds memory on big catalogues


@dataclass(frozen=True)
class Recommender:
    skus: Strings  # column -> SKU, by popularity (descending) then SKU
    customer_ids: Strings  # row of `bought` -> customer id, sorted
    bought: Sparse  # customers × products, 1 where bought by `as_of`
    similarity: Sparse  # products × products, cosine, zero diagonal
    popularity: Floats  # distinct buyers per product in the popularity window
    in_stock: Bools

    @classmethod
    def fit(
        cls, connection: Connection, *, as_of: datetime, popularity_days: int = 90
    ) -> Recommender:
        """The model as of `as_of` from every order line: orders placed later do not exist
        for it. Reads the whole purchase history; a daily run uses `from_summaries`."""
        skus, in_stock = _catalogue(connection)
        customers, bought = _purchases(connection, as_of, skus)
        since = as_of - timedelta(days=popularity_days)
        popularity = _popularity(connection, since, as_of, skus)
        co = Sparse(bought.T @ bought)
        return cls._ranked(skus, in_stock, customers, bought, co, popularity)

    @classmethod
    def from_summaries(
        cls,
        connection: Connection,
        *,
        as_of: datetime,
        customer_ids: Sequence[str],
        popularity_days: int = 90,
    ) -> Recommender:
        """The same model as `fit`, for `customer_ids` only, from the purchase summaries
        kept at ingest (shop.purchases): the co-purchase counts, the buyers per day of the
        popularity window and those customers' rows, not the shop's whole history. A
        replay so deep that many customers have bought since `as_of` falls back to `fit`."""
        skus, in_stock = _catalogue(connection)
        since = as_of - timedelta(days=popularity_days)
        inputs = summary_inputs(connection, skus.tolist(), customer_ids, since, as_of)
        if inputs is None:
            return cls.fit(connection, as_of=as_of, popularity_days=popularity_days)
        return cls._ranked(
            skus, in_stock, inputs.customers, inputs.bought, inputs.co, inputs.popularity
        )

    @classmethod
    def _ranked(
        cls,
        skus: Strings,
        in_stock: Bools,
        customers: Strings,
        bought: Sparse,
        co: Sparse,
        popularity: Floats,
    ) -> Recommender:
        """Columns put in popularity order (then SKU): top_k breaks equal scores by column."""
        order = np.lexsort((np.arange(len(skus)), -popularity))
        ranked = Sparse(co[order][:, order])
        return cls(
            skus[order],
            customers,
            Sparse(bought[:, order]),
            cosine_of_counts(ranked),
            popularity[order],
            in_stock[order],
        )

    def recommend(
        self,
        customer_ids: Iterable[str],
        *,
        k: int,
        exclude_purchased: bool = True,
        cart_skus: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, list[str]]:
        """Up to `k` SKUs per customer, best first (fewer only when the catalogue runs out).

        With `cart_skus` for a customer, their scores start from the cart's lines instead
        of their history: the cart's complements.
        """
        ids = list(dict.fromkeys(customer_ids))
        batch = max(1, CELLS // max(1, len(self.skus)))
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), batch):
            part = ids[start : start + batch]
            scores = self._scores(part, cart_skus or {}, exclude_purchased)
            for customer_id, columns in zip(part, top_k(scores, k), strict=True):
                found[customer_id] = self.skus[columns].tolist()
        return found

    def without_similarity(self) -> Recommender:
        """The popularity baseline: the same exclusions, no co-purchase scores."""
        return replace(self, similarity=Sparse(self.similarity.shape, dtype=np.float64))

    @cached_property
    def _columns(self) -> dict[str, int]:
        return {sku: column for column, sku in enumerate(self.skus.tolist())}

    def _scores(
        self, ids: list[str], carts: Mapping[str, Sequence[str]], exclude_purchased: bool
    ) -> Floats:
        """Dense batch × products scores, -inf where a product must not be offered."""
        rows, known = lookup(self.customer_ids, np.array(ids, dtype=np.str_))
        has_cart = np.array([customer_id in carts for customer_id in ids], dtype=bool)
        cart = self._cart_matrix(ids, carts)
        history = _select_rows(rows, known & ~has_cart, len(self.customer_ids)) @ self.bought
        scores = Sparse((history + cart) @ self.similarity).toarray()
        banned = np.broadcast_to(~self.in_stock, scores.shape) | (cart.toarray() > 0)
        if exclude_purchased:
            purchased = _select_rows(rows, known, len(self.customer_ids)) @ self.bought
            banned = banned | (Sparse(purchased).toarray() > 0)
        scores[banned] = -np.inf
        return scores

    def _cart_matrix(self, ids: list[str], carts: Mapping[str, Sequence[str]]) -> Sparse:
        """Batch × products, 1 for each cart line (SKUs unknown to the catalogue dropped)."""
        lines = [
            (row, self._columns[sku])
            for row, customer_id in enumerate(ids)
            for sku in carts.get(customer_id, ())
            if sku in self._columns
        ]
        rows = np.array([row for row, _ in lines], dtype=np.intp)
        columns = np.array([column for _, column in lines], dtype=np.intp)
        return binary(rows, columns, (len(ids), len(self.skus)))


def _select_rows(rows: Ints, keep: Bools, height: int) -> Sparse:
    """A batch × customers selector: row i picks customer rows[i] where keep[i]."""
    return binary(np.flatnonzero(keep), rows[keep], (len(rows), height))


def _catalogue(connection: Connection) -> tuple[Strings, Bools]:
    """SKUs sorted, and which are in stock."""
    catalogue = connection.execute(select(Product.sku, Product.in_stock)).all()
    skus = np.array(sorted(sku for sku, _ in catalogue), dtype=np.str_)
    stock = {sku for sku, in_stock in catalogue if in_stock}
    return skus, np.array([sku in stock for sku in skus], dtype=bool)


def _purchases(connection: Connection, as_of: datetime, skus: Strings) -> tuple[Strings, Sparse]:
    """Sorted customer ids and the customers × products (sorted SKUs) 0/1 matrix."""
    query = (
        select(Order.customer_id, OrderItem.sku)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.ordered_at <= as_of)
        .distinct()
    )
    pairs = connection.execute(query).all()
    customers, rows = np.unique(
        np.array([customer for customer, _ in pairs], dtype=np.str_), return_inverse=True
    )
    columns, _ = lookup(skus, np.array([sku for _, sku in pairs], dtype=np.str_))
    return customers, binary(rows.astype(np.intp), columns, (len(customers), len(skus)))


def _popularity(connection: Connection, since: datetime, as_of: datetime, skus: Strings) -> Floats:
    """Distinct buyers per product (sorted SKUs) of orders placed in (since, as_of]."""
    query = (
        select(OrderItem.sku, func.count(distinct(Order.customer_id)))
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.ordered_at > since, Order.ordered_at <= as_of)
        .group_by(OrderItem.sku)
    )
    counts: dict[str, int] = {sku: buyers for sku, buyers in connection.execute(query)}
    return np.array([counts.get(sku, 0) for sku in skus.tolist()], dtype=np.float64)
