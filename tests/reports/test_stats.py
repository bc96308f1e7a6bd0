"""The statistics of a campaign's holdout comparison: known truths, edge cases, references."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import norm

from reports import bootstrap
from reports.stats import (
    ArmOutcomes,
    always_valid,
    compare,
    conversion_uplift,
    enough_data,
    minimum_detectable_effect,
    revenue_uplift,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # none leaks, even at the edges


def arm(
    n: int, rate: float, rng: np.random.Generator, median_cents: float = 4_000, sigma: float = 1.0
) -> ArmOutcomes:
    converted = rng.random(n) < rate
    orders = np.rint(rng.lognormal(math.log(median_cents), sigma, n)).astype(np.int64)
    return ArmOutcomes(converted, np.where(converted, orders, 0))


def counts(n: int, conversions: int, cents: int = 1_000) -> ArmOutcomes:
    converted = np.arange(n) < conversions
    return ArmOutcomes(converted, np.where(converted, cents, 0).astype(np.int64))


def empty() -> ArmOutcomes:
    return ArmOutcomes(np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64))


# --- ArmOutcomes ---------------------------------------------------------------------------


def test_arm_properties() -> None:
    outcomes = ArmOutcomes(np.array([True, False, True, False]), np.array([500, 0, 0, 0]))
    assert (outcomes.n, outcomes.conversions, outcomes.revenue_cents_total) == (4, 2, 500)
    assert outcomes.conversion_rate == 0.5
    assert outcomes.revenue_per_recipient == 125.0
    assert outcomes.revenue_cents.dtype == np.int64
    assert math.isnan(empty().conversion_rate) and math.isnan(empty().revenue_per_recipient)


@pytest.mark.parametrize(
    ("converted", "revenue"),
    [
        ([True, False], [100]),  # lengths differ
        ([True, False], [100, 5]),  # revenue without a conversion
        ([True], [-1]),  # negative
        ([True], [1.5]),  # not cents
        ([1], [100]),  # not booleans
    ],
)
def test_arm_refuses_inconsistent_outcomes(converted: list[object], revenue: list[object]) -> None:
    with pytest.raises(ValueError):
        ArmOutcomes(np.array(converted), np.array(revenue))


# --- against a known truth -----------------------------------------------------------------


def test_simulated_shops_intervals_cover_the_truth() -> None:
    """60 seeded shops, 9,000 treated and 1,000 held out, a true lift on conversion and basket:
    the 95 % intervals cover the truth about 95 % of the time, and never a wrong sign often."""
    rng = np.random.default_rng(20240611)
    covered = {"conversion": 0, "revenue": 0, "always_valid": 0}
    shops = 60
    for seed in range(shops):
        base = rng.uniform(0.04, 0.12)
        treated = arm(9_000, base * 1.2, rng, median_cents=4_400)
        holdout = arm(1_000, base, rng, median_cents=4_000)
        mean_order = math.exp(math.log(4_000) + 0.5)
        truth = base * 0.2
        revenue_truth = base * 1.2 * mean_order * 1.1 - base * mean_order
        result = compare(treated, holdout, seed=seed)
        assert result.conversion and result.revenue and result.always_valid
        covered["conversion"] += _inside(truth, result.conversion.ci95)
        covered["revenue"] += _inside(revenue_truth, result.revenue.ci95_cents)
        covered["always_valid"] += _inside(truth, result.always_valid.ci95)
    assert covered["conversion"] >= 0.88 * shops
    assert covered["revenue"] >= 0.85 * shops
    assert covered["always_valid"] >= 0.95 * shops


def test_estimates_are_the_plain_differences() -> None:
    treated, holdout = counts(900, 90, cents=2_000), counts(100, 5, cents=3_000)
    result = compare(treated, holdout)
    assert result.conversion and result.revenue
    assert result.conversion.estimate == pytest.approx(0.10 - 0.05)
    assert result.conversion.relative_lift == pytest.approx(1.0)
    assert result.revenue.estimate_cents == pytest.approx(200 - 150)
    assert result.enough_data


def test_newcombe_interval_matches_newcombe_1998() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873–890, table II, example (a), method 10."""
    result = conversion_uplift(counts(70, 56), counts(80, 48))
    assert result.ci95 == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert result.p_value < 0.05


# --- edge cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("sides", [(True, False), (False, True), (True, True)])
def test_an_empty_arm_gives_no_uplift(sides: tuple[bool, bool]) -> None:
    treated = empty() if sides[0] else counts(100, 10)
    holdout = empty() if sides[1] else counts(100, 10)
    result = compare(treated, holdout)
    assert not result.enough_data
    assert result.minimum_detectable_effect is None
    assert result.conversion is None and result.revenue is None and result.always_valid is None


