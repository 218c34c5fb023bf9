"""Money: integer minor units and an ISO 4217 code.

Amounts never travel as floats. Sub-minor values (metered unit prices, royalty
rates) are Decimals rounded once, by `round_minor`, when a line is produced.
Splits use largest-remainder allocation so no minor unit is ever lost.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_symbol, parse_pattern

from domain.currencies import EXPONENTS
from domain.errors import CurrencyMismatchError, ValidationError

# The locale amounts are shown in for the current request or job (a context variable,
# so concurrent requests each keep their own): the caller's Accept-Language, else the
# tenant's default locale.
display_locale: ContextVar[str] = ContextVar("display_locale", default="en")

# PostgreSQL BIGINT range: anything larger cannot be stored, so it is refused at the edge.
MAX_MINOR = 2**63 - 1
# The ceiling of one invoice line and of one invoice (10^13 EUR): far above any real
# bill, and far enough below BIGINT that sums of lines and taxes cannot overflow.
MAX_AMOUNT_MINOR = 10**15


# A plain decimal as people write amounts and rates: ASCII digits, an optional sign and
# one optional fraction. Decimal() also takes "1e3", "1_000", "Infinity" and other
# scripts' digits ("١٢"), none of which a billing input should mean.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")


def shown(value: object, limit: int = 40) -> str:
    """A caller's value for an error message: repr'd, and cut so that a megabyte of
    input is never echoed back (in the answer or in logs)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_decimal(value: object, *, field: str, what: str = "a decimal amount") -> Decimal:
    """A decimal string ("29.99", "-5", "5.5") parsed strictly; anything else is a
    ValidationError naming `field`."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"{field} must be a finite number", field=field)
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if not isinstance(value, str) or not _PLAIN_DECIMAL.fullmatch(value.strip()):
        raise ValidationError(
            f"{shown(value)} is not {what}: write ASCII digits with an optional '.' "
            "(no exponent, '_' or other scripts' digits)",
            field=field,
            code="INVALID_DECIMAL",
        )
    return Decimal(value.strip())


def exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent; raises ValidationError for an unknown code."""
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise ValidationError(
            f"{shown(currency)} is not an ISO 4217 currency code", code="UNKNOWN_CURRENCY"
        ) from None


def normalise_currency(code: object, *, field: str = "currency") -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("a currency code is required", field=field, code="UNKNOWN_CURRENCY")
    upper = code.strip().upper()
    if upper not in EXPONENTS:
        raise ValidationError(
            f"{shown(code)} is not an ISO 4217 currency code", field=field, code="UNKNOWN_CURRENCY"
        )
    return upper


