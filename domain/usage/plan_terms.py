"""A plan's usage terms beyond its charges: a minimum commitment per currency,
volume discounts on the period's usage total, SLA credit tiers.

Input (GraphQL `setPlanUsageTerms`), amounts in major units as decimal strings:
    {"minimumCommitment": {"EUR": "100.00"},
     "volumeDiscounts": [{"above": {"EUR": "1000.00"}, "percent": "5"}, ...],
     "slaCredits": [{"below": "99.9", "creditPercent": "10"}, ...]}
Stored with amounts in minor units (plan.usage_terms), read back by `UsageTerms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.money import exponent, normalise_currency, parse_decimal
from domain.usage.sla import SlaTier, parse_sla_tiers

_KEYS = {"minimumCommitment", "volumeDiscounts", "slaCredits"}


def _minor(value: Any, currency: str, field: str) -> int:
    amount = parse_decimal(value, field=field)
    scaled = amount.scaleb(exponent(currency))
    if amount < 0 or scaled != scaled.to_integral_value():
        raise ValidationError(
            f"{field} must be a non-negative amount with at most {exponent(currency)} decimals",
            field=field,
        )
    return int(scaled)


def _amounts(data: Any, field: str) -> dict[str, int]:
    if not isinstance(data, dict) or not data:
        raise ValidationError(f"{field} maps currencies to amounts", field=field)
    return {
        normalise_currency(cur, field=field): _minor(v, normalise_currency(cur), f"{field}.{cur}")
        for cur, v in data.items()
    }


def parse_usage_terms(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Validated input → the stored form (None: no terms)."""
    if not data:
        return None
    unknown = set(data) - _KEYS
    if unknown:
        raise ValidationError(f"unknown usage term {sorted(unknown)[0]!r}", field="usageTerms")
    stored: dict[str, Any] = {}
    if data.get("minimumCommitment"):
        stored["minimum_commitment"] = _amounts(data["minimumCommitment"], "minimumCommitment")
    discounts = data.get("volumeDiscounts") or []
    if not isinstance(discounts, list):
        raise ValidationError("volumeDiscounts is a list", field="volumeDiscounts")
    stored_discounts = []
    for i, tier in enumerate(discounts):
        field = f"volumeDiscounts[{i}]"
        if not isinstance(tier, dict) or set(tier) != {"above", "percent"}:
            raise ValidationError("a volume discount has 'above' and 'percent'", field=field)
        percent = parse_decimal(tier["percent"], field=f"{field}.percent")
        if not 0 < percent <= 100:
            raise ValidationError(
                "percent must be above 0 and at most 100", field=f"{field}.percent"
            )
        stored_discounts.append(
            {"above": _amounts(tier["above"], f"{field}.above"), "percent": str(percent)}
        )
    if stored_discounts:
        stored["volume_discounts"] = stored_discounts
    if data.get("slaCredits"):
        tiers = parse_sla_tiers(data["slaCredits"], field="slaCredits")
        stored["sla_credits"] = [
            {"below": str(t.below), "percent": str(t.credit_percent)} for t in tiers
        ]
    return stored or None


@dataclass(frozen=True, slots=True)
class UsageTerms:
    minimum: dict[str, int]
    discounts: tuple[tuple[dict[str, int], Decimal], ...]
    sla: tuple[SlaTier, ...]

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> UsageTerms:
        stored = stored or {}
        return cls(
            dict(stored.get("minimum_commitment") or {}),
            tuple((d["above"], Decimal(d["percent"])) for d in stored.get("volume_discounts", [])),
            tuple(
                SlaTier(Decimal(t["below"]), Decimal(t["percent"]))
                for t in stored.get("sla_credits", [])
            ),
        )

    def discount_tiers(self, currency: str) -> list[tuple[int, Decimal]]:
        return [(above[currency], pct) for above, pct in self.discounts if currency in above]


def usage_terms_json(stored: dict[str, Any] | None, decimal_text: Any) -> dict[str, Any] | None:
    """The stored form as the API shows it (amounts back in major units)."""
    if not stored:
        return None
    shown: dict[str, Any] = {}
    if "minimum_commitment" in stored:
        shown["minimumCommitment"] = {
            c: decimal_text(v, c) for c, v in stored["minimum_commitment"].items()
        }
    if "volume_discounts" in stored:
        shown["volumeDiscounts"] = [
            {
                "above": {c: decimal_text(v, c) for c, v in d["above"].items()},
                "percent": d["percent"],
            }
            for d in stored["volume_discounts"]
        ]
    if "sla_credits" in stored:
        shown["slaCredits"] = [
            {"below": t["below"], "creditPercent": t["percent"]} for t in stored["sla_credits"]
        ]
    return shown
