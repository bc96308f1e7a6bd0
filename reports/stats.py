"""What a campaign caused: its treated moments against its holdout, intent to treat.

Pure functions of two arms' outcomes, no database. `compare` is what the report reads; every
figure, its formula and its caveats are in docs/measurement.md. The revenue interval lives in
`reports.bootstrap`, the always-valid interval in `reports.sequential`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

from reports.bootstrap import RevenueUplift, revenue_uplift
from reports.sequential import PLANNED_MOMENTS, AlwaysValid, Verdict, always_valid

__all__ = [
    "PLANNED_MOMENTS",
    "AlwaysValid",
    "ArmOutcomes",
    "Comparison",
    "ConversionUplift",
    "RevenueUplift",
    "Verdict",
    "always_valid",
    "compare",
    "conversion_uplift",
    "enough_data",
    "minimum_detectable_effect",
    "revenue_uplift",
]

ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class ArmOutcomes:
    """One arm's moments: whether each converted, and the revenue in cents it brought (0 when
    it did not convert; a converted moment may bring 0, e.g. paid with points)."""

    converted: npt.NDArray[np.bool_]
    revenue_cents: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        converted, revenue = np.asarray(self.converted), np.asarray(self.revenue_cents)
        if converted.ndim != 1 or converted.shape != revenue.shape:
            raise ValueError("converted and revenue_cents must be 1-D, one entry per moment")
        if converted.dtype.kind != "b" or revenue.dtype.kind not in "iu":
            raise ValueError("converted must be bool and revenue_cents integer cents")
        revenue = revenue.astype(np.int64, copy=False)
        if np.any(revenue < 0) or np.any(revenue[~converted] != 0):
            raise ValueError("revenue must be ≥ 0, and 0 for moments that did not convert")
        object.__setattr__(self, "converted", converted)
        object.__setattr__(self, "revenue_cents", revenue)

    @property
    def n(self) -> int:
        return int(self.converted.size)

    @property
    def conversions(self) -> int:
        return int(np.count_nonzero(self.converted))

    @property
    def conversion_rate(self) -> float:
        """NaN for an empty arm."""
        return self.conversions / self.n if self.n else math.nan

    @property
    def revenue_cents_total(self) -> int:
        return int(self.revenue_cents.sum())

    @property
    def revenue_per_recipient(self) -> float:
        """Cents per moment, converted or not; NaN for an empty arm."""
        return self.revenue_cents_total / self.n if self.n else math.nan


@dataclass(frozen=True)
class ConversionUplift:
    """Treated − holdout conversion rate (a fraction), fixed-horizon 95 % interval and test."""

    estimate: float
    ci95: tuple[float, float]
    relative_lift: float | None
    p_value: float


@dataclass(frozen=True)
class Comparison:
    enough_data: bool
    minimum_detectable_effect: float | None
    conversion: ConversionUplift | None
    revenue: RevenueUplift | None
    always_valid: AlwaysValid | None


def compare(
    treated: ArmOutcomes,
    holdout: ArmOutcomes,
    *,
    seed: int = 0,
    resamples: int = 2000,
    min_per_arm: int = 30,
    min_conversions: int = 5,
    planned_moments: int = PLANNED_MOMENTS,
) -> Comparison:
    """Everything the report says about one campaign; the uplifts are None when an arm is
    empty. With `enough_data` False they are still computed, but the report says "not enough
    data yet" and shows the minimum detectable effect instead."""
    enough = enough_data(treated, holdout, min_per_arm=min_per_arm, min_conversions=min_conversions)
    if treated.n == 0 or holdout.n == 0:
        return Comparison(enough, None, None, None, None)
    pooled = (treated.conversions + holdout.conversions) / (treated.n + holdout.n)
    return Comparison(
        enough_data=enough,
        minimum_detectable_effect=minimum_detectable_effect(treated.n, holdout.n, pooled),
        conversion=conversion_uplift(treated, holdout),
        revenue=revenue_uplift(
            treated.revenue_cents, holdout.revenue_cents, seed=seed, resamples=resamples
        ),
        always_valid=always_valid(
            treated.conversions,
            treated.n,
            holdout.conversions,
            holdout.n,
            planned_moments=planned_moments,
        ),
    )


def enough_data(
    treated: ArmOutcomes, holdout: ArmOutcomes, *, min_per_arm: int = 30, min_conversions: int = 5
) -> bool:
    """Below these sizes the normal approximations behind the intervals are not to be trusted
    and any figure is mostly noise."""
    sizes_ok = min(treated.n, holdout.n) >= min_per_arm
    return sizes_ok and treated.conversions + holdout.conversions >= min_conversions


def conversion_uplift(treated: ArmOutcomes, holdout: ArmOutcomes) -> ConversionUplift:
    """Newcombe's hybrid score interval (method 10 of Newcombe 1998): good coverage at small
    counts and rates near 0, where the Wald interval fails. p-value: the score test."""
    counts = (treated.conversions, treated.n, holdout.conversions, holdout.n)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 when neither arm varies
        low, high = confint_proportions_2indep(*counts, compare="diff", method="newcomb")
        test = test_proportions_2indep(*counts, compare="diff", method="score")
    estimate = treated.conversion_rate - holdout.conversion_rate
    p_value = float(test.pvalue)
    if math.isnan(p_value):  # both arms all-0 or all-1: no difference and no variation
        p_value = 1.0
    base = holdout.conversion_rate
    return ConversionUplift(
        estimate=estimate,
        ci95=(float(low), float(high)),
        relative_lift=estimate / base if base > 0 else None,
        p_value=p_value,
    )


def minimum_detectable_effect(
    treated_n: int, holdout_n: int, base_rate: float, *, alpha: float = ALPHA, power: float = POWER
) -> float | None:
    """The smallest rise of the conversion rate above `base_rate` that a two-sided test at
    `alpha` detects with `power` at these sizes, as a difference of rates; None when an arm is
    empty or when even a rate of 100 % would not be detected."""
    if treated_n <= 0 or holdout_n <= 0:
        return None
    effect = NormalIndPower().solve_power(
        effect_size=None, nobs1=treated_n, alpha=alpha, power=power,
        ratio=holdout_n / treated_n, alternative="two-sided",
    )  # fmt: skip
    # The effect is Cohen's h = 2·asin√p₁ − 2·asin√p₀ (statsmodels' proportion_effectsize),
    # solved here for p₁.
    angle = math.asin(math.sqrt(base_rate)) + float(effect) / 2
    if angle > math.pi / 2:
        return None
    return math.sin(angle) ** 2 - base_rate
