"""Charge terms: parsing user JSON into typed terms (every error's code and field),
the canonical JSON round trip, and pricing through the dispatcher."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.usage.charge_terms import (
    MODELS,
    PackageTerms,
    PercentageTerms,
    PerUnitTerms,
    TieredTerms,
    decimal_text,
    event_fee,
    has_per_event_fee,
    parse_terms,
    price,
    terms_json,
)
from domain.usage.pricing import Tier

D = Decimal

TIERS_JSON = [
    {"upTo": "1000", "unitPrice": "0.01", "flatFee": "0"},
    {"upTo": "5000", "unitPrice": "0.008", "flatFee": "2"},
    {"upTo": None, "unitPrice": "0.005"},
]
TIERS = (Tier(D(1000), D("0.01")), Tier(D(5000), D("0.008"), D(2)), Tier(None, D("0.005")))


@pytest.mark.parametrize(
    ("model", "data", "terms"),
    [
        ("PER_UNIT", {"unitPrice": "0.0001", "freeUnits": "0"}, PerUnitTerms(D("0.0001"))),
        ("PER_UNIT", {"unitPrice": "0.000000000001"}, PerUnitTerms(D("1E-12"))),  # 12 decimals
        ("PER_UNIT", {"unitPrice": 2, "freeUnits": "1.5"}, PerUnitTerms(D(2), D("1.5"))),
        (
            "PACKAGE",
            {"packageSize": 100, "packagePrice": "5.00", "freeUnits": "0"},
            PackageTerms(100, D(5)),
        ),
        ("PACKAGE", {"packageSize": "100", "packagePrice": "5"}, PackageTerms(100, D(5))),
        ("GRADUATED", {"tiers": TIERS_JSON}, TieredTerms(TIERS, "GRADUATED")),
        ("VOLUME", {"tiers": TIERS_JSON}, TieredTerms(TIERS, "VOLUME")),
        (
            "VOLUME",
            {"tiers": [{"upTo": None, "unitPrice": "1"}]},
            TieredTerms((Tier(None, D(1)),), "VOLUME"),
        ),
        (
            "PERCENTAGE",
            {"rate": "2.9", "fixedFee": "0.30", "minFee": "0.50", "maxFee": "5"},
            PercentageTerms(D("2.9"), D("0.3"), D("0.5"), D(5)),
        ),
        ("PERCENTAGE", {"rate": "115"}, PercentageTerms(D(115))),  # pass-through + 15 %
        (
            "PERCENTAGE",
            {"rate": "1000", "minFee": "1", "maxFee": "1"},
            PercentageTerms(D(1000), D(0), D(1), D(1)),
        ),
        ("PERCENTAGE", {"rate": "0", "minFee": None}, PercentageTerms(D(0))),
    ],
)
def test_parse_terms(model, data, terms) -> None:
    parsed = parse_terms(model, data)
    assert parsed == terms
    assert parsed.model == model
    assert parse_terms(model, terms_json(parsed)) == parsed


def test_terms_json_is_canonical() -> None:
    assert terms_json(parse_terms("PER_UNIT", {"unitPrice": "0.000100"})) == {
        "unitPrice": "0.0001",
        "freeUnits": "0",
    }
    assert terms_json(PerUnitTerms(D("1E-4"), D("1E+2"))) == {
        "unitPrice": "0.0001",
        "freeUnits": "100",
    }
    assert terms_json(parse_terms("GRADUATED", {"tiers": TIERS_JSON}))["tiers"] == [
        {"upTo": "1000", "unitPrice": "0.01", "flatFee": "0"},
        {"upTo": "5000", "unitPrice": "0.008", "flatFee": "2"},
        {"upTo": None, "unitPrice": "0.005", "flatFee": "0"},
    ]
    assert terms_json(PercentageTerms(D("2.90"), D("0.30"))) == {
        "rate": "2.9",
        "fixedFee": "0.3",
        "minFee": None,
        "maxFee": None,
    }
    assert terms_json(PackageTerms(100, D("5.00"))) == {
        "packageSize": 100,
        "packagePrice": "5",
        "freeUnits": "0",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [("1E-4", "0.0001"), ("1E+2", "100"), ("2.50", "2.5"), ("0.000", "0"), ("-0", "0"), ("7", "7")],
)
def test_decimal_text(value, text) -> None:
    assert decimal_text(D(value)) == text


def tier(up_to, unit_price="0.01", **extra):  # type: ignore[no-untyped-def]
    return {"upTo": up_to, "unitPrice": unit_price, **extra}


LAST = tier(None)


@pytest.mark.parametrize(
    ("model", "data", "field", "code"),
    [
        ("per_unit", {"unitPrice": "1"}, "chargeModel", "UNKNOWN_CHARGE_MODEL"),
        (None, {}, "chargeModel", "UNKNOWN_CHARGE_MODEL"),
        ("PER_UNIT", "0.01", "properties", "INVALID_PROPERTIES"),
        ("PER_UNIT", None, "properties", "INVALID_PROPERTIES"),
        ("PER_UNIT", {}, "properties.unitPrice", "MISSING_FIELD"),
        (
            "PER_UNIT",
            {"unitPrice": "1", "unit_price": "1"},
            "properties.unit_price",
            "UNKNOWN_FIELD",
        ),
        ("PER_UNIT", {"unitPrice": "-0.01"}, "properties.unitPrice", "NEGATIVE_VALUE"),
        ("PER_UNIT", {"unitPrice": "0.0000000000001"}, "properties.unitPrice", "TOO_MANY_DECIMALS"),
        ("PER_UNIT", {"unitPrice": 0.01}, "properties.unitPrice", "INVALID_DECIMAL"),
        ("PER_UNIT", {"unitPrice": "1e-4"}, "properties.unitPrice", "INVALID_DECIMAL"),
        ("PER_UNIT", {"unitPrice": None}, "properties.unitPrice", "INVALID_DECIMAL"),
        (
            "PER_UNIT",
            {"unitPrice": "1", "freeUnits": "-1"},
            "properties.freeUnits",
            "NEGATIVE_VALUE",
        ),
        ("PACKAGE", {"packagePrice": "5"}, "properties.packageSize", "MISSING_FIELD"),
        ("PACKAGE", {"packageSize": 100}, "properties.packagePrice", "MISSING_FIELD"),
        (
            "PACKAGE",
            {"packageSize": 0, "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_PACKAGE_SIZE",
        ),
        (
            "PACKAGE",
            {"packageSize": -5, "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_PACKAGE_SIZE",
        ),
        (
            "PACKAGE",
            {"packageSize": "2.5", "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_PACKAGE_SIZE",
        ),
        (
            "PACKAGE",
            {"packageSize": True, "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_PACKAGE_SIZE",
        ),
        (
            "PACKAGE",
            {"packageSize": 10**19, "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_PACKAGE_SIZE",
        ),
        (
            "PACKAGE",
            {"packageSize": "ten", "packagePrice": "5"},
            "properties.packageSize",
            "INVALID_DECIMAL",
        ),
        (
            "PACKAGE",
            {"packageSize": 10, "packagePrice": "-5"},
            "properties.packagePrice",
            "NEGATIVE_VALUE",
        ),
        ("GRADUATED", {}, "properties.tiers", "MISSING_FIELD"),
        ("GRADUATED", {"tiers": []}, "properties.tiers", "NO_TIERS"),
        ("GRADUATED", {"tiers": {"upTo": None}}, "properties.tiers", "INVALID_PROPERTIES"),
        (
            "GRADUATED",
            {"tiers": [tier(str(i)) for i in range(1, 101)] + [LAST]},
            "properties.tiers",
            "TOO_MANY_TIERS",
        ),
        ("GRADUATED", {"tiers": ["0.01"]}, "properties.tiers[0]", "INVALID_PROPERTIES"),
        ("GRADUATED", {"tiers": [{"unitPrice": "1"}]}, "properties.tiers[0].upTo", "MISSING_FIELD"),
        (
            "GRADUATED",
            {"tiers": [{"upTo": None}]},
            "properties.tiers[0].unitPrice",
            "MISSING_FIELD",
        ),
        (
            "GRADUATED",
            {"tiers": [tier(None, price="1")]},
            "properties.tiers[0].price",
            "UNKNOWN_FIELD",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("0"), LAST]},
            "properties.tiers[0].upTo",
            "INVALID_TIER_BOUND",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("-5"), LAST]},
            "properties.tiers[0].upTo",
            "INVALID_TIER_BOUND",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("1000"), tier("1000"), LAST]},
            "properties.tiers[1].upTo",
            "INVALID_TIER_BOUND",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("1000"), tier("500"), LAST]},
            "properties.tiers[1].upTo",
            "INVALID_TIER_BOUND",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("ten"), LAST]},
            "properties.tiers[0].upTo",
            "INVALID_DECIMAL",
        ),
        (
            "GRADUATED",
            {"tiers": [LAST, LAST]},
            "properties.tiers[0].upTo",
            "UNBOUNDED_TIER_NOT_LAST",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("1000"), tier("5000")]},
            "properties.tiers[1].upTo",
            "LAST_TIER_BOUNDED",
        ),
        ("GRADUATED", {"tiers": [tier("1000")]}, "properties.tiers[0].upTo", "LAST_TIER_BOUNDED"),
        (
            "GRADUATED",
            {"tiers": [tier("10", "-1"), LAST]},
            "properties.tiers[0].unitPrice",
            "NEGATIVE_VALUE",
        ),
        (
            "GRADUATED",
            {"tiers": [tier("10"), tier(None, flatFee="-2")]},
            "properties.tiers[1].flatFee",
            "NEGATIVE_VALUE",
        ),
        (
            "VOLUME",
            {"tiers": [tier("10", "0.0000000000001"), LAST]},
            "properties.tiers[0].unitPrice",
            "TOO_MANY_DECIMALS",
        ),
        ("VOLUME", {"tiers": [tier("10"), LAST], "mode": "x"}, "properties.mode", "UNKNOWN_FIELD"),
        ("PERCENTAGE", {}, "properties.rate", "MISSING_FIELD"),
        ("PERCENTAGE", {"rate": "-0.1"}, "properties.rate", "INVALID_RATE"),
        ("PERCENTAGE", {"rate": "1000.01"}, "properties.rate", "INVALID_RATE"),
        (
            "PERCENTAGE",
            {"rate": "2.9", "fixedFee": "-0.3"},
            "properties.fixedFee",
            "NEGATIVE_VALUE",
        ),
        ("PERCENTAGE", {"rate": "2.9", "minFee": "-1"}, "properties.minFee", "NEGATIVE_VALUE"),
        (
            "PERCENTAGE",
            {"rate": "2.9", "minFee": "5.01", "maxFee": "5"},
            "properties.minFee",
            "MIN_ABOVE_MAX",
        ),
        ("PERCENTAGE", {"rate": "2.9", "cap": "5"}, "properties.cap", "UNKNOWN_FIELD"),
    ],
)
def test_parse_terms_errors(model, data, field, code) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_terms(model, data)
    assert (raised.value.code, raised.value.field) == (code, field)


def test_error_fields_follow_the_callers_path() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_terms("PER_UNIT", {"unitPrice": "-1"}, field="prices.EUR")
    assert raised.value.field == "prices.EUR.unitPrice"
    with pytest.raises(ValidationError) as raised:
        parse_terms("FLAT", {}, model_field="charges[2].model")
    assert raised.value.field == "charges[2].model"
    with pytest.raises(ValidationError) as raised:
        parse_terms("PER_UNIT", {"x" * 10_000: 1, "unitPrice": "1"})
    assert len(raised.value.field or "") < 60  # a huge key is not echoed back whole


def test_tiered_terms_need_a_tiered_model() -> None:
    with pytest.raises(ValueError):
        TieredTerms(TIERS, "PER_UNIT")
    assert set(MODELS) == {"PER_UNIT", "PACKAGE", "GRADUATED", "VOLUME", "PERCENTAGE"}


# -- pricing through the terms -------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "data", "units", "currency", "expected"),
    [
        ("PER_UNIT", {"unitPrice": "0.0001"}, "12345", "EUR", 123),  # 1.2345 EUR → 123
        ("PER_UNIT", {"unitPrice": "0.0001", "freeUnits": "10000"}, "12345", "EUR", 23),  # 0.2345
        ("PACKAGE", {"packageSize": 100, "packagePrice": "480"}, "101", "JPY", 960),
        ("GRADUATED", {"tiers": TIERS_JSON}, "1001", "EUR", 1201),  # 10 + 0.008 + 2
        ("VOLUME", {"tiers": TIERS_JSON}, "1001", "EUR", 1001),  # 1001 x 0.008 + 2
        ("GRADUATED", {"tiers": TIERS_JSON}, "5001", "KWD", 44005),  # 44.005 KWD
        ("VOLUME", {"tiers": TIERS_JSON}, "5001", "KWD", 25005),  # 25.005 KWD
    ],
)
def test_price_dispatches_on_the_model(model, data, units, currency, expected) -> None:
    assert price(parse_terms(model, data), D(units)).minor(currency) == expected


def test_percentage_is_priced_from_the_aggregate_without_min_or_max() -> None:
    terms = parse_terms("PERCENTAGE", {"rate": "2.9", "fixedFee": "0.30"})
    assert not has_per_event_fee(terms)
    priced = price(terms, D(0), amount_sum=D("17.25"), events=2)
    assert priced.minor("EUR") == 110  # 0.50025 + 0.60 = 1.10025
    assert priced.units == D("17.25")
    # Linear fees: a fee_sum changes nothing (a 0 from events that computed none cannot
    # zero the bill).
    assert price(terms, D(0), amount_sum=D("17.25"), events=2, fee_sum=D(0)) == priced


def test_percentage_with_min_or_max_is_priced_from_the_per_event_fees() -> None:
    terms = parse_terms("PERCENTAGE", {"rate": "2.9", "fixedFee": "0.30", "minFee": "0.50"})
    assert isinstance(terms, PercentageTerms)
    assert has_per_event_fee(terms)
    assert has_per_event_fee(PercentageTerms(D(1), max_fee=D(5)))
    assert not has_per_event_fee(PerUnitTerms(D(1)))
    amounts = [D("1.00"), D("10.00")]
    fees = [event_fee(terms, a) for a in amounts]
    assert fees == [D("0.50"), D("0.59")]  # 0.329 raised to the 0.50 minimum; 0.59
    priced = price(terms, D(0), amount_sum=sum(amounts), events=2, fee_sum=sum(fees))
    assert priced.minor("EUR") == 109  # from the aggregate: 0.319 + 0.60 = 0.919 → 92
    with pytest.raises(ValueError, match="fee_sum"):
        price(terms, D(0), amount_sum=sum(amounts), events=2)


# -- round trip ----------------------------------------------------------------------------
amounts = st.decimals(min_value=0, max_value=10**9, places=6)


@st.composite
def any_terms(draw):  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(MODELS))
    if kind == "PER_UNIT":
        return PerUnitTerms(draw(amounts), draw(amounts))
    if kind == "PACKAGE":
        return PackageTerms(draw(st.integers(1, 10**6)), draw(amounts), draw(amounts))
    if kind == "PERCENTAGE":
        low, high = sorted([draw(amounts), draw(amounts)])
        return PercentageTerms(
            draw(st.decimals(min_value=0, max_value=1000, places=4)),
            draw(amounts),
            draw(st.sampled_from([None, low])),
            draw(st.sampled_from([None, high])),
        )
    bounds = sorted(draw(st.sets(st.integers(1, 10**9), max_size=6)))
    tiers = [Tier(D(b).scaleb(-2), draw(amounts), draw(amounts)) for b in bounds]
    return TieredTerms((*tiers, Tier(None, draw(amounts), draw(amounts))), kind)


@given(any_terms())
def test_terms_json_round_trips(terms) -> None:
    data = terms_json(terms)
    assert parse_terms(terms.model, data) == terms
    assert terms_json(parse_terms(terms.model, data)) == data
    assert "E" not in repr(data)  # no exponent notation in stored JSON
