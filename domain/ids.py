"""Public ids: a type prefix and 16 random base62 characters (`cus_4fQ…`).

They are stored with the row, so they are stable across databases and exports;
integer primary keys never leave the server.
"""

from __future__ import annotations

import re
import secrets
import string

from domain.errors import ValidationError

_ALPHABET = string.ascii_letters + string.digits
_BODY = 16

PREFIXES = {
    "tenant": "ten",
    "api_key": "key",
    "plan": "pln",
    "add_on": "addon",
    "coupon": "cpn",
    "customer": "cus",
    "subscription": "sub",
    "invoice": "in",
    "credit_note": "cn",
    "test_clock": "clock",
    "tax_rate": "txr",
    "payment_method": "pm",
    "payment": "pay",
    "refund": "re",
    "webhook_endpoint": "we",
    "webhook_event": "evt",
    "credit_entry": "cle",
    "credit_reservation": "rsv",
    "credit_purchase": "cpur",
}

_PATTERN = re.compile(r"^([a-z]+)_([0-9A-Za-z]{" + str(_BODY) + r"})$")


_SPACE = len(_ALPHABET) ** _BODY


def new_id(kind: str) -> str:
    # One draw from the CSPRNG, written in base 62 (the billing run makes thousands).
    value = secrets.randbelow(_SPACE)
    body = []
    for _ in range(_BODY):
        value, digit = divmod(value, 62)
        body.append(_ALPHABET[digit])
    return f"{PREFIXES[kind]}_" + "".join(body)


def check_id(value: str, kind: str, *, field: str = "id") -> str:
    """Refuse a malformed id or one of another type before any query runs."""
    match = _PATTERN.match(value or "")
    if match is None or match.group(1) != PREFIXES[kind]:
        raise ValidationError(
            f"{value!r} is not a {kind.replace('_', '-')} id ({PREFIXES[kind]}_…)",
            field=field,
            code="INVALID_ID",
        )
    return value
