"""Do the holdout statistics say what they promise? Simulated shops with a known truth.

    python bench/uplift.py [--shops 200] [--seed 0] [--days 30]

Each shop runs one campaign for `--days` days: a few thousand moments (2,000–8,000), each
held out with probability 10 % (as the hash does), a base conversion rate of 2–15 %, a true
relative lift of 0–30 % on conversion and 0–10 % on basket size, lognormal order revenue.
Printed: coverage and bias of the conversion (Newcombe) and revenue-per-recipient (BCa)
intervals against the truth; then the same shops with no effect at all (A/A), read every day,
counting shops where some day's report claims an effect: the fixed-horizon interval against
the always-valid verdict; then the time of one `compare`.
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from reports.stats import ArmOutcomes, always_valid, compare, conversion_uplift, enough_data

HOLDOUT = 0.10
NEWCOMBE = "conversion, Newcombe"
SEQUENCE = "conversion, always-valid"
BCA = "revenue/recipient, BCa"
WELCH = "revenue/recipient, normal (reference)"


@dataclass(frozen=True)
class Shop:
    moments: int
    base_rate: float
    conversion_lift: float  # relative
    median_order_cents: float
    sigma: float  # of log revenue
    basket_lift: float  # relative, on every order of a treated moment

    def rate(self, treated: bool) -> float:
        return self.base_rate * (1 + self.conversion_lift) if treated else self.base_rate

    def mu(self, treated: bool) -> float:
        return math.log(self.median_order_cents * (1 + self.basket_lift if treated else 1))

    def true_conversion_uplift(self) -> float:
        return self.rate(True) - self.rate(False)

    def true_revenue_uplift(self) -> float:
        """Cents per recipient: rate × mean order, treated minus holdout."""
        mean = [math.exp(self.mu(arm) + self.sigma**2 / 2) for arm in (False, True)]
        return self.rate(True) * mean[1] - self.rate(False) * mean[0]

    def null(self) -> Shop:
        return Shop(self.moments, self.base_rate, 0.0, self.median_order_cents, self.sigma, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    shops = [_shop(rng) for _ in range(args.shops)]
    print(f"{args.shops} shops, seed {args.seed}, {args.days} days, holdout {HOLDOUT:.0%}\n")
    _print_table("Against the truth (campaign over)", _accuracy(shops, rng))
    _print_table(
        f"A/A, the report read every day for {args.days} days", _peeking(shops, rng, args.days)
    )
    _print_table("Time of one compare (median of 5; peak traced memory)", _timings(rng))


def _shop(rng: np.random.Generator) -> Shop:
    return Shop(
        moments=int(rng.integers(2_000, 8_001)),
        base_rate=float(rng.uniform(0.02, 0.15)),
        conversion_lift=float(rng.uniform(0.0, 0.30)),
        median_order_cents=float(rng.uniform(2_000, 8_000)),
        sigma=float(rng.uniform(0.6, 1.2)),
        basket_lift=float(rng.uniform(0.0, 0.10)),
    )


def _moments(shop: Shop, rng: np.random.Generator) -> tuple[ArmOutcomes, ArmOutcomes]:
    """Treated and holdout moments, each arm in order of arrival."""
    held = int(rng.binomial(shop.moments, HOLDOUT))
    return _arm(shop, True, shop.moments - held, rng), _arm(shop, False, held, rng)


def _accuracy(shops: list[Shop], rng: np.random.Generator) -> list[tuple[str, str]]:
    covered: dict[str, list[bool]] = {name: [] for name in _coverage_rows()}
    errors: dict[str, list[float]] = defaultdict(list)
    for index, shop in enumerate(shops):
        treated, holdout = _moments(shop, rng)
        result = compare(treated, holdout, seed=index)
        assert result.conversion and result.revenue and result.always_valid
        truth, revenue_truth = shop.true_conversion_uplift(), shop.true_revenue_uplift()
        covered[NEWCOMBE].append(_inside(truth, result.conversion.ci95))
        covered[SEQUENCE].append(_inside(truth, result.always_valid.ci95))
        revenue_inside = _inside(revenue_truth, result.revenue.ci95_cents)
        covered[BCA].append(revenue_inside)
        covered[_bucket(holdout.conversions)].append(revenue_inside)
        covered[WELCH].append(_inside(revenue_truth, _normal_interval(treated, holdout)))
        errors["conversion (points of %)"].append(100 * (result.conversion.estimate - truth))
        errors["revenue/recipient (cents)"].append(result.revenue.estimate_cents - revenue_truth)
    rows = [
        (f"coverage: {name}", f"{np.mean(hits):.1%} ± {_se(hits):.1%} ({len(hits)} shops)")
        for name, hits in covered.items()
        if hits
    ]
    rows += [
        (f"bias: {name}", f"{np.mean(e):+.3f} ± {np.std(e, ddof=1) / math.sqrt(len(e)):.3f}")
        for name, e in errors.items()
    ]
    return rows


def _peeking(shops: list[Shop], rng: np.random.Generator, days: int) -> list[tuple[str, str]]:
    """Share of A/A shops where some day's report claims an effect (a false positive)."""
    flagged: dict[str, list[bool]] = defaultdict(list)
    for shop in shops:
        treated, holdout = _moments(shop.null(), rng)
        looks = [
            (_prefix(treated, day / days), _prefix(holdout, day / days))
            for day in range(1, days + 1)
        ]
        shown = [(t, h) for t, h in looks if enough_data(t, h)]
        flagged["fixed-horizon, read once at the end"].append(_fixed_claims(*looks[-1]))
        flagged["fixed-horizon, read every day"].append(any(_fixed_claims(t, h) for t, h in shown))
        flagged["always-valid, read every day"].append(any(_valid_claims(t, h) for t, h in shown))
        flagged["always-valid, every day, no data gate"].append(
            any(_valid_claims(t, h) for t, h in looks)
        )
    return [
        (f"false positives: {name}", f"{np.mean(hits):.1%} ± {_se(hits):.1%}")
        for name, hits in flagged.items()
    ]


