"""An always-valid interval for the conversion difference, for a report read every day.

A fixed-horizon 95 % interval promises 5 % false alarms for one look at a sample size fixed in
advance. Read every day, it excludes zero on some day far more often when the campaign does
nothing (bench/uplift.py measures it). A confidence sequence holds at every look at once:
P(the difference is outside the interval on any day) ≤ 5 %.

Method: the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences", Annals of Statistics
(2024), arXiv:2103.06476, Theorem 2.2 (Robbins' normal-mixture boundary), applied to the
difference in conversion rates: each moment's influence on it, Z·(Y − p₁)/π − (1 − Z)·(Y −
p₀)/(1 − π) (the paper's AIPW pseudo-outcome with arm means as the regression), has variance
t·V over t moments, V the usual variance of the difference. The boundary equals the mixture
SPRT of Johari, Koomen, Pekelis & Walsh, "Always valid inference: continuous monitoring of A/B
tests", Operations Research 70(3), 2022 (Optimizely's), with mixing variance τ² = t·V·ρ²; the
p-value is that test's 1/Λ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.special import lambertw

Verdict = Literal["positive", "negative", "inconclusive"]

# The mixture's tuning ρ is fixed in advance (choosing it from the data would void the
# guarantee) so that the interval is tightest at this many moments; a campaign far from it
# gets a somewhat wider interval, never a wrong one.
PLANNED_MOMENTS = 10_000
ALPHA = 0.05


@dataclass(frozen=True)
class AlwaysValid:
    """A 95 % confidence sequence for treated − holdout conversion rate, at today's sizes."""

    ci95: tuple[float, float]
    p_value: float
    verdict: Verdict
    method: str
    planned_moments: int


def always_valid(
    treated_conversions: int,
    treated_n: int,
    holdout_conversions: int,
    holdout_n: int,
    *,
    planned_moments: int = PLANNED_MOMENTS,
) -> AlwaysValid:
    """Both arms must be non-empty. The p-value is valid at any look; a report that keeps
    history may show its running minimum, which stays valid."""
    if treated_n <= 0 or holdout_n <= 0 or planned_moments <= 0:
        raise ValueError("arms and planned_moments must be positive")
    estimate = treated_conversions / treated_n - holdout_conversions / holdout_n
    sd = math.sqrt(
        _variance(treated_conversions, treated_n) + _variance(holdout_conversions, holdout_n)
    )
    x = (treated_n + holdout_n) * _rho_squared(planned_moments)  # t·ρ² in the paper
    radius = sd * math.sqrt(2 * (x + 1) / x * math.log(math.sqrt(x + 1) / ALPHA))
    # log Λ; Λ ≥ 1/α exactly when 0 is outside the interval, so p ≤ α agrees with the verdict.
    log_likelihood_ratio = (estimate / sd) ** 2 * x / (2 * (x + 1)) - 0.5 * math.log1p(x)
    # A difference of two rates lies in [−1, 1]; the normal boundary does not know it.
    interval = (max(estimate - radius, -1.0), min(estimate + radius, 1.0))
    return AlwaysValid(
        ci95=interval,
        p_value=math.exp(-max(log_likelihood_ratio, 0.0)),
        verdict=_verdict(interval),
        method=f"asymptotic confidence sequence (Waudby-Smith et al. 2024), "
        f"normal mixture tuned for {planned_moments} moments",
        planned_moments=planned_moments,
    )


def _variance(conversions: int, n: int) -> float:
    """Variance of an arm's rate, from the Agresti–Caffo adjusted rate (x + 1)/(n + 2): an arm
    with no (or only) conversions so far must not claim zero variance, which would make the
    interval collapse on the first days; asymptotically it is the plain p(1 − p)/n."""
    rate = (conversions + 1) / (n + 2)
    return rate * (1 - rate) / (n + 2)


def _rho_squared(planned_moments: int) -> float:
    """ρ² that minimises the boundary at `planned_moments`: t·ρ² = −W₋₁(−α²/e) − 1, about 8.2
    (the exact minimiser; the paper gives the close approximation −2 ln α + ln(1 − 2 ln α))."""
    return float(-lambertw(-(ALPHA**2) / math.e, k=-1).real - 1) / planned_moments


def _verdict(interval: tuple[float, float]) -> Verdict:
    if interval[0] > 0:
        return "positive"
    if interval[1] < 0:
        return "negative"
    return "inconclusive"
