"""Public ids: a type prefix and 16 random base62 characters (`cus_4fQ…`).

They are stored with the row, so they are stable across databases and exports;
integer primary keys never leave the server.
"""

from __future__ import annotations

import os
import re
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
    "billable_metric": "bm",
    "charge": "chg",
    "incident": "inc",
    "spending_alert": "alrt",
    "payee": "pye",
    "work": "wrk",
    "contract": "ctr",
    "royalty_advance": "adv",
    "royalty_adjustment": "radj",
    "royalty_statement": "rst",
    "royalty_ledger_entry": "rle",
    "royalty_payout": "rpo",
}

_PATTERN = re.compile(r"^([a-z]+)_([0-9A-Za-z]{" + str(_BODY) + r"})$")


# Random bytes below 248 (= 4 x 62) map evenly onto the alphabet; the rest are
# dropped, so every character is uniform. One CSPRNG read and one C-level translate
# per id: the billing run and credit batches make thousands.
_KEEP = 4 * len(_ALPHABET)
_TO_ALPHABET = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) if b < _KEEP else 0 for b in range(256))
_DROP = bytes(range(_KEEP, 256))


def new_id(kind: str) -> str:
    body = b""
    while len(body) < _BODY:  # 24 bytes keep 16 or more all but about once in 4 x 10^7 draws
        body += os.urandom(24).translate(_TO_ALPHABET, _DROP)
    return f"{PREFIXES[kind]}_{body[:_BODY].decode()}"


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
