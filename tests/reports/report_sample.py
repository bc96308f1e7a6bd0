"""A realistic `leal report --format json` object for the rendering tests: four campaigns
(one clear win, one inconclusive, one too young to judge, one that hurts) over November,
and the loyalty KPIs of a shop of about 4,000 members. Deterministic: the same call gives
the same dict, so rendered output can be compared byte for byte."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

START = date(2026, 11, 1)
DAYS = 30


def sample_report(*, campaigns: bool = True, kpis: bool = True) -> dict[str, Any]:
    """The sample; `campaigns=False` or `kpis=False` empty those parts as a shop without
    results would (an empty list, a null object)."""
    return {
        "schema_version": 1,
        "shop": "Leal Demo Shop",
        "currency": "EUR",
        "locale": "en",
        "period": {"from": "2026-11-01", "to": "2026-11-30"},
        "generated_at": "2026-12-01T09:00:00+00:00",
        "settings": {
            "gross_margin": 0.4,
            "cost_per_email": 0.001,
            "cost_per_sms": 0.05,
            "global_holdout_percent": 0.0,
        },
        "campaigns": _campaigns() if campaigns else [],
        "kpis": _kpis() if kpis else None,
    }


def campaign(name: str, **fields: Any) -> dict[str, Any]:
    """One campaign object, the clear win by default; `fields` replace its keys."""
    result = {
        "name": name,
        "description": "Reminds customers of the cart they left, with a 10 % coupon.",
        "trigger": "abandoned_cart",
        "channels": ["email", "sms"],
        "enabled": True,
        "holdout_percent": 10.0,
        "attribution_days": 7,
        "treated": _arm(900, 120, 12345.67, 1500, coupons=40, discounts=200.0),
        "holdout": _arm(100, 5, 400.0, 0),
        "global_holdout_moments": 0,
        "enough_data": True,
        "minimum_detectable_effect": 0.05,
        "conversion_uplift": {
            "estimate": 0.0833,
            "ci95": [0.03, 0.12],
            "relative_lift": 1.67,
            "p_value": 0.004,
        },
        "revenue_per_recipient_uplift": {
            "estimate": 9.72,
            "ci95": [4.1, 15.0],
            "method": "bca",
            "resamples": 2000,
        },
        "always_valid": {
            "ci95": [0.01, 0.15],
            "p_value": 0.03,
            "verdict": "positive",
            "method": "mixture sequential probability ratio test",
        },
        "incremental_revenue": 8748.0,
        "message_costs": 76.5,
        "discounts_redeemed": 200.0,
        "incremental_margin": 3222.7,
        "roi": 4.1,
        "daily": _daily(name, 30, 50),
    }
    result.update(fields)
    return result


def _campaigns() -> list[dict[str, Any]]:
    return [
        campaign("abandoned_cart"),
        campaign(
            "birthday",
            description="A birthday greeting with double points for a week.",
            trigger="birthday",
            channels=["email"],
            treated=_arm(1800, 126, 9100.0, 1800, coupons=30, discounts=150.0),
            holdout=_arm(200, 12, 900.0, 0),
            conversion_uplift={
                "estimate": 0.01,
                "ci95": [-0.024, 0.044],
                "relative_lift": 0.1667,
                "p_value": 0.57,
            },
            revenue_per_recipient_uplift={
                "estimate": 0.56,
                "ci95": [-1.9, 3.1],
                "method": "bca",
                "resamples": 2000,
            },
            always_valid={
                "ci95": [-0.06, 0.08],
                "p_value": 1.0,
                "verdict": "inconclusive",
                "method": "mixture sequential probability ratio test",
            },
            incremental_revenue=1008.0,
            message_costs=1.8,
            discounts_redeemed=150.0,
            incremental_margin=251.4,
            roi=1.6655,
            daily=_daily("birthday", 60, 5),
        ),
        campaign(
            "win_back",
            description="Brings back customers who have not ordered for 90 days.",
            trigger="lapsed",
            channels=["email"],
            treated=_arm(45, 2, 130.0, 45),
            holdout=_arm(5, 0, 0.0, 0),
            enough_data=False,
            minimum_detectable_effect=0.31,
            conversion_uplift={
                "estimate": None,
                "ci95": None,
                "relative_lift": None,
                "p_value": None,
            },
            revenue_per_recipient_uplift=None,
            always_valid=None,
            incremental_revenue=None,
            message_costs=0.05,
            discounts_redeemed=0.0,
            incremental_margin=None,
            roi=None,
            daily=_daily("win_back", 2, 8)[-12:],
        ),
        campaign(
            "points_expiry",
            description="Warns customers that points expire at the end of the month.",
            trigger="points_expiring",
            channels=["sms"],
            treated=_arm(1400, 84, 5400.0, 1400, coupons=0, discounts=0.0),
            holdout=_arm(600, 54, 2900.0, 0),
            conversion_uplift={
                "estimate": -0.03,
                "ci95": [-0.056, -0.004],
                "relative_lift": -0.3333,
                "p_value": 0.024,
            },
            revenue_per_recipient_uplift={
                "estimate": -0.98,
                "ci95": [-2.2, 0.3],
                "method": "bca",
                "resamples": 2000,
            },
            always_valid={
                "ci95": [-0.07, -0.002],
                "p_value": 0.045,
                "verdict": "negative",
                "method": "mixture sequential probability ratio test",
            },
            incremental_revenue=-1372.0,
            message_costs=70.0,
            discounts_redeemed=0.0,
            incremental_margin=-618.8,
            roi=-8.84,
            daily=_daily("points_expiry", 45, 2),
        ),
    ]


def _arm(
    n: int,
    conversions: int,
    revenue: float,
    messages: int,
    *,
    coupons: int = 0,
    discounts: float = 0.0,
) -> dict[str, Any]:
    return {
        "n": n,
        "conversions": conversions,
        "conversion_rate": conversions / n if n else None,
        "revenue": revenue,
        "revenue_per_recipient": round(revenue / n, 4) if n else None,
        "messages": messages,
        "coupons_redeemed": coupons,
        "discounts_redeemed": discounts,
    }


def _daily(seed: str, per_day: int, order_value: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for offset in range(DAYS):
        treated = max(0, round(rng.gauss(per_day, per_day / 4)))
        holdout = round(treated / 9)
        rows.append(
            {
                "date": (START + timedelta(days=offset)).isoformat(),
                "treated": treated,
                "holdout": holdout,
                "messages": round(treated * 1.6),
                "attributed_revenue": round(treated * order_value * rng.uniform(0.5, 1.5), 2),
            }
        )
    return rows


def _kpis() -> dict[str, Any]:
    rng = random.Random("points")
    return {
        "customers": {
            "at_start": 4000,
            "at_end": 4100,
            "new": 300,
            "retention_rate": 0.95,
            "churn_rate": 0.05,
            "active_definition_days": 365,
        },
        "orders": {
            "count": 2000,
            "revenue": 120000.0,
            "average_order_value": 60.0,
            "purchase_frequency": 1.4,
            "repeat_purchase_rate": 0.3,
            "upsell_ratio": 0.2,
        },
        "clv": {"historic": 320.0, "historic_margin": 128.0},
        "points": {
            "issued": 120000,
            "redeemed": 20000,
            "expired": 5000,
            "outstanding": 300000,
            "outstanding_value": 3000.0,
            "redemption_rate": 0.17,
        },
        "points_daily": [
            {
                "date": (START + timedelta(days=offset)).isoformat(),
                "issued": round(rng.gauss(4000, 900)),
                "redeemed": round(rng.gauss(650, 250)),
                "expired": 2500 if offset == DAYS - 1 else round(rng.uniform(0, 120)),
            }
            for offset in range(DAYS)
        ],
        "tiers": {
            "distribution": {"bronze": 3000, "silver": 800, "gold": 200},
            "migration": {
                "bronze": {"bronze": 2800, "silver": 150, "gold": 50},
                "silver": {"bronze": 40, "silver": 620, "gold": 60},
                "gold": {"bronze": 0, "silver": 30, "gold": 90},
            },
        },
        "rfm": {
            "segments": {
                "champions": 300,
                "loyal": 500,
                "potential_loyalists": 400,
                "new": 200,
                "promising": 150,
                "need_attention": 300,
                "about_to_sleep": 250,
                "at_risk": 400,
                "cannot_lose": 80,
                "hibernating": 700,
                "lost": 900,
            }
        },
        "surveys": _surveys(),
    }


def _surveys() -> dict[str, Any]:
    """NPS, CSAT and CES campaigns (no loyalty index), and the unhappy answers to follow up."""
    comments = ["The beans arrived stale.", None, "Hard to find the grind option.", None]
    detractors = [
        {
            "customer_id": f"C{1000 + n:06d}",
            "campaign": ["survey_nps", "survey_csat", "survey_ces"][n % 3],
            "kind": ["nps", "csat", "ces"][n % 3],
            "score": [4, 2, 3][n % 3],
            "answered_at": f"2026-11-{n + 3:02d}T10:{n:02d}:00+00:00",
            "comment": comments[n % 4],
        }
        for n in range(8)
    ]
    return {
        "nps": {
            "responses": 240, "score": 40.0, "ci95": [30.25, 48.76], "promoters": 132,
            "passives": 72, "detractors": 36,
            "distribution": {"0": 3, "1": 1, "2": 2, "3": 3, "4": 4, "5": 6, "6": 17, "7": 30,
                             "8": 42, "9": 60, "10": 72},
            "sent": 600, "response_rate": 0.4,
        },
        "csat": {
            "responses": 80, "score": 0.8, "ci95": [0.6995, 0.873], "satisfied": 64,
            "distribution": {"1": 3, "2": 4, "3": 9, "4": 28, "5": 36},
            "sent": 250, "response_rate": 0.32,
        },
        "ces": {
            "responses": 60, "score": 5.2667, "ci95": [4.8987, 5.6347],
            "distribution": {"1": 1, "2": 2, "3": 4, "4": 8, "5": 15, "6": 18, "7": 12},
            "sent": 200, "response_rate": 0.3,
        },
        "customer_loyalty_index": None,
        "responses": 380, "sent": 1050, "response_rate": 0.3619, "clicks": 900,
        "suspect_clicks": 140, "detractors": detractors,
    }  # fmt: skip
