"""`Stripe-Signature` checks, shared by the stripe and sandbox providers.

The SDK verifies the HMAC; it accepts any timestamp in the future, so both
directions of the 300 s window are checked here (a captured payload replayed
later, or one signed with a clock far ahead, is refused).
"""

from __future__ import annotations

import stripe

from domain.payments.providers.base import SignatureError

TOLERANCE_SECONDS = 300


def verify(payload: bytes, header: str | None, secret: str | None, now: int) -> None:
    if not header:
        raise SignatureError("no Stripe-Signature header")
    if not secret:
        raise SignatureError("no webhook secret is configured for this tenant")
    stamps = [p[2:] for p in header.split(",") if p.startswith("t=")]
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise SignatureError("the Stripe-Signature header has no timestamp")
    stamp = int(stamps[0])
    if stamp < now - TOLERANCE_SECONDS:
        raise SignatureError("the signature timestamp is too old")
    if stamp > now + TOLERANCE_SECONDS:
        raise SignatureError("the signature timestamp is in the future")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance=None)
    except (UnicodeDecodeError, stripe.SignatureVerificationError) as exc:
        raise SignatureError("the signature does not match the payload") from exc


def sign(payload: str, secret: str, timestamp: int) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
