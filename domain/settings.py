"""Configuration from the environment, read once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from db.config import backend_of, database_url

_DEV_SECRET_FILE = Path(".tally-secret")


class ConfigError(ValueError):
    """An environment variable holds a value Tally cannot use; names the variable."""


def _number(name: str, default: str, kind: type[int] | type[float] = int) -> Any:
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw[:40]!r}") from None
    if value < 0 or (name == "PORT" and value > 65535):
        raise ConfigError(f"{name} is out of range: {raw[:40]!r}")
    return value


def _at_least(name: str, default: str, least: int) -> int:
    value: int = _number(name, default)
    if value < least:
        raise ConfigError(f"{name} must be at least {least}, not {value}")
    return value


def _flag(name: str, default: str) -> bool:
    raw = os.environ.get(name, default).strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{name} must be 0 or 1, not {raw[:40]!r}")
    return raw in ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str | None
    host: str
    port: int
    secret_key: str
    allowed_origins: tuple[str, ...]
    # smtp://user:pass@host:port (smtps:// for implicit TLS, ?starttls=1 to upgrade).
    smtp_url: str | None = None
    mail_from: str = "billing@localhost"
    # Seconds between two billing runs inside `serve`; 0 leaves billing to `bill`.
    billing_interval: int = 0
    # Where the sandbox provider sends its webhooks (this server, seen from itself).
    public_url: str = ""
    # Stripe's API base (a local fake in tests); empty: api.stripe.com.
    stripe_api_base: str | None = None
    # Seconds between two passes of the outbound webhook and mail worker; 0: off.
    worker_interval: float = 2.0
    # Bytes of live messages a WebSocket client may leave unread before it is closed
    # with 4408 (a subscriber that stopped reading); per connection.
    live_send_buffer: int = 512 * 1024
    # permessage-deflate on WebSockets (docs/PERFORMANCE.md: small live messages).
    ws_deflate: bool = False
    # `serve` freezes its start-up heap and raises the GC thresholds (api/gc_pauses.py);
    # GC_SETTLE=0 keeps CPython's defaults (to measure the difference).
    gc_settle: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        url = database_url()
        try:
            backend_of(url)
            urlsplit(url).port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            message = str(exc)
            raise ConfigError(
                message if message.startswith("DATABASE_URL") else f"DATABASE_URL: {message}"
            ) from None
        return cls(
            database_url=url,
            redis_url=os.environ.get("REDIS_URL") or None,
            host=os.environ.get("HOST", "127.0.0.1"),
            port=_number("PORT", "8000"),
            secret_key=os.environ.get("TALLY_SECRET_KEY") or _dev_secret(),
            allowed_origins=tuple(
                o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()
            ),
            smtp_url=os.environ.get("SMTP_URL") or None,
            mail_from=os.environ.get("MAIL_FROM", "billing@localhost"),
            billing_interval=_number("BILLING_INTERVAL_SECONDS", "0"),
            public_url=os.environ.get("PUBLIC_URL", ""),
            stripe_api_base=os.environ.get("STRIPE_API_BASE") or None,
            worker_interval=_number("WORKER_INTERVAL_SECONDS", "2", float),
            live_send_buffer=_at_least("LIVE_SEND_BUFFER_BYTES", str(512 * 1024), 64 * 1024),
            ws_deflate=_flag("WS_DEFLATE", "0"),
            gc_settle=_flag("GC_SETTLE", "1"),
        )

    @classmethod
    def for_database(cls, url: str, *, secret_key: str = "local-secret-key-0123456789") -> Settings:
        """In-process use (tests, benchmarks): this database, no Redis, no environment."""
        return cls(
            database_url=url,
            redis_url=None,
            host="127.0.0.1",
            port=0,
            secret_key=secret_key,
            allowed_origins=(),
            worker_interval=0,
        )


def _dev_secret() -> str:
    # Zero-setup default: a random key kept beside the SQLite file. Production sets
    # TALLY_SECRET_KEY (losing it makes stored secrets unreadable).
    if _DEV_SECRET_FILE.exists():
        return _DEV_SECRET_FILE.read_text().strip()
    value = secrets.token_urlsafe(32)
    _DEV_SECRET_FILE.write_text(value)
    _DEV_SECRET_FILE.chmod(0o600)
    return value
