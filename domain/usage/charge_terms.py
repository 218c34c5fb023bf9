"""Charge terms: a usage charge's pricing as users send it → typed terms (pure).

A charge stores its pricing as JSON per currency, amounts in MAJOR units as decimal
strings ("0.0001" EUR per token): the one place such input is validated, each error a
ValidationError with the input field ("properties.tiers[1].upTo") and a stable code.
`terms_json` is the inverse (canonical, for storage and the API) and `price` prices a
period's usage under any terms (pricing.py holds the maths and the rounding rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, ClassVar

from domain.errors import ValidationError
from domain.money import parse_decimal, shown
from domain.usage.pricing import (
    EXACT,
    Priced,
    Tier,
    graduated,
    package,
    per_unit,
    percentage,
    percentage_fee,
    volume,
)

MODELS = ("PER_UNIT", "PACKAGE", "GRADUATED", "VOLUME", "PERCENTAGE")
# Prices below 10^-12 major units have no commercial meaning, and the bound keeps
# every product of a quantity and a price well inside pricing.EXACT.
MAX_PLACES = 12
MAX_TIERS = 100  # input is bounded: a charge with more tiers than this is a mistake
MAX_PACKAGE_SIZE = 10**18
MAX_RATE = Decimal(1000)  # cost pass-through with a markup is a rate above 100 (115)


# -- input helpers (also used by units.py and sla.py) ------------------------------------
def object_fields(
    data: object,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
    field: str,
    code: str = "INVALID_PROPERTIES",
) -> dict[str, Any]:
    """`data` if it is a JSON object with every required key and no unknown one. A
    misspelt key ("unit_price") is an error rather than ignored: ignoring it would
    bill with a default the user never chose."""
    if not isinstance(data, dict):
        raise ValidationError(f"{field} must be an object", field=field, code=code)
    required = tuple(required)
    known = set(required) | set(optional)
    for key in data:
        if key not in known:
            name = key[:40] if isinstance(key, str) else shown(key)
            raise ValidationError(
                f"{shown(key)} is not a known field (known: {', '.join(sorted(known))})",
                field=f"{field}.{name}",
                code="UNKNOWN_FIELD",
            )
    for key in required:
        if key not in data:
            raise ValidationError(
                f"{key} is required", field=f"{field}.{key}", code="MISSING_FIELD"
            )
    return data


def decimal_at(
    value: object, *, field: str, allow_negative: bool = False, what: str = "a decimal amount"
) -> Decimal:
    """A decimal string (or int) with at most MAX_PLACES decimals; non-negative unless
    `allow_negative` (bounds and rates check their own ranges, with their own codes)."""
    number = parse_decimal(value, field=field, what=what)
    with localcontext(EXACT):
        scaled = number.scaleb(MAX_PLACES)
    if scaled != scaled.to_integral_value():
        raise ValidationError(
            f"{field} has more than {MAX_PLACES} decimals", field=field, code="TOO_MANY_DECIMALS"
        )
    if number < 0 and not allow_negative:
        raise ValidationError(f"{field} must not be negative", field=field, code="NEGATIVE_VALUE")
    return number


def decimal_text(value: Decimal) -> str:
    """A decimal as stored and shown: plain digits, no exponent, no trailing zeros
    ("0.0001", not "1E-4"; "100", not "1E+2"; "2.5", not "2.50")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# -- the terms -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PerUnitTerms:
    model: ClassVar[str] = "PER_UNIT"
    unit_price: Decimal
    free_units: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PackageTerms:
    model: ClassVar[str] = "PACKAGE"
    package_size: int
    package_price: Decimal
    free_units: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class TieredTerms:
    """GRADUATED and VOLUME take the same tiers and differ only in how they apply
    them, so the model travels with the tiers."""

    tiers: tuple[Tier, ...]
    model: str  # "GRADUATED" | "VOLUME"

    def __post_init__(self) -> None:
        if self.model not in ("GRADUATED", "VOLUME"):
            raise ValueError(f"tiered terms are GRADUATED or VOLUME, not {self.model!r}")


