"""Database connection configuration shared by the server, the CLI and the tests."""

from __future__ import annotations

import os
from typing import Any

from db import availability  # noqa: F401  (SQLite's lock released when connecting fails)

DEFAULT_DATABASE_URL = "sqlite://tally.sqlite3"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def backend_of(url: str) -> str:
    """`postgres` or `sqlite`; anything else is refused early with a clear message."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("postgres", "postgresql", "asyncpg"):
        return "postgres"
    if scheme == "sqlite":
        return "sqlite"
    raise ValueError(
        f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite://)"
    )


def connection_name(url: str) -> str:
    # Tortoise caches executors per connection name: one label per backend keeps a
    # process that talks to both (tests, benchmarks) from mixing SQL dialects.
    return backend_of(url)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgres://" + url[len("postgresql://") :]
    return url


def tortoise_config(url: str | None = None) -> dict[str, Any]:
    url = normalise_url(url or database_url())
    name = connection_name(url)
    if backend_of(url) == "postgres":
        connection: Any = {
            "engine": "tortoise.backends.asyncpg",
            "credentials": _pg_credentials(url),
        }
    else:
        connection = url
    return {
        "connections": {name: connection},
        "apps": {
            "tally": {
                "models": [
                    "db.models",
                    "db.invoice_models",
                    "db.payment_models",
                    "db.credit_models",
                    "db.usage_models",
                    "db.royalty_models",
                    "db.analytics_models",
                    "db.web_models",
                ],
                "default_connection": name,
                "migrations": "db.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _pg_credentials(url: str) -> dict[str, Any]:
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": (parts.path or "/postgres").lstrip("/") or "postgres",
        "minsize": int(query.get("minsize", 1)),
        "maxsize": int(query.get("maxsize", 20)),
        "reset": _keep_session,
    }


async def _keep_session(connection: Any) -> None:
    """Pool release hook. asyncpg's default sends `pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL` on every release: a round trip per query outside a
    transaction and per transaction, for session state Tally never sets (no
    advisory locks, cursors, LISTEN or SET). asyncpg still rolls back a
    transaction left open before calling this."""


def __getattr__(name: str) -> Any:
    # For Tortoise's own CLI (`tortoise makemigrations`), named in pyproject.toml. Built
    # on first use, so importing this module never fails on a bad DATABASE_URL (the
    # server's command line reports that in one line).
    if name == "TORTOISE_ORM":
        return tortoise_config()
    raise AttributeError(name)
