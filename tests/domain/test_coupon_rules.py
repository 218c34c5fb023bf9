from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.money import bp_to_percent, percent_to_bp


@pytest.mark.parametrize(
    ("text", "bp", "shown"),
    [
        ("20", 2000, "20"),
        ("100", 10000, "100"),
        ("12.5", 1250, "12.5"),
        ("0.01", 1, "0.01"),
        ("33.33", 3333, "33.33"),
        ("10.50", 1050, "10.5"),
    ],
)
def test_percent_round_trip(text: str, bp: int, shown: str) -> None:
    assert percent_to_bp(text) == bp
    assert str(bp_to_percent(bp)) == shown


@given(st.integers(min_value=1, max_value=10_000))
def test_every_basis_point_round_trips_without_exponents(bp: int) -> None:
    shown = str(bp_to_percent(bp))
    assert "E" not in shown
    assert percent_to_bp(shown) == bp
    assert Decimal(shown) * 100 == bp


@pytest.mark.parametrize("bad", ["0", "-1", "100.01", "12.345", "abc", "NaN", "Infinity"])
def test_bad_percentages(bad: str) -> None:
    with pytest.raises(ValidationError):
        percent_to_bp(bad)
