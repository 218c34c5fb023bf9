"""Which tax applies to a sale: pure rules, no I/O, no clock.

EU rules as a VAT-registered seller applies them:
- B2B inside the EU, customer with a VAT id in another member state: reverse
  charge, 0 %, and the invoice carries the legal mention (Art. 196 VAT Directive),
  only when the id is a well-formed VAT number of the customer's own state.
- Same member state as the seller: the seller's domestic rate.
- B2C to another member state: the customer's rate when the seller is registered
  for the One-Stop Shop (or in that state); otherwise the seller's own rate
  (distance sales below the EU threshold).
Outside the EU a customer is taxed only where the tenant says it is registered
(its own country by default), at the rate the tenant configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from domain import vat_numbers
from domain.invoicing.tax.eu_rates import EU_MEMBER_STATES, standard_rate

OSS = "EU_OSS"


@dataclass(frozen=True, slots=True)
class ConfiguredRate:
    valid_from: date
    rate_bp: int
    name: str


@dataclass(frozen=True, slots=True)
class TaxContext:
    tenant_country: str
    registrations: frozenset[str]  # country codes, and "EU_OSS"
    customer_country: str | None
    customer_region: str
    customer_vat_id: str | None
    on: date
    # (country, region) → dated rates; region "" means the whole country.
    configured: Mapping[tuple[str, str], Sequence[ConfiguredRate]]


@dataclass(frozen=True, slots=True)
class TaxDecision:
    rate_bp: int
    name: str
    country: str | None
    region: str
    reason: str  # domestic | oss | registered | distance_sale | reverse_charge | not_registered
    reverse_charge: bool = False

    @property
    def taxed(self) -> bool:
        return self.rate_bp > 0


NO_TAX = TaxDecision(0, "", None, "", "not_registered")


def _configured(ctx: TaxContext, country: str, region: str) -> ConfiguredRate | None:
    for key in ((country, region), (country, "")):
        chosen = None
        for rate in ctx.configured.get(key, ()):
            if rate.valid_from <= ctx.on and (
                chosen is None or rate.valid_from > chosen.valid_from
            ):
                chosen = rate
        if chosen is not None:
            return chosen
    return None


def _rate(ctx: TaxContext, country: str, region: str, reason: str) -> TaxDecision:
    configured = _configured(ctx, country, region)
    if configured is not None:
        return TaxDecision(configured.rate_bp, configured.name, country, region, reason)
    standard = standard_rate(country, ctx.on)
    if standard is not None:
        return TaxDecision(standard, "VAT", country, "", reason)
    return TaxDecision(0, "", country, region, reason)


def decide(ctx: TaxContext) -> TaxDecision:
    seller = ctx.tenant_country
    buyer = ctx.customer_country or seller
    registered = ctx.registrations | {seller}
    if seller in EU_MEMBER_STATES and buyer in EU_MEMBER_STATES:
        # Only a VAT number well formed for the buyer's own state moves the tax to
        # the buyer; any other id leaves the sale taxed as B2C.
        if buyer != seller and vat_numbers.valid_for(ctx.customer_vat_id, buyer):
            return TaxDecision(0, "VAT", buyer, "", "reverse_charge", reverse_charge=True)
        if buyer == seller:
            return _rate(ctx, seller, ctx.customer_region, "domestic")
        if OSS in registered:
            return _rate(ctx, buyer, ctx.customer_region, "oss")
        if buyer in registered:
            return _rate(ctx, buyer, ctx.customer_region, "registered")
        return _rate(ctx, seller, "", "distance_sale")
    if buyer in registered:
        return _rate(
            ctx, buyer, ctx.customer_region, "domestic" if buyer == seller else "registered"
        )
    return NO_TAX