def test_no_conversions_in_either_arm() -> None:
    result = compare(counts(500, 0), counts(60, 0))
    assert result.conversion and result.revenue and result.always_valid
    assert not result.enough_data
    assert result.conversion.estimate == 0.0
    low, high = result.conversion.ci95
    assert low < 0 < high
    assert result.conversion.relative_lift is None
    assert result.conversion.p_value == 1.0
    assert result.revenue.ci95_cents == (0.0, 0.0)
    assert result.revenue.method.startswith("none")
    assert result.always_valid.verdict == "inconclusive"
    assert result.always_valid.p_value == 1.0
    assert result.minimum_detectable_effect is not None and result.minimum_detectable_effect > 0


def test_every_moment_converted() -> None:
    rng = np.random.default_rng(3)
    result = compare(arm(300, 1.0, rng), arm(40, 1.0, rng))
    assert result.conversion and result.revenue
    assert result.conversion.estimate == 0.0
    assert result.conversion.relative_lift == 0.0
    assert result.conversion.p_value == 1.0
    assert result.minimum_detectable_effect is None  # no rise above 100 % to detect
    low, high = result.revenue.ci95_cents
    assert low < result.revenue.estimate_cents < high


def test_one_moment_per_arm() -> None:
    result = compare(counts(1, 1), counts(1, 0))
    assert result.conversion and result.revenue and result.always_valid
    assert not result.enough_data
    assert result.conversion.estimate == 1.0
    assert -1.0 <= result.conversion.ci95[0] < result.conversion.ci95[1] <= 1.0
    assert result.always_valid.ci95 == (-1.0, 1.0)
    assert result.revenue.method.startswith("none")  # each arm is one value: nothing to resample
    assert result.minimum_detectable_effect is None


def test_one_holdout_moment_against_many() -> None:
    """scipy's BCa needs two moments per arm; the sparse bootstrap takes over and says so."""
    rng = np.random.default_rng(4)
    result = revenue_uplift(arm(500, 0.2, rng).revenue_cents, np.array([0]))
    assert "sparse" in result.method
    low, high = result.ci95_cents
    assert low < result.estimate_cents < high


def test_enough_data_thresholds() -> None:
    assert enough_data(counts(30, 3), counts(30, 2))
    assert not enough_data(counts(30, 3), counts(29, 2))  # an arm too small
    assert not enough_data(counts(300, 2), counts(300, 2))  # too few conversions
    assert enough_data(counts(10, 1), counts(10, 1), min_per_arm=10, min_conversions=2)


def test_a_million_moments_compare_fast_with_a_sound_interval() -> None:
    rng = np.random.default_rng(5)
    treated, holdout = arm(1_000_000, 0.05, rng), arm(100_000, 0.05, rng)
    start = time.perf_counter()
    result = compare(treated, holdout)
    assert time.perf_counter() - start < 2.0
    assert result.revenue and result.conversion
    assert "treated arm: sums of revenues from their normal limit" in result.revenue.method
    welch = math.sqrt(
        treated.revenue_cents.var(ddof=1) / treated.n
        + holdout.revenue_cents.var(ddof=1) / holdout.n
    )
    low, high = result.revenue.ci95_cents
    assert high - low == pytest.approx(2 * 1.96 * welch, rel=0.1)  # CLT holds at this size
    assert result.minimum_detectable_effect == pytest.approx(0.002, abs=0.0005)


# --- the bootstrap against scipy ------------------------------------------------------------


def test_sparse_bootstrap_agrees_with_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sparse resampling is the same bootstrap: on the same data, with many resamples,
    its BCa interval and scipy.stats.bootstrap's differ only by Monte Carlo noise."""
    rng = np.random.default_rng(6)
    treated, holdout = arm(1_350, 0.08, rng).revenue_cents, arm(150, 0.06, rng).revenue_cents
    reference = revenue_uplift(treated, holdout, resamples=20_000)
    monkeypatch.setattr(bootstrap, "SCIPY_MAX_MOMENTS", 0)
    sparse = revenue_uplift(treated, holdout, resamples=20_000)
    assert "scipy" in reference.method and "sparse" in sparse.method
    width = reference.ci95_cents[1] - reference.ci95_cents[0]
    assert sparse.ci95_cents == pytest.approx(reference.ci95_cents, abs=0.03 * width)


def test_normal_limit_agrees_with_exact_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    treated, holdout = arm(100_000, 0.1, rng).revenue_cents, arm(20_000, 0.1, rng).revenue_cents
    exact = revenue_uplift(treated, holdout)
    monkeypatch.setattr(bootstrap, "EXACT_DRAW_BUDGET", 0)
    monkeypatch.setattr(bootstrap, "NORMAL_LIMIT_VALUES", 0)
    limit = revenue_uplift(treated, holdout)
    assert "normal limit" not in exact.method and "normal limit" in limit.method
    width = exact.ci95_cents[1] - exact.ci95_cents[0]
    assert limit.ci95_cents == pytest.approx(exact.ci95_cents, abs=0.04 * width)


