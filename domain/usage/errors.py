"""Typed errors of the usage context. An event refused at ingestion carries one of
the `EventError` codes below, with the index of the event in its batch."""

from __future__ import annotations

from domain.errors import BillingError, ConflictError, ValidationError


class UsageError(BillingError):
    code = "USAGE_ERROR"


class MetricInUseError(ConflictError):
    code = "METRIC_IN_USE"


# The codes an event can be refused with; stable, documented in docs/USAGE.md.
EVENT_ERROR_CODES = (
    "INVALID_EVENT",  # not an object, or a field of the wrong type
    "INVALID_TRANSACTION_ID",
    "INVALID_TIMESTAMP",
    "TIMESTAMP_IN_FUTURE",  # more than 5 minutes ahead of the customer's clock
    "TOO_LATE",  # its period closed longer ago than the tenant's grace window
    "BEFORE_SUBSCRIPTION",
    "UNKNOWN_METRIC",
    "UNKNOWN_CUSTOMER",
    "UNKNOWN_SUBSCRIPTION",
    "NO_SUBSCRIPTION",  # no live subscription of the customer charges the metric
    "AMBIGUOUS_SUBSCRIPTION",  # several do: name one with subscriptionId
    "SUBSCRIPTION_NOT_BILLABLE",  # paused or ended
    "METRIC_NOT_CHARGED",  # the named subscription's plan has no charge for it
    "MISSING_PROPERTY",
    "NOT_A_NUMBER",
    "TRANSACTION_ID_CONFLICT",  # the id was used before with another body
)


class EventError(ValidationError):
    """Why one event of a batch was refused (nothing of it is stored)."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        assert code in EVENT_ERROR_CODES, code
        super().__init__(message, field=field, code=code)
