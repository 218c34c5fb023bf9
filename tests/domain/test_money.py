from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.currencies import EXPONENTS
from domain.errors import CurrencyMismatchError, ValidationError
from domain.money import (
    Money,
    allocate,
    exponent,
    format_money,
    money_from_input,
    parse_decimal,
    round_minor,
    shown,
)

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("code", "exp"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("JPY", 0),
        ("XOF", 0),
        ("XAF", 0),
        ("DZD", 2),
        ("MAD", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("IQD", 3),
    ],
)
def test_iso_exponents(code: str, exp: int) -> None:
    assert exponent(code) == exp


def test_table_has_every_active_code_and_no_fund_without_minor_unit() -> None:
    assert len(EXPONENTS) >= 150
    assert all(len(c) == 3 and c.isupper() for c in EXPONENTS)
    for not_money in ("XAU", "XDR", "XXX", "XTS"):
        assert not_money not in EXPONENTS


def test_unknown_currency_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as err:
        money_from_input(currency="EUX", amount_minor=1, amount=None, field="prices[0]")
    assert err.value.field == "prices[0].currency"
    assert err.value.code == "UNKNOWN_CURRENCY"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("29.99", "EUR", 2999),
        ("5", "JPY", 5),
        ("1.234", "KWD", 1234),
        ("0.5", "EUR", 50),
        ("-3.10", "USD", -310),
        ("2000", "DZD", 200000),
    ],
)
def test_from_decimal(amount: str, currency: str, minor: int) -> None:
    assert Money.from_decimal(amount, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency"), [("29.999", "EUR"), ("1.5", "JPY"), ("0.0001", "KWD")]
)
def test_too_many_decimals_is_refused(amount: str, currency: str) -> None:
    with pytest.raises(ValidationError) as err:
        Money.from_decimal(amount, currency, field="amount")
    assert err.value.code == "TOO_MANY_DECIMALS"
    assert err.value.field == "amount"


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", ""])
def test_garbage_amounts_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Money.from_decimal(bad, "EUR")


def test_floats_are_never_money() -> None:
    with pytest.raises(ValidationError):
        Money.from_decimal(29.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(29.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(1, "EUR").times(1.5)  # type: ignore[arg-type]


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatchError):
        Money(1, "EUR") - Money(1, "USD")
    with pytest.raises(CurrencyMismatchError):
        _ = Money(1, "EUR") < Money(1, "USD")


def test_exactly_one_of_minor_or_decimal() -> None:
    with pytest.raises(ValidationError):
        money_from_input(currency="EUR", amount_minor=1, amount="0.01", field="p")
    with pytest.raises(ValidationError):
        money_from_input(currency="EUR", amount_minor=None, amount=None, field="p")
    assert money_from_input(currency="eur", amount_minor=None, amount="1", field="p") == Money(
        100, "EUR"
    )


def test_round_minor_is_half_up_away_from_zero() -> None:
    assert round_minor(Decimal("2.5")) == 3
    assert round_minor(Decimal("-2.5")) == -3
    assert round_minor(Decimal("2.4999")) == 2
    assert Money(1000, "EUR").times(Decimal("0.0125")) == Money(13, "EUR")


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (2999, "EUR", "fr", f"29,99{NBSP}€"),
        (2999, "EUR", "en", "€29.99"),
        (200000, "DZD", "fr", f"2{NNBSP}000,00{NBSP}DZD"),
        (200000, "DZD", "en", f"DZD{NBSP}2,000.00"),
        (1500, "JPY", "en", "¥1,500"),
        (1234, "KWD", "en", f"KWD{NBSP}1.234"),
        (2999, "EUR", "de", f"29,99{NBSP}€"),
        (12345678, "USD", "es", f"123.456,78{NBSP}US$"),
    ],
)
def test_locale_formatting(minor: int, currency: str, locale: str, expected: str) -> None:
    assert format_money(minor, currency, locale) == expected


def test_iso_exponent_wins_over_cldr_digits() -> None:
    # CLDR formats IQD with 0 decimals; ISO 4217 says 3, and invoices follow ISO.
    assert format_money(1234, "IQD", "en").endswith("1.234")


def test_unknown_locale_falls_back_to_english() -> None:
    assert format_money(2999, "EUR", "xx") == "€29.99"


# -- properties ----------------------------------------------------------------------------
currencies = st.sampled_from(sorted(EXPONENTS))
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@given(
    total=amounts,
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(
        lambda w: sum(w) > 0
    ),
)
def test_allocation_sums_exactly(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(Decimal(part) - exact) < 1  # each part is within one minor unit of exact
        if weight == 0:
            assert part == 0


@given(total=amounts, n=st.integers(min_value=1, max_value=50))
def test_split_is_fair(total: int, n: int) -> None:
    parts = Money(total, "EUR").split(n)
    assert sum(p.amount_minor for p in parts) == total
    assert max(p.amount_minor for p in parts) - min(p.amount_minor for p in parts) <= 1


@given(minor=amounts, currency=currencies)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.from_decimal(money.amount, currency) == money
    assert Money.from_decimal(money.to_decimal(), currency) == money


@given(minor=amounts, currency=currencies, locale=st.sampled_from(["en", "fr", "de", "es", "ar"]))
def test_formatting_round_trips_through_babel(minor: int, currency: str, locale: str) -> None:
    from babel.numbers import get_currency_symbol, parse_decimal

    text = format_money(minor, currency, locale)
    for noise in (get_currency_symbol(currency, locale), "\u200f", "\u200e", "\u061c", NBSP):
        text = text.replace(noise, "")
    number = parse_decimal(text.strip(), locale=locale, numbering_system="latn")
    assert number == Money(minor, currency).to_decimal()


@given(a=amounts, b=amounts, currency=currencies)
def test_addition_and_subtraction_are_exact(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert (x + y).amount_minor == a + b
    assert -x + x == Money(0, currency)


@pytest.mark.parametrize(
    "bad",
    ["1e3", "1E3", "1_000", "١٢", "\uff11\uff12", "Infinity", "NaN", ".5", "5.", "+-1", "0x10", ""],
)
def test_decimal_strings_are_plain_ascii_digits(bad: str) -> None:
    # Decimal() accepts most of these; a billing amount or a rate must not.
    with pytest.raises(ValidationError) as caught:
        Money.from_decimal(bad, "EUR", field="price.amount")
    assert (caught.value.code, caught.value.field) == ("INVALID_DECIMAL", "price.amount")
    with pytest.raises(ValidationError):
        parse_decimal(bad, field="rate", what="a percentage")


@pytest.mark.parametrize(("text", "value"), [("29.99", "29.99"), ("-5", "-5"), (" 7 ", "7")])
def test_plain_decimals_parse(text: str, value: str) -> None:
    assert parse_decimal(text, field="amount") == Decimal(value)


def test_a_long_bad_amount_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        Money.from_decimal("9" * 100_000 + "x", "EUR")
    assert len(caught.value.message) < 200
    assert shown("x" * 1_000) == "'" + "x" * 38 + "…"


def test_allocate_breaks_exact_ties_exactly() -> None:
    # 6,193,720 over 36/147/182 (sum 365): the 36 and 182 parts have exactly equal
    # remainders (165/365). A 28-digit Decimal division made them compare unequal;
    # integer remainders tie, and the tie goes to the earliest weight.
    assert allocate(6_193_720, [182, 147, 36]) == [3_088_376, 2_494_457, 610_887]
    assert allocate(6_193_720, [36, 147, 182]) == [610_888, 2_494_457, 3_088_375]
