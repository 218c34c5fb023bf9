"""Unit conversion of metered values and SLA credits: examples, properties and every
validation error (its code and field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.usage.sla import (
    SlaTier,
    parse_sla_tiers,
    sla_credit_minor,
    sla_credit_percent,
    sla_tiers_json,
    uptime_percent,
)
from domain.usage.units import (
    Conversion,
    conversion_json,
    convert,
    convert_total,
    parse_conversion,
)

D = Decimal


# -- conversion ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "conversion", "expected"),
    [
        ("1500000000", Conversion(D(10**9)), "1.5"),  # bytes → GB, exact
        ("1", Conversion(D(10**9)), "0.000000001"),
        ("1073741824", Conversion(D(2**30)), "1"),  # bytes → GiB
        ("1500000000", Conversion(D(2**30)), "1.3969838619232177734375"),  # exact, no rounding
        ("1500000000", Conversion(D(2**30), "round", 2), "1.40"),  # 1.39698… → 1.40
        ("1500000000", Conversion(D(2**30), "floor", 2), "1.39"),
        ("1500000000", Conversion(D(2**30), "ceil", 2), "1.40"),
        ("61", Conversion(D(60), "ceil", 0, True), "2"),  # 61 s → 2 started minutes
        ("60", Conversion(D(60), "ceil", 0, True), "1"),  # exactly a minute
        ("0", Conversion(D(60), "ceil"), "0"),
        ("119", Conversion(D(60), "floor"), "1"),
        ("1005", Conversion(D(1000), "round", 2), "1.01"),  # 1.005 → 1.01 (half-up)
        ("1004999", Conversion(D(10**6), "round", 2), "1.00"),  # 1.004999 → 1.00
        ("1", Conversion(D(3), "round", 4), "0.3333"),  # exact fraction, rounded once
        ("2", Conversion(D(3), "round", 4), "0.6667"),
        ("-1005", Conversion(D(1000), "round", 2), "-1.01"),  # half away from zero
        ("-61", Conversion(D(60), "ceil"), "-1"),  # ceil goes up, towards zero here
        ("42", Conversion(), "42"),
    ],
)
def test_convert(value, conversion, expected) -> None:
    result = convert(D(value), conversion)
    assert result == D(expected)
    assert format(result, "f") == expected  # rounded: exactly `decimals` places


def test_a_non_terminating_quotient_needs_a_rounding() -> None:
    with pytest.raises(ValueError, match="rounding"):
        convert(D(1), Conversion(D(3)))
    with pytest.raises(ValueError):
        convert(D(1), Conversion(D(0)))
    with pytest.raises(ValueError):
        convert(D(1), Conversion(D(1), "bankers"))


def test_per_event_rounding_differs_from_rounding_the_total() -> None:
    calls = [D(61), D(61), D(30)]
    per_call = Conversion(D(60), "ceil", 0, per_event=True)
    assert convert_total(calls, per_call) == D(5)  # 2 + 2 + 1 started minutes
    assert convert_total(calls, Conversion(D(60), "ceil")) == D(3)  # 152 s → 3 minutes
    assert convert_total([], per_call) == D(0)


@given(
    st.decimals(min_value=-(10**12), max_value=10**12, places=3),
    st.integers(1, 10**9),
    st.sampled_from(["round", "ceil", "floor"]),
    st.integers(0, 6),
)
def test_rounded_conversion_is_the_nearest_allowed_value(value, divisor, rounding, places) -> None:
    result = convert(value, Conversion(D(divisor), rounding, places))
    exact = Fraction(value) / divisor
    step = Fraction(1, 10**places)
    assert Fraction(result) % step == 0  # on the grid of `places` decimals
    assert abs(Fraction(result) - exact) < step
    if rounding == "ceil":
        assert Fraction(result) >= exact
    elif rounding == "floor":
        assert Fraction(result) <= exact
    else:
        assert abs(Fraction(result) - exact) <= step / 2
        if abs(Fraction(result) - exact) == step / 2:
            assert abs(Fraction(result)) > abs(exact)  # a half moves away from zero


def test_parse_conversion_and_its_json_round_trip() -> None:
    data = {"divisor": "1000000000", "rounding": "ceil", "decimals": 0, "perEvent": True}
    conversion = parse_conversion(data)
    assert conversion == Conversion(D(10**9), "ceil", 0, True)
    assert conversion_json(conversion) == data
    assert parse_conversion(None) == Conversion()
    assert parse_conversion({}) == Conversion()
    assert parse_conversion({"divisor": "1073741824"}) == Conversion(D(2**30))
    assert parse_conversion(conversion_json(Conversion(D("0.5"), "round", 12))) == Conversion(
        D("0.5"), "round", 12
    )


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ("GB", "conversion", "INVALID_CONVERSION"),
        ({"factor": "10"}, "conversion.factor", "UNKNOWN_FIELD"),
        ({"divisor": "0"}, "conversion.divisor", "INVALID_CONVERSION"),
        ({"divisor": "-1000"}, "conversion.divisor", "INVALID_CONVERSION"),
        ({"divisor": "1e9"}, "conversion.divisor", "INVALID_DECIMAL"),
        ({"divisor": "0.0000000000001"}, "conversion.divisor", "TOO_MANY_DECIMALS"),
        ({"rounding": "bankers"}, "conversion.rounding", "INVALID_CONVERSION"),
        ({"rounding": "CEIL"}, "conversion.rounding", "INVALID_CONVERSION"),
        ({"rounding": "ceil", "decimals": -1}, "conversion.decimals", "INVALID_CONVERSION"),
        ({"rounding": "ceil", "decimals": 13}, "conversion.decimals", "INVALID_CONVERSION"),
        ({"rounding": "ceil", "decimals": "2"}, "conversion.decimals", "INVALID_CONVERSION"),
        ({"rounding": "ceil", "decimals": True}, "conversion.decimals", "INVALID_CONVERSION"),
        ({"decimals": 2}, "conversion.decimals", "INVALID_CONVERSION"),  # no rounding
        ({"divisor": "60"}, "conversion.rounding", "INEXACT_CONVERSION"),
        ({"divisor": "1.5"}, "conversion.rounding", "INEXACT_CONVERSION"),
        ({"perEvent": "yes"}, "conversion.perEvent", "INVALID_CONVERSION"),
    ],
)
def test_parse_conversion_errors(data, field, code) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_conversion(data)
    assert (raised.value.code, raised.value.field) == (code, field)


# -- uptime ----------------------------------------------------------------------------------
START = datetime(2026, 4, 1, tzinfo=UTC)
END = datetime(2026, 5, 1, tzinfo=UTC)  # 30 days = 2,592,000 s; 0.1 % of it is 2,592 s


def outage(offset_s: int, seconds: int) -> tuple[datetime, datetime]:
    began = START + timedelta(seconds=offset_s)
    return began, began + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("incidents", "expected"),
    [
        ([], "100.000"),
        ([outage(1000, 2592)], "99.900"),  # exactly 0.1 % down
        ([outage(1000, 2593)], "99.899"),  # 99.89996… floored, never shown as 99.900
        ([outage(1000, 1296), outage(1000, 1296)], "99.950"),  # a duplicate counts once
        ([outage(1000, 2000), outage(2000, 1592)], "99.900"),  # overlap: 1000..3592
        ([outage(0, 1296), outage(1296, 1296)], "99.900"),  # touching: 2,592 s
        ([outage(-5000, 5000 + 2592)], "99.900"),  # began before the period: clipped
        ([outage(2592000 - 2592, 10_000)], "99.900"),  # ran past the end: clipped
        ([outage(-100, 50), outage(2592000, 60)], "100.000"),  # wholly outside
        ([outage(0, 2592000)], "0.000"),
        ([outage(10, 0)], "100.000"),  # a zero-length incident
    ],
)
def test_uptime_percent(incidents, expected) -> None:
    result = uptime_percent(START, END, incidents)
    assert str(result) == expected


def test_uptime_is_measured_in_real_time_across_a_dst_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    day_start = datetime(2026, 3, 29, 0, 0, tzinfo=paris)  # clocks go 02:00 → 03:00
    day_end = datetime(2026, 3, 30, 0, 0, tzinfo=paris)  # 23 real hours
    # 01:30 CET to 03:30 CEST is one real hour (two on the wall clock).
    down = (datetime(2026, 3, 29, 1, 30, tzinfo=paris), datetime(2026, 3, 29, 3, 30, tzinfo=paris))
    # 1 - 3600 / 82800 = 0.956521… → 95.652
    assert uptime_percent(day_start, day_end, [down]) == D("95.652")


def test_uptime_rejects_reversed_intervals() -> None:
    with pytest.raises(ValueError):
        uptime_percent(END, START, [])
    with pytest.raises(ValueError):
        uptime_percent(START, END, [(END, START)])


@given(
    st.lists(st.tuples(st.integers(-86400, 2592000 + 86400), st.integers(0, 400_000)), max_size=8)
)
def test_uptime_matches_counting_down_minutes(spans) -> None:
    # On a minute grid the union can be counted minute by minute, independently.
    minutes = 2592000 // 60
    down = set()
    for offset, length in spans:
        first, last = offset // 60, offset // 60 + length // 60
        down.update(m for m in range(max(first, 0), min(last, minutes)))
    incidents = [outage((o // 60) * 60, (length // 60) * 60) for o, length in spans]
    expected = Fraction(100 * (minutes - len(down)), minutes)
    result = Fraction(uptime_percent(START, END, incidents))
    assert result <= expected < result + Fraction(1, 1000)


# -- SLA credits -----------------------------------------------------------------------------
SLA = (SlaTier(D("99.9"), D(10)), SlaTier(D(99), D(25)), SlaTier(D(95), D(50)))


@pytest.mark.parametrize(
    ("uptime", "credit"),
    [
        ("100.000", "0"),
        ("99.900", "0"),  # exactly the SLA: met
        ("99.899", "10"),
        ("99.000", "10"),  # exactly 99: below 99.9 only
        ("98.999", "25"),
        ("95.000", "25"),
        ("94.999", "50"),
        ("0.000", "50"),
    ],
)
def test_sla_credit_percent(uptime, credit) -> None:
    assert sla_credit_percent(D(uptime), SLA) == D(credit)
    assert sla_credit_percent(D(uptime), tuple(reversed(SLA))) == D(credit)


@pytest.mark.parametrize(
    ("usage", "percent", "credit"),
    [
        (0, "50", 0),
        (10_001, "10", 1_000),  # 1000.1 → 1000
        (10_005, "10", 1_001),  # 1000.5 → 1001 (half-up)
        (12_345, "25", 3_086),  # 3086.25
        (999, "100", 999),
        (999, "150", 999),  # never more than the usage
    ],
)
def test_sla_credit_minor(usage, percent, credit) -> None:
    assert sla_credit_minor(usage, D(percent)) == credit


def test_sla_credit_minor_rejects_negatives() -> None:
    with pytest.raises(ValueError):
        sla_credit_minor(-1, D(10))


def test_parse_sla_tiers_and_json_round_trip() -> None:
    data = [
        {"below": "99.9", "creditPercent": "10"},
        {"below": "99", "creditPercent": "25"},
        {"below": "95", "creditPercent": "50"},
    ]
    assert parse_sla_tiers(data) == SLA
    assert sla_tiers_json(parse_sla_tiers(data)) == data
    assert parse_sla_tiers([]) == ()
    assert parse_sla_tiers([{"below": "100", "creditPercent": "100"}]) == (SlaTier(D(100), D(100)),)


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"below": "99"}, "slaTiers", "INVALID_SLA_TIERS"),
        ([{"below": "1", "creditPercent": "1"}] * 21, "slaTiers", "INVALID_SLA_TIERS"),
        (["99.9"], "slaTiers[0]", "INVALID_SLA_TIERS"),
        ([{"below": "99.9"}], "slaTiers[0].creditPercent", "MISSING_FIELD"),
        ([{"creditPercent": "10"}], "slaTiers[0].below", "MISSING_FIELD"),
        ([{"below": "99.9", "creditPercent": "10", "x": 1}], "slaTiers[0].x", "UNKNOWN_FIELD"),
        ([{"below": "0", "creditPercent": "10"}], "slaTiers[0].below", "INVALID_SLA_THRESHOLD"),
        ([{"below": "-1", "creditPercent": "10"}], "slaTiers[0].below", "INVALID_SLA_THRESHOLD"),
        ([{"below": "100.1", "creditPercent": "10"}], "slaTiers[0].below", "INVALID_SLA_THRESHOLD"),
        (
            [{"below": "99.9", "creditPercent": "0"}],
            "slaTiers[0].creditPercent",
            "INVALID_CREDIT_PERCENT",
        ),
        (
            [{"below": "99.9", "creditPercent": "100.5"}],
            "slaTiers[0].creditPercent",
            "INVALID_CREDIT_PERCENT",
        ),
        ([{"below": 99.9, "creditPercent": "10"}], "slaTiers[0].below", "INVALID_DECIMAL"),
        (
            [{"below": "99.9", "creditPercent": "10"}, {"below": "99.90", "creditPercent": "20"}],
            "slaTiers[1].below",
            "DUPLICATE_SLA_THRESHOLD",
        ),
    ],
)
def test_parse_sla_tiers_errors(data, field, code) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_sla_tiers(data)
    assert (raised.value.code, raised.value.field) == (code, field)
