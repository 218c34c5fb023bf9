"""An incoming usage event, checked for shape before anything is looked up.

Pure: the GraphQL mutation and the bulk endpoint hand their events here as plain
dicts (camelCase keys, as both document them), so both paths refuse exactly the
same inputs with the same codes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from domain.usage.errors import EventError

MAX_EVENTS_PER_CALL = 1_000
MAX_PROPERTIES = 50
MAX_PROPERTIES_BYTES = 8_192
MAX_VALUE = Decimal(10) ** 24
MAX_DECIMALS = 18
_KEYS = frozenset(
    {
        "transactionId",
        "customerId",
        "externalCustomerId",
        "subscriptionId",
        "metricCode",
        "code",
        "timestamp",
        "properties",
    }
)


@dataclass(frozen=True, slots=True)
class EventInput:
    index: int
    transaction_id: str
    customer_ref: str  # a public id (cus_…) or the tenant's external id
    subscription_ref: str | None
    metric_code: str
    timestamp: datetime | None  # None: when it was received
    properties: dict[str, Any]


def _text(raw: dict[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        code = "INVALID_TRANSACTION_ID" if key == "transactionId" else "INVALID_EVENT"
        raise EventError(code, f"{key} must be a non-empty string of at most {limit}", field=key)
    return value


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 with an offset, or Unix seconds (int or float), as Lago accepts."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EventError("INVALID_TIMESTAMP", "timestamp must be ISO 8601 or Unix seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 32_503_680_000:
            raise EventError("INVALID_TIMESTAMP", "timestamp is out of range", field="timestamp")
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC)  # year 1 or 9999 can overflow here
        except (ValueError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                raise EventError(
                    "INVALID_TIMESTAMP",
                    "timestamp needs a UTC offset (…Z or …+02:00)",
                    field="timestamp",
                )
            return parsed
    raise EventError(
        "INVALID_TIMESTAMP", "timestamp must be ISO 8601 or Unix seconds", field="timestamp"
    )


def parse_event(index: int, raw: Any) -> EventInput:
    if not isinstance(raw, dict):
        raise EventError("INVALID_EVENT", "an event is a JSON object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise EventError("INVALID_EVENT", f"unknown field {sorted(unknown)[0]!r}")
    transaction_id = _text(raw, "transactionId", 128, required=True)
    customer = _text(raw, "customerId", 128, required=False)
    external = _text(raw, "externalCustomerId", 128, required=False)
    if (customer is None) == (external is None):
        raise EventError(
            "INVALID_EVENT",
            "give exactly one of customerId and externalCustomerId",
            field="customerId",
        )
    code_key = "metricCode" if "metricCode" in raw else "code"
    metric = _text(raw, code_key, 64, required=True)
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict) or len(properties) > MAX_PROPERTIES:
        raise EventError(
            "INVALID_EVENT",
            f"properties must be an object of at most {MAX_PROPERTIES} keys",
            field="properties",
        )
    if properties and len(orjson.dumps(properties)) > MAX_PROPERTIES_BYTES:
        raise EventError(
            "INVALID_EVENT", f"properties exceed {MAX_PROPERTIES_BYTES} bytes", field="properties"
        )
    return EventInput(
        index,
        transaction_id,  # type: ignore[arg-type]
        customer if customer is not None else external,  # type: ignore[arg-type]
        _text(raw, "subscriptionId", 64, required=False),
        metric,  # type: ignore[arg-type]
        parse_timestamp(raw.get("timestamp")),
        properties,
    )


def number(value: Any, name: str) -> Decimal:
    """A property read as a number: a JSON number or a decimal string."""
    if value is None:
        raise EventError("MISSING_PROPERTY", f"property {name!r} is required", field=name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EventError("NOT_A_NUMBER", f"property {name!r} must be a number", field=name)
    # A JSON number with a fraction arrives from the parser as a float; its shortest
    # repr is the decimal the sender wrote ("0.1"), so Decimal(str()) is exact to it.
    try:
        parsed = Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
    except InvalidOperation:
        parsed = None
    # Bounded in both directions: under 10^24 and at most 18 decimals, so every value,
    # sum and maximum fits the aggregate columns and stays exact ("1e-999999999" is
    # fifteen bytes of input and would be a billion-digit string).
    if (
        parsed is None
        or not parsed.is_finite()
        or abs(parsed) >= MAX_VALUE
        or parsed.as_tuple().exponent < -MAX_DECIMALS  # type: ignore[operator]
    ):
        raise EventError(
            "NOT_A_NUMBER",
            f"property {name!r} must be a number below 10^24 with at most {MAX_DECIMALS} decimals",
            field=name,
        )
    return parsed


def body_hash(event: EventInput, customer_id: int) -> str:
    """What a resend must repeat to count as the same event: customer, subscription
    asked for, metric, time as sent (none: none, so a resend stays a duplicate) and
    properties (keys in any order)."""
    body = orjson.dumps(
        [
            customer_id,
            event.subscription_ref,
            event.metric_code,
            event.timestamp.isoformat() if event.timestamp else None,
            event.properties,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.md5(body, usedforsecurity=False).hexdigest()
