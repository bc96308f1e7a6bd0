"""Product recommendations, computed for a whole batch of customers at once.

Item-to-item co-purchase: the cosine similarity of products over the binary
customer × product matrix of purchases (scipy sparse), so a customer's scores are their
purchases times the similarity matrix. Customers without history, and any slots left,
get what was popular over the last 90 days. Never an out-of-stock product; never one the
customer already bought unless the campaign allows it; for a cart, the products bought
with its lines, never the lines themselves. Time is a parameter: only orders placed by
`as_of` count. Ties break by SKU, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sqlalchemy import Connection, select

from shop.models import Order, OrderItem, Product

Floats = npt.NDArray[np.float64]
_BATCH = 2000  # customers scored per matrix product: bounds memory on big catalogs


@dataclass(frozen=True)
class Purchase:
    customer_id: str
    sku: str
    at: datetime


@dataclass
class Recommender:
    skus: list[str]  # column -> sku, sorted, so ties break by sku
    customers: dict[str, int]  # customer -> row of `bought`
    bought: sparse.csr_matrix  # customers x products, 1 where bought
    similarity: sparse.csr_matrix  # products x products, cosine, no diagonal
    popularity: Floats  # buyers per product over the popularity window
    in_stock: npt.NDArray[np.bool_]

    @classmethod
    def fit(
        cls, connection: Connection, *, as_of: datetime, popularity_days: int = 90
    ) -> Recommender:
        """From the shop's orders placed by `as_of` (two queries, no loop per customer)."""
        rows = connection.execute(
            select(Order.customer_id, OrderItem.sku, Order.ordered_at)
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(Order.ordered_at <= as_of)
        )
        purchases = [Purchase(customer, sku, at) for customer, sku, at in rows]
        stock = {
            sku: bool(flag)
            for sku, flag in connection.execute(select(Product.sku, Product.in_stock))
        }
        return cls.from_purchases(purchases, stock, as_of=as_of, popularity_days=popularity_days)

    @classmethod
    def from_purchases(
        cls,
        purchases: Sequence[Purchase],
        stock: Mapping[str, bool],
        *,
        as_of: datetime,
        popularity_days: int = 90,
    ) -> Recommender:
        known = [p for p in purchases if p.at <= as_of]
        skus = sorted(set(stock) | {p.sku for p in known})
        column = {sku: i for i, sku in enumerate(skus)}
        customers = {c: i for i, c in enumerate(sorted({p.customer_id for p in known}))}
        bought = _binary(
            [customers[p.customer_id] for p in known],
            [column[p.sku] for p in known],
            (len(customers), len(skus)),
        )
        since = as_of - timedelta(days=popularity_days)
        recent = [p for p in known if p.at > since]
        recent_buyers = _binary(
            [customers[p.customer_id] for p in recent],
            [column[p.sku] for p in recent],
            (len(customers), len(skus)),
        )
        popularity = np.asarray(recent_buyers.sum(axis=0), dtype=np.float64).ravel()
        in_stock = np.array([stock.get(sku, False) for sku in skus], dtype=bool)
        return cls(skus, customers, bought, _cosine(bought), popularity, in_stock)

    def recommend(
        self,
        customer_ids: Iterable[str],
        *,
        k: int,
        exclude_purchased: bool = True,
        cart_skus: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, list[str]]:
        """Up to `k` SKUs per customer, best first."""
        ids = list(dict.fromkeys(customer_ids))
        carts = cart_skus or {}
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            seeds = self._seeds(batch, carts)
            scores = np.asarray((seeds @ self.similarity).todense(), dtype=np.float64)
            banned = self._banned(batch, carts, exclude_purchased)
            for row, customer_id in enumerate(batch):
                found[customer_id] = self._top(scores[row], banned[row], k)
        return found

    def _seeds(self, batch: list[str], carts: Mapping[str, Sequence[str]]) -> sparse.csr_matrix:
        """Per customer, the products their scores start from: the cart if any, else
        their purchases."""
        rows, columns = [], []
        column = {sku: i for i, sku in enumerate(self.skus)}
        for row, customer_id in enumerate(batch):
            if customer_id in carts:
                picked = [column[s] for s in carts[customer_id] if s in column]
            else:
                picked = list(self._purchased(customer_id))
            rows += [row] * len(picked)
            columns += picked
        return _binary(rows, columns, (len(batch), len(self.skus)))

    def _purchased(self, customer_id: str) -> npt.NDArray[np.int32]:
        row = self.customers.get(customer_id)
        if row is None:
            return np.array([], dtype=np.int32)
        return self.bought.indices[self.bought.indptr[row] : self.bought.indptr[row + 1]]

    def _banned(
        self, batch: list[str], carts: Mapping[str, Sequence[str]], exclude_purchased: bool
    ) -> npt.NDArray[np.bool_]:
        banned = np.tile(~self.in_stock, (len(batch), 1))
        column = {sku: i for i, sku in enumerate(self.skus)}
        for row, customer_id in enumerate(batch):
            if exclude_purchased:
                banned[row, self._purchased(customer_id)] = True
            banned[row, [column[s] for s in carts.get(customer_id, ()) if s in column]] = True
        return banned

    def _top(self, scores: Floats, banned: npt.NDArray[np.bool_], k: int) -> list[str]:
        """Positive co-purchase scores first, then popularity; ties by sku (column order)."""
        order = np.lexsort((np.arange(len(scores)), -self.popularity, -scores))
        picked = [i for i in order if not banned[i]]
        return [self.skus[i] for i in picked[:k]]


def _binary(rows: list[int], columns: list[int], shape: tuple[int, int]) -> sparse.csr_matrix:
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sparse.csr_matrix((data, (rows, columns)), shape=shape)
    matrix.data[:] = 1.0  # a product bought twice counts once
    return matrix


def _cosine(bought: sparse.csr_matrix) -> sparse.csr_matrix:
    """Products x products cosine similarity of their buyer sets, without the diagonal."""
    co = (bought.T @ bought).tocsr()
    norms = np.sqrt(co.diagonal())
    norms[norms == 0] = 1.0
    inverse = sparse.diags(1.0 / norms)
    similarity = (inverse @ co @ inverse).tocsr()
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    return sparse.csr_matrix(similarity)
