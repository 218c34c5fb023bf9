"""A tenant's royalty settings and the royalty period (pure).

Stored as `Tenant.royalty_settings` (null is every default):

    {"poolRate": "100",                       # % of collected subscription revenue
     "threshold": {"amountMinor": 10000, "currency": "EUR"},   # default minimum payout
     "readEventCode": "read"}                 # usage events of this code are reads

A royalty period is a calendar month in UTC, named "2026-11"; it holds every fact
(payment, credit note, read) whose time is in [first day 00:00, next month's first day).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.money import exponent
from domain.royalties.earnings import check_percent

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DEFAULT_POOL_RATE = Decimal(100)
DEFAULT_THRESHOLD = (10000, "EUR")
DEFAULT_READ_EVENT_CODE = "read"


@dataclass(frozen=True, slots=True, order=True)
class RoyaltyPeriod:
    year: int
    month: int

    @classmethod
    def parse(cls, text: object, *, field: str = "period") -> RoyaltyPeriod:
        found = _PERIOD.match(text) if isinstance(text, str) else None
        if found is None:
            raise ValidationError(
                "a royalty period is a month, YYYY-MM (2026-11)", field=field, code="INVALID_PERIOD"
            )
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, at: datetime) -> RoyaltyPeriod:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    @property
    def index(self) -> int:
        """Consecutive integers (year x 12 + month - 1): reserves are released N later."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> RoyaltyPeriod:
        year, month = divmod(index, 12)
        return cls(year, month + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return RoyaltyPeriod.from_index(self.index + 1).start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class RoyaltySettings:
    pool_rate: Decimal = DEFAULT_POOL_RATE
    threshold_minor: int = DEFAULT_THRESHOLD[0]
    threshold_currency: str = DEFAULT_THRESHOLD[1]
    read_event_code: str = DEFAULT_READ_EVENT_CODE

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> RoyaltySettings:
        stored = stored or {}
        threshold = stored.get("threshold") or {}
        return cls(
            Decimal(stored.get("poolRate", DEFAULT_POOL_RATE)),
            int(threshold.get("amountMinor", DEFAULT_THRESHOLD[0])),
            threshold.get("currency", DEFAULT_THRESHOLD[1]),
            stored.get("readEventCode", DEFAULT_READ_EVENT_CODE),
        )

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RoyaltySettings:
        """Settings an admin submits: every field optional, each validated."""
        current = cls()
        pool = check_percent(raw.get("poolRate", current.pool_rate), field="poolRate")
        amount = raw.get("thresholdMinor", current.threshold_minor)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 10**15:
            raise ValidationError("thresholdMinor is 0 or more minor units", field="thresholdMinor")
        currency = raw.get("thresholdCurrency", current.threshold_currency)
        exponent(currency)
        code = raw.get("readEventCode", current.read_event_code)
        if not isinstance(code, str) or not 0 < len(code) <= 64:
            raise ValidationError("readEventCode is 1 to 64 characters", field="readEventCode")
        return cls(pool, amount, currency, code)

    def stored(self) -> dict[str, Any]:
        return {
            "poolRate": format(self.pool_rate, "f"),
            "threshold": {"amountMinor": self.threshold_minor, "currency": self.threshold_currency},
            "readEventCode": self.read_event_code,
        }
