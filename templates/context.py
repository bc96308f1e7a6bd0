"""Template contexts for a batch of messages: the variables of docs/templates.md.

Customer data enters templates only here, as values; a template never sees a database
row or an object with methods, only dicts, lists, strings, numbers and dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from campaigns.config import Campaign, LoyaltySettings, Settings, Survey
from campaigns.offers import IssuedCoupon, Moment
from shop.csv_rows import is_locale, is_web_url
from shop.redact import redact
from templates import context_data as data
from templates import moments
from templates.links import HONEYPOT, SurveyMoment, card_url, survey_token, survey_url
from templates.sandbox import format_money
from templates.surveys import LANGUAGES as SURVEY_LANGUAGES
from templates.surveys import SCALES, question, scale_labels
from templates.unsubscribe import Signer

# Triggers whose moment is about an order, and the moment column that names it.
_ORDER_OF = {"post_purchase_survey": "order_id", "review_request": "survey_occasion"}


@dataclass(frozen=True)
class MessageRef:
    """What a context needs to know of one message (an outbox row or a preview)."""

    campaign: str
    trigger: str
    customer_id: str
    channel: str
    occasion: str
    moment: Mapping[str, Any] = field(default_factory=dict)  # the trigger's context columns
    outbox_id: int | None = None

    @property
    def moment_key(self) -> Moment:
        return (self.campaign, self.customer_id, self.occasion)


@dataclass(frozen=True)
class Personal:
    """What was decided for a batch before rendering: coupons and recommendations."""

    coupons: Mapping[Moment, IssuedCoupon] = field(default_factory=dict)
    recommendations: Mapping[str, Sequence[str]] = field(default_factory=dict)  # customer -> skus


@dataclass(frozen=True)
class ContextFailure:
    """One message's context could not be built (a moment that does not parse, an amount
    beyond what can be formatted): that message is skipped, the rest of the batch goes on.
    `detail` says why, without the customer's address, number or name."""

    detail: str


Built = dict[str, Any] | ContextFailure | None


class _UnbuildableError(Exception):
    """A known reason a context cannot be built; the message is the detail."""


def build_contexts(
    connection: Connection,
    settings: Settings,
    refs: Sequence[MessageRef],
    on: date,
    signer: Signer,
    personal: Personal,
) -> list[Built]:
    """One context per ref, in order; None where the customer no longer exists, and a
    ContextFailure where that one message's context cannot be built."""
    ids = {ref.customer_id for ref in refs}
    people = data.customers(connection, ids)
    points = data.loyalty(connection, ids, on, settings.loyalty, settings.shop.tz)
    skus = {sku for skus in personal.recommendations.values() for sku in skus}
    skus |= {sku for ref in refs for sku in ref.moment.get("recommendations", ())}
    lines = data.cart_lines(connection, _carts(refs))
    skus |= {sku for cart in lines.values() for sku, _ in cart}
    orders = data.orders(connection, _orders(refs))
    skus |= {line[0] for order in orders.values() for line in order.lines}
    catalog = data.products(connection, skus)
    builder = _Builder(settings, signer, personal, catalog, lines, on, orders)
    return [
        builder.built(ref, people[ref.customer_id], points[ref.customer_id])
        if ref.customer_id in people
        else None
        for ref in refs
    ]


def _carts(refs: Sequence[MessageRef]) -> list[tuple[str, datetime]]:
    """The carts to read; one whose moment does not parse is left out (its message fails
    alone, when its context is built)."""
    carts = []
    for ref in refs:
        if ref.trigger == "abandoned_cart":
            try:
                carts.append((str(ref.moment["cart_id"]), _cart_instant(ref)))
            except (KeyError, ValueError, TypeError):
                continue
    return carts


def _orders(refs: Sequence[MessageRef]) -> set[str]:
    """The orders the batch's survey and review moments are about (read in one go)."""
    found = set()
    for ref in refs:
        column = _ORDER_OF.get(ref.trigger)
        value = ref.moment.get(column) if column else None
        if isinstance(value, str) and value:
            found.add(value.removeprefix(moments.SURVEY_OCCASION))
    return found


def survey_context(
    survey: Survey, token: str, public_url: str, locale: str, shop_name: str, points: int | None
) -> dict[str, Any]:
    """What templates see as `survey`: the question and what the ends of the scale mean
    in `locale`, one link per score, the honeypot (a link no person sees or reaches: what
    follows it is a link scanner), and the points answering earns (or none)."""
    low, high = scale_labels(survey.kind, locale)
    return {
        "kind": survey.kind,
        "question": question(survey, locale, shop_name),
        "comment": survey.comment,
        "labels": {"low": low, "high": high},
        "links": [
            {"score": score, "url": survey_url(public_url, token, score)}
            for score in SCALES[survey.kind].scores
        ],
        "honeypot_url": survey_url(public_url, token, HONEYPOT),
        "points": points,
    }


