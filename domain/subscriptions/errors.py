"""The subscription context's typed errors (each with its stable `code`)."""

from __future__ import annotations

from domain.errors import ConflictError, ValidationError


class SubscriptionNotActive(ConflictError):
    code = "SUBSCRIPTION_CANCELED"


class InvalidStatus(ConflictError):
    code = "INVALID_STATUS"


class PriceNotFound(ValidationError):
    code = "PRICE_NOT_FOUND"