@dataclass(frozen=True, slots=True)
class PercentageTerms:
    model: ClassVar[str] = "PERCENTAGE"
    rate: Decimal  # percent of each event's amount
    fixed_fee: Decimal = Decimal(0)  # per event
    min_fee: Decimal | None = None  # per event
    max_fee: Decimal | None = None  # per event


Terms = PerUnitTerms | PackageTerms | TieredTerms | PercentageTerms


# -- parsing ------------------------------------------------------------------------------
def _optional_decimal(values: dict[str, Any], key: str, field: str) -> Decimal | None:
    value = values.get(key)
    return None if value is None else decimal_at(value, field=f"{field}.{key}")


def _package_size(value: object, field: str) -> int:
    if isinstance(value, bool):
        size = None
    elif isinstance(value, int):
        size = value
    else:
        number = parse_decimal(value, field=field, what="a whole number of units")
        size = int(number) if number == number.to_integral_value() else None
    if size is None or not 1 <= size <= MAX_PACKAGE_SIZE:
        raise ValidationError(
            "packageSize must be a whole number of units, at least 1",
            field=field,
            code="INVALID_PACKAGE_SIZE",
        )
    return size


def _tiers(value: object, field: str) -> tuple[Tier, ...]:
    if not isinstance(value, list):
        raise ValidationError("tiers must be a list", field=field, code="INVALID_PROPERTIES")
    if not value:
        raise ValidationError("at least one tier is needed", field=field, code="NO_TIERS")
    if len(value) > MAX_TIERS:
        raise ValidationError(f"at most {MAX_TIERS} tiers", field=field, code="TOO_MANY_TIERS")
    tiers: list[Tier] = []
    previous = Decimal(0)
    last = len(value) - 1
    for index, item in enumerate(value):
        at = f"{field}[{index}]"
        values = object_fields(
            item, required=("upTo", "unitPrice"), optional=("flatFee",), field=at
        )
        unit_price = decimal_at(values["unitPrice"], field=f"{at}.unitPrice")
        flat_fee = _optional_decimal(values, "flatFee", at) or Decimal(0)
        raw_up_to = values["upTo"]
        if raw_up_to is None:
            if index != last:
                raise ValidationError(
                    "only the last tier may be unbounded (upTo null)",
                    field=f"{at}.upTo",
                    code="UNBOUNDED_TIER_NOT_LAST",
                )
            tiers.append(Tier(None, unit_price, flat_fee))
            continue
        if index == last:
            # Usage above a last bound would have no price: the last tier is unbounded.
            raise ValidationError(
                "the last tier must be unbounded (upTo null)",
                field=f"{at}.upTo",
                code="LAST_TIER_BOUNDED",
            )
        up_to = decimal_at(raw_up_to, field=f"{at}.upTo", allow_negative=True)
        if up_to <= previous:
            raise ValidationError(
                "upTo must be above 0 and above the previous tier's upTo",
                field=f"{at}.upTo",
                code="INVALID_TIER_BOUND",
            )
        previous = up_to
        tiers.append(Tier(up_to, unit_price, flat_fee))
    return tuple(tiers)


def parse_terms(
    model: str, data: dict[str, Any], *, field: str = "properties", model_field: str = "chargeModel"
) -> Terms:
    """Typed terms from a charge's JSON properties, validated; see the module doc."""
    if model == "PER_UNIT":
        values = object_fields(data, required=("unitPrice",), optional=("freeUnits",), field=field)
        return PerUnitTerms(
            decimal_at(values["unitPrice"], field=f"{field}.unitPrice"),
            _optional_decimal(values, "freeUnits", field) or Decimal(0),
        )
    if model == "PACKAGE":
        values = object_fields(
            data, required=("packageSize", "packagePrice"), optional=("freeUnits",), field=field
        )
        return PackageTerms(
            _package_size(values["packageSize"], f"{field}.packageSize"),
            decimal_at(values["packagePrice"], field=f"{field}.packagePrice"),
            _optional_decimal(values, "freeUnits", field) or Decimal(0),
        )
    if model in ("GRADUATED", "VOLUME"):
        values = object_fields(data, required=("tiers",), field=field)
        return TieredTerms(_tiers(values["tiers"], f"{field}.tiers"), model)
    if model == "PERCENTAGE":
        values = object_fields(
            data, required=("rate",), optional=("fixedFee", "minFee", "maxFee"), field=field
        )
        rate = decimal_at(values["rate"], field=f"{field}.rate", allow_negative=True, what="a rate")
        if not 0 <= rate <= MAX_RATE:
            raise ValidationError(
                f"rate is a percent in [0, {MAX_RATE}]", field=f"{field}.rate", code="INVALID_RATE"
            )
        min_fee = _optional_decimal(values, "minFee", field)
        max_fee = _optional_decimal(values, "maxFee", field)
        if min_fee is not None and max_fee is not None and min_fee > max_fee:
            raise ValidationError(
                "minFee must not be above maxFee", field=f"{field}.minFee", code="MIN_ABOVE_MAX"
            )
        fixed_fee = _optional_decimal(values, "fixedFee", field) or Decimal(0)
        return PercentageTerms(rate, fixed_fee, min_fee, max_fee)
    raise ValidationError(
        f"{shown(model)} is not a charge model (one of {', '.join(MODELS)})",
        field=model_field,
        code="UNKNOWN_CHARGE_MODEL",
    )


