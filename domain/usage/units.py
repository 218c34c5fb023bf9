"""Unit conversion of metered values (pure): what the meter records → what is billed.

A meter records what the product measures (bytes, seconds); a charge bills in the
unit its price is quoted in (GB, minutes). The conversion divides by `divisor` and
rounds to `decimals` places the way the contract says:

- "none": exact. Only a divisor whose quotients always terminate (2^a x 5^b, such as
  10^9 for GB or 2^30 for GiB) may go unrounded; 60 s → min would need endless digits,
  so it must name a rounding. Billing never carries a silently truncated quantity.
- "round": half-up, the rounding of money (ARCHITECTURE.md, "Money").
- "ceil": every started unit counts (61 s → 2 started minutes).
- "floor": only whole units count.

`per_event` says WHERE the rounding applies: per event (each 61 s call is 2 billed
minutes) or once on the period's total (61 s + 61 s = 122 s → 3 minutes). The same
rounding gives different bills, so the flag is part of the contract (`convert_total`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction
from typing import Any

from domain.errors import ValidationError
from domain.usage.charge_terms import decimal_at, decimal_text, object_fields
from domain.usage.pricing import EXACT

ROUNDINGS = ("none", "round", "ceil", "floor")
MAX_DECIMALS = 12
INVALID = "INVALID_CONVERSION"


@dataclass(frozen=True, slots=True)
class Conversion:
    divisor: Decimal = Decimal(1)
    rounding: str = "none"  # none | round | ceil | floor
    decimals: int = 0
    per_event: bool = False


def _terminates(divisor: Decimal) -> bool:
    """Whether value / divisor is a finite decimal for every finite decimal value:
    true when the divisor's reduced numerator has no prime factor but 2 and 5."""
    numerator, _ = divisor.as_integer_ratio()
    for prime in (2, 5):
        while numerator % prime == 0:
            numerator //= prime
    return numerator == 1


def convert(value: Decimal, conversion: Conversion) -> Decimal:
    """`value` / divisor, rounded to `decimals` places by the conversion's rule.

    The rounded modes compute on exact fractions, so 1/3 of a unit rounds correctly
    whatever its expansion; "none" returns the exact quotient and refuses (ValueError)
    a divisor that parse_conversion would have refused."""
    if conversion.divisor <= 0:
        raise ValueError("divisor must be positive")
    if conversion.rounding == "none":
        try:
            with localcontext(EXACT):
                return value / conversion.divisor
        except Inexact:
            raise ValueError(
                f"{value} / {conversion.divisor} has no exact decimal: choose a rounding"
            ) from None
    scaled = Fraction(value) / Fraction(conversion.divisor) * 10**conversion.decimals
    if conversion.rounding == "ceil":
        whole = math.ceil(scaled)
    elif conversion.rounding == "floor":
        whole = math.floor(scaled)
    elif conversion.rounding == "round":  # half-up: half away from zero, as Decimal's
        whole = math.floor(abs(scaled) + Fraction(1, 2)) * (-1 if scaled < 0 else 1)
    else:
        raise ValueError(f"unknown rounding {conversion.rounding!r}")
    with localcontext(EXACT):
        return Decimal(whole).scaleb(-conversion.decimals)


def convert_total(values: Iterable[Decimal], conversion: Conversion) -> Decimal:
    """The billed quantity of a period's recorded values: each event converted then
    summed when `per_event`, else the sum converted once."""
    with localcontext(EXACT):
        if conversion.per_event:
            return sum((convert(value, conversion) for value in values), Decimal(0))
        return convert(sum(values, Decimal(0)), conversion)


def parse_conversion(data: dict[str, Any] | None, *, field: str = "conversion") -> Conversion:
    """A conversion from its JSON, e.g. {"divisor": "1000000000", "rounding": "ceil",
    "decimals": 0, "perEvent": true}; every key is optional and None is no conversion."""
    if data is None:
        return Conversion()
    values = object_fields(
        data,
        required=(),
        optional=("divisor", "rounding", "decimals", "perEvent"),
        field=field,
        code=INVALID,
    )
    divisor = Decimal(1)
    if values.get("divisor") is not None:
        divisor = decimal_at(values["divisor"], field=f"{field}.divisor", allow_negative=True)
        if divisor <= 0:
            raise ValidationError("divisor must be above 0", field=f"{field}.divisor", code=INVALID)
    rounding = values.get("rounding")
    if rounding is None:
        rounding = "none"
    if rounding not in ROUNDINGS:
        raise ValidationError(
            f"rounding must be one of {', '.join(ROUNDINGS)}",
            field=f"{field}.rounding",
            code=INVALID,
        )
    decimals = values.get("decimals")
    if decimals is None:
        decimals = 0
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise ValidationError(
            "decimals must be an integer", field=f"{field}.decimals", code=INVALID
        )
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValidationError(
            f"decimals must lie in 0..{MAX_DECIMALS}", field=f"{field}.decimals", code=INVALID
        )
    if rounding == "none" and decimals != 0:
        # Decimals say where to round; without a rounding they would be ignored, and a
        # stored setting that does nothing misleads whoever reads it.
        raise ValidationError(
            "decimals apply only with a rounding (round, ceil or floor)",
            field=f"{field}.decimals",
            code=INVALID,
        )
    if rounding == "none" and not _terminates(divisor):
        raise ValidationError(
            f"dividing by {decimal_text(divisor)} has no exact result in general: "
            "choose a rounding (round, ceil or floor)",
            field=f"{field}.rounding",
            code="INEXACT_CONVERSION",
        )
    per_event = values.get("perEvent")
    if per_event is None:
        per_event = False
    if not isinstance(per_event, bool):
        raise ValidationError(
            "perEvent must be true or false", field=f"{field}.perEvent", code=INVALID
        )
    return Conversion(divisor, rounding, decimals, per_event)


def conversion_json(conversion: Conversion) -> dict[str, Any]:
    """The canonical JSON of a conversion, the inverse of `parse_conversion`."""
    return {
        "divisor": decimal_text(conversion.divisor),
        "rounding": conversion.rounding,
        "decimals": conversion.decimals,
        "perEvent": conversion.per_event,
    }
