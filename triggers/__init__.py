"""Trigger rules: one module per trigger, each a set-based query over the shop."""

from triggers import (
    abandoned_cart,
    at_risk,
    birthday,
    milestone,
    points_expiring,
    post_purchase_survey,
    review_request,
    reward_available,
    tier_change,
    welcome,
    win_back,
)
from triggers.base import Params, RunContext, Trigger

TRIGGERS: dict[str, Trigger] = {
    module.TRIGGER.name: module.TRIGGER
    for module in (
        birthday,
        abandoned_cart,
        tier_change,
        win_back,
        review_request,
        post_purchase_survey,
        at_risk,
        points_expiring,
        milestone,
        welcome,
        reward_available,
    )
}

__all__ = ["TRIGGERS", "Params", "RunContext", "Trigger"]
