"""A subscription's monthly recurring revenue from its terms (pure).

`terms_of` takes what MRR depends on off a subscription row (and its plan's interval,
its coupon's discount) as plain JSON, which the movement log keeps on every row;
`mrr_of` computes the MRR from those terms alone, so that `rebuild-analytics` can
compute the whole log again from the rows' terms and compare.

The choices (ChartMogul's and Stripe Billing's, written down where they are made):
- Only `active` and `past_due` subscriptions count. A trial is 0 until it converts
  (trial conversion is then a new or reactivation movement); `paused` is 0 (pausing
  is churn, resuming a reactivation, as ChartMogul counts it); `unpaid` (dunning gave
  up but kept the subscription) is 0 until an invoice is paid again; `incomplete` and
  `canceled` are 0. A subscription canceled at period end counts until it ends.
- The plan's price times the quantity plus every recurring add-on, less the
  subscription's coupon while the coupon discounts its periods (a percent off the
  whole, or a fixed amount capped at the whole, per billing period, as invoices do).
  A coupon that has run out is removed from the subscription when the first period
  without it opens, and that removal is an expansion.
- Normalised to a month: the period's net amount ÷ the plan's interval in months,
  rounded half-up once (annual ÷ 12, quarterly ÷ 3).
- Tax is not in MRR: prices are the plan's net prices (tax-exclusive, the default).
  A plan priced tax-inclusive counts at its price, tax included: the tax in it
  depends on each customer's country and is only known per invoice (noted in
  docs/ANALYTICS.md).
- One-off add-ons, usage charges, credits top-ups and prorations are not recurring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.analytics.mrr import monthly
from domain.money import div_half_up

COUNTED_STATUSES = ("active", "past_due")
_BP = 10_000


def terms_of(sub: Any, interval_months: int, discount: Mapping[str, int] | None) -> dict[str, Any]:
    """The JSON terms the subscription's MRR is computed from. `discount` is the
    coupon's `{"percent_bp": n}` or `{"amount_minor": n}` in the subscription's
    currency (None without a coupon)."""
    items = [[sub.unit_amount_minor, sub.quantity]]
    items += [
        [add_on["unit_amount_minor"], add_on["quantity"]]
        for add_on in sub.add_ons
        if add_on.get("kind") == "recurring"
    ]
    return {
        "status": sub.status,
        "plan_id": sub.plan_id,
        "interval_months": interval_months,
        "items": items,
        "coupon_id": sub.coupon_id,
        "discount": dict(discount) if discount and sub.coupon_id is not None else None,
    }


def mrr_of(terms: Mapping[str, Any]) -> int:
    """The subscription's MRR in minor units of its currency."""
    if terms["status"] not in COUNTED_STATUSES:
        return 0
    gross = sum(unit * quantity for unit, quantity in terms["items"])
    discount = terms.get("discount")
    off = 0
    if discount:
        if discount.get("percent_bp") is not None:
            off = div_half_up(gross * discount["percent_bp"], _BP)
        else:
            off = discount.get("amount_minor") or 0
    return monthly(max(gross - min(off, gross), 0), terms["interval_months"])
