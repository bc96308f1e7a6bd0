"""Revenue per recipient, treated minus holdout, with a seeded BCa bootstrap interval.

Revenue per moment is mostly 0 with a long tail, so the interval is a bootstrap (BCa, Efron &
Tibshirani 1993, ch. 14), not a normal one. scipy.stats.bootstrap computes it while that is
cheap; its BCa jackknife re-evaluates the statistic leaving out each moment in turn, O(n²):
measured here 0.08 s at 2,000 moments, 0.54 s at 10,000, 1.8 s at 20,000. Above
SCIPY_MAX_MOMENTS the same bootstrap is drawn sparsely (see `_resampled_means`) and its BCa
acceleration comes from the jackknife in closed form (see `_acceleration`). `method` always
names what was done.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.special import ndtr, ndtri

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SCIPY_MAX_MOMENTS = 4_000
# Non-zero revenues one arm may draw one by one over all resamples (about 0.4 s here): at
# 2,000 resamples, arms with up to 16,777 revenues, so the holdout of a 1,000,000-moment
# campaign. Beyond it, and with at least NORMAL_LIMIT_VALUES revenues, each resample's sum
# comes from its normal limit (see `_resampled_means`).
EXACT_DRAW_BUDGET = 1 << 25
NORMAL_LIMIT_VALUES = 10_000
BATCH_DRAWS = 1 << 20  # draws held in memory at once: about 24 MB


@dataclass(frozen=True)
class RevenueUplift:
    """Revenue per recipient (cents), treated minus holdout, and its 95 % interval."""

    estimate_cents: float
    ci95_cents: tuple[float, float]
    resamples: int
    method: str


def revenue_uplift(
    treated: IntArray, holdout: IntArray, *, seed: int = 0, resamples: int = 2000
) -> RevenueUplift:
    """Both arms must be non-empty; revenue is integer cents per moment (0 when none)."""
    if treated.size == 0 or holdout.size == 0:
        raise ValueError("an arm is empty")
    estimate = float(treated.mean() - holdout.mean())
    if _constant(treated) and _constant(holdout):
        # Every resample equals the sample: the bootstrap has nothing to say.
        return RevenueUplift(estimate, (estimate, estimate), 0, "none: no revenue variation")
    rng = np.random.default_rng(seed)
    if min(treated.size, holdout.size) >= 2 and treated.size + holdout.size <= SCIPY_MAX_MOMENTS:
        replicates, interval = _scipy_bca(treated, holdout, rng, resamples)
        method = f"BCa bootstrap (scipy.stats.bootstrap), {resamples} resamples"
    else:
        replicates, interval, method = _sparse_bca(treated, holdout, estimate, rng, resamples)
    if not all(math.isfinite(bound) for bound in interval):
        # BCa is undefined when every resample lies on one side of the estimate.
        low, high = np.quantile(replicates, [0.025, 0.975])
        interval = (float(low), float(high))
        method += "; percentile interval (BCa undefined)"
    return RevenueUplift(estimate, interval, resamples, method)


def _constant(revenue: IntArray) -> bool:
    return bool(revenue.size == 0 or revenue.min() == revenue.max())


def _difference_of_means(treated: IntArray, holdout: IntArray, axis: int = -1) -> FloatArray:
    return np.asarray(np.mean(treated, axis=axis) - np.mean(holdout, axis=axis))


def _scipy_bca(
    treated: IntArray, holdout: IntArray, rng: np.random.Generator, resamples: int
) -> tuple[FloatArray, tuple[float, float]]:
    with warnings.catch_warnings():
        # A degenerate BCa comes back as NaN, handled by the caller.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (treated, holdout), _difference_of_means, n_resamples=resamples, batch=200,
            vectorized=True, paired=False, method="BCa", rng=rng,
        )  # fmt: skip
    interval = result.confidence_interval
    return result.bootstrap_distribution, (float(interval.low), float(interval.high))


def _sparse_bca(
    treated: IntArray,
    holdout: IntArray,
    estimate: float,
    rng: np.random.Generator,
    resamples: int,
) -> tuple[FloatArray, tuple[float, float], str]:
    replicates, approximated = _sparse_replicates(treated, holdout, rng, resamples)
    interval = _bca_interval(replicates, estimate, _acceleration(treated, holdout))
    method = f"BCa bootstrap (sparse resampling, closed-form jackknife), {resamples} resamples"
    if approximated:
        method += f"; {' and '.join(approximated)}: sums of revenues from their normal limit"
    return replicates, interval, method


def _sparse_replicates(
    treated: IntArray, holdout: IntArray, rng: np.random.Generator, resamples: int
) -> tuple[FloatArray, list[str]]:
    """The bootstrap distribution of the difference, each arm resampled independently, and
    the arms whose sums came from their normal limit."""
    treated_means, treated_exact = _resampled_means(treated, rng, resamples)
    holdout_means, holdout_exact = _resampled_means(holdout, rng, resamples)
    exact = {"treated arm": treated_exact, "holdout arm": holdout_exact}
    return treated_means - holdout_means, [arm for arm, done in exact.items() if not done]


def _resampled_means(
    revenue: IntArray, rng: np.random.Generator, resamples: int
) -> tuple[FloatArray, bool]:
    """Means of `resamples` bootstrap resamples of one arm, and whether they are exact.

    Resampling n moments with replacement picks K ~ Binomial(n, m/n) of the m moments with
    revenue, each uniformly among them, and zeros otherwise: the same distribution as
    resampling all n, at a cost in m instead of n. Past the budget, the sum of the K draws
    comes from its normal limit N(K·mean, K·variance) of the m revenues, K being then over
    NORMAL_LIMIT_VALUES; K itself is still drawn exactly. What this loses is the skew of that
    sum, about skew(revenue)/√K: little in itself, and less in the difference when it is the
    large treated arm, which holds a small share of the difference's variance.
    """
    values = revenue[revenue != 0]
    if values.size == 0:
        return np.zeros(resamples), True
    picks = rng.binomial(revenue.size, values.size / revenue.size, size=resamples)
    if values.size * resamples <= EXACT_DRAW_BUDGET or values.size < NORMAL_LIMIT_VALUES:
        return _exact_sums(values, picks, rng) / revenue.size, True
    normal = rng.standard_normal(resamples)
    sums = picks * values.mean() + np.sqrt(picks * values.var()) * normal
    return sums / revenue.size, False


def _exact_sums(values: IntArray, picks: IntArray, rng: np.random.Generator) -> FloatArray:
    """Per resample, the sum of `picks[i]` values drawn uniformly with replacement, in batches
    of about BATCH_DRAWS draws so that memory stays bounded."""
    sums = np.empty(picks.size)
    ends = np.cumsum(picks)
    start = 0
    while start < picks.size:
        limit = ends[start] - picks[start] + BATCH_DRAWS
        stop = max(start + 1, int(np.searchsorted(ends, limit, side="right")))
        batch = picks[start:stop]
        drawn = values[rng.integers(0, values.size, size=int(batch.sum()))]
        running = np.concatenate(([0], np.cumsum(drawn)))
        offsets = np.concatenate(([0], np.cumsum(batch)))
        sums[start:stop] = running[offsets[1:]] - running[offsets[:-1]]
        start = stop
    return sums


def _acceleration(treated: IntArray, holdout: IntArray) -> float:
    """BCa's acceleration, as scipy computes it from the jackknife, in O(n) instead of O(n²).

    Leaving moment i out of an arm of n moves its mean by (x̄ − xᵢ)/(n − 1), so scipy's
    jackknife influence (n − 1)(θ̂₍.₎ − θ̂₍ᵢ₎) is xᵢ − x̄ for the treated arm and −(xᵢ − x̄)
    for the holdout: the acceleration reduces to the arms' central moments.
    """
    cubes = _central_sum(treated, 3) / treated.size**3 - _central_sum(holdout, 3) / holdout.size**3
    squares = (
        _central_sum(treated, 2) / treated.size**2 + _central_sum(holdout, 2) / holdout.size**2
    )
    return float(cubes / (6 * squares**1.5))


def _central_sum(revenue: IntArray, power: int) -> float:
    return float(np.sum((revenue - revenue.mean()) ** power))


def _bca_interval(
    replicates: FloatArray, estimate: float, acceleration: float
) -> tuple[float, float]:
    """The 95 % BCa interval from bootstrap replicates (Efron & Tibshirani 1993, eq. 14.10),
    with scipy.stats.bootstrap's conventions: ties count half, linear quantiles."""
    below = np.count_nonzero(replicates < estimate) + np.count_nonzero(replicates <= estimate)
    bias = float(ndtri(below / (2 * replicates.size)))
    if not math.isfinite(bias):
        return math.nan, math.nan
    z = ndtri(np.array([0.025, 0.975]))
    levels = ndtr(bias + (bias + z) / (1 - acceleration * (bias + z)))
    low, high = np.quantile(replicates, levels)
    return float(low), float(high)
