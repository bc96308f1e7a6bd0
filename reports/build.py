"""`leal report`: the documented report object, built from the ledger and the shop's data.

The object is what `--format json` prints and what the text and HTML views render, so a
script and a marketer read the same numbers (docs/measurement.md describes each one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from campaigns.loader import Config
from reports.attribution import campaign_outcomes
from reports.campaign_results import campaign_result
from reports.kpis import loyalty_kpis

# Raised when a documented field is removed, renamed or changes meaning. Adding a field,
# or filling one documented as kept for later (kpis.surveys, null before answers were
# collected; still null for a kind without any), keeps it: readers ignore what they do not
# know, and a null they handled is still null where there is no data.
SCHEMA_VERSION = 1


class ReportError(ValueError):
    """The report was asked for something the settings or the dates do not allow."""


def build_report(
    connection: Connection,
    config: Config,
    start: date,
    end: date,
    *,
    campaign: str | None = None,
    seed: int = 0,
    kpis: bool = True,
) -> dict[str, Any]:
    """Campaign results for moments planned on run dates [start, end], and the loyalty KPIs
    of that period. `seed` fixes the bootstrap, so the same data gives the same report."""
    if end < start:
        raise ReportError(f"--from {start} is after --to {end}")
    settings = config.settings
    campaigns = settings.campaigns
    if campaign is not None and campaign not in campaigns:
        raise ReportError(f"no campaign named {campaign}")
    chosen = [campaign] if campaign else list(campaigns)
    measurement = settings.measurement
    results = []
    for name in chosen:
        setup = campaigns[name]
        outcomes = campaign_outcomes(connection, name, start, end, setup.attribution_days)
        results.append(campaign_result(name, setup, outcomes, measurement, seed=seed))
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "shop": settings.shop.name,
        "currency": settings.shop.currency,
        "locale": settings.shop.default_locale,
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "gross_margin": float(measurement.gross_margin),
            "cost_per_email": float(measurement.cost_per_email),
            "cost_per_sms": float(measurement.cost_per_sms),
            "global_holdout_percent": float(measurement.global_holdout_percent),
        },
        "campaigns": results,
        "kpis": None,
    }
    if kpis:
        found = loyalty_kpis(
            connection,
            settings.loyalty,
            start,
            end,
            gross_margin=measurement.gross_margin,
            tz=settings.shop.tz,
            survey_kinds={
                name: setup.survey.kind
                for name, setup in campaigns.items()
                if setup.survey is not None
            },
        )
        report["kpis"] = found.as_json()
    return report