def _optional_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def terms_json(terms: Terms) -> dict[str, Any]:
    """The canonical JSON of terms: every key present, decimals as plain strings, so
    that equal terms store equal JSON and parse_terms(model, terms_json(t)) == t."""
    if isinstance(terms, PerUnitTerms):
        return {
            "unitPrice": decimal_text(terms.unit_price),
            "freeUnits": decimal_text(terms.free_units),
        }
    if isinstance(terms, PackageTerms):
        return {
            "packageSize": terms.package_size,
            "packagePrice": decimal_text(terms.package_price),
            "freeUnits": decimal_text(terms.free_units),
        }
    if isinstance(terms, TieredTerms):
        return {
            "tiers": [
                {
                    "upTo": _optional_text(tier.up_to),
                    "unitPrice": decimal_text(tier.unit_price),
                    "flatFee": decimal_text(tier.flat_fee),
                }
                for tier in terms.tiers
            ]
        }
    return {
        "rate": decimal_text(terms.rate),
        "fixedFee": decimal_text(terms.fixed_fee),
        "minFee": _optional_text(terms.min_fee),
        "maxFee": _optional_text(terms.max_fee),
    }


# -- pricing ------------------------------------------------------------------------------
def has_per_event_fee(terms: Terms) -> bool:
    """Whether the fee must be computed per event as events land: a min or max fee
    applies to each event, so the period's aggregate amount no longer suffices."""
    return isinstance(terms, PercentageTerms) and (
        terms.min_fee is not None or terms.max_fee is not None
    )


def event_fee(terms: PercentageTerms, amount: Decimal) -> Decimal:
    """The exact fee of one event under percentage terms (summed into `fee_sum`)."""
    return percentage_fee(amount, terms.rate, terms.fixed_fee, terms.min_fee, terms.max_fee)


def price(
    terms: Terms,
    units: Decimal,
    *,
    amount_sum: Decimal = Decimal(0),
    events: int = 0,
    fee_sum: Decimal | None = None,
) -> Priced:
    """A period's usage priced under `terms`, exact (round with `Priced.minor`).

    `units` is the billed quantity for the unit models. Percentage terms use the sum
    of the events' amounts and their count; when a per-event min or max applies they
    need `fee_sum`, the sum of `event_fee` over the events (ValueError without it).
    Without min or max the fee is linear, so the aggregate formula is exact and is
    used even if a `fee_sum` is passed: a fee_sum of 0 from events that computed no
    fee can never zero a bill."""
    if isinstance(terms, PerUnitTerms):
        return per_unit(units, terms.unit_price, terms.free_units)
    if isinstance(terms, PackageTerms):
        return package(units, terms.package_size, terms.package_price, terms.free_units)
    if isinstance(terms, TieredTerms):
        apply = graduated if terms.model == "GRADUATED" else volume
        return apply(units, terms.tiers)
    if has_per_event_fee(terms):
        if fee_sum is None:
            raise ValueError("a per-event min or max fee needs fee_sum (the sum of event_fee)")
        return Priced(amount_sum, fee_sum, None)
    return percentage(amount_sum, events, terms.rate, terms.fixed_fee)
