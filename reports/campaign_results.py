"""A campaign's result as the report's JSON object: its two groups, the uplift with its
intervals, and what it earned after the coupons it gave away and the messages it paid for.

The formulas are in docs/measurement.md; every money value here is in currency units.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from campaigns.config import Campaign, MeasurementSettings
from reports.attribution import CampaignOutcomes
from reports.stats import ArmOutcomes, Comparison, compare


def campaign_result(
    name: str,
    campaign: Campaign,
    outcomes: CampaignOutcomes,
    measurement: MeasurementSettings,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """The documented per-campaign object of `leal report --format json`."""
    comparison = compare(outcomes.treated, outcomes.holdout, seed=seed)
    costs = _message_costs(outcomes, measurement)
    incremental = _incremental_revenue(comparison, outcomes.treated.n)
    discounts = Decimal(outcomes.discounts_cents) / 100
    margin = None
    roi = None
    if incremental is not None:
        margin = incremental * measurement.gross_margin - discounts - costs
        spend = discounts + costs
        roi = _ratio(margin, spend)
    return {
        "name": name,
        "description": campaign.description,
        "trigger": campaign.trigger,
        "channels": list(campaign.channels),
        "enabled": campaign.enabled,
        "holdout_percent": float(campaign.holdout_percent),
        "attribution_days": campaign.attribution_days,
        "treated": _arm(outcomes.treated, sum(outcomes.sent.values()), outcomes, treated=True),
        "holdout": _arm(outcomes.holdout, 0, outcomes, treated=False),
        "global_holdout_moments": outcomes.global_holdout,
        "enough_data": comparison.enough_data,
        "minimum_detectable_effect": comparison.minimum_detectable_effect,
        "conversion_uplift": _conversion(comparison),
        "revenue_per_recipient_uplift": _revenue(comparison),
        "always_valid": _always_valid(comparison),
        "incremental_revenue": _money(incremental),
        "message_costs": _money(costs),
        "discounts_redeemed": _money(discounts),
        "incremental_margin": _money(margin),
        "roi": None if roi is None else round(roi, 4),
        "daily": [
            {
                "date": day.day.isoformat(),
                "treated": day.treated,
                "holdout": day.holdout,
                "messages": day.messages,
                "attributed_revenue": round(day.attributed_revenue_cents / 100, 2),
            }
            for day in outcomes.days
        ],
    }


def _arm(
    arm: ArmOutcomes, messages: int, outcomes: CampaignOutcomes, *, treated: bool
) -> dict[str, Any]:
    return {
        "n": arm.n,
        "conversions": arm.conversions,
        "conversion_rate": _rate(arm.conversions, arm.n),
        "revenue": round(arm.revenue_cents_total / 100, 2),
        "revenue_per_recipient": None if not arm.n else round(arm.revenue_per_recipient / 100, 4),
        "messages": messages,
        "coupons_redeemed": outcomes.coupons_redeemed if treated else 0,
        "discounts_redeemed": round(outcomes.discounts_cents / 100, 2) if treated else 0.0,
    }


def _conversion(comparison: Comparison) -> dict[str, Any]:
    """Always an object, so scripts can read `conversion_uplift.estimate`: null fields
    when an arm is empty."""
    uplift = comparison.conversion
    if uplift is None:
        return {"estimate": None, "ci95": None, "relative_lift": None, "p_value": None}
    return {
        "estimate": uplift.estimate,
        "ci95": list(uplift.ci95),
        "relative_lift": uplift.relative_lift,
        "p_value": uplift.p_value,
    }


def _revenue(comparison: Comparison) -> dict[str, Any] | None:
    uplift = comparison.revenue
    if uplift is None:
        return None
    return {
        "estimate": round(uplift.estimate_cents / 100, 4),
        "ci95": [round(bound / 100, 4) for bound in uplift.ci95_cents],
        "method": uplift.method,
        "resamples": uplift.resamples,
    }


def _always_valid(comparison: Comparison) -> dict[str, Any] | None:
    verdict = comparison.always_valid
    if verdict is None:
        return None
    return {
        "ci95": list(verdict.ci95),
        "p_value": verdict.p_value,
        "verdict": verdict.verdict,
        "method": verdict.method,
    }


def _incremental_revenue(comparison: Comparison, treated: int) -> Decimal | None:
    """Revenue per recipient, treated minus holdout, times the treated recipients."""
    if comparison.revenue is None:
        return None
    per_recipient = Decimal(repr(comparison.revenue.estimate_cents)) / 100
    return per_recipient * treated


def _message_costs(outcomes: CampaignOutcomes, measurement: MeasurementSettings) -> Decimal:
    sent = outcomes.sent
    return sent["email"] * measurement.cost_per_email + sent["sms"] * measurement.cost_per_sms


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _ratio(numerator: Decimal, denominator: Decimal) -> float | None:
    return float(numerator / denominator) if denominator else None


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


__all__ = ["campaign_result"]
