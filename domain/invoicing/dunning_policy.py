"""A tenant's dunning policy: when failed payments are retried, which reminders
go out, and what happens after the last attempt. Stored as JSON on the tenant;
missing keys take Stripe-like defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from domain.errors import ValidationError

FINAL_SUBSCRIPTION = ("cancel", "unpaid", "past_due")
FINAL_INVOICE = ("uncollectible", "open")


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    retry_days: tuple[int, ...] = (3, 5, 7)  # days after the first failure
    final_subscription: str = "cancel"  # cancel | unpaid | past_due (leave it)
    final_invoice: str = "uncollectible"  # uncollectible | open (leave it)
    reminder_days: tuple[int, ...] = (3,)  # days before the due date (sent invoices)
    block_credits_when_delinquent: bool = True

    @classmethod
    def of(cls, tenant: Any) -> DunningPolicy:
        stored = tenant.dunning or {}
        base = cls()
        return cls(
            retry_days=tuple(stored.get("retry_days", base.retry_days)),
            final_subscription=stored.get("final_subscription", base.final_subscription),
            final_invoice=stored.get("final_invoice", base.final_invoice),
            reminder_days=tuple(
                sorted(stored.get("reminder_days", base.reminder_days), reverse=True)
            ),
            block_credits_when_delinquent=stored.get(
                "block_credits_when_delinquent", base.block_credits_when_delinquent
            ),
        )

    def stored(self) -> dict[str, Any]:
        data = asdict(self)
        data["retry_days"] = list(self.retry_days)
        data["reminder_days"] = list(self.reminder_days)
        return data


def _days(values: Any, field: str, *, limit: int) -> tuple[int, ...]:
    if not isinstance(values, list) or len(values) > limit:
        raise ValidationError(f"give at most {limit} day counts", field=field)
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 365:
            raise ValidationError("each day count is 1-365", field=field)
    if len(set(values)) != len(values):
        raise ValidationError("day counts must differ", field=field)
    return tuple(values)


def updated_policy(current: DunningPolicy, data: dict[str, Any]) -> DunningPolicy:
    """`current` with the fields of `data` (validated) replaced."""
    retry = current.retry_days
    if "retry_days" in data:
        retry = _days(data["retry_days"], "dunning.retryDays", limit=8)
        if list(retry) != sorted(retry):
            raise ValidationError(
                "retry days count from the first failure, in increasing order",
                field="dunning.retryDays",
            )
    reminders = current.reminder_days
    if "reminder_days" in data:
        reminders = tuple(
            sorted(_days(data["reminder_days"], "dunning.reminderDays", limit=5), reverse=True)
        )
    final_sub = (data.get("final_subscription") or current.final_subscription).lower()
    if final_sub not in FINAL_SUBSCRIPTION:
        raise ValidationError(
            f"finalSubscription is one of {', '.join(FINAL_SUBSCRIPTION)}",
            field="dunning.finalSubscription",
        )
    final_invoice = (data.get("final_invoice") or current.final_invoice).lower()
    if final_invoice not in FINAL_INVOICE:
        raise ValidationError(
            f"finalInvoice is one of {', '.join(FINAL_INVOICE)}", field="dunning.finalInvoice"
        )
    block = data.get("block_credits_when_delinquent", current.block_credits_when_delinquent)
    return DunningPolicy(retry, final_sub, final_invoice, reminders, bool(block))
