"""Trigger rules: one module per trigger, each a set-based query over the shop."""

from triggers import abandoned_cart, birthday, tier_change, win_back
from triggers.base import Params, RunContext, Trigger

TRIGGERS: dict[str, Trigger] = {
    module.TRIGGER.name: module.TRIGGER
    for module in (birthday, abandoned_cart, tier_change, win_back)
}

__all__ = ["TRIGGERS", "Params", "RunContext", "Trigger"]
