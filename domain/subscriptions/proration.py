"""Proration to the second: pure functions over integer minor units.

A change at instant t inside [start, end) credits the unused part of the old
amount and charges the remaining part of the new one. Both parts are rounded
half-up by one function; the used and unused parts of one amount always sum to
the amount, so no minor unit is created or lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.money import div_half_up
from domain.periods import Period


def remaining_seconds(period: Period, at: datetime) -> int:
    if at <= period.start:
        return period.seconds
    if at >= period.end:
        return 0
    return int((period.end - at).total_seconds())


def unused_part(amount_minor: int, period: Period, at: datetime) -> int:
    """The share of `amount_minor` for [at, end): what a change at `at` leaves unused."""
    total = period.seconds
    if total <= 0:
        return 0
    return div_half_up(amount_minor * remaining_seconds(period, at), total)


def used_part(amount_minor: int, period: Period, at: datetime) -> int:
    """The complement of `unused_part`, so used + unused == amount exactly."""
    return amount_minor - unused_part(amount_minor, period, at)


@dataclass(frozen=True, slots=True)
class ProrationLine:
    kind: str  # "proration_credit" | "proration_charge"
    item_name: str
    amount_minor: int  # negative for a credit
    period: Period  # the part of the period this line covers
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedItem:
    """One recurring charge of a subscription: the plan or an add-on, per period."""

    key: str  # "plan" or "add_on:<code>"
    description: str
    unit_amount_minor: int
    quantity: int

    @property
    def amount_minor(self) -> int:
        return self.unit_amount_minor * self.quantity


def prorate_change(
    old: list[PricedItem], new: list[PricedItem], period: Period, at: datetime
) -> list[ProrationLine]:
    """Credit for unused time on each changed old item, a charge for the remaining
    time on each changed new item. Unchanged items produce no lines."""
    remaining = Period(max(at, period.start), period.end)
    old_by_key = {item.key: item for item in old}
    new_by_key = {item.key: item for item in new}
    lines: list[ProrationLine] = []
    for item in old:
        after = new_by_key.get(item.key)
        if after == item:
            continue
        credit = unused_part(item.amount_minor, period, at)
        if credit:
            lines.append(
                ProrationLine(
                    "proration_credit", item.description, -credit, remaining, item.quantity
                )
            )
    for item in new:
        if old_by_key.get(item.key) == item:
            continue
        charge = unused_part(item.amount_minor, period, at)
        if charge:
            lines.append(
                ProrationLine(
                    "proration_charge", item.description, charge, remaining, item.quantity
                )
            )
    return lines