BUCKETS = (20, 40, 80)  # revenue coverage by the holdout's converted moments: the tail's say


def _bucket(conversions: int) -> str:
    low = max((bound for bound in BUCKETS if bound <= conversions), default=0)
    high = next((bound for bound in BUCKETS if bound > conversions), None)
    return f"  holdout with {low}–{high - 1} orders" if high else f"  holdout with {low}+ orders"


def _coverage_rows() -> list[str]:
    return [NEWCOMBE, SEQUENCE, BCA, *(_bucket(low) for low in (0, *BUCKETS)), WELCH]


def _prefix(arm: ArmOutcomes, share: float) -> ArmOutcomes:
    n = round(arm.n * share)
    return ArmOutcomes(arm.converted[:n], arm.revenue_cents[:n])


def _fixed_claims(treated: ArmOutcomes, holdout: ArmOutcomes) -> bool:
    low, high = conversion_uplift(treated, holdout).ci95
    return low > 0 or high < 0


def _valid_claims(treated: ArmOutcomes, holdout: ArmOutcomes) -> bool:
    if treated.n == 0 or holdout.n == 0:
        return False
    result = always_valid(treated.conversions, treated.n, holdout.conversions, holdout.n)
    return result.verdict != "inconclusive"


def _timings(rng: np.random.Generator) -> list[tuple[str, str]]:
    rows = []
    for treated_n, holdout_n, rate in (
        (9_000, 1_000, 0.05), (1_000_000, 100_000, 0.05), (1_000_000, 100_000, 0.15),
    ):  # fmt: skip
        shop = Shop(treated_n + holdout_n, rate, 0.1, 4_000, 1.0, 0.05)
        treated, holdout = (
            _arm(shop, arm, n, rng) for arm, n in ((True, treated_n), (False, holdout_n))
        )
        seconds, peak = _measure(partial(compare, treated, holdout))
        revenue = compare(treated, holdout).revenue
        assert revenue is not None
        name = f"{treated_n:,} treated + {holdout_n:,} holdout, {rate:.0%} convert"
        rows.append((name, f"{seconds * 1000:.0f} ms, peak {peak / 2**20:.0f} MiB"))
        rows.append(("  revenue interval", revenue.method))
    return rows


def _arm(shop: Shop, treated: bool, n: int, rng: np.random.Generator) -> ArmOutcomes:
    converted = rng.random(n) < shop.rate(treated)
    orders = np.rint(rng.lognormal(shop.mu(treated), shop.sigma, n)).astype(np.int64)
    return ArmOutcomes(converted, np.where(converted, orders, 0))


def _measure(run: Callable[[], object]) -> tuple[float, int]:
    """Median seconds of five runs, and the peak memory traced during one."""
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(np.median(seconds)), peak


def _normal_interval(treated: ArmOutcomes, holdout: ArmOutcomes) -> tuple[float, float]:
    """Welch's normal interval, not used by the report: is the bootstrap's shortfall the data's?"""
    estimate = treated.revenue_per_recipient - holdout.revenue_per_recipient
    se = math.sqrt(sum(arm.revenue_cents.var(ddof=1) / arm.n for arm in (treated, holdout)))
    return estimate - 1.96 * se, estimate + 1.96 * se


def _inside(value: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= value <= interval[1]


def _se(hits: list[bool]) -> float:
    return float(np.std(hits) / math.sqrt(len(hits)))


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(title)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print()


if __name__ == "__main__":
    main()