def test_closed_form_acceleration_equals_the_jackknife() -> None:
    """The jackknife scipy runs, by brute force (leave each moment out), on a small sample."""
    rng = np.random.default_rng(8)
    treated, holdout = arm(40, 0.3, rng).revenue_cents, arm(25, 0.2, rng).revenue_cents
    influences = []
    for sample, sign in ((treated, 1.0), (holdout, -1.0)):
        left_out = np.array([np.delete(sample, i).mean() for i in range(sample.size)])
        influences.append(sign * (sample.size - 1) * (left_out.mean() - left_out))
    cubes = sum(np.sum(u**3) / u.size**3 for u in influences)
    squares = sum(np.sum(u**2) / u.size**2 for u in influences)
    expected = cubes / (6 * squares**1.5)
    assert bootstrap._acceleration(treated, holdout) == pytest.approx(expected, rel=1e-9)


def test_bca_is_undefined_when_every_resample_lies_on_one_side() -> None:
    low, high = bootstrap._bca_interval(np.array([1.0, 2.0, 3.0]), 0.0, 0.0)
    assert math.isnan(low) and math.isnan(high)


# --- minimum detectable effect -------------------------------------------------------------


def test_minimum_detectable_effect_inverts_cohens_h() -> None:
    """Equal arms: h = (z₀.₉₇₅ + z₀.₈)·√(2/n) (the far tail is negligible), back to rates."""
    n, base = 10_000, 0.05
    h = (norm.ppf(0.975) + norm.ppf(0.8)) * math.sqrt(2 / n)
    expected = math.sin(math.asin(math.sqrt(base)) + h / 2) ** 2 - base
    assert minimum_detectable_effect(n, n, base) == pytest.approx(expected, rel=1e-4)
    assert minimum_detectable_effect(4 * n, 4 * n, base) == pytest.approx(expected / 2, rel=0.05)
    assert minimum_detectable_effect(0, n, base) is None


# --- always valid --------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(900, 100), (9_000, 1_000), (1_000_000, 100_000)])
def test_always_valid_interval_contains_the_fixed_one(sizes: tuple[int, int]) -> None:
    treated, holdout = counts(sizes[0], sizes[0] * 6 // 100), counts(sizes[1], sizes[1] // 20)
    fixed = conversion_uplift(treated, holdout).ci95
    sequence = always_valid(treated.conversions, treated.n, holdout.conversions, holdout.n)
    assert sequence.ci95[0] < fixed[0] and fixed[1] < sequence.ci95[1]
    assert sequence.ci95[1] - sequence.ci95[0] > 1.2 * (fixed[1] - fixed[0])


def test_always_valid_p_value_agrees_with_its_interval() -> None:
    for holdout_conversions in range(0, 60, 3):
        result = always_valid(200, 2_000, holdout_conversions, 500)
        excludes_zero = result.ci95[0] > 0 or result.ci95[1] < 0
        assert (result.p_value <= 0.05) == excludes_zero
        assert (result.verdict != "inconclusive") == excludes_zero
        assert 0 < result.p_value <= 1
    assert always_valid(200, 2_000, 0, 500).verdict == "positive"
    assert always_valid(200, 2_000, 100, 500).verdict == "negative"


def test_reading_every_day_a_campaign_that_does_nothing() -> None:
    """200 A/A campaigns, 100 moments a day (10 % held out), read every day for 30 days: a
    fixed 95 % interval claims an effect on some day for far more than 5 % of them; the
    always-valid verdict for at most about 5 %."""
    rng = np.random.default_rng(9)
    experiments, days = 200, 30
    fixed_claims = valid_claims = 0
    for _ in range(experiments):
        rate = rng.uniform(0.02, 0.15)
        treated = np.cumsum(rng.binomial(90, rate, size=days))
        holdout = np.cumsum(rng.binomial(10, rate, size=days))
        looks = [
            (90 * day, int(treated[day - 1]), 10 * day, int(holdout[day - 1]))
            for day in range(1, days + 1)
        ]
        fixed_claims += any(_fixed_claims(*look) for look in looks)
        valid_claims += any(
            always_valid(t_x, t_n, h_x, h_n).verdict != "inconclusive"
            for t_n, t_x, h_n, h_x in looks
        )
    assert fixed_claims / experiments > 0.15  # the simulation does show peeking's cost
    assert valid_claims / experiments <= 0.05 + 0.02


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_same_answer() -> None:
    rng = np.random.default_rng(10)
    for sizes in ((1_800, 200), (9_000, 1_000)):  # scipy's bootstrap, then the sparse one
        treated, holdout = arm(sizes[0], 0.08, rng), arm(sizes[1], 0.07, rng)
        assert compare(treated, holdout, seed=1) == compare(treated, holdout, seed=1)
        other = compare(treated, holdout, seed=2)
        assert other.revenue != compare(treated, holdout, seed=1).revenue
        assert other.conversion == compare(treated, holdout, seed=1).conversion


def _fixed_claims(treated_n: int, treated_x: int, holdout_n: int, holdout_x: int) -> bool:
    low, high = conversion_uplift(counts(treated_n, treated_x), counts(holdout_n, holdout_x)).ci95
    return low > 0 or high < 0


def _inside(value: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= value <= interval[1]
