"""Matrix helpers of `templates.recommend`: similarity, and the top k of every row at once.

Everything here works on whole matrices (a batch of customers × the catalogue), so the
cost of a daily run grows with the number of cells, never with Python loops per pair.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]
Strings = npt.NDArray[np.str_]
Sparse = sparse.csr_array


def binary(rows: Ints, columns: Ints, shape: tuple[int, int]) -> Sparse:
    """A 0/1 matrix with ones at (rows, columns); a pair given twice is still 1."""
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sparse.csr_array((data, (rows, columns)), shape=shape)
    matrix.data[:] = 1.0  # duplicates were summed on construction
    return matrix


def cosine(bought: Sparse) -> Sparse:
    """Products × products cosine similarity of their buyer sets, diagonal removed.

    Cosine, not raw co-counts, so a best seller is not everyone's complement: two
    products are similar when their buyers overlap relative to how many each has.
    """
    return cosine_of_counts(sparse.csr_array(bought.T @ bought))


def cosine_of_counts(co: Sparse) -> Sparse:
    """`cosine` from the co-purchase counts (BᵀB: the diagonal holds each product's buyers)."""
    co = sparse.csr_array(co.astype(np.float64))
    norms = np.sqrt(co.diagonal())
    norms[norms == 0] = 1.0
    scale = sparse.diags_array(1.0 / norms)
    similarity = sparse.csr_array(scale @ co @ scale)
    similarity.setdiag(0.0)  # a product is not its own recommendation
    similarity.eliminate_zeros()
    return similarity


def lookup(keys: Strings, values: Strings) -> tuple[Ints, Bools]:
    """Positions of `values` in the sorted `keys`, and which of them were found."""
    if len(keys) == 0:
        return np.zeros(len(values), dtype=np.intp), np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return positions, keys[positions] == values


def top_k(scores: Floats, k: int) -> list[Ints]:
    """Per row, the columns of the k highest finite scores, best first; equal scores in
    column order. -inf marks a column that must never be picked.

    Exact and O(cells): partition finds each row's k-th score, the ties at that score are
    taken in column order, and only the ≤ k chosen cells are sorted.
    """
    count, width = scores.shape
    k = min(k, width)
    if k <= 0:
        return [np.zeros(0, dtype=np.intp) for _ in range(count)]
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    tied = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = (above | (tied & (np.cumsum(tied, axis=1) <= room))) & np.isfinite(scores)
    rows, columns = np.nonzero(chosen)  # row-major: columns ascend within a row
    order = np.lexsort((columns, -scores[rows, columns], rows))
    ends = np.cumsum(np.bincount(rows, minlength=count))
    return np.split(columns[order], ends[:-1])
