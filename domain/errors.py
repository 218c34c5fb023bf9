"""Typed domain errors. Each carries a stable `code`, a message and, for input
problems, the input `field` it concerns; the API maps them onto result unions."""

from __future__ import annotations


class BillingError(Exception):
    code = "BILLING_ERROR"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        # A message that quotes the caller's input is cut, so a megabyte sent is never
        # a megabyte echoed back or logged (domain.money.shown cuts the quote itself).
        if len(message) > 500:
            message = message[:499] + "…"
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationError(BillingError):
    code = "VALIDATION_ERROR"


class NotFoundError(BillingError):
    code = "NOT_FOUND"


class ConflictError(BillingError):
    """The input is valid but clashes with what exists (a duplicate code, …)."""

    code = "CONFLICT"


class PermissionDeniedError(BillingError):
    code = "FORBIDDEN"


class AuthenticationError(BillingError):
    code = "UNAUTHENTICATED"


class IdempotencyError(BillingError):
    """The idempotency key was already used with different parameters."""

    code = "IDEMPOTENCY_KEY_REUSED"


class CurrencyMismatchError(ValidationError):
    code = "CURRENCY_MISMATCH"
