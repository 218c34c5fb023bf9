"""EU VAT standard rates, shipped as dated defaults (country → [(valid from, rate)]).

Rates are in hundredths of a percent (20 % = 2000). A rate applies from its date
until the next entry's date. Sources: the European Commission's "VAT rates
applied in the Member States" tables and the national changes noted below.
Tenants override or extend these with their own tax rates.
"""

from __future__ import annotations

from datetime import date

EPOCH = date(2000, 1, 1)

STANDARD_RATES: dict[str, list[tuple[date, int]]] = {
    "AT": [(EPOCH, 2000)],
    "BE": [(EPOCH, 2100)],
    "BG": [(EPOCH, 2000)],
    "CY": [(EPOCH, 1900)],
    "CZ": [(EPOCH, 2100)],
    # Germany's temporary Covid cut, 1 July to 31 December 2020.
    "DE": [(EPOCH, 1900), (date(2020, 7, 1), 1600), (date(2021, 1, 1), 1900)],
    "DK": [(EPOCH, 2500)],
    "EE": [(EPOCH, 2000), (date(2024, 1, 1), 2200), (date(2025, 7, 1), 2400)],
    "ES": [(EPOCH, 2100)],
    "FI": [(EPOCH, 2400), (date(2024, 9, 1), 2550)],
    "FR": [(EPOCH, 2000)],
    "GR": [(EPOCH, 2400)],
    "HR": [(EPOCH, 2500)],
    "HU": [(EPOCH, 2700)],
    "IE": [(EPOCH, 2300)],
    "IT": [(EPOCH, 2200)],
    "LT": [(EPOCH, 2100)],
    # Luxembourg's one-year cut in 2023.
    "LU": [(EPOCH, 1700), (date(2023, 1, 1), 1600), (date(2024, 1, 1), 1700)],
    "LV": [(EPOCH, 2100)],
    "MT": [(EPOCH, 1800)],
    "NL": [(EPOCH, 2100)],
    "PL": [(EPOCH, 2300)],
    "PT": [(EPOCH, 2300)],
    "RO": [(EPOCH, 1900), (date(2025, 8, 1), 2100)],
    "SE": [(EPOCH, 2500)],
    "SI": [(EPOCH, 2200)],
    "SK": [(EPOCH, 2000), (date(2025, 1, 1), 2300)],
}

EU_MEMBER_STATES = frozenset(STANDARD_RATES)


def standard_rate(country: str, on: date) -> int | None:
    """The shipped standard rate for an EU member state on a date, else None."""
    history = STANDARD_RATES.get(country)
    if history is None:
        return None
    rate = history[0][1]
    for valid_from, value in history:
        if valid_from <= on:
            rate = value
    return rate
