"""Input rules shared by every context: countries, locales, time zones, e-mail, codes.

Each check raises ValidationError naming the offending input field.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Any

import orjson
from babel import Locale

from domain.errors import ValidationError
from domain.money import shown

SUPPORTED_LOCALES = ("en", "fr", "de", "es", "ar")
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FEATURE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (from CLDR via Babel), without CLDR's pseudo-regions."""
    names = Locale.parse("en").territories
    return frozenset(c for c in names if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


def country(value: str, *, field: str = "country") -> str:
    code = (value or "").strip().upper()
    if code not in countries():
        raise ValidationError(
            f"{shown(value)} is not an ISO 3166-1 alpha-2 country code", field=field
        )
    return code


def locale(value: str, *, field: str = "locale") -> str:
    tag = (value or "").strip().lower()
    if tag not in SUPPORTED_LOCALES:
        raise ValidationError(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}", field=field)
    return tag


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone(value: str, *, field: str = "timezone") -> str:
    if value not in _zones():
        raise ValidationError(f"{shown(value)} is not an IANA time zone", field=field)
    return value


def email(value: str | None, *, field: str = "email") -> str | None:
    if value is None or value == "":
        return None
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValidationError(f"{shown(value)} is not an e-mail address", field=field)
    return value


def text(value: str | None, *, field: str, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"{field} is required", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{field} is longer than {max_length} characters", field=field)
    if "\x00" in value:  # PostgreSQL cannot store it; the API gate refuses it first
        raise ValidationError(f"{field} must not contain NUL characters", field=field)
    return value


def code(value: str, *, field: str = "code") -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise ValidationError(
            "code must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field=field,
        )
    return value


def feature_codes(values: list[str], *, field: str = "features") -> list[str]:
    seen: list[str] = []
    for value in values:
        if not _FEATURE.match(value or ""):
            raise ValidationError(
                f"{shown(value)} is not a feature code (lower-case letters, digits, _ . : -)",
                field=field,
            )
        if value not in seen:
            seen.append(value)
    return seen


def non_negative(value: int, *, field: str, maximum: int = 2**63 - 1) -> int:
    if value < 0:
        raise ValidationError(f"{field} must not be negative", field=field)
    if value > maximum:
        raise ValidationError(f"{field} is too large", field=field)
    return value


def metadata(value: Any, *, field: str = "metadata") -> dict[str, Any]:
    # Stripe's limits: an object of at most 50 keys; keys up to 40 characters.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("metadata must be a JSON object", field=field)
    if len(value) > 50:
        raise ValidationError("metadata has more than 50 keys", field=field)
    for key in value:
        if not isinstance(key, str) or not key or len(key) > 40:
            raise ValidationError("metadata keys are 1-40 characters", field=field)
    try:
        size = len(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):
        # Nested past orjson's limit, integers past 64 bits, lone surrogates: nothing
        # that can be stored and given back as JSON.
        raise ValidationError("metadata is not storable JSON", field=field) from None
    if size > 8192:
        raise ValidationError("metadata is larger than 8 KiB", field=field)
    return value


_VAT = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,13}$")
ADDRESS_FIELDS = {
    "line1": ("address_line1", 200),
    "line2": ("address_line2", 200),
    "city": ("city", 100),
    "postal_code": ("postal_code", 20),
    "state": ("state", 100),
}


def vat_id(value: str | None, *, field: str = "vatId") -> str | None:
    """VAT / tax ids: a country code then 2-13 letters or digits (some digits); spaces,
    dots and dashes dropped.
    An EU member state's prefix (EL for Greece) must carry a well-formed number with
    valid check digits for that state, since it can turn VAT off (reverse charge)."""
    from domain import vat_numbers

    if value is None or not value.strip():
        return None
    normalised = vat_numbers.normalise(value)
    known = vat_numbers.is_eu(normalised) or normalised[:2] in countries()
    if not _VAT.match(normalised) or not known or not re.search(r"\d", normalised):
        raise ValidationError(
            "not a VAT or tax id: two letters, then 2-13 letters or digits (e.g. FR40303265045)",
            field=field,
            code="INVALID_TAX_ID",
        )
    if vat_numbers.is_eu(normalised):
        why = vat_numbers.problem(normalised)
        if why is not None:
            raise ValidationError(
                f"not a valid {normalised[:2]} VAT number ({why})",
                field=field,
                code="INVALID_TAX_ID",
            )
    return normalised


def address(value: dict[str, Any], *, field: str = "address") -> dict[str, Any]:
    """Map an address input onto model columns; `country` is checked against ISO 3166."""
    out: dict[str, Any] = {}
    for key, (column, limit) in ADDRESS_FIELDS.items():
        if key in value:
            out[column] = text(value[key], field=f"{field}.{key}", max_length=limit)
    if value.get("country") is not None:
        out["country"] = country(value["country"], field=f"{field}.country")
    return out