def _cart_instant(ref: MessageRef) -> datetime:
    return datetime.fromisoformat(str(ref.moment["last_change_at"]))


def _failure(error: Exception, person: dict[str, Any]) -> ContextFailure:
    if isinstance(error, _UnbuildableError | moments.MomentError):
        return ContextFailure(str(error))
    detail = f"{type(error).__name__}: {error}"  # the words may quote a value: redacted
    names = (person["first_name"], person["last_name"])
    return ContextFailure(redact(detail, names, (person["email"], person["phone"]))[:500])


def program_context(loyalty: LoyaltySettings) -> dict[str, Any]:
    """The loyalty program's rules as templates see them, added to each `loyalty`."""
    rate = loyalty.points_per_currency_unit
    return {
        "reward_points": loyalty.reward_points,
        "reward_percent_off": loyalty.reward_percent_off,
        "points_per_currency_unit": int(rate) if rate == rate.to_integral_value() else rate,
        "points_expire_days": loyalty.points_expire_days,
        "tiers": [{"name": name, "points": points} for name, points in loyalty.tiers.items()],
    }


class _Builder:
    def __init__(
        self,
        settings: Settings,
        signer: Signer,
        personal: Personal,
        catalog: dict[str, dict[str, Any]],
        lines: dict[str, list[tuple[str, int]]],
        on: date,
        orders: dict[str, data.OrderSummary],
    ) -> None:
        self.settings, self.signer, self.personal = settings, signer, personal
        self.catalog, self.lines, self.on, self.orders = catalog, lines, on, orders
        shop, loyalty = settings.shop, settings.loyalty
        self.shop = {
            "name": shop.name,
            "url": shop.url,
            "postal_address": shop.postal_address,
            "currency": shop.currency,
        }
        # The program's rules, the same for everyone: shown beside each customer's points.
        self.program = program_context(loyalty)
        self.public_url = settings.web.public_url

    def built(self, ref: MessageRef, person: dict[str, Any], loyalty: data.Loyalty) -> Built:
        try:
            return self.context(ref, person, loyalty)
        except Exception as error:  # one message's data, never the whole batch
            return _failure(error, person)

    def context(
        self, ref: MessageRef, person: dict[str, Any], loyalty: data.Loyalty
    ) -> dict[str, Any]:
        locale = person["locale"]
        if not locale or not is_locale(locale):
            # absent, or one Babel cannot format in (stored before the import checked it,
            # or by hand): the shop's, as for a customer without one; never a crash
            locale = self.settings.shop.default_locale
        customer = {
            "id": person["id"],
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "email": person["email"],
            "phone": person["phone"],
            "locale": locale,
        }
        recommended = self.personal.recommendations.get(
            ref.customer_id, ref.moment.get("recommendations", ())
        )
        return {
            "customer": customer,
            "shop": self.shop,
            "loyalty": loyalty.as_context() | self.program,
            "offer": self._offer(ref, locale),
            "recommendations": [
                self._product(sku, locale) for sku in recommended if sku in self.catalog
            ],  # a product deleted since the run is left out, not the whole message
            "unsubscribe_url": self._unsubscribe_url(ref),
            "card_url": card_url(self.public_url, self.signer, ref.customer_id),
            "survey": self._survey(ref, locale),
            "campaign": {"name": ref.campaign},
            "moment": self._moment(ref, locale),
        }

    def _offer(self, ref: MessageRef, locale: str) -> dict[str, Any] | None:
        coupon = self.personal.coupons.get(ref.moment_key)
        if coupon is None:
            return None
        amount = coupon.amount_off_cents
        return {
            "code": coupon.code,
            "percent_off": coupon.percent_off,
            "amount_off": self._money(amount, locale) if amount is not None else None,
            "free_shipping": coupon.free_shipping,
            "expires_on": coupon.expires_on,
        }

    def _product(self, sku: str, locale: str, quantity: int | None = None) -> dict[str, Any]:
        product = self.catalog[sku]  # products are never deleted, only put out of stock
        # A link or image that is not an http(s) URL (stored before the import refused
        # `javascript:`/`data:`, or by hand) is treated as absent: the product still shows,
        # linking to the shop and without its image, as a product that has none does.
        url, image = product["url"], product["image_url"]
        item = {
            "sku": sku,
            "name": product["name"],
            "price": self._money(product["price_cents"], locale),
            "image_url": image if image and is_web_url(image) else "",
            "url": url if url and is_web_url(url) else self.settings.shop.url,
        }
        if quantity is not None:
            item["quantity"] = quantity
        return item

    def _moment(self, ref: MessageRef, locale: str) -> dict[str, Any]:
        moment = dict(ref.moment)
        moment.pop("recommendations", None)  # decided by the run; shown as `recommendations`
        if ref.trigger == "birthday":
            moment["birthday_on"] = date.fromisoformat(str(moment["birthday_on"]))
        elif ref.trigger == "win_back":
            last = date.fromisoformat(str(moment["last_order_on"]))
            moment.update(last_order_on=last, days_since_last_order=(self.on - last).days)
        elif ref.trigger == "abandoned_cart":
            lines = self.lines.get(str(moment["cart_id"]))
            if lines is None:  # its moment did not parse (see _carts)
                raise _UnbuildableError("the abandoned cart's moment has no valid cart_id/instant")
            total = sum(self.catalog[sku]["price_cents"] * quantity for sku, quantity in lines)
            moment.update(
                lines=[self._product(sku, locale, quantity) for sku, quantity in lines],
                cart_total=self._money(total, locale),
                cart_url=f"{self.settings.shop.url.rstrip('/')}/cart",
            )
        else:
            moment = self._loyalty_moment(ref, moment, locale)
        return moment

    def _loyalty_moment(
        self, ref: MessageRef, moment: dict[str, Any], locale: str
    ) -> dict[str, Any]:
        """The loyalty triggers' moments, parsed (templates.moments); another trigger's as
        it came."""
        loyalty, tz, on = self.settings.loyalty, self.settings.shop.tz, self.on
        match ref.trigger:
            case "points_expiring":
                return moments.points_expiring(moment, on, loyalty)
            case "milestone":
                return moments.milestone(moment)
            case "welcome":
                return moments.welcome(moment, tz, self._days_after(ref))
            case "reward_available":
                return moments.reward_available(moment, loyalty)
            case "post_purchase_survey":
                parsed = moments.post_purchase_survey(moment, tz)
                return parsed | self._order(ref, parsed["order_id"], locale)
            case "at_risk":
                return moments.at_risk(moment, on)
            case "review_request":
                parsed = moments.review_request(moment, loyalty)
                return parsed | self._order(ref, parsed["order_id"], locale)
        return moment

    def _campaign(self, ref: MessageRef) -> Campaign | None:
        return self.settings.campaigns.get(ref.campaign)  # None: gone from the settings

    def _days_after(self, ref: MessageRef) -> list[int]:
        """The welcome series' steps as the campaign configures them (the trigger checked
        them when the settings loaded); none when the campaign is gone."""
        campaign = self._campaign(ref)
        steps = campaign.params.get("days_after", [0]) if campaign else []
        return [step for step in steps if isinstance(step, int)]

    def _order(self, ref: MessageRef, order_id: str | None, locale: str) -> dict[str, Any]:
        """The order's total and lines, priced as paid; none for an order that is gone or
        not this customer's (a moment is never a way to show another customer's order)."""
        order = self.orders.get(order_id) if order_id else None
        if order is None or order.customer_id != ref.customer_id:
            return {"order_total": None, "lines": []}
        lines = [
            self._product(sku, locale, quantity) | {"price": self._money(price, locale)}
            for sku, quantity, price in order.lines
            if sku in self.catalog
        ]
        return {"order_total": self._money(order.total_cents, locale), "lines": lines}

    def _survey(self, ref: MessageRef, locale: str) -> dict[str, Any] | None:
        """The campaign's survey as the email shows it: the question, what the ends of the
        scale mean, one signed link per score, and the honeypot no person sees."""
        campaign = self._campaign(ref)
        if campaign is None or campaign.survey is None:
            return None
        survey, moment = campaign.survey, SurveyMoment(ref.customer_id, ref.campaign, ref.occasion)
        return survey_context(
            survey,
            survey_token(self.signer, moment),
            self.public_url,
            self._survey_locale(survey, locale),
            self.settings.shop.name,
            self.settings.loyalty.actions.get("survey_answered"),
        )

    def _survey_locale(self, survey: Survey, locale: str) -> str:
        """The customer's locale where the campaign or Leal words the survey in it, else
        the shop's default: a Portuguese customer reading the Spanish fallback template
        gets the question in Spanish, not in Leal's last resort, English."""
        language = locale.replace("-", "_").split("_")[0]
        if language in SURVEY_LANGUAGES or locale in survey.question or language in survey.question:
            return locale
        return self.settings.shop.default_locale

    def _unsubscribe_url(self, ref: MessageRef) -> str:
        token = self.signer.token(ref.customer_id, ref.channel)
        return f"{self.settings.web.public_url.rstrip('/')}/unsubscribe/{token}"

    def _money(self, cents: int, locale: str) -> str:
        return format_money(cents, self.settings.shop.currency, locale)