def round_minor(value: Decimal) -> int:
    """The one place a sub-minor amount becomes minor units: half-up (away from zero)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in exact integers: the
    integer twin of `round_minor` (proration, tax and discount shares, credit notes)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def percent_to_bp(value: str | Decimal, *, field: str = "percentOff") -> int:
    """ "12.5" → 1250 hundredths of a percent; above 0, at most 100, two decimals
    (coupon percentages and tax rates alike)."""
    percent = parse_decimal(value, field=field, what="a percentage")
    if percent <= 0 or percent > 100:
        raise ValidationError(
            "percentOff must be above 0 and at most 100", field=field, code="INVALID_PERCENT"
        )
    hundredths = percent * 100
    if hundredths != hundredths.to_integral_value():
        raise ValidationError("percentOff has at most two decimals", field=field)
    return int(hundredths)


def bp_to_percent(bp: int) -> Decimal:
    """1250 → 12.5, 2000 → 20 (never "2E+1", which `normalize()` alone would give)."""
    value = Decimal(bp).scaleb(-2)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def allocate(total: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split `total` minor units in proportion to `weights` by largest remainder.

    The parts always sum to `total` exactly; ties in the remainder go to the
    earliest weight, so the result is deterministic.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    # Exact integer quotients and remainders (Decimal weights scaled to integers): a
    # 28-digit Decimal division rounds, and two remainders that are exactly equal
    # could then compare unequal and break the documented tie-break.
    scale = max((-Decimal(w).as_tuple().exponent for w in weights), default=0)
    scale = max(int(scale), 0)
    ints = [int(Decimal(w).scaleb(scale)) for w in weights]
    whole = sum(ints)
    quotients = [divmod(magnitude * w, whole) for w in ints]
    parts = [q for q, _ in quotients]
    leftover = magnitude - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-quotients[i][1], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return [sign * p for p in parts]


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("Money.amount_minor must be an int (minor units)")
        exponent(self.currency)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, amount: Decimal | str | int, currency: str, *, field: str = "amount"
    ) -> Money:
        """Parse a major-unit amount ("29.99"); more decimals than the currency has is an error."""
        if isinstance(amount, float):  # ok: floats are refused, never converted
            raise ValidationError("amounts are never floats; send a decimal string", field=field)
        value = parse_decimal(amount, field=field)
        exp = exponent(currency)
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise ValidationError(
                f"{currency} has {exp} decimal place{'s' if exp != 1 else ''}; {shown(amount)} has more",
                field=field,
                code="TOO_MANY_DECIMALS",
            )
        minor = int(scaled)
        if abs(minor) > MAX_MINOR:
            raise ValidationError("amount is too large", field=field)
        return cls(minor, currency)

    # -- arithmetic (same currency only) ---------------------------------------------
    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}",
            )

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor <= other.amount_minor

    def times(self, factor: int | Decimal) -> Money:
        """Multiply by a quantity or a rate; a fractional result is rounded half-up once."""
        if isinstance(factor, float):  # ok: refused
            raise TypeError("multiply Money by an int or a Decimal, never a float")
        if isinstance(factor, int):
            return Money(self.amount_minor * factor, self.currency)
        return Money(round_minor(Decimal(self.amount_minor) * factor), self.currency)

    def allocate(self, weights: Sequence[int | Decimal]) -> list[Money]:
        return [Money(p, self.currency) for p in allocate(self.amount_minor, weights)]

    def split(self, parts: int) -> list[Money]:
        if parts <= 0:
            raise ValueError("split needs a positive number of parts")
        return self.allocate([1] * parts)

    # -- presentation ----------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-self.exponent)

    @property
    def amount(self) -> str:
        """Major units as a plain decimal string with the currency's exact places."""
        return decimal_string(self.amount_minor, self.currency)

    def format(self, locale: str | None = None) -> str:
        return format_money(self.amount_minor, self.currency, locale or display_locale.get())

    @property
    def formatted(self) -> str:
        """Formatted for the locale of the current unit of work (see `display_locale`)."""
        return format_money(self.amount_minor, self.currency, display_locale.get())


@lru_cache(maxsize=8192)
def decimal_string(amount_minor: int, currency: str) -> str:
    exp = EXPONENTS[currency]
    return f"{Decimal(amount_minor).scaleb(-exp):.{exp}f}"


@lru_cache(maxsize=64)
def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@lru_cache(maxsize=512)
def _pattern(tag: str, exp: int):  # type: ignore[no-untyped-def]
    # parse_pattern caches its result: copy before changing it, or one currency's
    # exponent would leak into every other currency formatted with this locale.
    pattern = copy.copy(parse_pattern(_locale(tag).currency_formats["standard"]))
    pattern.frac_prec = (exp, exp)
    return pattern


@lru_cache(maxsize=1024)
def _symbol(currency: str, tag: str) -> str:
    return get_currency_symbol(currency, _locale(tag))


@lru_cache(maxsize=8192)
def format_money(amount_minor: int, currency: str, locale: str = "en") -> str:
    """Locale formatting through Babel with ISO exponents ("29,99 €", "€29.99").

    Pure and costly (Babel walks CLDR data per call), so results are memoised: price
    lists repeat the same few amounts on every request."""
    exp = EXPONENTS[currency]
    value = Decimal(amount_minor).scaleb(-exp)
    text: str = _pattern(locale, exp).apply(
        value, _locale(locale), currency=currency, currency_digits=False
    )
    # CLDR currency spacing, which Babel does not apply: a letter symbol touching a
    # digit gets a no-break space ("DZD 2,000.00", not "DZD2,000.00").
    symbol = _symbol(currency, locale)
    if symbol and symbol[-1].isalpha():
        at = text.find(symbol)
        end = at + len(symbol)
        if at >= 0 and end < len(text) and text[end].isdigit():
            text = text[:end] + "\u00a0" + text[end:]
    return text


def money_from_input(
    *, currency: object, amount_minor: int | None, amount: str | None, field: str
) -> Money:
    """Wire input: minor units or a decimal string, exactly one of them."""
    code = normalise_currency(currency, field=f"{field}.currency")
    if (amount_minor is None) == (amount is None):
        raise ValidationError("give exactly one of amountMinor or amount", field=field)
    if amount is not None:
        return Money.from_decimal(amount, code, field=f"{field}.amount")
    assert amount_minor is not None
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amountMinor must be an integer", field=f"{field}.amountMinor")
    if abs(amount_minor) > MAX_MINOR:
        raise ValidationError("amount is too large", field=f"{field}.amountMinor")
    return Money(amount_minor, code)
