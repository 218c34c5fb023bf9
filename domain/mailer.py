"""SMTP settings shared by invoice mail and the dunning mail outbox."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from domain.errors import ValidationError


def smtp_options(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValidationError(
            "SMTP_URL must start with smtp:// or smtps://", code="SMTP_NOT_CONFIGURED"
        )
    query = parse_qs(parts.query)
    return {
        "hostname": parts.hostname or "localhost",
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_tls": parts.scheme == "smtps",
        "start_tls": query.get("starttls", ["0"])[-1] in ("1", "true"),
        "timeout": 20,
    }
