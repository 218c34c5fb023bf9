"""A contract's terms (pure): its rule per transaction type and its reserve, parsed
from and written back to the JSON a `Contract` row stores.

    {"SALE": {"rate": "70", "basis": "NET_RECEIPTS"},
     "SUBSCRIPTION_READ": {"rate": "50"},
     "USAGE": {"escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": null, "rate": "12.5"}]},
     "LICENSE": {"flatFee": {"EUR": 50000}}}

SALE, SUBSCRIPTION_READ and USAGE take a flat `rate` or `escalators` (cumulative units
over the contract's life) and a `basis` (NET_RECEIPTS, the default, or LIST_PRICE);
LICENSE is a flat fee per licence sold, per currency, in minor units. A type the
contract does not name earns nothing. Rates are percent, as decimal strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.money import exponent
from domain.royalties.balances import ReserveTerms
from domain.royalties.earnings import Basis, EscalatorTier, RateSchedule, TransactionType

CONTRACT_TYPES = (
    TransactionType.SALE,
    TransactionType.SUBSCRIPTION_READ,
    TransactionType.USAGE,
    TransactionType.LICENSE,
)
MAX_FLAT_FEE_MINOR = 10**15


@dataclass(frozen=True, slots=True)
class TypeRule:
    kind: TransactionType
    schedule: RateSchedule | None = None  # None for LICENSE
    basis: Basis = Basis.NET_RECEIPTS
    flat_fee: Mapping[str, int] | None = None  # LICENSE: per currency, minor units


@dataclass(frozen=True, slots=True)
class ContractTerms:
    rules: Mapping[TransactionType, TypeRule]
    reserve: ReserveTerms | None = None

    def rule(self, kind: TransactionType) -> TypeRule | None:
        return self.rules.get(kind)


def _invalid(message: str, field: str, code: str = "INVALID_CONTRACT") -> ValidationError:
    return ValidationError(message, field=field, code=code)


def _schedule(raw: Mapping[str, Any], where: str) -> RateSchedule:
    has_rate, has_tiers = raw.get("rate") is not None, bool(raw.get("escalators"))
    if has_rate == has_tiers:
        raise _invalid("give either a rate or escalators", f"{where}.rate")
    if has_rate:
        try:
            return RateSchedule((EscalatorTier(None, raw["rate"]),))
        except ValidationError as error:
            message = str(error).replace("escalators[0].rate", "rate")
            raise _invalid(message, f"{where}.rate", error.code) from None
    tiers = raw["escalators"]
    if not isinstance(tiers, list):
        raise _invalid("escalators must be a list", f"{where}.escalators", "INVALID_ESCALATORS")
    parsed = []
    for i, tier in enumerate(tiers):
        if not isinstance(tier, Mapping):
            raise _invalid("an escalator is {upTo, rate}", f"{where}.escalators[{i}]")
        parsed.append(EscalatorTier(tier.get("upTo"), tier.get("rate")))
    try:
        return RateSchedule(tuple(parsed))
    except ValidationError as error:
        raise _invalid(str(error), f"{where}.{error.field}", error.code) from None


def _flat_fee(raw: Any, where: str) -> dict[str, int]:
    if not isinstance(raw, Mapping) or not raw:
        raise _invalid("a licence needs a flat fee per currency", f"{where}.flatFee")
    fees = {}
    for currency, amount in raw.items():
        exponent(currency)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise _invalid("a flat fee is whole minor units", f"{where}.flatFee.{currency}")
        if not 0 <= amount <= MAX_FLAT_FEE_MINOR:
            raise _invalid("a flat fee is 0 or more", f"{where}.flatFee.{currency}")
        fees[currency] = amount
    return fees


def parse_terms(rules: Any, reserve: Any = None) -> ContractTerms:
    """Validated terms from stored or submitted JSON; a typed ValidationError names the
    field otherwise (an unknown type, no rate, a rate above 100 %, bad escalators)."""
    if not isinstance(rules, Mapping) or not rules:
        raise _invalid("a contract needs at least one transaction type", "rules")
    parsed: dict[TransactionType, TypeRule] = {}
    for name, raw in rules.items():
        where = f"rules.{name}"
        try:
            kind = TransactionType(name)
        except ValueError:
            kind = None
        if kind not in CONTRACT_TYPES:
            raise _invalid(f"unknown transaction type {name!r}", where)
        if not isinstance(raw, Mapping):
            raise _invalid("a rule is an object", where)
        if kind is TransactionType.LICENSE:
            parsed[kind] = TypeRule(kind, flat_fee=_flat_fee(raw.get("flatFee"), where))
            continue
        try:
            basis = Basis(raw.get("basis") or Basis.NET_RECEIPTS)
        except ValueError:
            raise _invalid("basis is NET_RECEIPTS or LIST_PRICE", f"{where}.basis") from None
        parsed[kind] = TypeRule(kind, _schedule(raw, where), basis)
    reserve_terms = None
    if reserve is not None:
        if not isinstance(reserve, Mapping):
            raise _invalid("a reserve is {percent, releaseAfter}", "reserve")
        reserve_terms = ReserveTerms(reserve.get("percent"), reserve.get("releaseAfter"))
    return ContractTerms(parsed, reserve_terms)


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f") if rate == rate.to_integral() else format(rate, "f")


def rules_json(terms: ContractTerms) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in CONTRACT_TYPES:
        rule = terms.rules.get(kind)
        if rule is None:
            continue
        if rule.flat_fee is not None:
            out[kind.value] = {"flatFee": dict(rule.flat_fee)}
            continue
        assert rule.schedule is not None
        tiers = rule.schedule.tiers
        body: dict[str, Any] = {"basis": rule.basis.value}
        if len(tiers) == 1:
            body["rate"] = _rate_text(tiers[0].rate)
        else:
            body["escalators"] = [{"upTo": t.up_to, "rate": _rate_text(t.rate)} for t in tiers]
        out[kind.value] = body
    return out


def reserve_json(terms: ContractTerms) -> dict[str, Any] | None:
    if terms.reserve is None:
        return None
    return {
        "percent": _rate_text(terms.reserve.percent),
        "releaseAfter": terms.reserve.release_after,
    }
